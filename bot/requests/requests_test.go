package requests_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/flowtest"
)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, flowtest.Vilnius)
	if err != nil {
		panic(err)
	}
	return t
}

// ask runs /request as person.
func ask(h *flowtest.Harness, person, code, inst, question, basis string) {
	h.Say(person, "/request")
	h.Say(person, code)
	h.Press(person, inst)
	h.Press(person, "Atsakingam už prašymus")
	h.Say(person, question)
	h.Press(person, basis)
	h.Press(person, "Per 5 darbo dienas")
	h.Press(person, "Išsaugoti")
}

// The whole story on real Redis with a manual clock: ask → clarification round trip →
// reminder → overdue, the head told → answered, the asker told, the share recorded; the
// school's contact was on the case only while the request was open.
func TestRequestAnsweredAfterADeadlineAndAClarification(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{Redis: true, AllFlows: true, Start: at("2026-12-01 09:00")})
	ask(h, "aiste-r", "K-2026-601", "Saulės progimnazija", "Kiek dienų vaikas nelankė mokyklos?", "Atvejo vadyba")
	h.MustSee("aiste-r", "Prašymas R1 išsiųstas: Saulės progimnazija. Atsakymo terminas: 2026 m. gruodžio 8 d., antradienis, 17:00.")
	m := h.MustSee("giedre-s", "Prašymas R1 · K-2026-601")
	for _, want := range []string{"Aistė Rimkutė (Vaiko teisių apsaugos skyrius) klausia:", "Kiek dienų vaikas nelankė mokyklos?", "Tikslas: Atvejo vadyba"} {
		if !strings.Contains(m.Text(), want) {
			t.Errorf("the question lacks %q:\n%s", want, m.Text())
		}
	}
	if c, err := h.Engine.Case(h.Ctx, "K-2026-601"); err != nil || !c.Has("giedre-s") {
		t.Errorf("the asked contact is not on the case while the request is open: %+v %v", c, err)
	}
	// The delivery worker's receipt is the timeline's "delivered"; the asker sees how far it got.
	q, err := h.App.Requests.Get(h.Ctx, "R1")
	if err != nil {
		t.Fatal(err)
	}
	if ev := q.Timeline[len(q.Timeline)-1]; ev.Kind != "delivered" || strings.Join(ev.To, ",") != "giedre-s" || !ev.At.Equal(at("2026-12-01 09:00")) {
		t.Errorf("no delivered step after the question went out: %+v", q.Timeline)
	}
	h.Say("aiste-r", "/requests")
	h.MustSee("aiste-r", "R1 · K-2026-601 → Saulės progimnazija — laukia atsakymo iki 2026 m. gruodžio 8 d., antradienis, 17:00 · pristatyta")
	h.Say("aiste-r", "/requests r1")
	tl := h.MustSee("aiste-r", "Eiga:").Text()
	for _, want := range []string{"Aistė Rimkutė paklausė: Giedrė Sabaliauskienė", "09:00 — pristatyta: Giedrė Sabaliauskienė", "Kiek dienų vaikas nelankė mokyklos?"} {
		if !strings.Contains(tl, want) {
			t.Errorf("the timeline lacks %q:\n%s", want, tl)
		}
	}
	// The coordinator sees the steps but not the question; someone else is told nothing.
	h.Say("jurate-z", "/requests R1")
	if tl := h.MustSee("jurate-z", "Eiga:").Text(); strings.Contains(tl, "nelankė") || !strings.Contains(tl, "pristatyta") {
		t.Errorf("the coordinator's view of the timeline:\n%s", tl)
	}
	// The school's head, who is told when it is overdue, sees the steps too, not the question.
	h.Say("vytautas-d", "/requests R1")
	if tl := h.MustSee("vytautas-d", "Eiga:").Text(); strings.Contains(tl, "nelankė") {
		t.Errorf("the head's view of the timeline shows the question:\n%s", tl)
	}
	h.Say("tomas-k", "/requests R1")
	h.MustSee("tomas-k", "Tokio prašymo nėra.")
	h.MustNotSee("tomas-k", "nelankė")

	// Asked back, answered in the same thread.
	h.Press("giedre-s", "Klausti patikslinimo")
	h.Say("giedre-s", "Kurio pusmečio?")
	h.MustSee("aiste-r", "Giedrė Sabaliauskienė prašo patikslinti jūsų prašymą:")
	h.Press("aiste-r", "Atsakyti į patikslinimą")
	h.Say("aiste-r", "Rudens")
	h.MustSee("giedre-s", "Klausimas: „Kurio pusmečio?“ Atsakymas: „Rudens“")

	// A reminder on Friday (48 hours before Tuesday's deadline is Sunday), then overdue.
	h.AdvanceTo(at("2026-12-04 16:59"))
	h.MustNotSee("giedre-s", "Primename")
	h.Advance(2 * time.Minute)
	h.MustSee("giedre-s", "Primename: dar neatsakėte")
	h.AdvanceTo(at("2026-12-08 17:01"))
	h.MustSee("vytautas-d", "Saulės progimnazija laiku neatsakė į Aistė Rimkutė prašymą")
	h.MustSee("aiste-r", "Terminas praėjo")
	h.Say("aiste-r", "/requests")
	h.MustSee("aiste-r", "R1 · K-2026-601 → Saulės progimnazija — VĖLUOJA")

	// Answered: the asker gets it, recorded as a share with its purpose.
	h.Press("giedre-s", "Atsakyti")
	h.Say("giedre-s", "Rudens pusmetį nelankė 12 dienų.")
	h.MustSee("aiste-r", "„Rudens pusmetį nelankė 12 dienų.“")
	shared := false
	for _, ev := range h.Audit("case.shared") {
		if ev.Case == "K-2026-601" && ev.To == "aiste-r" && ev.Reason == "Atvejo vadyba" {
			shared = true
		}
	}
	if !shared {
		t.Error("the answer to the asker is not a recorded share")
	}
	var kinds []string
	for _, ev := range h.Audit("") {
		if strings.HasPrefix(ev.Kind, "request.") {
			kinds = append(kinds, ev.Kind)
			if ev.Reason != "Atvejo vadyba" {
				t.Errorf("%s without its purpose: %+v", ev.Kind, ev)
			}
		}
	}
	if got := strings.Join(kinds, " "); got != "request.asked request.delivered request.clarify request.clarified request.reminded request.reminded request.overdue request.opened request.answered" {
		t.Errorf("the timeline's audit: %s", got)
	}
	if c, _ := h.Engine.Case(h.Ctx, "K-2026-601"); c.Has("giedre-s") {
		t.Error("the contact stayed on the case after the request closed")
	}
	for _, p := range []string{"vytautas-d", "tomas-k"} {
		h.MustNotSee(p, "12 dienų")
	}
}

// Forwarded within the institution, not outside it; declined with a reason; only askers ask;
// only the holder answers.
func TestRequestForwardDeclineAndWhoMay(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{Redis: true, AllFlows: true, Start: at("2026-12-01 09:00")})
	ask(h, "aiste-r", "K-2026-602", "Rajono policijos komisariatas", "Ar buvo iškvietimų į šeimą?", "Vaiko teisių apsauga (VTAPĮ 57 str.)")
	h.MustSee("algirdas-p", "Prašymas R1 · K-2026-602") // the commissariat's leader, with no contact set
	// A colleague outside the institution is refused; one inside gets it.
	f := h.App.Requests
	if _, err := f.Forward(h.Ctx, h.Engine.Directory().Person("algirdas-p"), "R1", "giedre-s"); err == nil || !bot.IsProblem(err) {
		t.Errorf("forwarded outside the institution: %v", err)
	}
	h.Press("algirdas-p", "Persiųsti kolegai")
	h.Press("algirdas-p", "Tomas Kazlauskas")
	h.MustSee("tomas-k", "Ar buvo iškvietimų į šeimą?")
	// The new holder's receipt and, once he presses Answer, "opened": the asker sees both.
	h.Say("aiste-r", "/requests R1")
	if tl := h.MustSee("aiste-r", "Eiga:").Text(); !strings.Contains(tl, "Algirdas Paulauskas persiuntė: Tomas Kazlauskas") || !strings.Contains(tl, "pristatyta: Tomas Kazlauskas") {
		t.Errorf("the forward and its delivery are not in the timeline:\n%s", tl)
	}
	h.Press("tomas-k", "Atsakyti")
	h.Say("aiste-r", "/requests")
	h.MustSee("aiste-r", "· atidaryta")
	// Someone it was never sent to cannot answer it.
	if _, err := f.Answer(h.Ctx, h.Engine.Directory().Person("rasa-m"), "R1", "x"); err == nil {
		t.Error("someone the request never reached answered it")
	}
	h.Press("tomas-k", "Atsisakyti")
	h.Say("tomas-k", "Tai ne mūsų teritorija.")
	h.MustSee("aiste-r", "Tomas Kazlauskas (Rajono policijos komisariatas) atsisakė atsakyti:")
	h.MustSee("aiste-r", "„Tai ne mūsų teritorija.“")
	// A closed request takes no more answers.
	if _, err := f.Answer(h.Ctx, h.Engine.Directory().Person("tomas-k"), "R1", "x"); err == nil {
		t.Error("answered after declining")
	}
	// A school may not ask (askers: child_rights, social_worker, case_manager, coordinator, police).
	h.Say("giedre-s", "/request")
	h.MustNotSee("giedre-s", "Apie kurį atvejį klausiate?")
}

// The coordinator sets who an institution's requests go to; a case's export carries its
// requests, and erasing the case takes them.
func TestRequestsContactExportAndErase(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{Redis: true, AllFlows: true, Start: at("2026-12-01 09:00")})
	h.Say("jurate-z", "/institution policija requests Tomas Kazlauskas")
	h.MustSee("jurate-z", "informacijos prašymai dabar siunčiami Tomas Kazlauskas")
	ask(h, "aiste-r", "K-2026-603", "Rajono policijos komisariatas", "Ar šeima registruota?", "Atvejo vadyba")
	h.MustSee("tomas-k", "Ar šeima registruota?")
	h.MustNotSee("algirdas-p", "Ar šeima registruota?")
	x, err := h.Engine.Export(h.Ctx, bot.Subject{Case: "K-2026-603"}, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if s := fmtExport(x); !strings.Contains(s, "Ar šeima registruota?") || !strings.Contains(s, "\"requests\"") {
		t.Errorf("the case's export lacks its request:\n%s", s)
	}
	if _, err := h.Engine.Erase(h.Ctx, bot.Subject{Case: "K-2026-603"}, "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.App.Requests.Get(h.Ctx, "R1"); err == nil {
		t.Error("the request outlived its case's erasure")
	}
}

func fmtExport(x bot.Export) string {
	b, _ := json.Marshal(x)
	return string(b)
}

// Mixed platforms: the asker on Slack, the school on Telegram; the answer never reaches a group.
func TestRequestAcrossSlackAndTelegram(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{Redis: true, AllFlows: true, Start: at("2026-12-01 09:00"), Platforms: []bot.Platform{bot.Telegram, bot.Slack}})
	askerID, askerDM := bot.Identity{Platform: bot.Slack, Team: "T1", User: "U0AISTE"}, bot.Address{Platform: bot.Slack, Team: "T1", Chat: "D0AISTE", User: "U0AISTE"}
	schoolID, schoolDM := bot.Identity{Platform: bot.Telegram, User: "7301"}, bot.Address{Platform: bot.Telegram, Chat: "7301"}
	if err := h.Engine.Link(h.Ctx, "aiste-r", askerID, askerDM); err != nil {
		t.Fatal(err)
	}
	if err := h.Engine.Link(h.Ctx, "giedre-s", schoolID, schoolDM); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func(){
		func() { h.SayAs(askerID, askerDM, "/request") },
		func() { h.SayAs(askerID, askerDM, "K-2026-604") },
		func() { h.PressAs(askerID, askerDM, "Saulės progimnazija") },
		func() { h.PressAs(askerID, askerDM, "Atsakingam") },
		func() { h.SayAs(askerID, askerDM, "Ar vaikas lanko būrelius?") },
		func() { h.PressAs(askerID, askerDM, "Atvejo vadyba") },
		func() { h.PressAs(askerID, askerDM, "Skubiai") },
		func() { h.PressAs(askerID, askerDM, "Išsaugoti") },
	} {
		step()
	}
	text := func(chat string) string {
		var b strings.Builder
		for _, m := range h.Chats.Chat(chat) {
			b.WriteString(m.Text() + "\n")
		}
		return b.String()
	}
	if !strings.Contains(text("7301"), "Ar vaikas lanko būrelius?") || !strings.Contains(text("7301"), "2026 m. gruodžio 2 d., trečiadienis, 17:00") {
		t.Fatalf("the school on Telegram did not get the urgent request:\n%s", text("7301"))
	}
	h.PressAs(schoolID, schoolDM, "Atsakyti")
	h.SayAs(schoolID, schoolDM, "Lanko krepšinį antradieniais.")
	if !strings.Contains(text("D0AISTE"), "„Lanko krepšinį antradieniais.“") {
		t.Errorf("the asker on Slack did not get the answer:\n%s", text("D0AISTE"))
	}
	for _, g := range []string{"group:vtas-grupe", "group:policija-kanalas"} {
		if strings.Contains(text(g), "krepšinį") || strings.Contains(text(g), "būrelius") {
			t.Errorf("a request reached the group %s", g)
		}
	}
}

// A named person at the institution may be asked; the asker may share the answer with the
// case's other members, each share recorded.
func TestRequestToANamedPersonSharedWithTheCase(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{Redis: true, AllFlows: true, Start: at("2026-12-01 09:00")})
	if err := h.Engine.Assign(h.Ctx, "K-2026-605", "ona-p", bot.RoleSocialWorker, "jurate-z"); err == nil {
		t.Fatal("assigned to a case that does not exist")
	}
	if _, _, err := h.Engine.EnsureCase(h.Ctx, "K-2026-605", "jurate-z"); err != nil {
		t.Fatal(err)
	}
	if err := h.Engine.Assign(h.Ctx, "K-2026-605", "ona-p", bot.RoleSocialWorker, "jurate-z"); err != nil {
		t.Fatal(err)
	}
	h.Say("aiste-r", "/request")
	h.Say("aiste-r", "K-2026-605")
	h.Press("aiste-r", "Saulės progimnazija")
	h.Press("aiste-r", "Vytautas Dambrauskas") // the head, by name
	h.Say("aiste-r", "Ar buvo kreiptasi į pagalbos mokiniui specialistus?")
	h.Press("aiste-r", "Atvejo vadyba")
	h.Press("aiste-r", "Per 5 darbo dienas")
	h.Press("aiste-r", "Išsaugoti")
	h.MustSee("vytautas-d", "Ar buvo kreiptasi")
	h.MustNotSee("giedre-s", "Ar buvo kreiptasi")
	h.Press("vytautas-d", "Atsakyti")
	h.Say("vytautas-d", "Taip, psichologas susitiko du kartus.")
	h.MustSee("aiste-r", "„Taip, psichologas susitiko du kartus.“")
	h.MustNotSee("ona-p", "psichologas")
	h.Press("aiste-r", "Pasidalyti su kitais atvejo nariais")
	m := h.MustSee("ona-p", "Aistė Rimkutė dalijasi Vytautas Dambrauskas (Saulės progimnazija) atsakymu:")
	if !strings.Contains(m.Text(), "psichologas susitiko du kartus") || !strings.Contains(m.Text(), "Tikslas: Atvejo vadyba") {
		t.Errorf("the shared answer:\n%s", m.Text())
	}
	if r := h.Press("aiste-r", "Pasidalyti su kitais atvejo nariais"); !strings.Contains(r.Toast, "daugiau nieko") {
		t.Errorf("sharing twice: %q", r.Toast)
	}
	shared := 0
	for _, ev := range h.Audit("case.shared") {
		if ev.Case == "K-2026-605" && ev.To == "ona-p" {
			shared++
		}
	}
	if shared != 1 {
		t.Errorf("the share with ona-p recorded %d times", shared)
	}
}
