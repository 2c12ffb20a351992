package bot

import (
	"context"
	"fmt"
	"time"
)

// Holidays says what happens to an occurrence of a series that falls on a Lithuanian public
// holiday.
type Holidays string

// Holiday rules.
const (
	HolidaysMove   Holidays = "move"   // to the next working day, same clock time
	HolidaysSkip   Holidays = "skip"   // none that time
	HolidaysIgnore Holidays = "ignore" // held anyway
)

// Slot is one occurrence of a series as its rule and holiday rule place it.
type Slot struct {
	Orig  time.Time // as the rule gives it
	Start time.Time // after the holiday rule
	// Holiday is the catalog ID of the public holiday that moved or skipped it.
	Holiday string
	Skipped bool
}

// Rule is when a series' occurrences fall: an RFC 5545 RRULE from its first start (local time;
// later occurrences keep its clock time across DST changes), with public holidays moved, skipped
// or ignored.
type Rule struct {
	RRule    string
	Start    time.Time
	Holidays Holidays // empty: move
	Parse    RecurrenceParser
}

// Slots returns the occurrences whose rule start falls in [after, before), in Start's time zone.
// It is pure: tests table it across month ends, holidays and DST changes.
func (r Rule) Slots(after, before time.Time) ([]Slot, error) {
	if r.Parse == nil {
		return nil, fmt.Errorf("rule %q: no recurrence parser", r.RRule)
	}
	rec, err := r.Parse(r.RRule, r.Start)
	if err != nil {
		return nil, err
	}
	loc := r.Start.Location()
	var cal Calendar
	var out []Slot
	for _, t := range rec.Between(after, before) {
		t = t.In(loc)
		sl := Slot{Orig: t, Start: t}
		if h := Holiday(t); h != "" {
			switch r.Holidays {
			case HolidaysSkip:
				sl.Holiday, sl.Skipped = h, true
			case HolidaysMove, "":
				sl.Holiday, sl.Start = h, cal.NextWorkingDay(t)
			}
		}
		out = append(out, sl)
	}
	return out, nil
}

// SeriesPlan is a recurring series as the planner keeps it going: meeting series and visit
// series alike. Its occurrences are records of their own (their effects are their collection's);
// the planner only stores each one when its time to be planned comes, and keeps one timer that
// brings the planner back for the next.
type SeriesPlan struct {
	// Timer, Kind and Ref make the planning timer: its handler calls PlanSeries again.
	Timer, Kind, Ref string
	Rule             Rule
	// Lead is how long before its rule start an occurrence is planned.
	Lead time.Duration
	// Duration keeps an occurrence that started less than this ago (a meeting in progress).
	Duration time.Duration
	// Ended, when set: nothing starts at or after it.
	Ended time.Time
	// Plant stores the occurrence of a slot unless it is stored; it must be idempotent.
	Plant func(ctx context.Context, s Slot) error
	// Skip, when set, is Plant for a slot the holiday rule skips, so that its effects can tell
	// people there is none that time; it must be idempotent too.
	Skip func(ctx context.Context, s Slot) error
}

// PlanSeries stores every occurrence of p within its lead that has not ended, and schedules the
// planning timer for when the next one's turn comes (cancelled when there is none). It may run
// any number of times, on any replica.
func (e *Engine) PlanSeries(ctx context.Context, p SeriesPlan) error {
	now := e.Now()
	if !p.Ended.IsZero() && !now.Before(p.Ended) {
		return e.Timers.Cancel(ctx, p.Timer)
	}
	end := now.Add(p.Lead).Add(time.Minute)
	// Start a little back, so that an occurrence a holiday moved past now is still seen.
	slots, err := p.Rule.Slots(now.Add(-p.Duration).AddDate(0, 0, -10), end)
	if err != nil {
		return fmt.Errorf("plan %s: %w", p.Ref, err)
	}
	for _, sl := range slots {
		if !sl.Start.Add(p.Duration).After(now) || !p.Ended.IsZero() && !sl.Start.Before(p.Ended) {
			continue
		}
		plant := p.Plant
		if sl.Skipped {
			plant = p.Skip
		}
		if plant == nil {
			continue
		}
		if err := plant(ctx, sl); err != nil {
			return fmt.Errorf("plan %s: %w", p.Ref, err)
		}
	}
	next, err := p.Rule.Slots(end, end.AddDate(2, 0, 0))
	if err != nil {
		return fmt.Errorf("plan %s: %w", p.Ref, err)
	}
	if len(next) == 0 || !p.Ended.IsZero() && !next[0].Orig.Before(p.Ended) {
		return e.Timers.Cancel(ctx, p.Timer)
	}
	due := next[0].Orig.Add(-p.Lead)
	if !due.After(now) {
		due = now.Add(time.Minute)
	}
	return e.Timers.Schedule(ctx, Timer{ID: p.Timer, Due: due, Kind: p.Kind, Ref: p.Ref})
}
