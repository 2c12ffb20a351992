package meetings

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/tiltas/tiltas/bot"
)

const icsLocal = "20060102T150405"

// calendar starts an iCalendar in lang with the municipality's time zone defined, so that every
// time in it can be local time with a TZID: a 10:00 meeting stays 10:00 across DST changes.
func (f *Flow) calendar(lang string) *ics.Calendar {
	cal := ics.NewCalendarFor("Tiltas")
	cal.SetProductId("-//Tiltas//Meetings//" + strings.ToUpper(lang))
	cal.SetMethod(ics.MethodPublish)
	cal.SetCalscale("GREGORIAN")
	cal.SetXWRCalName(f.e.Catalog().T(lang, "meetings.ics.name"))
	cal.SetXWRTimezone(f.loc().String())
	addVTimezone(cal, f.loc(), f.e.Now().Year())
	return cal
}

type transition struct {
	at       time.Time
	from, to int
}

// addVTimezone describes loc as a VTIMEZONE: its offset changes in year, each as a yearly rule
// ("last Sunday of March"), which is how the zones that Tiltas's municipalities use change.
func addVTimezone(cal *ics.Calendar, loc *time.Location, year int) {
	tz := cal.AddTimezone(loc.String())
	t := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	_, prev := t.Zone()
	var trans []transition
	for end := t.AddDate(1, 0, 0); t.Before(end); {
		next := t.AddDate(0, 0, 1)
		if _, off := next.Zone(); off != prev {
			lo, hi := t, next
			for hi.Sub(lo) > time.Second {
				mid := lo.Add(hi.Sub(lo) / 2)
				if _, o := mid.Zone(); o == prev {
					lo = mid
				} else {
					hi = mid
				}
			}
			trans = append(trans, transition{at: hi.Truncate(time.Second), from: prev, to: off})
			prev = off
		}
		t = next
	}
	prop := func(c *ics.ComponentBase, start string, from, to int, name, rule string) {
		c.SetProperty(ics.ComponentPropertyDtStart, start)
		c.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetfrom), utcOffset(from))
		c.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetto), utcOffset(to))
		c.SetProperty(ics.ComponentProperty(ics.PropertyTzname), name)
		if rule != "" {
			c.AddRrule(rule)
		}
	}
	if len(trans) == 0 {
		name, off := t.Zone()
		std := tz.AddStandard()
		prop(&std.ComponentBase, "19700101T000000", off, off, name, "")
		return
	}
	for _, tr := range trans {
		wall := tr.at.In(time.FixedZone("", tr.from))
		name, _ := tr.at.In(loc).Zone()
		n := (wall.Day()-1)/7 + 1
		if wall.Day()+7 > daysIn(wall.Year(), wall.Month()) {
			n = -1
		}
		rule := fmt.Sprintf("FREQ=YEARLY;BYMONTH=%d;BYDAY=%d%s", int(wall.Month()), n, byday[wall.Weekday()])
		first := nthWeekday(1970, wall.Month(), wall.Weekday(), n)
		start := time.Date(1970, wall.Month(), first, wall.Hour(), wall.Minute(), wall.Second(), 0, time.UTC).Format(icsLocal)
		if tr.at.In(loc).IsDST() {
			d := &ics.Daylight{}
			tz.Components = append(tz.Components, d)
			prop(&d.ComponentBase, start, tr.from, tr.to, name, rule)
		} else {
			prop(&tz.AddStandard().ComponentBase, start, tr.from, tr.to, name, rule)
		}
	}
}

func utcOffset(secs int) string {
	sign := '+'
	if secs < 0 {
		sign, secs = '-', -secs
	}
	return fmt.Sprintf("%c%02d%02d", sign, secs/3600, secs%3600/60)
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// nthWeekday returns the day of month of the nth (or, for -1, the last) weekday wd.
func nthWeekday(year int, m time.Month, wd time.Weekday, n int) int {
	if n < 0 {
		last := daysIn(year, m)
		lw := time.Date(year, m, last, 0, 0, 0, 0, time.UTC).Weekday()
		return last - (int(lw)-int(wd)+7)%7
	}
	fw := time.Date(year, m, 1, 0, 0, 0, 0, time.UTC).Weekday()
	return 1 + (int(wd)-int(fw)+7)%7 + 7*(n-1)
}

// times sets an event's start and end as local times with the zone's TZID.
func (f *Flow) times(c *ics.ComponentBase, start, end time.Time) {
	tzid := ics.WithTZID(f.loc().String())
	c.SetProperty(ics.ComponentPropertyDtStart, start.In(f.loc()).Format(icsLocal), tzid)
	c.SetProperty(ics.ComponentPropertyDtEnd, end.In(f.loc()).Format(icsLocal), tzid)
}

// describe sets what, where and how to join.
func (f *Flow) describe(c *ics.ComponentBase, s *seriesRec, lang string) {
	c.SetSummary(s.Title)
	if s.Place != "" {
		c.SetLocation(s.Place)
	}
	if s.VideoURL != "" {
		c.SetURL(s.VideoURL)
		c.SetDescription(f.e.Catalog().T(lang, "meetings.card.video", "URL", s.VideoURL))
	}
}

var reCount1 = regexp.MustCompile(`(^|;)COUNT=1(;|$)`)

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// addSeries adds s as one recurring event (UID per series, RRULE as configured), with its
// holiday moves and organizers' moves as overridden instances (RECURRENCE-ID) and its skipped
// and cancelled occurrences as EXDATEs, for the year behind and two years ahead.
func (f *Flow) addSeries(ctx context.Context, cal *ics.Calendar, s *seriesRec, lang string) error {
	uid := s.ID + "@" + f.cfg.UIDDomain
	now := f.e.Now()
	from, to := now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0)
	slots, err := Slots(s.Series, f.cfg.Parse, from, to)
	if err != nil {
		return err
	}
	stored := map[string]occurrence{}
	occs, err := f.occurrencesOf(ctx, s.ID, float64(from.Add(-31*24*time.Hour).Unix()), inf)
	if err != nil {
		return err
	}
	for _, o := range occs {
		stored[o.ID] = o
	}
	rule := strings.TrimPrefix(s.RRule, "RRULE:")
	if reCount1.MatchString(rule) {
		// A one-off meeting: one plain event.
		ev := cal.AddEvent(uid)
		ev.SetDtStampTime(s.Updated)
		ev.SetSequence(s.Seq)
		f.describe(&ev.ComponentBase, s, lang)
		start := s.Start
		if len(slots) > 0 {
			start = slots[0].Start
		}
		end := start.Add(s.Duration)
		if o, ok := stored[occID(s.ID, s.Start)]; ok {
			start, end = o.Start, o.End
			ev.SetDtStampTime(later(s.Updated, o.Updated))
			ev.SetSequence(s.Seq + o.Seq)
			if o.Cancelled {
				ev.SetStatus(ics.ObjectStatusCancelled)
			}
		}
		f.times(&ev.ComponentBase, start, end)
		return nil
	}
	ev := cal.AddEvent(uid)
	ev.SetDtStampTime(s.Updated)
	ev.SetSequence(s.Seq)
	f.describe(&ev.ComponentBase, s, lang)
	f.times(&ev.ComponentBase, s.Start, s.Start.Add(s.Duration))
	if !s.Ended.IsZero() && !strings.Contains(rule, "UNTIL=") && !strings.Contains(rule, "COUNT=") {
		rule += ";UNTIL=" + s.Ended.Add(-time.Second).UTC().Format("20060102T150405Z")
	}
	ev.AddRrule(rule)
	tzid := ics.WithTZID(f.loc().String())
	for _, sl := range slots {
		o, has := stored[occID(s.ID, sl.Orig)]
		start, end := sl.Start, sl.Start.Add(s.Duration)
		if has {
			start, end = o.Start, o.End
		}
		switch {
		case sl.Skipped || has && o.Cancelled || !s.Ended.IsZero() && !sl.Start.Before(s.Ended):
			ev.AddExdate(sl.Orig.Format(icsLocal), tzid)
		case !start.Equal(sl.Orig) || !end.Equal(sl.Orig.Add(s.Duration)):
			ov := ics.NewEvent(uid)
			cal.AddVEvent(ov)
			ov.SetProperty(ics.ComponentPropertyRecurrenceId, sl.Orig.Format(icsLocal), tzid)
			ov.SetDtStampTime(later(s.Updated, o.Updated))
			ov.SetSequence(s.Seq + o.Seq)
			f.describe(&ov.ComponentBase, s, lang)
			f.times(&ov.ComponentBase, start, end)
		}
	}
	return nil
}

// occurrenceICS is one occurrence as a standalone event, for the .ics file sent in chat.
func (f *Flow) occurrenceICS(s *seriesRec, o *occurrence, lang string) ([]byte, error) {
	cal := f.calendar(lang)
	ev := cal.AddEvent(o.ID + "@" + f.cfg.UIDDomain)
	ev.SetDtStampTime(later(s.Updated, o.Updated))
	ev.SetSequence(s.Seq + o.Seq)
	f.describe(&ev.ComponentBase, s, lang)
	f.times(&ev.ComponentBase, o.Start, o.End)
	if o.Cancelled {
		ev.SetStatus(ics.ObjectStatusCancelled)
	}
	return []byte(cal.Serialize()), nil
}

// personICS is every series that concerns p, and every meeting p goes to as someone's deputy,
// as one calendar; it returns how many events it holds.
func (f *Flow) personICS(ctx context.Context, p *bot.Person, lang string) ([]byte, int, error) {
	all, err := f.allSeries(ctx)
	if err != nil {
		return nil, 0, err
	}
	cal := f.calendar(lang)
	n := 0
	in := map[string]bool{}
	for _, s := range all {
		if !f.isOrganizer(p, s) && !f.isInvitee(p, s) {
			continue
		}
		if err := f.addSeries(ctx, cal, s, lang); err != nil {
			return nil, 0, err
		}
		in[s.ID] = true
		n++
	}
	occs, err := f.upcoming(ctx, "")
	if err != nil {
		return nil, 0, err
	}
	for _, o := range occs {
		if in[o.Series] || deputyFor(&o, p.ID) == "" {
			continue
		}
		s, err := f.loadSeries(ctx, o.Series)
		if err != nil {
			continue
		}
		ev := cal.AddEvent(o.ID + "@" + f.cfg.UIDDomain)
		ev.SetDtStampTime(later(s.Updated, o.Updated))
		ev.SetSequence(s.Seq + o.Seq)
		f.describe(&ev.ComponentBase, s, lang)
		f.times(&ev.ComponentBase, o.Start, o.End)
		n++
	}
	return []byte(cal.Serialize()), n, nil
}
