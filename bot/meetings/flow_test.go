package meetings_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// dec3 is the example series' December occurrence: first Thursday, 10:00.
const dec3 = "vadovu-pasitarimas.20261203"

func TestRemindersAtTheirLocalTimeAcrossBothDSTChanges(t *testing.T) {
	tests := []struct {
		name, rule, first, start string
		week, hour               string // when the 7-day and the 1-hour reminders must come
	}{
		{name: "spring forward: the week-before reminder is in winter time", rule: "FREQ=MONTHLY;BYDAY=1TH", first: "2026-01-01 10:00",
			start: "2026-03-20 09:00", week: "2026-03-26 10:00", hour: "2026-04-02 09:00"},
		{name: "fall back: the week-before reminder is in summer time", rule: "FREQ=MONTHLY;BYDAY=-1TH", first: "2026-01-29 10:00",
			start: "2026-10-16 09:00", week: "2026-10-22 10:00", hour: "2026-10-29 09:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, flowtest.Options{Start: at(tt.start), Config: withMeetings(fmt.Sprintf(`meetings:
  - id: dst
    title: Pasitarimas
    rrule: %s
    start: "%s"
    duration: 60m
    invitees: {people: [dalia-s]}
    organizers: [jurate-z]
    reminders: [7d, 1h]
`, tt.rule, tt.first))})
			week, hour := at(tt.week), at(tt.hour)
			if _, a := week.Zone(); func() bool { _, b := hour.Zone(); return a == b }() {
				t.Fatal("the test needs a DST change between the reminders")
			}
			h.jump(week.Add(-time.Minute))
			if n := h.count("dalia-s", "Primename"); n != 0 {
				t.Fatalf("reminded early:\n%s", h.Chats.Dump("dm:dalia-s"))
			}
			h.Advance(time.Minute)
			h.MustSee("dalia-s", "Primename: posėdis po 7 dienų.")
			h.MustSee("dalia-s", hour.Add(time.Hour).Format("15:04")+"–")
			h.jump(hour.Add(-time.Minute))
			if n := h.count("dalia-s", "po 1 valandos"); n != 0 {
				t.Fatalf("reminded early:\n%s", h.Chats.Dump("dm:dalia-s"))
			}
			h.Advance(time.Minute)
			h.MustSee("dalia-s", "Primename: posėdis po 1 valandos.")
		})
	}
}

func TestMonthlyMeetingKeepsPlanningItselfAsDaysPass(t *testing.T) {
	h := newHarness(t, flowtest.Options{}) // Tuesday 1 December 2026, 09:00
	// The 3 December meeting is two days away: its week-before reminder is overdue, so it
	// comes at once; the others come at their time.
	for _, p := range invitees {
		if n := h.count(p, "gruodžio 3 d.") + h.count(p, "3 December"); n != 1 {
			t.Errorf("%s has %d reminders of 3 December, want 1:\n%s", p, n, h.Chats.Dump("dm:"+p))
		}
	}
	h.MustNotSee("ona-p", "pasitarimas")
	h.jump(at("2026-12-02 10:00"))
	h.MustSee("dalia-s", "Primename: posėdis po 1 dienos.")
	h.jump(at("2026-12-03 09:00"))
	h.MustSee("dalia-s", "Primename: posėdis po 1 valandos.")
	// Nobody told the flow about January: the planning timer did, on 24 December.
	h.jump(at("2026-12-31 09:59"))
	if n := h.count("dalia-s", "2027 m. sausio 7 d."); n != 0 {
		t.Fatalf("January reminded early:\n%s", h.Chats.Dump("dm:dalia-s"))
	}
	h.Advance(time.Minute)
	for _, p := range invitees {
		if n := h.count(p, "sausio 7 d.") + h.count(p, "7 January 2027"); n != 1 {
			t.Errorf("%s has %d reminders of 7 January, want 1", p, n)
		}
	}
	h.MustSee("dalia-s", "Primename: posėdis po 7 dienų.")
	// Planning again (at start, from cron) changes nothing.
	before := len(h.Inbox("dalia-s"))
	for range 3 {
		if err := h.flow.Plan(h.Ctx); err != nil {
			t.Fatal(err)
		}
	}
	h.Settle()
	if got := len(h.Inbox("dalia-s")); got != before {
		t.Errorf("planning again sent %d messages:\n%s", got-before, h.Chats.Dump("dm:dalia-s"))
	}
}

func TestHolidayMovesTheMeetingAndRemindersFollow(t *testing.T) {
	h := newHarness(t, flowtest.Options{Start: at("2025-12-20 09:00")})
	// 1 January 2026 is a Thursday and New Year's Day: the meeting moves to Friday, and the
	// week-before reminder counts from Friday.
	h.jump(at("2025-12-26 09:59"))
	h.MustNotSee("dalia-s", "Primename")
	h.Advance(time.Minute)
	m := h.MustSee("dalia-s", "Primename: posėdis po 7 dienų.")
	for _, want := range []string{"Kada: 2026 m. sausio 2 d., penktadienis, 10:00–11:30",
		"Perkelta dėl valstybinės šventės (Naujieji metai). Pradinė data: 2026 m. sausio 1 d., ketvirtadienis."} {
		if !strings.Contains(m.Text(), want) {
			t.Errorf("reminder lacks %q:\n%s", want, m.Text())
		}
	}
	h.MustSee("lina-j", "Moved from Thursday, 1 January 2026, a public holiday (New Year's Day).")
	h.jump(at("2026-01-01 10:00"))
	h.MustSee("dalia-s", "Primename: posėdis po 1 dienos.")
	h.jump(at("2026-01-02 08:59"))
	h.MustNotSee("dalia-s", "po 1 valandos")
	h.Advance(time.Minute)
	h.MustSee("dalia-s", "Primename: posėdis po 1 valandos.")
}

func TestHolidaySkippedMeansNoMeetingThatMonth(t *testing.T) {
	section := strings.Replace(exampleMeetings(), "holidays: move", "holidays: skip", 1)
	h := newHarness(t, flowtest.Options{Start: at("2025-12-20 09:00"), Config: withMeetings(section)})
	// Told once, when it is planned, why there is none.
	h.jump(at("2025-12-24 09:00"))
	for _, p := range []string{"dalia-s", "jurate-z"} {
		if n := h.count(p, "Posėdžio 2026 m. sausio 1 d., ketvirtadienis, 10:00 nebus: tą dieną valstybinė šventė (Naujieji metai)."); n != 1 {
			t.Errorf("%s told of the skipped meeting %d times, want once:\n%s", p, n, h.Chats.Dump("dm:"+p))
		}
	}
	h.MustSee("lina-j", "There is no meeting on Thursday, 1 January 2026, 10:00: it is a public holiday (New Year's Day).")
	h.jump(at("2026-01-29 09:59"))
	if h.Saw("dalia-s", "Primename") {
		t.Fatalf("reminded of a skipped meeting:\n%s", h.Chats.Dump("dm:dalia-s"))
	}
	h.Advance(time.Minute)
	h.MustSee("dalia-s", "Kada: 2026 m. vasario 5 d., ketvirtadienis, 10:00–11:30")
}

func TestReminderFiredTwiceRemindsOnce(t *testing.T) {
	h := newHarness(t, flowtest.Options{Start: at("2026-11-25 09:00")})
	ts, err := h.flow.PlannedTimers(h.Ctx, dec3)
	if err != nil {
		t.Fatal(err)
	}
	var week, nudge bot.Timer
	for _, tm := range ts {
		switch {
		case tm.Kind == "meetings.remind" && strings.HasPrefix(tm.Arg, "7d@"):
			week = tm
		case tm.Kind == "meetings.nudge":
			nudge = tm
		}
	}
	if week.ID == "" || nudge.ID == "" {
		t.Fatalf("timers = %+v", ts)
	}
	for i, tm := range []bot.Timer{week, nudge} {
		h.jump(tm.Due)
		if i == 0 {
			if n := h.count("ruta-g", "Primename: posėdis po 7 dienų."); n != 1 {
				t.Fatalf("week reminders = %d, want 1", n)
			}
		}
		before := map[string]int{}
		for _, p := range invitees {
			before[p] = len(h.Inbox(p))
		}
		// Two replicas (or one after a crash) run the same timer again, at once.
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := h.Engine.Fire(h.Ctx, tm); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		h.Settle()
		for _, p := range invitees {
			if got := len(h.Inbox(p)); got != before[p] {
				t.Errorf("%s: timer %s fired again sent %d more messages", p, tm.Kind, got-before[p])
			}
		}
	}
}

func TestAnswerChangeableUntilTheStartAndRefusedAfter(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	r := h.Press("dalia-s", "Dalyvausiu")
	if !strings.Contains(r.Toast, "Įrašyta: dalyvausiu.") {
		t.Errorf("toast = %q", r.Toast)
	}
	m := h.MustSee("dalia-s", "Jūsų atsakymas: dalyvausiu.")
	if !slices.Contains(m.Buttons(), "✓ Dalyvausiu") {
		t.Errorf("her copy does not mark her answer: %v", m.Buttons())
	}
	h.Press("dalia-s", "Nedalyvausiu")
	h.MustSee("dalia-s", "Jūsų atsakymas: nedalyvausiu.")
	if r := h.Press("lina-j", "Not sure yet"); !strings.Contains(r.Toast, "Saved: not sure yet.") {
		t.Errorf("English toast = %q", r.Toast)
	}
	h.jump(at("2026-12-03 09:59"))
	h.Press("dalia-s", "Dalyvausiu") // from the final reminder, a minute before the start
	h.Advance(time.Minute)
	r = h.Press("dalia-s", "Nedalyvausiu")
	if !strings.Contains(r.Toast, "Posėdis jau prasidėjo") {
		t.Errorf("toast after the start = %q", r.Toast)
	}
	if a, _ := h.flow.Answer(h.Ctx, dec3, "dalia-s"); a != "yes" {
		t.Errorf("answer = %q, want yes (unchanged after the start)", a)
	}
	if !refused(h, "dalia-s", "meeting/"+dec3, "started") {
		t.Errorf("refusal after the start not audited: %+v", h.Audit("access.refused"))
	}
}

func refused(h *harness, actor, record, reason string) bool {
	return slices.ContainsFunc(h.Audit("access.refused"), func(e bot.AuditEvent) bool {
		return e.Actor == actor && e.Record == record && e.Reason == reason
	})
}

func TestNudgeOnceToThoseWhoHaveNotAnswered(t *testing.T) {
	h := newHarness(t, flowtest.Options{Start: at("2026-11-25 09:00")})
	h.jump(at("2026-11-26 10:00"))
	h.Press("dalia-s", "Dalyvausiu")
	h.Press("lina-j", "Not attending")
	h.Press("ruta-g", "Dar nežinau")
	// The deadline is 1 December 10:00; the nudge a day before.
	h.jump(at("2026-11-30 09:59"))
	h.MustNotSee("petras-n", "Dar neatsakėte")
	h.Advance(time.Minute)
	h.MustSee("petras-n", "Dar neatsakėte, ar dalyvausite. Atsakymo terminas: 2026 m. gruodžio 1 d., antradienis, 10:00.")
	for _, p := range []string{"dalia-s", "ruta-g"} {
		h.MustNotSee(p, "Dar neatsakėte")
	}
	h.MustNotSee("lina-j", "You have not said yet")
	before := len(h.Inbox("petras-n"))
	h.jump(at("2026-12-01 09:59"))
	if got := len(h.Inbox("petras-n")); got != before {
		t.Errorf("nudged again:\n%s", h.Chats.Dump("dm:petras-n"))
	}
}

func TestSummaryAtTheDeadlineAndOnDemand(t *testing.T) {
	h := newHarness(t, flowtest.Options{Start: at("2026-11-25 09:00")})
	h.jump(at("2026-11-26 10:00"))
	h.Press("dalia-s", "Dalyvausiu")
	h.Press("lina-j", "Not attending")
	h.jump(at("2026-12-01 09:59"))
	h.MustNotSee("jurate-z", "Kas dalyvaus:")
	h.Advance(time.Minute)
	m := h.MustSee("jurate-z", "Kas dalyvaus: Institucijų vadovų pasitarimas")
	for _, want := range []string{"Iš viso ateis 1 dalyvis.", "Dalyvaus: Dalia Stankevičienė", "Nedalyvaus: Lina Jankauskaitė",
		"Neatsakė: Tomas Kazlauskas, Rasa Marcinkevičienė"} {
		if !strings.Contains(m.Text(), want) {
			t.Errorf("summary lacks %q:\n%s", want, m.Text())
		}
	}
	// Answers still change until the meeting, and the organizer's summary follows.
	h.Press("kestutis-a", "Dalyvausiu")
	h.MustSee("jurate-z", "Iš viso ateis 2 dalyviai.")
	for _, p := range []string{"tomas-k", "rasa-m", "algirdas-p", "ruta-g", "giedre-s", "vytautas-d", "laura-t", "petras-n"} {
		h.Press(p, "Dalyvausiu")
	}
	h.Say("jurate-z", "/meeting")
	h.MustSee("jurate-z", "Iš viso ateis 10 dalyvių.")
	if n := h.count("jurate-z", "Kas dalyvaus:"); n != 1 {
		t.Errorf("the organizer holds %d live summaries, want 1 (older ones superseded)", n)
	}
	// Invitees do not get the summary.
	h.MustNotSee("dalia-s", "Kas dalyvaus:")
}

func TestAgendaUntilTheCutoffAndFinalAgendaWithTheLastReminder(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.Press("dalia-s", "Siūlyti darbotvarkės klausimą")
	h.MustSee("dalia-s", "Kokį klausimą siūlote posėdžio „Institucijų vadovų pasitarimas“ darbotvarkei?")
	h.Say("dalia-s", "Vasaros stovyklų finansavimas")
	h.MustSee("dalia-s", "(Nr. 1)")
	h.Say("petras-n", "/meeting agenda")
	h.Say("petras-n", "Mokyklų lankomumo duomenys")
	h.MustSee("petras-n", "(Nr. 2)")
	h.Say("lina-j", "/meeting agenda")
	h.Say("lina-j", "Probation caseload")

	h.Say("jurate-z", "/meeting")
	h.Press("jurate-z", "Darbotvarkė")
	h.MustSee("jurate-z", "1. Vasaros stovyklų finansavimas (Dalia Stankevičienė)")
	h.Press("jurate-z", "↑ 2")
	h.MustSee("jurate-z", "1. Mokyklų lankomumo duomenys (Petras Navickas)")
	h.Press("jurate-z", "Taisyti 2")
	h.MustSee("jurate-z", "Dabartinis tekstas: „Vasaros stovyklų finansavimas“.")
	h.Say("jurate-z", "Vasaros stovyklų finansavimas 2027 m.")
	h.Press("jurate-z", "Išbraukti 3")
	agenda, _ := h.flow.Agenda(h.Ctx, dec3)
	if want := []string{"Mokyklų lankomumo duomenys", "Vasaros stovyklų finansavimas 2027 m."}; !slices.Equal(agenda, want) {
		t.Fatalf("agenda = %q, want %q", agenda, want)
	}

	// A dialog started before the cutoff and answered after it adds nothing.
	h.jump(at("2026-12-02 09:59"))
	h.Say("ruta-g", "/meeting agenda")
	h.Advance(time.Minute)
	h.Say("ruta-g", "Per vėlu")
	h.MustSee("ruta-g", "Darbotvarkės klausimų siūlymo terminas baigėsi (2026 m. gruodžio 2 d., trečiadienis, 10:00).")
	h.Say("ruta-g", "/meeting agenda")
	if agenda, _ := h.flow.Agenda(h.Ctx, dec3); len(agenda) != 2 {
		t.Errorf("agenda after the cutoff = %q", agenda)
	}
	if !refused(h, "ruta-g", "meeting/"+dec3, "agenda_closed") {
		t.Error("late agenda item not audited as refused")
	}
	h.jump(at("2026-12-03 09:00"))
	m := h.MustSee("giedre-s", "Galutinė darbotvarkė:")
	if !strings.Contains(m.Text(), "Primename: posėdis po 1 valandos.\n") ||
		!strings.Contains(m.Text(), "1. Mokyklų lankomumo duomenys (Petras Navickas)\n2. Vasaros stovyklų finansavimas 2027 m. (Dalia Stankevičienė)") {
		t.Errorf("final reminder:\n%s", m.Text())
	}
	h.MustSee("lina-j", "Final agenda:")
}

func TestCancelOneOccurrenceTellsEveryoneOnceAndStopsItsReminders(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.Say("jurate-z", "/meeting")
	h.Press("jurate-z", "Atšaukti šį posėdį")
	h.MustSee("jurate-z", "Atšaukti posėdį „Institucijų vadovų pasitarimas“ (2026 m. gruodžio 3 d., ketvirtadienis, 10:00)?")
	h.Press("jurate-z", "Išsaugoti")
	h.MustSee("jurate-z", "Posėdis atšauktas. Pranešta 11 asmenų.")
	for _, p := range invitees {
		if n := h.count(p, "Jūratė Žukauskienė atšaukė šį posėdį.") + h.count(p, "Jūratė Žukauskienė cancelled this meeting."); n != 1 {
			t.Errorf("%s told %d times, want once:\n%s", p, n, h.Chats.Dump("dm:"+p))
		}
	}
	if c, _ := h.flow.Cancelled(h.Ctx, dec3); !c {
		t.Error("occurrence not cancelled")
	}
	before := len(h.Inbox("dalia-s"))
	h.jump(at("2026-12-03 13:00"))
	if got := len(h.Inbox("dalia-s")); got != before {
		t.Errorf("a cancelled meeting still reminded:\n%s", h.Chats.Dump("dm:dalia-s"))
	}
	if r := h.Press("dalia-s", "Į kalendorių"); r.Toast != "" {
		t.Errorf("ics of a cancelled meeting: %q", r.Toast)
	}
	// The next month is untouched.
	h.jump(at("2026-12-31 10:00"))
	h.MustSee("dalia-s", "2027 m. sausio 7 d.")
}

func TestMoveOneOccurrenceTellsEveryoneOnceAndRemindersFollow(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.Press("dalia-s", "Dalyvausiu")
	h.Say("jurate-z", "/meeting")
	h.Press("jurate-z", "Perkelti šį posėdį")
	h.Say("jurate-z", "2026-12-10 14:00")
	h.MustSee("jurate-z", "2026 m. gruodžio 3 d., ketvirtadienis, 10:00 → 2026 m. gruodžio 10 d., ketvirtadienis, 14:00")
	h.Press("jurate-z", "Išsaugoti")
	h.MustSee("jurate-z", "Posėdis perkeltas. Naujas laikas: 2026 m. gruodžio 10 d., ketvirtadienis, 14:00. Pranešta 11 asmenų.")
	for _, p := range invitees {
		if n := h.count(p, "Jūratė Žukauskienė perkėlė posėdį.") + h.count(p, "Jūratė Žukauskienė moved this meeting."); n != 1 {
			t.Errorf("%s told %d times, want once", p, n)
		}
	}
	// Her answer stays; she sees it on the notice.
	h.MustSee("dalia-s", "Jūsų atsakymas: dalyvausiu.")
	before := len(h.Inbox("dalia-s"))
	h.jump(at("2026-12-03 13:59")) // the old reminders' times pass in silence
	if got := len(h.Inbox("dalia-s")); got != before {
		t.Errorf("reminded at the old time:\n%s", h.Chats.Dump("dm:dalia-s"))
	}
	h.Advance(time.Minute)
	h.MustSee("dalia-s", "Primename: posėdis po 7 dienų.")
	h.jump(at("2026-12-09 14:00"))
	m := h.MustSee("dalia-s", "Primename: posėdis po 1 dienos.")
	if !strings.Contains(m.Text(), "Kada: 2026 m. gruodžio 10 d., ketvirtadienis, 14:00–15:30") {
		t.Errorf("reminder:\n%s", m.Text())
	}
}

func TestOrganizerChangesTheSeriesTimeAndEveryoneIsToldOnce(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.Say("jurate-z", "/meeting")
	h.Press("jurate-z", "Keisti visus posėdžius")
	h.Press("jurate-z", "Pradžios laiką")
	h.Say("jurate-z", "11:00")
	h.MustSee("jurate-z", "– nauja pradžia: 11:00")
	h.Press("jurate-z", "Išsaugoti")
	h.MustSee("jurate-z", "Pakeista. Pranešta 11 asmenų.")
	for _, p := range invitees {
		if n := h.count(p, "Jūratė Žukauskienė pakeitė posėdžių ciklą:") + h.count(p, "Jūratė Žukauskienė changed the meeting series:"); n != 1 {
			t.Errorf("%s told %d times, want once:\n%s", p, n, h.Chats.Dump("dm:"+p))
		}
	}
	m := h.MustSee("dalia-s", "pakeitė posėdžių ciklą")
	for _, want := range []string{"– nauja pradžia: 11:00", "Artimiausias posėdis:", "Kada: 2026 m. gruodžio 3 d., ketvirtadienis, 11:00–12:30"} {
		if !strings.Contains(m.Text(), want) {
			t.Errorf("notice lacks %q:\n%s", want, m.Text())
		}
	}
	h.jump(at("2026-12-02 10:59"))
	h.MustNotSee("dalia-s", "po 1 dienos")
	h.Advance(time.Minute)
	h.MustSee("dalia-s", "Primename: posėdis po 1 dienos.")
	// January follows the new time too.
	h.jump(at("2026-12-31 11:00"))
	h.MustSee("dalia-s", "Kada: 2027 m. sausio 7 d., ketvirtadienis, 11:00–12:30")
}

func TestConfigChangeReachesEveryoneOnce(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	cfg := flowConfig(h.Config)
	cfg.Series[0].Place = "Savivaldybė, 305 kab."
	h.flow.SetSeries(cfg.Series) // as serve does on SIGHUP
	for range 2 {
		if err := h.flow.Plan(h.Ctx); err != nil {
			t.Fatal(err)
		}
		h.Settle()
	}
	for _, p := range invitees {
		if n := h.count(p, "– nauja vieta: Savivaldybė, 305 kab.") + h.count(p, "– new place: Savivaldybė, 305 kab."); n != 1 {
			t.Errorf("%s told %d times, want once", p, n)
		}
	}
	h.MustSee("dalia-s", "Posėdžių ciklas pakeistas:")
	// A restart with the changed config (a new flow over the same stores) tells nobody again.
	f := meetingsRegister(h, cfg)
	if err := f.Plan(h.Ctx); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	if n := h.count("dalia-s", "Posėdžių ciklas pakeistas:"); n != 1 {
		t.Errorf("told %d times after a restart", n)
	}
	// A series dropped from config ends, and everyone is told once.
	h.flow.SetSeries(nil)
	if err := h.flow.Plan(h.Ctx); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	h.MustSee("dalia-s", "Posėdžių ciklas baigtas: daugiau posėdžių nebus.")
	if c, _ := h.flow.Cancelled(h.Ctx, dec3); !c {
		t.Error("the December meeting of a dropped series still stands")
	}
}

func TestDeputyIsToldAndCountedAndReleased(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.Press("dalia-s", "Siųsiu pavaduotoją")
	m := h.MustSee("dalia-s", "Ką siunčiate į posėdį savo vietoje?")
	if got := m.Buttons(); !slices.Equal(got, []string{"Ona Petraitienė", "Jurgis Balčiūnas", "Eglė Vaitkutė"}) {
		t.Errorf("offered %v, want her colleagues", got)
	}
	h.Press("dalia-s", "Eglė Vaitkutė")
	h.MustSee("dalia-s", "Įrašyta: siunčiu pavaduotoją — Eglė Vaitkutė.")
	d := h.MustSee("egle-v", "Dalia Stankevičienė siunčia jus į šį posėdį savo vietoje.")
	if !strings.Contains(d.Text(), "Dalyvaujate kaip pavaduojantis asmuo (jus siunčia Dalia Stankevičienė).") || slices.Contains(d.Buttons(), "Dalyvausiu") {
		t.Errorf("deputy's copy:\n%s\n%v", d.Text(), d.Buttons())
	}
	h.Say("jurate-z", "/meeting")
	s := h.MustSee("jurate-z", "Kas dalyvaus:")
	if !strings.Contains(s.Text(), "Iš viso ateis 1 dalyvis.") || !strings.Contains(s.Text(), "Dalia Stankevičienė siunčia pavaduotoją: Eglė Vaitkutė") {
		t.Errorf("summary:\n%s", s.Text())
	}
	// The deputy may not answer for the meeting: she is not invited.
	if r := h.Press("egle-v", "Į kalendorių"); r.Toast != "" {
		t.Errorf("deputy's .ics refused: %q", r.Toast)
	}
	h.jump(at("2026-12-03 09:00"))
	h.MustSee("egle-v", "Primename: posėdis po 1 valandos.")
	h.Press("dalia-s", "Dalyvausiu")
	h.MustSee("egle-v", "Dalia Stankevičienė pakeitė atsakymą, todėl jums nebereikia dalyvauti posėdyje (2026 m. gruodžio 3 d., ketvirtadienis, 10:00).")
}

func TestMinutesGoToEveryoneInvited(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.jump(at("2026-12-03 12:29"))
	h.MustNotSee("jurate-z", "įvyko")
	h.Advance(time.Minute)
	h.MustSee("jurate-z", "Posėdis (2026 m. gruodžio 3 d., ketvirtadienis, 10:00) įvyko.")
	h.Press("jurate-z", "Paskelbti nutarimus")
	h.Say("jurate-z", "Sausį organizuoti du bendrus reidus; atsakinga Ona Petraitienė.")
	h.Press("jurate-z", "Išsaugoti")
	h.MustSee("jurate-z", "Nutarimai išsiųsti 11 asmenų.")
	for _, p := range invitees {
		h.MustSee(p, "Sausį organizuoti du bendrus reidus")
	}
	h.MustSee("dalia-s", "Nutarimai: Institucijų vadovų pasitarimas")
	h.MustSee("lina-j", "Decisions: Institucijų vadovų pasitarimas")
	h.MustNotSee("ona-p", "Sausį organizuoti")
}

func TestCoordinatorCreatesAOneOffMeetingInChat(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.Say("jurate-z", "/meeting new")
	h.Say("jurate-z", "Atvejo konferencija")
	h.Say("jurate-z", "2026-12-08 14:00")
	h.Press("jurate-z", "Ne, vienas posėdis")
	h.Say("jurate-z", "60")
	h.Say("jurate-z", "VTAS, 3 kab.")
	h.Say("jurate-z", "-")
	h.Press("jurate-z", "Išvardysiu")
	h.Say("jurate-z", "ona-p aiste-r nobody")
	h.MustSee("jurate-z", "Nežinau, kas yra „nobody“.")
	h.Say("jurate-z", "ona-p aiste-r policija")
	h.MustSee("jurate-z", "Kviečiami 5 asmenys: Tomas Kazlauskas, Rasa Marcinkevičienė, Algirdas Paulauskas, Ona Petraitienė, Aistė Rimkutė")
	h.Press("jurate-z", "Išsaugoti")
	h.MustSee("jurate-z", "Posėdis „Atvejo konferencija“ sukurtas. Kvietimas išsiųstas 5 asmenims.")
	h.MustSee("ona-p", "Jūratė Žukauskienė kviečia jus į posėdį.")
	h.MustNotSee("dalia-s", "Atvejo konferencija")
	if r := h.Press("ona-p", "Dalyvausiu"); !strings.Contains(r.Toast, "Įrašyta") {
		t.Errorf("toast = %q", r.Toast)
	}
	h.MustSee("jurate-z", "Dalyvaus: Ona Petraitienė")
	// It was planned on creation: the reminders come.
	h.jump(at("2026-12-07 13:59"))
	h.MustNotSee("aiste-r", "Primename")
	h.Advance(time.Minute)
	h.MustSee("aiste-r", "Primename: posėdis po 1 dienos.")
	if h.count("ona-p", "Primename") != 1 {
		t.Errorf("ona-p:\n%s", h.Chats.Dump("dm:ona-p"))
	}
	// A one-off meeting exports as one plain event.
	h.Say("ona-p", "/meeting ics")
	raw := string(lastFile(h, "ona-p").Data)
	if !strings.Contains(raw, "SUMMARY:Atvejo konferencija") || strings.Contains(raw, "RRULE:FREQ=DAILY") ||
		!strings.Contains(raw, "DTSTART;TZID=Europe/Vilnius:20261208T140000") {
		t.Errorf("one-off .ics:\n%s", raw)
	}
}

func TestOrganizerEndsTheSeries(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.Say("jurate-z", "/meeting")
	h.Press("jurate-z", "Keisti visus posėdžius")
	h.Press("jurate-z", "Baigti ciklą")
	h.Press("jurate-z", "Išsaugoti")
	h.MustSee("jurate-z", "Ciklas baigtas. Pranešta 11 asmenų.")
	for _, p := range invitees {
		if n := h.count(p, "Posėdžių ciklas baigtas") + h.count(p, "The meeting series has ended"); n != 1 {
			t.Errorf("%s told %d times, want once", p, n)
		}
	}
	if c, _ := h.flow.Cancelled(h.Ctx, dec3); !c {
		t.Error("the December meeting still stands")
	}
	before := len(h.Inbox("dalia-s"))
	h.jump(at("2027-01-10 12:00"))
	if got := len(h.Inbox("dalia-s")); got != before {
		t.Errorf("an ended series still reminded:\n%s", h.Chats.Dump("dm:dalia-s"))
	}
	h.Say("dalia-s", "/meeting")
	h.MustSee("dalia-s", "Artimiausių posėdžių, kuriuose dalyvaujate, nėra.")
}

func TestSummaryShowsWhoCannotBeReached(t *testing.T) {
	h := newHarness(t, flowtest.Options{Unlinked: []string{"petras-n"}})
	h.Say("jurate-z", "/meeting")
	m := h.MustSee("jurate-z", "Kas dalyvaus:")
	if !strings.Contains(m.Text(), "Iš jų be susietos paskyros (priminimų negauna): Petras Navickas") {
		t.Errorf("summary:\n%s", m.Text())
	}
	if !slices.ContainsFunc(h.Audit("delivery.unreachable"), func(e bot.AuditEvent) bool { return e.To == "petras-n" }) {
		t.Error("unreachable invitee not audited")
	}
}
