package meetings

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Slot is one occurrence as the schedule places it.
type Slot struct {
	Orig  time.Time // as the rule gives it
	Start time.Time // after the holiday rule
	// Holiday is the catalog ID of the public holiday that moved or skipped it.
	Holiday string
	Skipped bool
}

// Slots returns the occurrences of s whose rule start falls in [after, before), in s.Start's
// time zone, with public holidays moved or skipped as s says. It is pure: tests table it across
// month ends, holidays and DST changes.
func Slots(s Series, parse bot.RecurrenceParser, after, before time.Time) ([]Slot, error) {
	rec, err := parse(s.RRule, s.Start)
	if err != nil {
		return nil, fmt.Errorf("series %s: %w", s.ID, err)
	}
	loc := s.Start.Location()
	var cal bot.Calendar
	var out []Slot
	for _, t := range rec.Between(after, before) {
		t = t.In(loc)
		sl := Slot{Orig: t, Start: t}
		if h := bot.Holiday(t); h != "" {
			switch s.Holidays {
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

// Before returns the moment d before t. Whole days count on the calendar, so that a reminder
// "1 day" or "7 days" before a 10:00 meeting comes at 10:00 local time across a DST change.
func Before(t time.Time, d time.Duration) time.Time {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return t.AddDate(0, 0, -int(d/day))
	}
	return t.Add(-d)
}

// slotOf returns the slot of occurrence id under s's current rule.
func (f *Flow) slotOf(s *seriesRec, id string) (Slot, bool) {
	sid, date, ok := splitOcc(id)
	if !ok || sid != s.ID {
		return Slot{}, false
	}
	day, err := time.ParseInLocation("20060102", date, f.loc())
	if err != nil {
		return Slot{}, false
	}
	slots, err := Slots(s.Series, f.cfg.Parse, day, day.AddDate(0, 0, 1))
	if err != nil || len(slots) == 0 || slots[0].Skipped {
		return Slot{}, false
	}
	if !s.Ended.IsZero() && !slots[0].Start.Before(s.Ended) {
		return Slot{}, false
	}
	return slots[0], true
}

// offKey writes a reminder offset for timer IDs: "7d", "1h", "90m".
func offKey(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/time.Minute)) + "m"
}

// horizon is how far ahead of an occurrence's start it is planned: before its earliest timer.
func (f *Flow) horizon(s *seriesRec) time.Duration {
	h := max(s.RSVPDeadline+f.cfg.NudgeBefore, s.AgendaCutoff)
	for _, r := range s.Reminders {
		h = max(h, r)
	}
	return h + f.cfg.Lead
}

func timerID(occ, what string) string  { return "meeting:" + occ + ":" + what }
func planTimerID(series string) string { return "meetings:plan:" + series }

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// lastReminder is the smallest offset: the reminder that carries the final agenda.
func lastReminder(s *seriesRec) time.Duration {
	if len(s.Reminders) == 0 {
		return 0
	}
	return slices.Min(s.Reminders)
}

// Plan brings configured series in line with config, creates the occurrences that come within
// the planning horizon and schedules their reminders, nudges, summaries and minutes prompts, and
// a timer that plans the next occurrence when its turn comes. Timer IDs are deterministic and
// effects are marked done on the occurrence, so Plan may run any number of times, on any
// replica: cmd runs it at start and daily.
func (f *Flow) Plan(ctx context.Context) error {
	all, err := f.allSeries(ctx)
	if err != nil {
		return fmt.Errorf("plan meetings: %w", err)
	}
	var errs []error
	for _, s := range all {
		if err := f.planSeries(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("plan meetings %s: %w", s.ID, err))
		}
	}
	return errors.Join(errs...)
}

// planSeries creates s's occurrences within the horizon and schedules their timers and the next
// planning. Existing occurrences are not changed, only their timers scheduled again.
func (f *Flow) planSeries(ctx context.Context, s *seriesRec) error {
	now := f.e.Now()
	if !s.Ended.IsZero() && !now.Before(s.Ended) {
		return f.e.Timers.Cancel(ctx, planTimerID(s.ID))
	}
	h := f.horizon(s)
	end := now.Add(h).Add(time.Minute)
	// Start a little back so that a holiday move past now is still seen.
	slots, err := Slots(s.Series, f.cfg.Parse, now.Add(-s.Duration).AddDate(0, 0, -10), end)
	if err != nil {
		return err
	}
	for _, sl := range slots {
		if sl.Skipped || !sl.Start.Add(s.Duration).After(now) || !s.Ended.IsZero() && !sl.Start.Before(s.Ended) {
			continue
		}
		id := occID(s.ID, sl.Orig)
		created := false
		o, err := bot.Update(ctx, f.e.Records, occKey(id), func(o *occurrence, exists bool) ([]bot.IndexOp, error) {
			created = !exists
			if exists {
				return nil, errDone
			}
			*o = f.newOcc(s, sl)
			o.Seq, o.Updated = 1, f.e.Clock.Now()
			return []bot.IndexOp{{Index: idxOccurrences, Member: id, Score: float64(o.Start.Unix())}}, nil
		})
		if errors.Is(err, errDone) {
			err = nil // planned before: only its timers are scheduled again
		}
		if err != nil {
			return err
		}
		f.localize(&o)
		if created {
			if err := f.retain(ctx, &o); err != nil {
				return err
			}
		}
		if err := f.schedule(ctx, s, &o, created); err != nil {
			return err
		}
	}
	next, err := Slots(s.Series, f.cfg.Parse, end, end.AddDate(2, 0, 0))
	if err != nil {
		return err
	}
	if len(next) == 0 || !s.Ended.IsZero() && !next[0].Orig.Before(s.Ended) {
		return f.e.Timers.Cancel(ctx, planTimerID(s.ID))
	}
	due := next[0].Orig.Add(-h)
	if !due.After(now) {
		due = now.Add(time.Minute)
	}
	return f.e.Timers.Schedule(ctx, bot.Timer{ID: planTimerID(s.ID), Due: due, Kind: "meetings.plan", Ref: s.ID})
}

// schedule (re)schedules o's timers from its current start. Reminders already sent for this
// start are left alone; reminders whose time has passed are dropped, except that a newly
// planned occurrence (catchUp) gets the latest of them at once, so nobody misses the meeting.
func (f *Flow) schedule(ctx context.Context, s *seriesRec, o *occurrence, catchUp bool) error {
	ts, drop := f.timers(s, o, catchUp)
	if len(drop) > 0 {
		if err := f.e.Timers.Cancel(ctx, drop...); err != nil {
			return err
		}
	}
	if len(ts) == 0 {
		return nil
	}
	return f.e.Timers.Schedule(ctx, ts...)
}

// timers returns the timers o needs from now on, and the IDs of those it no longer needs.
func (f *Flow) timers(s *seriesRec, o *occurrence, catchUp bool) ([]bot.Timer, []string) {
	now := f.e.Now()
	at := unix(o.Start)
	var ts []bot.Timer
	var drop []string
	var late *bot.Timer
	live := !o.Cancelled && now.Before(o.Start)
	for _, off := range s.Reminders {
		id := timerID(o.ID, "remind:"+offKey(off))
		t := bot.Timer{ID: id, Due: Before(o.Start, off), Kind: "meetings.remind", Ref: o.ID, Arg: offKey(off) + "@" + at}
		switch {
		case !live || o.Done["remind:"+t.Arg]:
			drop = append(drop, id)
		case t.Due.After(now):
			ts = append(ts, t)
		case catchUp && (late == nil || t.Due.After(late.Due)):
			if late != nil {
				drop = append(drop, late.ID)
			}
			t2 := t
			late = &t2
		default:
			drop = append(drop, id)
		}
	}
	if late != nil {
		late.Due = now
		ts = append(ts, *late)
	}
	deadline := Before(o.Start, s.RSVPDeadline)
	if live && deadline.After(now) {
		ts = append(ts, bot.Timer{ID: timerID(o.ID, "summary"), Due: deadline, Kind: "meetings.summary", Ref: o.ID, Arg: at})
		if nudge := Before(deadline, f.cfg.NudgeBefore); nudge.After(now) {
			ts = append(ts, bot.Timer{ID: timerID(o.ID, "nudge"), Due: nudge, Kind: "meetings.nudge", Ref: o.ID, Arg: at})
		} else {
			drop = append(drop, timerID(o.ID, "nudge"))
		}
	} else {
		drop = append(drop, timerID(o.ID, "summary"), timerID(o.ID, "nudge"))
	}
	if !o.Cancelled && !o.Done["minutes@"+at] && o.End.Add(f.cfg.MinutesAfter).After(now) {
		ts = append(ts, bot.Timer{ID: timerID(o.ID, "minutes"), Due: o.End.Add(f.cfg.MinutesAfter), Kind: "meetings.minutes", Ref: o.ID, Arg: at})
	} else {
		drop = append(drop, timerID(o.ID, "minutes"))
	}
	return ts, drop
}

// unschedule cancels every timer of o (a cancelled occurrence).
func (f *Flow) unschedule(ctx context.Context, s *seriesRec, o *occurrence) error {
	ids := []string{timerID(o.ID, "summary"), timerID(o.ID, "nudge"), timerID(o.ID, "minutes")}
	for _, off := range s.Reminders {
		ids = append(ids, timerID(o.ID, "remind:"+offKey(off)))
	}
	return f.e.Timers.Cancel(ctx, ids...)
}

// markDone records that effect key of o has been taken; it reports false when someone else
// recorded it first.
func (f *Flow) markDone(ctx context.Context, id, key string, unreached []string) (bool, error) {
	first := false
	_, _, err := f.update(ctx, id, func(o *occurrence, _ *seriesRec) error {
		first = !o.Done[key]
		if !first {
			return errDone
		}
		if o.Done == nil {
			o.Done = map[string]bool{}
		}
		o.Done[key] = true
		for _, u := range unreached {
			if !slices.Contains(o.Unreached, u) {
				o.Unreached = append(o.Unreached, u)
			}
		}
		return nil
	})
	if errors.Is(err, errDone) {
		return false, nil
	}
	return first, err
}

func hashSeries(s Series) string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// syncConfig stores configured series that are new, replaces those whose config changed (telling
// everyone affected), and ends those no longer configured.
func (f *Flow) syncConfig(ctx context.Context) error {
	now := f.e.Clock.Now()
	var errs []error
	configured := *f.series.Load()
	for _, cs := range configured {
		cs.Start = cs.Start.In(f.loc())
		h := hashSeries(cs)
		var old *seriesRec
		s, err := bot.Update(ctx, f.e.Records, seriesKey(cs.ID), func(s *seriesRec, exists bool) ([]bot.IndexOp, error) {
			old = nil
			if exists && s.Hash == h && s.Source == "config" {
				return nil, errDone
			}
			if exists {
				prev := *s
				old = &prev
				s.Series, s.Hash, s.Source, s.Ended = cs, h, "config", time.Time{}
				s.Seq++
				s.Updated = now
				return nil, nil
			}
			*s = seriesRec{Series: cs, Source: "config", Hash: h, Seq: 1, Created: now, Updated: now}
			return []bot.IndexOp{{Index: idxSeries, Member: cs.ID, Score: float64(now.Unix())}}, nil
		})
		if errors.Is(err, errDone) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if old != nil {
			s.Start = s.Start.In(f.loc())
			old.Start = old.Start.In(f.loc())
			if _, err := f.applySeries(ctx, old, &s, "system"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	ids, err := f.e.Records.Range(ctx, idxSeries, math.Inf(-1), math.Inf(1), 0)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, id := range ids {
		if slices.ContainsFunc(configured, func(s Series) bool { return s.ID == id }) {
			continue
		}
		s, err := f.loadSeries(ctx, id)
		if err != nil || s.Source != "config" || !s.Ended.IsZero() {
			continue
		}
		if _, err := f.endSeries(ctx, s.ID, "system"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// endSeries stops a series: no occurrence starts from now on, and everyone is told once. It
// returns how many were told.
func (f *Flow) endSeries(ctx context.Context, id, actor string) (int, error) {
	var old *seriesRec
	s, err := bot.Update(ctx, f.e.Records, seriesKey(id), func(s *seriesRec, exists bool) ([]bot.IndexOp, error) {
		if !exists {
			return nil, bot.ErrNotFound
		}
		if !s.Ended.IsZero() {
			return nil, errDone
		}
		prev := *s
		old = &prev
		s.Ended = f.e.Now()
		s.Seq++
		s.Updated = f.e.Clock.Now()
		return nil, nil
	})
	if errors.Is(err, errDone) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	s.Start, old.Start = s.Start.In(f.loc()), old.Start.In(f.loc())
	s.Ended = s.Ended.In(f.loc())
	return f.applySeries(ctx, old, &s, actor)
}

// upcoming returns the stored occurrences of series (all when "") that have not ended.
func (f *Flow) upcoming(ctx context.Context, series string) ([]occurrence, error) {
	now := f.e.Now()
	all, err := f.occurrencesOf(ctx, series, float64(now.AddDate(0, 0, -2).Unix()), math.Inf(1))
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, o := range all {
		if o.End.After(now) {
			out = append(out, o)
		}
	}
	return out, nil
}

// next returns the next occurrence of s that has not ended and is not cancelled, stored or
// built from the rule; ok is false when the series has no more.
func (f *Flow) next(ctx context.Context, s *seriesRec) (occurrence, bool, error) {
	now := f.e.Now()
	if !s.Ended.IsZero() && !now.Before(s.Ended) {
		return occurrence{}, false, nil
	}
	slots, err := Slots(s.Series, f.cfg.Parse, now.Add(-s.Duration).AddDate(0, 0, -10), now.AddDate(1, 1, 0))
	if err != nil {
		return occurrence{}, false, err
	}
	for _, sl := range slots {
		if sl.Skipped || !s.Ended.IsZero() && !sl.Start.Before(s.Ended) {
			continue
		}
		o, _, err := f.load(ctx, occID(s.ID, sl.Orig))
		if err != nil {
			return occurrence{}, false, err
		}
		if o.End.After(now) && !o.Cancelled {
			return o, true, nil
		}
	}
	return occurrence{}, false, nil
}

// onPlan plans one series again: the self-perpetuating planning timer.
func (f *Flow) onPlan(ctx context.Context, t bot.Timer) error {
	if err := f.syncConfig(ctx); err != nil {
		return err
	}
	s, err := f.loadSeries(ctx, t.Ref)
	if errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.planSeries(ctx, s)
}

// parseArg splits a timer's "what@unix" argument.
func parseArg(arg string) (string, string) {
	what, at, ok := strings.Cut(arg, "@")
	if !ok {
		return "", arg
	}
	return what, at
}
