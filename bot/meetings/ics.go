package meetings

import (
	"context"
	"fmt"
	"regexp"
	"slices"
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

// describe sets what and where, and the description: why the meeting is not where the rule puts
// it, how to join online (not for a cancelled one), and the agenda once it has items. o is nil
// for the series' own event.
func (f *Flow) describe(c *ics.ComponentBase, s *seriesRec, o *occurrence, lang string) {
	t := f.tr(lang)
	c.SetSummary(s.Title)
	if s.Place != "" {
		c.SetLocation(s.Place)
	}
	var lines []string
	cancelled := o != nil && o.Cancelled
	switch {
	case o != nil && o.Skipped:
		lines = append(lines, t.T("meetings.ics.skipped", "Holiday", t.T(o.Holiday)))
	case cancelled:
		lines = append(lines, t.T("meetings.card.cancelled"))
	case o != nil && o.Moved:
		lines = append(lines, t.T("meetings.ics.moved", "Date", f.e.Catalog().DateTime(lang, o.Orig)))
	case o != nil && o.Holiday != "" && !o.Start.Equal(o.Orig):
		lines = append(lines, t.T("meetings.card.holiday", "Date", f.e.Catalog().Date(lang, o.Orig), "Holiday", t.T(o.Holiday)))
	}
	if s.VideoURL != "" && !cancelled {
		c.SetURL(s.VideoURL)
		lines = append(lines, t.T("meetings.card.video", "URL", s.VideoURL))
	}
	if o != nil && !cancelled {
		lines = append(lines, f.agendaLines(t, o, !f.e.Now().Before(f.cutoff(s, o)))...)
	}
	if len(lines) > 0 {
		c.SetDescription(strings.Join(lines, "\n"))
	}
}

// alarms adds a display alarm for each of the series' reminders.
func (f *Flow) alarms(ev *ics.VEvent, s *seriesRec, lang string) {
	for _, off := range slices.Sorted(slices.Values(s.Reminders)) {
		a := ev.AddAlarm()
		a.SetAction(ics.ActionDisplay)
		a.SetTrigger("-" + icsDuration(off))
		a.SetProperty(ics.ComponentPropertyDescription, s.Title)
	}
}

// icsDuration writes d as an RFC 5545 duration: P7D, PT2H, PT90M.
func icsDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("P%dD", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("PT%dH", d/time.Hour)
	}
	return fmt.Sprintf("PT%dM", max(d/time.Minute, 1))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// horizonYears is how many calendar years after the current one a feed spells out. Every holiday
// move up to then is written as an override, and an open-ended rule is bounded there (UNTIL), so
// that no calendar shows a meeting on a holiday it would not be held on; each new year the feed
// reaches a year further.
const horizonYears = 3

// horizon is where the feed's rules end: 1 January, horizonYears after this year.
func (f *Flow) feedHorizon() time.Time {
	return time.Date(f.e.Now().In(f.loc()).Year()+horizonYears+1, 1, 1, 0, 0, 0, 0, f.loc())
}

// seriesSeq is the SEQUENCE of the series' own event. It rises with every change of the series,
// with every occurrence cancelled or skipped (an EXDATE more), and each new year, when the
// feed's horizon moves on; an occurrence's event adds its own changes to it.
func (f *Flow) seriesSeq(s *seriesRec) int {
	return s.Seq + s.CalSeq + max(0, f.e.Now().In(f.loc()).Year()-s.Created.In(f.loc()).Year())
}

// seriesStamp is the series event's DTSTAMP: its latest change, as seriesSeq counts them.
func (f *Flow) seriesStamp(s *seriesRec) time.Time {
	stamp := later(s.Updated, s.CalStamp)
	if ny := time.Date(f.e.Now().In(f.loc()).Year(), 1, 1, 0, 0, 0, 0, f.loc()); s.Created.Before(ny) {
		stamp = later(stamp, ny)
	}
	return stamp
}

// oneOff reports whether s is a single meeting: its one event has no RRULE.
func oneOff(s *seriesRec) bool { return reCount1.MatchString(strings.TrimPrefix(s.RRule, "RRULE:")) }

var (
	reCount1    = regexp.MustCompile(`(^|;)COUNT=1(;|$)`)
	reRuleBound = regexp.MustCompile(`(^|;)(UNTIL|COUNT)=[^;]*`)
)

// occEvent writes one occurrence of s: for a series, as the series' UID with its RECURRENCE-ID
// (the rule's time), so that a calendar holding the feed and this file sees one meeting; for a
// one-off meeting, as the meeting itself.
func (f *Flow) occEvent(cal *ics.Calendar, s *seriesRec, o *occurrence, lang string) {
	ev := ics.NewEvent(s.ID + "@" + f.cfg.UIDDomain)
	cal.AddVEvent(ev)
	if !oneOff(s) {
		ev.SetProperty(ics.ComponentPropertyRecurrenceId, o.Orig.In(f.loc()).Format(icsLocal), ics.WithTZID(f.loc().String()))
	}
	ev.SetDtStampTime(later(f.seriesStamp(s), o.Updated))
	ev.SetSequence(f.seriesSeq(s) + o.Seq)
	f.describe(&ev.ComponentBase, s, o, lang)
	f.times(&ev.ComponentBase, o.Start, o.End)
	if o.Cancelled {
		ev.SetStatus(ics.ObjectStatusCancelled)
		return
	}
	ev.SetStatus(ics.ObjectStatusConfirmed)
	f.alarms(ev, s, lang)
}

// addSeries adds s as one recurring event (one UID per series, the RRULE as configured, bounded
// at the feed's horizon): every occurrence stored or moved by a holiday from its first to the
// horizon as an overridden instance (RECURRENCE-ID), and its skipped and cancelled ones as
// EXDATEs.
func (f *Flow) addSeries(ctx context.Context, cal *ics.Calendar, s *seriesRec, lang string) error {
	uid := s.ID + "@" + f.cfg.UIDDomain
	end := f.feedHorizon()
	if !s.Ended.IsZero() && s.Ended.Before(end) {
		end = s.Ended
	}
	slots, err := Slots(s.Series, f.cfg.Parse, s.Start, end)
	if err != nil {
		return err
	}
	stored := map[string]occurrence{}
	occs, err := f.occurrencesOf(ctx, s.ID, float64(s.Start.AddDate(0, 0, -31).Unix()), inf)
	if err != nil {
		return err
	}
	for _, o := range occs {
		stored[o.ID] = o
	}
	if oneOff(s) {
		o, ok := stored[occID(s.ID, s.Start)]
		if !ok {
			start := s.Start
			if len(slots) > 0 {
				start = slots[0].Start
			}
			o = occurrence{ID: occID(s.ID, s.Start), Series: s.ID, Orig: s.Start, Start: start, End: start.Add(s.Duration)}
		}
		f.occEvent(cal, s, &o, lang)
		return nil
	}
	ev := cal.AddEvent(uid)
	ev.SetDtStampTime(f.seriesStamp(s))
	ev.SetSequence(f.seriesSeq(s))
	ev.SetStatus(ics.ObjectStatusConfirmed)
	f.describe(&ev.ComponentBase, s, nil, lang)
	f.times(&ev.ComponentBase, s.Start, s.Start.Add(s.Duration))
	rule := strings.TrimPrefix(s.RRule, "RRULE:")
	if more, err := Slots(s.Series, f.cfg.Parse, end, end.AddDate(0, 0, 400)); err != nil || len(more) > 0 || !reRuleBound.MatchString(rule) {
		// The rule goes on past the horizon: end it there (UNTIL in UTC, as a TZID start wants).
		rule = strings.Trim(reRuleBound.ReplaceAllString(rule, ""), ";") + ";UNTIL=" + end.Add(-time.Second).UTC().Format("20060102T150405Z")
	}
	ev.AddRrule(rule)
	f.alarms(ev, s, lang)
	tzid := ics.WithTZID(f.loc().String())
	excluded := map[string]bool{}
	exclude := func(orig time.Time) {
		if v := orig.In(f.loc()).Format(icsLocal); !excluded[v] {
			excluded[v] = true
			ev.AddExdate(v, tzid)
		}
	}
	for _, orig := range s.Exdates {
		exclude(orig)
	}
	for _, sl := range slots {
		o, has := stored[occID(s.ID, sl.Orig)]
		switch {
		case sl.Skipped || has && o.Cancelled:
			exclude(sl.Orig)
		case has:
			f.occEvent(cal, s, &o, lang)
		case !sl.Start.Equal(sl.Orig):
			// A holiday move beyond what is planned yet.
			o := f.newOcc(s, sl)
			o.Updated = s.Updated
			f.occEvent(cal, s, &o, lang)
		}
	}
	return nil
}

// serialize writes cal with the CRLF line ends RFC 5545 requires.
func serialize(cal *ics.Calendar) []byte { return []byte(cal.Serialize(ics.WithNewLine("\r\n"))) }

// occurrenceICS is one occurrence as a standalone file, for the .ics file sent in chat: the same
// UID (and RECURRENCE-ID) as in the feed.
func (f *Flow) occurrenceICS(s *seriesRec, o *occurrence, lang string) ([]byte, error) {
	cal := f.calendar(lang)
	f.occEvent(cal, s, o, lang)
	return serialize(cal), nil
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
		f.occEvent(cal, s, &o, lang)
		n++
	}
	return serialize(cal), n, nil
}
