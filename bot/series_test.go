package bot_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/scheduler"
)

// The one planner keeps meeting and visit series going: it stores what is due within the lead
// (a meeting on a public holiday moved to the next working day), and one timer brings it back when
// the next occurrence's turn comes.
func TestPlanSeriesPlantsWithinTheLeadAndWakesForTheNext(t *testing.T) {
	vilnius, _ := time.LoadLocation("Europe/Vilnius")
	at := func(s string) time.Time {
		t, err := time.ParseInLocation("2006-01-02 15:04", s, vilnius)
		if err != nil {
			panic(err)
		}
		return t
	}
	rule := bot.Rule{RRule: "FREQ=MONTHLY;BYDAY=1TH", Start: at("2026-01-01 10:00"), Parse: scheduler.ParseRRule}
	tests := []struct {
		name     string
		now      time.Time
		ended    time.Time
		planted  []string // starts
		timerDue string   // "" when the timer is cancelled
		duration time.Duration
		holidays bot.Holidays
	}{
		{name: "nothing due within the lead: only the timer", now: at("2026-10-20 09:00"), timerDue: "2026-11-05 10:00"},
		{name: "the next meeting within the lead is planted", now: at("2026-11-28 09:00"),
			planted: []string{"2026-12-03 10:00"}, timerDue: "2027-01-07 10:00"},
		{name: "a meeting on New Year's Day moves to the next working day", now: at("2025-12-26 09:00"),
			planted: []string{"2026-01-02 10:00"}, timerDue: "2026-02-05 10:00"},
		{name: "skipped on a holiday: nothing planted", now: at("2025-12-26 09:00"), holidays: bot.HolidaysSkip,
			timerDue: "2026-02-05 10:00"},
		{name: "a meeting in progress is still planted", now: at("2026-12-03 10:30"), duration: 90 * time.Minute,
			planted: []string{"2026-12-03 10:00"}, timerDue: "2027-01-07 10:00"},
		{name: "an ended series plants nothing and drops its timer", now: at("2026-11-28 09:00"), ended: at("2026-12-01 00:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := bot.NewManualClock(tt.now)
			st := memory.New(clock)
			e := bot.NewEngine(bot.Deps{Clock: clock, Records: st, Marks: st, Outbox: st, Timers: st, Audit: st.Audit(), Texts: bot.MustLoadCatalog()},
				bot.Settings{}, &bot.Directory{Location: vilnius})
			// A timer left from an earlier plan, to see it moved or dropped.
			if err := st.Schedule(context.Background(), bot.Timer{ID: "plan:s1", Due: tt.now.Add(-time.Hour), Kind: "test.plan", Ref: "s1"}); err != nil {
				t.Fatal(err)
			}
			r := rule
			r.Holidays = tt.holidays
			var planted []string
			p := bot.SeriesPlan{Timer: "plan:s1", Kind: "test.plan", Ref: "s1", Rule: r, Lead: 7 * 24 * time.Hour, Duration: tt.duration, Ended: tt.ended,
				Plant: func(_ context.Context, s bot.Slot) error {
					planted = append(planted, s.Start.In(vilnius).Format("2006-01-02 15:04"))
					return nil
				}}
			for range 2 { // planning again changes nothing
				planted = planted[:0]
				if err := e.PlanSeries(context.Background(), p); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(planted, tt.planted) && len(planted)+len(tt.planted) > 0 {
				t.Errorf("planted %v, want %v", planted, tt.planted)
			}
			got, err := st.Scheduled(context.Background(), "plan:s1")
			if err != nil {
				t.Fatal(err)
			}
			switch tm, ok := got["plan:s1"]; {
			case tt.timerDue == "" && ok:
				t.Errorf("timer due %v, want none", tm.Due)
			case tt.timerDue != "" && (!ok || !tm.Due.Equal(at(tt.timerDue).Add(-7*24*time.Hour))):
				t.Errorf("timer %+v (%v), want due 7 days before %s", tm, ok, tt.timerDue)
			}
		})
	}
}
