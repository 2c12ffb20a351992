package visits_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// scenario is one story of the flow. Every scenario runs here on the in-memory stores; the Redis
// end-to-end test runs the same table through runScenarios with Redis stores.
type scenario struct {
	name     string
	start    time.Time // where the clock starts (default: flowtest's Tuesday 2026-12-01 09:00)
	unlinked []string  // people without a chat account
	run      func(t *testing.T, h *harness)
}

func TestVisits(t *testing.T) {
	runScenarios(t, false)
}

// runScenarios runs every scenario on fresh stores from stores (nil: memory).
func runScenarios(t *testing.T, onRedis bool) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			sc.run(t, newHarness(t, flowtest.Options{Start: sc.start, Unlinked: sc.unlinked, Redis: onRedis}))
		})
	}
}

func at(day, hour, minute int) time.Time {
	return time.Date(2026, 12, day, hour, minute, 0, 0, flowtest.Vilnius)
}

var scenarios = []scenario{
	{name: "quorum is first come first served and later confirmations wait on standby", run: func(t *testing.T, h *harness) {
		id := h.planStandard()
		first, _ := h.button("tomas-k", "Dalyvausiu")
		if toast := h.press("tomas-k", "Dalyvausiu"); !strings.Contains(toast, "dalyvaujate") {
			t.Errorf("Tomas's toast = %q", toast)
		}
		if v := h.visit(id); v.Status != visits.Open || len(v.Missing()) != 1 || v.Missing()[0].Role != bot.RoleSocialWorker {
			t.Fatalf("after one police officer: %s, missing %v", v.Status, v.Missing())
		}
		// A second police officer: the police place is taken.
		if toast := h.press("algirdas-p", "Dalyvausiu"); !strings.Contains(toast, "atsarginių") {
			t.Errorf("Algirdas's toast = %q", toast)
		}
		h.press("ona-p", "Dalyvausiu")
		v := h.visit(id)
		if v.Status != visits.Confirmed || !slices.Equal(v.Participants(), []string{"tomas-k", "ona-p"}) {
			t.Fatalf("status %s, team %v", v.Status, v.Participants())
		}
		// Everyone involved is told once.
		for _, tt := range []struct {
			name, person, text string
		}{
			{"participant", "tomas-k", "Reidas patvirtintas"},
			{"participant who completed it", "ona-p", "Reidas patvirtintas"},
			{"organizer", "jurate-z", "Reidas patvirtintas"},
			{"standby", "algirdas-p", "liekate atsarginių sąraše"},
			{"invitee who has not answered", "egle-v", "komanda jau surinkta"},
		} {
			if n := h.count(tt.person, tt.text); n != 1 {
				t.Errorf("%s %s told %d times, want once", tt.name, tt.person, n)
			}
		}
		// The details reach the confirmed team only, and each share is recorded.
		h.MustSee("tomas-k", address)
		h.MustSee("ona-p", meeting)
		h.noDetails([]string{"tomas-k", "ona-p", "jurate-z"}, address, code, meeting)
		if got := h.shares(code); !slices.Equal(got, []string{"ona-p", "tomas-k"}) {
			t.Errorf("case shared with %v", got)
		}
		// Confirming again, on the first copy's button, changes nothing.
		if toast := h.PressToken("tomas-k", first).Toast; !strings.Contains(toast, "jau užfiksuotas") {
			t.Errorf("second confirmation: %q", toast)
		}
		if h.visit(id).Fx.Rev != v.Fx.Rev {
			t.Error("a second confirmation changed the visit")
		}
	}},

	{name: "concurrent confirmations never overfill a role", run: func(t *testing.T, h *harness) {
		invitees := []string{"tomas-k", "algirdas-p", "ona-p", "egle-v"}
		for round := range 8 {
			id := h.planStandard()
			var wg sync.WaitGroup
			for i, p := range invitees {
				token, ref := h.button(p, "Dalyvausiu")
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := h.Engine.Handle(h.Ctx, bot.Incoming{ID: fmt.Sprintf("race-%d-%d", round, i), From: flowtest.Identity(p),
						Chat: flowtest.DM(p), Button: token, Message: &ref})
					if err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			h.Settle()
			v := h.visit(id)
			police, social := 0, 0
			for _, p := range v.Participants() {
				switch v.Replies[p].Role {
				case bot.RolePolice:
					police++
				case bot.RoleSocialWorker:
					social++
				}
			}
			if police != 1 || social != 1 || len(v.Participants()) != 2 || v.Status != visits.Confirmed {
				t.Fatalf("round %d: %s with team %v", round, v.Status, v.Participants())
			}
			standby := []string{}
			for p, r := range v.Replies {
				if r.State == visits.Standby {
					standby = append(standby, p)
				}
			}
			if len(standby) != 2 {
				t.Errorf("round %d: standby %v", round, standby)
			}
			var shared []string
			for _, e := range h.Audit("case.shared") {
				if e.Record == "visit/"+id {
					shared = append(shared, e.To)
				}
			}
			slices.Sort(shared)
			want := slices.Sorted(slices.Values(v.Participants()))
			if !slices.Equal(shared, want) {
				t.Errorf("round %d: details shared with %v, team %v", round, shared, want)
			}
		}
		if n := h.count("jurate-z", "Reidas patvirtintas"); n != 8 {
			t.Errorf("organizer told of %d confirmations, want 8", n)
		}
	}},

	{name: "named invitees and a team other than the usual", run: func(t *testing.T, h *harness) {
		// 2 police officers and 1 probation officer; Tomas and Rasa by name, probation by area.
		id := h.plan("ona-p", "2026-12-03 18:00", "21:00", "1", meeting, code, address, "2",
			"4", "2", "0", "1", // custom: 2 police, no social worker, 1 probation
			"3", "1", "1", "2", "2", // police: pick Tomas, one more, Rasa, enough
			"1", "1", "taip") // probation: the area's; the usual deadline
		v := h.visit(id)
		if !slices.Equal(v.Pool, []string{"tomas-k", "rasa-m", "lina-j"}) {
			t.Errorf("pool %v", v.Pool)
		}
		if want := []visits.Need{{Role: bot.RolePolice, Count: 2}, {Role: bot.RoleProbation, Count: 1}}; !slices.Equal(v.Needs, want) {
			t.Errorf("needs %v", v.Needs)
		}
		h.MustSee("lina-j", "Needed: 2 police officers and 1 probation officer")
		if toast := h.press("lina-j", "I'll take part"); toast != "Thank you! You are taking part." {
			t.Errorf("English toast %q", toast)
		}
		h.press("tomas-k", "Dalyvausiu")
		h.press("rasa-m", "Dalyvausiu")
		if v := h.visit(id); v.Status != visits.Confirmed {
			t.Fatalf("status %s", v.Status)
		}
		h.MustSee("lina-j", "details for participants")
		h.MustSee("lina-j", address)
		h.MustNotSee("ona-p", "informacija dalyviams") // she organizes only: no participant's details
	}},

	{name: "invitees without an account are named to the organizer", unlinked: []string{"algirdas-p"}, run: func(t *testing.T, h *harness) {
		h.planStandard()
		h.MustSee("jurate-z", "Neturi „Tilto“ paskyros, todėl kvietimo negavo: Algirdas Paulauskas")
		unreachable := false
		for _, e := range h.Audit("delivery.unreachable") {
			unreachable = unreachable || e.To == "algirdas-p"
		}
		if !unreachable {
			t.Error("the unreachable invitee is not in the audit")
		}
	}},

	{name: "a withdrawal is filled from standby first", run: func(t *testing.T, h *harness) {
		id := h.planStandard()
		h.press("tomas-k", "Dalyvausiu")
		h.press("algirdas-p", "Dalyvausiu")
		h.press("ona-p", "Dalyvausiu")
		h.MustSee("tomas-k", address)
		h.press("tomas-k", "Nebegalėsiu dalyvauti")
		h.sayAll("tomas-k", "-", "taip")
		h.MustSee("tomas-k", "atšauktas. Organizatorius informuotas")
		v := h.visit(id)
		if v.Status != visits.Confirmed || !slices.Equal(v.Participants(), []string{"algirdas-p", "ona-p"}) {
			t.Fatalf("status %s, team %v", v.Status, v.Participants())
		}
		h.MustNotSee("tomas-k", address) // his copy of the details was edited away
		h.MustSee("tomas-k", "Informacija paslėpta")
		h.MustSee("algirdas-p", "Atsilaisvino vieta")
		h.MustSee("algirdas-p", address)
		m := h.MustSee("jurate-z", "Nebegali dalyvauti: Tomas Kazlauskas")
		if !strings.Contains(m.Text(), "vietą užima: Algirdas Paulauskas") {
			t.Errorf("organizer's news: %s", m.Text())
		}
		for _, p := range []string{"jurate-z", "ona-p"} {
			if n := h.count(p, "Nebegali dalyvauti"); n != 1 {
				t.Errorf("%s told %d times", p, n)
			}
		}
		h.noDetails([]string{"tomas-k", "algirdas-p", "ona-p", "jurate-z"}, address, code)
	}},

	{name: "a withdrawal below quorum alerts the organizer", run: func(t *testing.T, h *harness) {
		id := h.planStandard()
		h.press("tomas-k", "Dalyvausiu")
		h.press("ona-p", "Dalyvausiu")
		h.press("ona-p", "Nebegalėsiu dalyvauti")
		h.sayAll("ona-p", "vaikas susirgo", "taip")
		v := h.visit(id)
		if v.Status != visits.Open || len(v.Missing()) != 1 {
			t.Fatalf("status %s, missing %v", v.Status, v.Missing())
		}
		h.MustSee("jurate-z", "Nebegali dalyvauti: Ona Petraitienė („vaikas susirgo“)")
		m := h.MustSee("jurate-z", "komanda nebesurinkta, trūksta: 1 socialinis darbuotojas")
		if !slices.Contains(m.Buttons(), "Kviesti daugiau") || !slices.Contains(m.Buttons(), "Atšaukti reidą") {
			t.Errorf("alert buttons: %v", m.Buttons())
		}
		h.MustSee("tomas-k", "Reidui vėl trūksta: 1 socialinis darbuotojas")
		h.MustSee("egle-v", "Reidui vėl trūksta")
		h.MustNotSee("ona-p", address)
		if n := h.count("tomas-k", "Nebegali dalyvauti: Ona Petraitienė"); n != 1 {
			t.Errorf("Tomas told %d times", n)
		}
		// The reason stays in the record: no audit entry carries it.
		for _, e := range h.Audit("") {
			if strings.Contains(fmt.Sprint(e), "susirgo") {
				t.Errorf("free text in the audit: %+v", e)
			}
		}
		// Eglė fills the place: confirmed again.
		h.press("egle-v", "Dalyvausiu")
		if v := h.visit(id); v.Status != visits.Confirmed {
			t.Fatalf("status %s", v.Status)
		}
	}},

	{name: "the deadline without quorum alerts the organizer and coordinators with who answered what", run: func(t *testing.T, h *harness) {
		// Ona (social worker) plans and takes part herself; she invites the area's police.
		id := h.plan("ona-p", "2026-12-03 18:00", "21:00", "1", meeting, code, address, "2", "1", "1", "1", "1", "taip")
		if v := h.visit(id); !slices.Equal(v.Participants(), []string{"ona-p"}) || !slices.Equal(v.Pool, []string{"ona-p", "tomas-k", "algirdas-p"}) {
			t.Fatalf("team %v, pool %v", v.Participants(), v.Pool)
		}
		h.MustSee("ona-p", address) // she is a participant: she gets the details
		h.press("tomas-k", "Negalėsiu")
		h.Say("tomas-k", "1")
		h.MustSee("tomas-k", "atsakymas užfiksuotas")
		h.press("algirdas-p", "Siūlyti kitą laiką")
		h.Say("algirdas-p", "2026-12-04 18:00")
		h.MustSee("ona-p", "Algirdas Paulauskas siūlo kitą laiką: 2026 m. gruodžio 4 d., penktadienis, 18:00")

		h.AdvanceTo(at(2, 17, 59))
		h.MustNotSee("jurate-z", "terminas praėjo")
		h.AdvanceTo(at(2, 18, 1))
		for _, p := range []string{"ona-p", "jurate-z"} {
			m := h.MustSee(p, "Patvirtinimo terminas praėjo")
			for _, want := range []string{"Trūksta: 1 policijos pareigūnas", "Tomas Kazlauskas — negali (kiti darbai tuo metu)",
				"Algirdas Paulauskas — siūlo kitą laiką", "Ona Petraitienė — dalyvaus"} {
				if !strings.Contains(m.Text(), want) {
					t.Errorf("%s's alert lacks %q:\n%s", p, want, m.Text())
				}
			}
			for _, b := range []string{"Kviesti daugiau", "Perkelti", "Atšaukti reidą"} {
				if !slices.Contains(m.Buttons(), b) {
					t.Errorf("%s's alert lacks button %q", p, b)
				}
			}
		}
		h.noDetails([]string{"ona-p"}, address, code, meeting)
		h.Advance(3 * time.Hour)
		if n := h.count("jurate-z", "Patvirtinimo terminas praėjo"); n != 1 {
			t.Errorf("coordinator alerted %d times", n)
		}
		// The coordinator widens the pool from the alert: Rasa, a police officer of another area.
		h.press("jurate-z", "Kviesti daugiau")
		h.press("jurate-z", "Rasa Marcinkevičienė")
		h.MustSee("jurate-z", "papildomai pakviesti: Rasa Marcinkevičienė")
		h.press("rasa-m", "Dalyvausiu")
		if v := h.visit(id); v.Status != visits.Confirmed || !slices.Equal(v.Participants(), []string{"ona-p", "rasa-m"}) {
			t.Fatalf("status %s, team %v", v.Status, v.Participants())
		}
		h.MustSee("rasa-m", address)
	}},

	{name: "a suggested time is taken in one tap", run: func(t *testing.T, h *harness) {
		id := h.planStandard()
		h.press("tomas-k", "Siūlyti kitą laiką")
		h.Say("tomas-k", "2026-12-05 10:00")
		h.press("jurate-z", "Perkelti į šį laiką")
		h.Say("jurate-z", "taip")
		v := h.visit(id)
		if !v.Start.Equal(at(5, 10, 0)) || !v.End.Equal(at(5, 13, 0)) {
			t.Fatalf("moved to %v–%v", v.Start, v.End)
		}
		if v.Replies["tomas-k"].State != "" {
			t.Errorf("the suggestion still stands: %+v", v.Replies["tomas-k"])
		}
		h.MustSee("tomas-k", "Ar galite dalyvauti naujuoju laiku?")
	}},

	{name: "a reschedule moves the reminders and tells everyone once", run: func(t *testing.T, h *harness) {
		id := h.planStandard()
		h.press("tomas-k", "Dalyvausiu")
		h.press("ona-p", "Dalyvausiu")
		h.press("algirdas-p", "Negalėsiu")
		h.Say("algirdas-p", "1")
		h.press("jurate-z", "Perkelti")
		h.sayAll("jurate-z", "2026-12-04 19:00", "22:00", "taip")
		h.MustSee("jurate-z", "Reidas V1 perkeltas")
		v := h.visit(id)
		if !v.Start.Equal(at(4, 19, 0)) || !v.Deadline.Equal(at(3, 19, 0)) || v.Status != visits.Confirmed {
			t.Fatalf("start %v, deadline %v, status %s", v.Start, v.Deadline, v.Status)
		}
		for _, p := range []string{"tomas-k", "ona-p", "algirdas-p", "egle-v"} {
			if n := h.count(p, "Reidas perkeltas"); n != 1 {
				t.Errorf("%s told %d times", p, n)
			}
		}
		if n := h.count("jurate-z", "Reidas perkeltas"); n != 0 {
			t.Errorf("the organizer who moved it was told %d times", n)
		}
		h.MustSee("algirdas-p", "Ar galite dalyvauti naujuoju laiku?")
		h.MustSee("tomas-k", "Jūsų atsakymas galioja ir naujam laikui")
		// The participants' details show the new time.
		if m := h.MustSee("tomas-k", address); !strings.Contains(m.Text(), "gruodžio 4 d.") {
			t.Errorf("details not updated:\n%s", m.Text())
		}
		// No reminder at the old time; each at the new one.
		h.AdvanceTo(at(3, 17, 30))
		if n := h.count("tomas-k", "Priminimas"); n != 0 {
			t.Fatalf("reminded %d times for the old time", n)
		}
		h.AdvanceTo(at(3, 19, 1))
		if n := h.count("tomas-k", "Priminimas"); n != 1 {
			t.Fatalf("24 h reminder: %d", n)
		}
		h.AdvanceTo(at(4, 18, 1))
		if n := h.count("ona-p", "Priminimas"); n != 2 {
			t.Fatalf("1 h reminder: %d", n)
		}
	}},

	{name: "reminders go to confirmed participants 24 h and 1 h before, once each", run: func(t *testing.T, h *harness) {
		h.planStandard()
		h.press("tomas-k", "Dalyvausiu")
		h.press("algirdas-p", "Dalyvausiu")
		h.press("ona-p", "Dalyvausiu")
		tests := []struct {
			name string
			at   time.Time
			want int
		}{
			{"a minute before 24 h", at(2, 17, 59), 0},
			{"24 h before", at(2, 18, 0), 1},
			{"later that evening", at(2, 23, 0), 1},
			{"a minute before 1 h", at(3, 16, 59), 1},
			{"1 h before", at(3, 17, 0), 2},
			{"after the start", at(3, 19, 0), 2},
		}
		for _, tt := range tests {
			h.AdvanceTo(tt.at)
			for _, p := range []string{"tomas-k", "ona-p"} {
				if n := h.count(p, "Priminimas"); n != tt.want {
					t.Errorf("%s: %s got %d reminders, want %d", tt.name, p, n, tt.want)
				}
			}
			if n := h.count("algirdas-p", "Priminimas"); n != 0 {
				t.Errorf("%s: standby reminded", tt.name)
			}
		}
		m := h.MustSee("tomas-k", "Priminimas")
		if !strings.Contains(m.Text(), "Susitikimo vieta: "+meeting) {
			t.Errorf("reminder without the meeting point:\n%s", m.Text())
		}
	}},

	{name: "the outcome report reaches the case's people and is nudged until filed", run: func(t *testing.T, h *harness) {
		const c = "K-2026-200"
		h.Say("egle-v", "/case new "+c)
		h.Say("egle-v", "/case assign "+c+" aiste-r child_rights")
		id := h.plan("jurate-z", "2026-12-03 18:00", "21:00", "1", meeting, c, address, "2", "1", "1", "1", "1", "taip")
		h.press("tomas-k", "Dalyvausiu")
		h.press("ona-p", "Dalyvausiu")
		h.AdvanceTo(at(3, 21, 29))
		h.MustNotSee("tomas-k", "Ataskaita: "+c)
		h.AdvanceTo(at(3, 21, 31))
		h.MustSee("tomas-k", "Užpildykite trumpą ataskaitą")
		h.MustNotSee("ona-p", "Užpildykite trumpą ataskaitą")
		if v := h.visit(id); v.Status != visits.Reporting || v.Reporter != "tomas-k" {
			t.Fatalf("status %s, reporter %s", v.Status, v.Reporter)
		}
		// Each nudge is a new copy of the request; the one before points down to it.
		superseded := h.Engine.Texts.T("lt", "copies.superseded")
		h.AdvanceTo(at(4, 21, 29))
		h.MustNotSee("tomas-k", "Primename")
		h.AdvanceTo(at(5, 21, 31))
		if n, old := h.count("tomas-k", "Primename"), h.count("tomas-k", superseded); n != 1 || old != 2 {
			t.Fatalf("after two days: %d nudges showing, %d requests superseded; want 1 and 2:\n%s", n, old, h.Chats.Dump("dm:tomas-k"))
		}
		const note = "Vaikai namie vieni, reikia pakartoti"
		h.press("tomas-k", "Ataskaita: "+c)
		h.sayAll("tomas-k", "1", "1", note, "taip")
		h.MustSee("tomas-k", "ataskaita išsiųsta")
		for _, p := range []string{"egle-v", "aiste-r"} {
			m := h.MustSee(p, "Reido ataskaita: atvejis "+c)
			for _, want := range []string{"Rezultatas: Aplankyta", "Reikia tolesnių veiksmų: taip", note, "Pateikė: Tomas Kazlauskas"} {
				if !strings.Contains(m.Text(), want) {
					t.Errorf("%s's report lacks %q", p, want)
				}
			}
		}
		for _, p := range []string{"ona-p", "jurate-z", "algirdas-p"} {
			h.MustNotSee(p, note)
		}
		ev := h.Audit("visit.outcome")
		if len(ev) != 1 || ev[0].Case != c || ev[0].Record != "visit/"+id || ev[0].Reason != "visited" {
			t.Errorf("outcome audit: %+v", ev)
		}
		var to []string
		for _, e := range h.Audit("case.shared") {
			if e.Reason == "visit_outcome" {
				to = append(to, e.To)
			}
		}
		slices.Sort(to)
		if !slices.Equal(to, []string{"aiste-r", "egle-v"}) {
			t.Errorf("report shared with %v", to)
		}
		if v := h.visit(id); v.Status != visits.Closed {
			t.Errorf("status %s", v.Status)
		}
		h.MustNotSee("tomas-k", address) // the details are withdrawn once the visit is closed
		h.Advance(72 * time.Hour)
		if n := h.count("tomas-k", superseded); n != 2 {
			t.Errorf("nudged after filing: %d superseded", n)
		}
		h.MustSee("tomas-k", "visos ataskaitos pateiktos")
	}},

	{name: "only invitees answer and only the organizer or a coordinator changes the visit", run: func(t *testing.T, h *harness) {
		h.Say("giedre-s", "/reidas")
		h.MustSee("giedre-s", "negalite")
		h.SayIn("policija-kanalas", "tomas-k", "/reidas")
		if got := h.Chats.Chat("group:policija-kanalas"); len(got) != 1 || !strings.Contains(got[0].Text(), "asmeniniame pokalbyje") {
			t.Fatalf("group got:\n%s", h.Chats.Dump("group:policija-kanalas"))
		}
		id := h.planStandard()
		h.press("tomas-k", "Dalyvausiu")
		h.press("ona-p", "Dalyvausiu")
		before := h.visit(id)

		// Eglė presses the button sent to Algirdas; someone presses a forged token.
		if toast := h.PressOn("egle-v", "dm:algirdas-p", "Dalyvausiu").Toast; !strings.Contains(toast, "nebegalioja") {
			t.Errorf("foreign press: %q", toast)
		}
		if toast := h.PressToken("rasa-m", "forgedtoken00000").Toast; !strings.Contains(toast, "nebegalioja") {
			t.Errorf("forged press: %q", toast)
		}
		// Buttons bound to the presser but about a visit they may not touch: the handlers check.
		forged := []struct {
			name, person, action, reason string
		}{
			{"a stranger confirms", "rasa-m", "visits.confirm", "not_invited"},
			{"a stranger declines", "rasa-m", "visits.decline", "not_invited"},
			{"a participant cancels", "tomas-k", "visits.cancel", "not_organizer"},
			{"a participant reschedules", "tomas-k", "visits.reschedule", "not_organizer"},
			{"an invitee widens the pool", "egle-v", "visits.widen", "not_organizer"},
			{"an invitee adds a case", "egle-v", "visits.addcase", "not_organizer"},
			{"a stranger opens it", "giedre-s", "visits.open", "not_involved"},
			{"a non-participant reports", "egle-v", "visits.report", "not_participant"},
		}
		for i, tt := range forged {
			token := fmt.Sprintf("forged%010d", i)
			if _, err := bot.Save(h.Ctx, h.Engine.Records, "btn/"+token, bot.Action{Name: tt.action, Ref: id, Arg: code, For: tt.person}, bot.Any); err != nil {
				t.Fatal(err)
			}
			if toast := h.PressToken(tt.person, token).Toast; !strings.Contains(toast, "negalite") {
				t.Errorf("%s: toast %q", tt.name, toast)
			}
			refused := false
			for _, e := range h.Audit("access.refused") {
				refused = refused || e.Actor == tt.person && e.Record == "visit/"+id && e.Reason == tt.reason
			}
			if !refused {
				t.Errorf("%s: refusal not audited", tt.name)
			}
		}
		after := h.visit(id)
		if after.Fx.Rev != before.Fx.Rev || after.Status != visits.Confirmed || !slices.Equal(after.Pool, before.Pool) {
			t.Fatalf("a refused press changed the visit: rev %d→%d, %s", before.Fx.Rev, after.Fx.Rev, after.Status)
		}
		// Nothing sensitive reached anyone outside the team, nor any group.
		h.noDetails([]string{"tomas-k", "ona-p", "jurate-z"}, address, code, meeting)
	}},

	{name: "a coordinator cancels from the overview; details are withdrawn and everyone is told once", run: func(t *testing.T, h *harness) {
		id := h.plan("ona-p", "2026-12-03 18:00", "21:00", "1", meeting, code, address, "2", "1", "1", "1", "1", "taip")
		h.press("tomas-k", "Dalyvausiu")
		h.press("algirdas-p", "Dalyvausiu")
		h.Say("jurate-z", "/visits")
		m := h.MustSee("jurate-z", "Artėjantys reidai")
		if !strings.Contains(m.Text(), id) || !strings.Contains(m.Text(), "patvirtintas") {
			t.Errorf("overview:\n%s", m.Text())
		}
		h.press("jurate-z", "Atidaryti "+id)
		h.press("jurate-z", "Atšaukti reidą")
		h.Say("jurate-z", "taip")
		h.MustSee("jurate-z", "atšauktas. Visi informuoti")
		if v := h.visit(id); v.Status != visits.Cancelled {
			t.Fatalf("status %s", v.Status)
		}
		for _, p := range []string{"ona-p", "tomas-k", "algirdas-p"} {
			if n := h.count(p, "Atšaukė: Jūratė Žukauskienė"); n != 1 {
				t.Errorf("%s told %d times", p, n)
			}
		}
		h.MustNotSee("tomas-k", address)
		h.MustSee("tomas-k", "Informacija paslėpta: reidas atšauktas")
		// Ona typed the address into her own dialog; her participant's copy is withdrawn.
		if n := h.count("ona-p", address); n != 1 {
			t.Errorf("Ona still sees the address in %d messages", n)
		}
		h.MustSee("ona-p", "Informacija paslėpta: reidas atšauktas")
		h.AdvanceTo(at(4, 12, 0))
		for _, p := range []string{"ona-p", "tomas-k"} {
			h.MustNotSee(p, "Priminimas")
			h.MustNotSee(p, "Užpildykite trumpą ataskaitą")
		}
		h.Say("jurate-z", "/visits")
		h.MustSee("jurate-z", "Artėjančių reidų nėra")
	}},

	{name: "the overview shows each visit's status and what it is short of, to those involved", run: func(t *testing.T, h *harness) {
		v1 := h.planStandard()
		h.press("tomas-k", "Dalyvausiu")
		v2 := h.plan("jurgis-b", "2026-12-05 10:00", "12:00", "2", meeting, "K-2026-300", "-", "2", "1", "2", "1", "1", "1", "taip")
		h.Say("jurate-z", "/visits")
		m := h.MustSee("jurate-z", "Artėjantys reidai")
		for _, want := range []string{v1 + " · ", "trūksta: 1 socialinis darbuotojas", v2 + " · ", "pietus", "trūksta: 1 policijos pareigūnas ir 1 socialinis darbuotojas"} {
			if !strings.Contains(m.Text(), want) {
				t.Errorf("coordinator's overview lacks %q:\n%s", want, m.Text())
			}
		}
		h.Say("tomas-k", "/visits")
		if m := h.MustSee("tomas-k", "Artėjantys reidai"); !strings.Contains(m.Text(), v1) || strings.Contains(m.Text(), v2) {
			t.Errorf("Tomas's overview:\n%s", m.Text())
		}
		h.Say("giedre-s", "/reidai")
		h.MustSee("giedre-s", "Artėjančių reidų nėra")
		h.noDetails([]string{"jurate-z", "jurgis-b", "tomas-k"}, address, "K-2026-300")
	}},

	{name: "a series proposes its visits ahead by itself", start: at(4, 17, 0), run: func(t *testing.T, h *harness) {
		for range 2 {
			if err := h.flow.Plan(h.Ctx); err != nil {
				t.Fatal(err)
			}
		}
		h.Settle()
		h.MustNotSee("tomas-k", "Reidas V")
		h.AdvanceTo(at(4, 18, 1)) // seven days before Friday 11 December, 18:00
		const id = "penktadienio-reidas-20261211"
		v := h.visit(id)
		if !v.Start.Equal(at(11, 18, 0)) || v.Organizer != "ona-p" || v.Area != "centras" {
			t.Fatalf("visit %+v", v)
		}
		if !slices.Equal(v.Pool, []string{"tomas-k", "algirdas-p", "ona-p", "egle-v", "lina-j"}) {
			t.Errorf("pool %v", v.Pool)
		}
		h.MustSee("tomas-k", "Laikas: 2026 m. gruodžio 11 d., penktadienis, 18:00–21:00")
		h.MustSee("lina-j", "Visit V1") // she reads English
		h.MustNotSee("rasa-m", "Reidas")
		if err := h.flow.Plan(h.Ctx); err != nil {
			t.Fatal(err)
		}
		h.Settle()
		if n := h.count("tomas-k", "Ar galite dalyvauti?"); n != 1 {
			t.Errorf("invited %d times", n)
		}
		// The timer for the next proposal keeps the series going.
		h.Clock.Set(at(18, 17, 59))
		h.Advance(2 * time.Minute)
		if v := h.visit("penktadienio-reidas-20261225"); v.No != "V2" {
			t.Errorf("next visit %+v", v)
		}
	}},
}

// TestScenariosOnRedis runs every scenario again end to end on a real Redis.
func TestScenariosOnRedis(t *testing.T) {
	runScenarios(t, true)
}
