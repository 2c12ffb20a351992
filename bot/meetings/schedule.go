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
type Slot = bot.Slot

// Slots returns the occurrences of s whose rule start falls in [after, before), in s.Start's
// time zone, with public holidays moved or skipped as s says.
func Slots(s Series, parse bot.RecurrenceParser, after, before time.Time) ([]Slot, error) {
	out, err := s.rule(parse).Slots(after, before)
	if err != nil {
		return nil, fmt.Errorf("series %s: %w", s.ID, err)
	}
	return out, nil
}

func (s Series) rule(parse bot.RecurrenceParser) bot.Rule {
	return bot.Rule{RRule: s.RRule, Start: s.Start, Holidays: s.Holidays, Parse: parse}
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

// deadline is when answers to o are summed up for the organizers: RSVPDeadline before its start,
// moved back to the working day before when that falls on a weekend or a public holiday.
func (f *Flow) deadline(s *seriesRec, o *occurrence) time.Time {
	var cal bot.Calendar
	return cal.PrevWorkingDay(Before(o.Start, s.RSVPDeadline))
}

// cutoff is when o's agenda closes: AgendaCutoff before its start, on a working day as the
// deadline is.
func (f *Flow) cutoff(s *seriesRec, o *occurrence) time.Time {
	var cal bot.Calendar
	return cal.PrevWorkingDay(Before(o.Start, s.AgendaCutoff))
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
	// A deadline on a holiday weekend moves back up to five days (Christmas Eve on a Monday).
	return h + 5*24*time.Hour + f.cfg.Lead
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

// planSeries stores s's occurrences within the horizon (their timers follow from them) and
// keeps the timer that plans the next one when its turn comes.
func (f *Flow) planSeries(ctx context.Context, s *seriesRec) error {
	return f.e.PlanSeries(ctx, bot.SeriesPlan{Timer: planTimerID(s.ID), Kind: "meetings.plan", Ref: s.ID,
		Rule: s.rule(f.cfg.Parse), Lead: f.horizon(s), Duration: s.Duration, Ended: s.Ended,
		Plant: func(ctx context.Context, sl bot.Slot) error { return f.plant(ctx, s, occID(s.ID, sl.Orig), true) },
		Skip:  func(ctx context.Context, sl bot.Slot) error { return f.plantSkipped(ctx, s, sl) }})
}

// plantSkipped stores a slot the holiday rule skips as a skipped occurrence, unless it is
// stored: its effects tell everyone there is no meeting that time, and why.
func (f *Flow) plantSkipped(ctx context.Context, s *seriesRec, sl bot.Slot) error {
	id := occID(s.ID, sl.Orig)
	if _, err := f.occs.Get(ctx, id); !errors.Is(err, bot.ErrNotFound) {
		return err
	}
	o := occurrence{ID: id, Series: s.ID, Orig: sl.Orig, Start: sl.Orig, End: sl.Orig.Add(s.Duration), Holiday: sl.Holiday,
		Cancelled: true, Skipped: true, SeriesSeq: s.Seq, Seq: 1, Updated: f.e.Now()}
	_, _, err := f.occs.Create(ctx, id, o)
	return err
}

func hashSeries(s Series) string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// syncConfig stores configured series that are new, replaces those whose config changed, and
// ends those no longer configured; everyone affected is told (seriesEffects).
func (f *Flow) syncConfig(ctx context.Context) error {
	now := f.e.Now()
	var errs []error
	configured := *f.series.Load()
	for _, cs := range configured {
		cs.Start = cs.Start.In(f.loc())
		h := hashSeries(cs)
		_, err := f.sers.Change(ctx, cs.ID, func(s *seriesRec) error {
			if s.Hash == h && s.Source == "config" {
				return errDone
			}
			s.Series, s.Hash, s.Source, s.Ended = cs, h, "config", time.Time{}
			s.Seq++
			s.Updated, s.By, s.Change = now, "system", "config"
			return nil
		})
		if errors.Is(err, bot.ErrNotFound) {
			_, _, err = f.sers.Create(ctx, cs.ID, seriesRec{Series: cs, Source: "config", Hash: h, Seq: 1, Created: now, Updated: now, By: "system"})
		}
		if err != nil && !errors.Is(err, errDone) {
			errs = append(errs, err)
		}
	}
	stored, err := f.sers.Live(ctx, math.Inf(-1), math.Inf(1))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, s := range stored {
		if slices.ContainsFunc(configured, func(c Series) bool { return c.ID == s.ID }) || s.Source != "config" || !s.Ended.IsZero() {
			continue
		}
		if _, _, err := f.endSeries(ctx, s.ID, "system"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// endSeries stops a series: no occurrence starts from now on, and everyone is told once. It
// returns the series and how many are told.
func (f *Flow) endSeries(ctx context.Context, id, actor string) (*seriesRec, int, error) {
	var old seriesRec
	s, err := f.sers.Change(ctx, id, func(s *seriesRec) error {
		if !s.Ended.IsZero() {
			return errDone
		}
		old = *s
		s.Ended = f.e.Now()
		s.Seq++
		s.Updated, s.By, s.Change = f.e.Now(), actor, "end"
		return nil
	})
	if errors.Is(err, errDone) {
		return &s, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	f.localizeSeries(&s)
	f.localizeSeries(&old)
	return &s, f.concerned(&old, &s), nil
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
