package alerts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// flowConfig mirrors cmd/tiltas's alertsConfig for the example municipality.
func flowConfig(c *config.Config) alerts.Config {
	return c.AlertsFlow()
}

type harness struct {
	*flowtest.Harness
	flow *alerts.Flow
}

func newHarness(t *testing.T, o flowtest.Options) *harness {
	h := &harness{}
	o.Register = func(e *bot.Engine, c *config.Config) { h.flow = alerts.Register(e, flowConfig(c)) }
	h.Harness = flowtest.New(t, o)
	return h
}

// raise walks Giedrė (school) through the concern shortcut and confirms.
func (h *harness) raise(text string) alerts.Alert {
	h.T.Helper()
	h.Say("giedre-s", "/concern K-2026-117 skubu nepriežiūra "+text)
	h.Press("giedre-s", "Išsaugoti")
	a, err := h.flow.Get(h.Ctx, "A1")
	if err != nil {
		h.T.Fatalf("no alert A1: %v\n%s", err, h.Chats.Dump("dm:giedre-s"))
	}
	return a
}

func TestUrgentConcernReachesChildRightsAtOnceAndGroupWithoutDetails(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	a := h.raise("Mėlynės ant rankų")
	if a.Urgency != "urgent" || a.Category != "neglect" || a.State != alerts.Open {
		t.Fatalf("alert = %+v", a)
	}
	for _, p := range []string{"aiste-r", "mindaugas-l", "ruta-g"} {
		m := h.MustSee(p, "Mėlynės ant rankų")
		if got := m.Buttons(); len(got) != 2 {
			t.Errorf("%s buttons = %v", p, got)
		}
	}
	for _, p := range []string{"tomas-k", "jurate-z", "ona-p"} {
		h.MustNotSee(p, "Mėlynės")
	}
	group := h.Chats.Chat("group:vtas-grupe")
	if len(group) != 1 || !strings.Contains(group[0].Text(), "K-2026-117") || strings.Contains(group[0].Text(), "Mėlynės") {
		t.Fatalf("group got:\n%s", h.Chats.Dump("group:vtas-grupe"))
	}
	h.MustSee("giedre-s", "išsiųstas: Aistė Rimkutė, Mindaugas Lukoševičius ir Rūta Grigaitė")
	if n := len(h.Audit("case.shared")); n != 3 {
		t.Errorf("shares recorded: %d, want 3", n)
	}
}

func TestEscalatesStepByStepRepeatsAndTellsCoordinatorWhenExhausted(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.raise("Niekas neatsiliepia")
	h.Advance(9 * time.Minute)
	h.MustNotSee("tomas-k", "Niekas neatsiliepia")
	h.Advance(time.Minute)
	h.MustSee("tomas-k", "Niekas neatsiliepia") // step 2: police, after 10 minutes
	h.MustNotSee("jurate-z", "Niekas neatsiliepia")
	h.Advance(10 * time.Minute)
	h.MustSee("jurate-z", "Niekas neatsiliepia") // step 3: coordinator
	a, _ := h.flow.Get(h.Ctx, "A1")
	if a.Round != 0 || a.Step != 2 {
		t.Fatalf("position %d:%d", a.Round, a.Step)
	}
	h.Advance(15 * time.Minute) // repeat: round 2 starts again at child rights
	a, _ = h.flow.Get(h.Ctx, "A1")
	if a.Round != 1 || a.Step != 0 {
		t.Fatalf("after the first round: %d:%d", a.Round, a.Step)
	}
	h.Advance(35 * time.Minute)
	h.MustSee("jurate-z", "niekas nepatvirtino per visą eskalavimo grandinę")
	if n := len(h.Audit("alert.escalated")); n != 5 {
		t.Errorf("escalations audited: %d, want 5", n)
	}
}

func TestAcknowledgementStopsEscalationTellsSenderAndEditsEveryCopy(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.raise("Reikia patikrinti")
	h.Advance(2 * time.Minute)
	r := h.Press("mindaugas-l", "Mačiau")
	if !strings.Contains(r.Toast, "A1 patvirtintas") {
		t.Errorf("toast = %q", r.Toast)
	}
	h.MustSee("giedre-s", "Jūsų pranešimą A1 (K-2026-117) patvirtino Mindaugas Lukoševičius (Vaiko teisių apsaugos skyrius)")
	for _, p := range []string{"aiste-r", "mindaugas-l", "ruta-g"} {
		m := h.MustSee(p, "Reikia patikrinti")
		if !strings.Contains(m.Text(), "Matė Mindaugas Lukoševičius") {
			t.Errorf("%s copy not edited:\n%s", p, m.Text())
		}
	}
	if got := h.MustSee("aiste-r", "Reikia patikrinti").Buttons(); len(got) != 0 {
		t.Errorf("someone else's copy keeps buttons %v", got)
	}
	if got := strings.Join(h.MustSee("mindaugas-l", "Reikia patikrinti").Buttons(), ","); !strings.Contains(got, "Išspręsta") {
		t.Errorf("acknowledger's buttons = %s", got)
	}
	if g := h.Chats.Chat("group:vtas-grupe"); !strings.Contains(g[0].Text(), "patvirtino Mindaugas") {
		t.Errorf("group copy not edited: %s", g[0].Text())
	}
	h.Advance(30 * time.Minute)
	h.MustNotSee("tomas-k", "Reikia patikrinti")
	// A second acknowledgement by someone else is refused.
	if r := h.PressToken("aiste-r", "nothing"); r.Toast == "" {
		t.Error("no toast for a stale press")
	}
	// The concern created the case: the acknowledger is now assigned to it.
	c, err := h.Engine.Case(h.Ctx, "K-2026-117")
	if err != nil || !c.Has("mindaugas-l") {
		t.Errorf("case = %+v, %v", c, err)
	}
}

func TestAcknowledgeFromTheGroupIsPersonal(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.raise("Grupėje")
	r := h.PressOn("tomas-k", "group:vtas-grupe", "Mačiau") // police: not in the chain yet
	if !strings.Contains(r.Toast, "nebuvo siųstas") {
		t.Errorf("outsider toast = %q", r.Toast)
	}
	if a, _ := h.flow.Get(h.Ctx, "A1"); a.State != alerts.Open {
		t.Fatal("an outsider acknowledged")
	}
	h.PressOn("ruta-g", "group:vtas-grupe", "Mačiau")
	if a, _ := h.flow.Get(h.Ctx, "A1"); a.State != alerts.Acknowledged || a.AckBy != "ruta-g" {
		t.Fatalf("group acknowledgement: %+v", a)
	}
}

func TestUndoResumesTheChainWhereItStopped(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.raise("Atšaukimas")
	h.Advance(11 * time.Minute) // now at step 2 (police)
	h.Press("tomas-k", "Mačiau")
	h.Advance(30 * time.Minute)
	h.MustNotSee("jurate-z", "Atšaukimas")
	h.Press("tomas-k", "Atšaukti „Mačiau“")
	h.MustSee("rasa-m", "vėl atviras")
	h.MustSee("giedre-s", "vėl atviras")
	m := h.MustSee("rasa-m", "Atšaukimas")
	if !strings.Contains(strings.Join(m.Buttons(), ","), "Mačiau") {
		t.Errorf("reopened copy has no acknowledge button: %v", m.Buttons())
	}
	h.Advance(10 * time.Minute)
	h.MustSee("jurate-z", "Atšaukimas") // the police step's wait ran out again: coordinator
}

func TestAckTimeoutRemindsThenReopens(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.raise("Priminimas")
	h.Press("aiste-r", "Mačiau")
	h.Advance(4 * time.Hour)
	h.MustSee("aiste-r", "vis dar neišspręstas")
	h.Press("aiste-r", "Vis dar dirbu")
	h.Advance(2 * time.Hour)
	if a, _ := h.flow.Get(h.Ctx, "A1"); a.State != alerts.Acknowledged {
		t.Fatalf("confirmed acknowledgement lapsed: %s", a.State)
	}
	h.Advance(2*time.Hour + time.Hour + time.Minute) // second reminder, not confirmed
	if m := h.MustSee("aiste-r", "šis priminimas nebegalioja"); len(m.Buttons()) != 0 {
		t.Errorf("the lapsed reminder keeps its buttons: %v", m.Buttons())
	}
	a, _ := h.flow.Get(h.Ctx, "A1")
	if a.State != alerts.Open || a.AckBy != "" {
		t.Fatalf("after an unanswered reminder: %s by %q", a.State, a.AckBy)
	}
	h.MustSee("mindaugas-l", "neatsakė į priminimą")
}

func TestResolveTellsSenderAndIsPurgedAfterRetention(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.raise("Sprendimas")
	h.Press("aiste-r", "Mačiau")
	h.Press("aiste-r", "Išspręsta")
	h.Say("aiste-r", "Šeima aplankyta, pagalba suteikta.")
	h.MustSee("giedre-s", "Jūsų pranešimas A1 (K-2026-117) išspręstas (Aistė Rimkutė)")
	h.MustNotSee("giedre-s", "pagalba suteikta") // the outcome stays with the chain
	if m := h.MustSee("ruta-g", "Sprendimas"); !strings.Contains(m.Text(), "Išsprendė Aistė Rimkutė") || !strings.Contains(m.Text(), "pagalba suteikta") {
		t.Errorf("copy after resolution:\n%s", m.Text())
	}
	h.Clock.Advance(366 * 24 * time.Hour)
	n, err := h.Engine.Purge(h.Ctx)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	if _, err := h.flow.Get(h.Ctx, "A1"); err == nil {
		t.Fatal("the resolved alert outlived its retention")
	}
	if len(h.Audit("alert.created")) != 1 || len(h.Audit("record.purged")) != 1 {
		t.Error("the audit trail lost IDs and times")
	}
}

func TestAuthorization(t *testing.T) {
	h := newHarness(t, flowtest.Options{Unlinked: []string{"laura-t"}})
	h.raise("Slapta")
	tests := []struct {
		name, person, text, want string
	}{
		{"someone outside the chain cannot see it", "tomas-k", "/alert A1", "nerastas arba jums neprieinamas"},
		{"the sender can see it", "giedre-s", "/alert A1", "Slapta"},
		{"a coordinator can see it", "jurate-z", "/alert A1", "Slapta"},
		{"a leader cannot flag a concern", "kestutis-a", "/concern", "negalite"},
		{"only coordinators export", "aiste-r", "/alert A1 export", "negalite"},
		{"an unlinked user sees nothing", "laura-t", "/alert A1", "Neturite prieigos"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.Say(tt.person, tt.text)
			h.MustSee(tt.person, tt.want)
		})
	}
	h.MustNotSee("laura-t", "Slapta")
	h.MustNotSee("tomas-k", "Slapta")
	// Someone who received it but did not acknowledge cannot resolve it.
	h.Press("aiste-r", "Mačiau")
	if err := func() error {
		_, err := h.flow.Resolve(h.Ctx, h.Engine.Directory().Person("ruta-g"), "A1", "x")
		return err
	}(); err == nil {
		t.Fatal("a non-acknowledger resolved the alert")
	}
}

func TestNoticeToSchoolEscalatesToHeadNextSchoolDay(t *testing.T) {
	// Friday evening: the next school day is Monday.
	h := newHarness(t, flowtest.Options{Start: time.Date(2026, 12, 4, 21, 0, 0, 0, flowtest.Vilnius)})
	h.Say("tomas-k", "/notice")
	h.Press("tomas-k", "Saulės progimnazija")
	h.Say("tomas-k", "K-2026-120")
	h.Say("tomas-k", "20:30")
	h.Press("tomas-k", "Taip")
	h.Press("tomas-k", "Išsaugoti")
	m := h.MustSee("giedre-s", "K-2026-120")
	if !strings.Contains(m.Text(), "vaikas buvo įvykio vietoje") || !strings.Contains(m.Text(), "gruodžio 7 d., pirmadienis, 08:00") {
		t.Errorf("notice:\n%s", m.Text())
	}
	if a, _ := h.flow.Get(h.Ctx, "N1"); !a.Incident.Equal(time.Date(2026, 12, 4, 20, 30, 0, 0, flowtest.Vilnius)) {
		t.Errorf("incident time = %v", a.Incident)
	}
	h.AdvanceTo(time.Date(2026, 12, 7, 7, 59, 0, 0, flowtest.Vilnius))
	h.MustNotSee("vytautas-d", "K-2026-120")
	h.Advance(2 * time.Minute)
	h.MustSee("vytautas-d", "K-2026-120")
	h.Press("vytautas-d", "Gavau")
	h.MustSee("tomas-k", "patvirtino Vytautas Dambrauskas")
	// The school cannot close a police notice; the police officer can.
	if _, err := h.flow.Resolve(h.Ctx, h.Engine.Directory().Person("vytautas-d"), "N1", "x"); err == nil {
		t.Fatal("a school user closed a police notice")
	}
	if _, err := h.flow.Resolve(h.Ctx, h.Engine.Directory().Person("tomas-k"), "N1", "gauta"); err != nil {
		t.Fatalf("sender could not close: %v", err)
	}
}

func TestQuietHoursHoldRoutineButNotUrgent(t *testing.T) {
	// 23:00: Jurgis (social worker, quiet 21:00–07:30) and Mindaugas (child rights, quiet 22–07).
	h := newHarness(t, flowtest.Options{Start: time.Date(2026, 12, 1, 23, 0, 0, 0, flowtest.Vilnius)})
	h.Say("giedre-s", "/concern K-2026-130 iprasta nelankymas Nelanko savaitę")
	h.Press("giedre-s", "Išsaugoti")
	h.MustNotSee("jurgis-b", "Nelanko savaitę")
	h.MustSee("ona-p", "Nelanko savaitę") // no quiet hours
	h.AdvanceTo(time.Date(2026, 12, 2, 7, 31, 0, 0, flowtest.Vilnius))
	h.MustSee("jurgis-b", "Nelanko savaitę")

	h.Say("giedre-s", "/concern K-2026-131 skubu smurtas Skubus naktį")
	h.Press("giedre-s", "Išsaugoti")
	h.MustSee("mindaugas-l", "Skubus naktį")
}

func TestShortcutWithBadCaseCodeFallsBackToTheDialog(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.Say("giedre-s", "/concern Jonas Jonaitis skubu")
	h.MustSee("giedre-s", "Tai ne atvejo kodas") // told why, before being asked again
	h.MustSee("giedre-s", "Atvejo kodas?")
	h.Say("giedre-s", "Jonas Jonaitis")
	h.MustSee("giedre-s", "Tai ne atvejo kodas")
}

// TestEndToEndOnRedis runs the main stories again on a real Redis: routing, escalation,
// acknowledgement with every copy edited, the acknowledgement timeout and resolution.
func TestEndToEndOnRedis(t *testing.T) {
	h := newHarness(t, flowtest.Options{Redis: true})
	h.raise("Redis istorija")
	h.Advance(11 * time.Minute)
	h.MustSee("tomas-k", "Redis istorija")
	h.Press("rasa-m", "Mačiau")
	h.MustSee("giedre-s", "patvirtino Rasa Marcinkevičienė")
	if m := h.MustSee("aiste-r", "Redis istorija"); !strings.Contains(m.Text(), "Matė Rasa") {
		t.Errorf("copy not edited on Redis:\n%s", m.Text())
	}
	h.Advance(4*time.Hour + time.Minute)
	h.MustSee("rasa-m", "vis dar neišspręstas")
	h.Press("rasa-m", "Išspręsta")
	h.Say("rasa-m", "Viskas tvarkoje.")
	a, err := h.flow.Get(h.Ctx, "A1")
	if err != nil || a.State != alerts.Resolved || a.Outcome != "Viskas tvarkoje." {
		t.Fatalf("on Redis: %+v %v", a, err)
	}
	if n := len(h.Audit("alert.escalated")); n != 1 {
		t.Errorf("escalations audited on Redis: %d", n)
	}
}

// The card's two buttons say different things, and one line says what: "Mačiau" (seen: the
// escalation stops), "Imuosi" (the case is mine). The dialog's submit button is another word, in
// both languages.
func TestTheCardsButtonsSayWhatTheyDo(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.raise("Mėlynės")
	m := h.MustSee("aiste-r", "Mėlynės")
	if got := strings.Join(m.Buttons(), ","); got != "Mačiau,Imuosi" {
		t.Errorf("buttons %s, want Mačiau,Imuosi", got)
	}
	if !strings.Contains(m.Text(), "„Mačiau“ — matėte ir eskalavimas sustoja; „Imuosi“ — šiuo atveju rūpinatės jūs.") {
		t.Errorf("the card does not say what its buttons do:\n%s", m.Text())
	}
	for _, lang := range []string{"lt", "en"} {
		T := func(id string) string { return h.Engine.Catalog().T(lang, id) }
		if T("dialog.confirm") == T("alert.btn.ack") || T("alert.btn.ack") == T("alert.btn.claim") {
			t.Errorf("%s: submit %q, seen %q, handling %q: two say the same", lang, T("dialog.confirm"), T("alert.btn.ack"), T("alert.btn.claim"))
		}
	}
	h.Press("aiste-r", "Mačiau")
	if m := h.MustSee("aiste-r", "Mėlynės"); strings.Contains(m.Text(), "eskalavimas sustoja") {
		t.Error("the explanation stays on an acknowledged card")
	}
}

// The reporter always knows where the concern stands: each escalation step (to which institution
// or role, never the names of those who have not acted), the chain's end (the coordinator has
// it), and a lapsed acknowledgement. A repeated round tells the group it is a repeat; the
// timeline numbers its steps; a timer that fires twice counts one escalation.
func TestTheReporterHearsEachStepAndTheEnd(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	escalations := 0
	h.Engine.Observe = func(kind string) {
		if kind == "escalation" {
			escalations++
		}
	}
	h.raise("Ką tik pastebėta")
	h.Advance(11 * time.Minute)
	m := h.MustSee("giedre-s", "perduotas toliau (žingsnis 2)")
	if !strings.Contains(m.Text(), "Rajono policijos komisariatas") || strings.Contains(m.Text(), "Tomas") || strings.Contains(m.Text(), "Rasa") {
		t.Errorf("the step is told by institution, not by names: %q", m.Text())
	}
	// The step's timer fires again (a replay): nothing moves, nothing is counted.
	if err := h.Engine.Fire(h.Ctx, bot.Timer{ID: "alert:A1:esc", Kind: "alert.escalate", Ref: "A1", Arg: "0:0"}); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	if escalations != 1 {
		t.Errorf("%d escalations counted after one step and a replayed timer", escalations)
	}
	h.Advance(26 * time.Minute) // the chain's second round begins (10 + 10 + 15 minutes a round)
	if m := h.Chats.Chat("group:vtas-grupe"); len(m) < 2 || !strings.Contains(m[len(m)-1].Text(), "Pakartotinai") {
		t.Errorf("the group is not told it is a repeat: %v", h.Chats.Dump("group:vtas-grupe"))
	}
	h.Advance(40 * time.Minute)
	h.MustSee("giedre-s", "juo dabar rūpinasi koordinatorius")
	h.Say("jurate-z", "/alert A1")
	tl := h.Last("jurate-z").Text()
	for _, want := range []string{"eskalavimo žingsnis 2 (Rajono policijos komisariatas)", "eskalavimo žingsnis 4 (Vaiko teisių apsaugos skyrius, „VTAS budintys“)"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
}

// Reopening tells the reporter and the coordinators, not only the step's people.
func TestReopeningTellsTheReporterAndTheCoordinators(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.raise("Atšauks")
	h.Press("aiste-r", "Mačiau")
	h.Press("aiste-r", "Atšaukti „Mačiau“")
	h.MustSee("giedre-s", "vėl atviras — ieškoma, kas jo imsis")
	h.MustSee("jurate-z", "A1 (K-2026-117) vėl atviras: patvirtinimas atšauktas arba nepatvirtintas priminimui")
}

// A shortcut with a word not understood asks about it and loses nothing typed: the description is
// kept whatever is missing, and urgency and category are taken in either order.
func TestAShortcutWithATypoAsksAndKeepsTheDescription(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.Say("giedre-s", "/concern K-2026-201 urgnt smurtas Vaikas su mėlynėmis")
	h.MustSee("giedre-s", "Nesupratau žodžio „urgnt“")
	h.Press("giedre-s", "🔴 skubu")
	h.Press("giedre-s", "Ne")
	// Asked only what was missing: the category and the description were kept.
	if m := h.Last("giedre-s"); !strings.Contains(m.Text(), "Vaikas su mėlynėmis") {
		t.Fatalf("the description was lost: %s", h.Chats.Dump("dm:giedre-s"))
	}
	h.Press("giedre-s", "Išsaugoti")
	a, err := h.flow.Get(h.Ctx, "A1")
	if err != nil || a.Text != "Vaikas su mėlynėmis" || a.Urgency != "urgent" || a.Category != "violence" {
		t.Fatalf("raised %+v, %v", a, err)
	}
	// Category first, no urgency given: the description is kept and urgency asked.
	h.Say("giedre-s", "/concern K-2026-202 smurtas Kitas atvejis")
	h.MustSee("giedre-s", "Kiek skubu?")
	h.MustNotSee("giedre-s", "Nesupratau žodžio „smurtas“")
}

// An alert whose step reaches nobody (nobody in it has a chat account, and it names no group) is
// never silent: the coordinators are told at once who lacks an account, the audit says
// unreachable (not notified), and a metric counts it.
func TestAnAlertThatReachesNobodyIsNeverSilent(t *testing.T) {
	h := newHarness(t, flowtest.Options{Unlinked: []string{"ona-p", "jurgis-b", "egle-v"}})
	unreached := 0
	h.Engine.Observe = func(kind string) {
		if kind == "alert.unreached" {
			unreached++
		}
	}
	a, err := h.flow.Raise(h.Ctx, alerts.Input{Case: "K-2026-300", Category: "absence", Urgency: "today", Text: "Neatvyko", Integration: "policijos-registras"})
	if err != nil {
		t.Fatal(err)
	}
	h.Settle()
	if got := strings.Join(a.Unreachable(), ","); got != "ona-p,jurgis-b,egle-v" {
		t.Errorf("unreachable %s", got)
	}
	m := h.MustSee("jurate-z", "nepasiekė nė vieno")
	if !strings.Contains(m.Text(), "Ona Petraitienė") || !strings.Contains(m.Text(), "Eglė Vaitkutė") {
		t.Errorf("the coordinator is not told who lacks an account: %q", m.Text())
	}
	if n := len(h.Audit("alert.notified")); n != 0 {
		t.Errorf("%d alert.notified in the audit for an alert that reached nobody", n)
	}
	if n := len(h.Audit("delivery.unreachable")); n != 3 {
		t.Errorf("%d delivery.unreachable, want 3", n)
	}
	if unreached != 1 {
		t.Errorf("alert.unreached counted %d times, want 1", unreached)
	}
}

// The acknowledgement check respects the night: for a today's concern acknowledged at 01:35 on a
// Sunday, "still on it?" comes when the acknowledger's quiet hours end (their own, else the
// configured night, 22:00-07:00), and its grace counts from then; an urgent one is checked at
// any hour.
func TestTheAcknowledgementCheckWaitsForTheMorning(t *testing.T) {
	eet := time.FixedZone("EET", 2*3600)
	for _, tt := range []struct {
		name, urgency, acker string
		start                time.Time
		want                 string // local time of the check
	}{
		{"today's, no quiet hours of their own", "today", "ona-p", time.Date(2026, 12, 6, 1, 30, 0, 0, eet), "07:00"},
		{"today's, own quiet hours 21:00-07:30", "today", "jurgis-b", time.Date(2026, 12, 5, 19, 55, 0, 0, eet), "07:30"},
		{"urgent", "urgent", "ona-p", time.Date(2026, 12, 6, 1, 30, 0, 0, eet), "05:35"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, flowtest.Options{Start: tt.start})
			cat := "absence"
			if tt.urgency == "urgent" {
				cat = "other" // urgent-other: social workers first
			}
			a, err := h.flow.Raise(h.Ctx, alerts.Input{Case: "K-2026-301", Category: cat, Urgency: tt.urgency, Text: "Naktį", Integration: "policijos-registras"})
			if err != nil {
				t.Fatal(err)
			}
			h.Settle()
			h.Advance(5 * time.Minute)
			h.Press(tt.acker, "Mačiau")
			got, _ := h.flow.Get(h.Ctx, a.ID)
			if got.AckBy != tt.acker {
				t.Fatalf("acknowledged by %q", got.AckBy)
			}
			if at := got.AckDue.In(eet).Format("15:04"); at != tt.want {
				t.Errorf("check due at %s, want %s", at, tt.want)
			}
		})
	}
}
