package meetings_test

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ical "github.com/emersion/go-ical"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// The calendar files are read back here with a second iCalendar parser, emersion/go-ical, which
// shares no code with golang-ical that writes them, and expanded with its own recurrence set.

const seriesUID = "vadovu-pasitarimas@tiltas.example.lt"

// wire checks what RFC 5545 says of the bytes: CRLF line ends only, lines of at most 75 octets,
// folds that never split a UTF-8 character.
func wire(t *testing.T, name string, data []byte) {
	t.Helper()
	if n, crlf := bytes.Count(data, []byte("\n")), bytes.Count(data, []byte("\r\n")); n == 0 || n != crlf {
		t.Errorf("%s: %d line ends, %d of them CRLF", name, n, crlf)
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(data), "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("%s: line %d is %d octets: %q", name, i+1, len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("%s: line %d splits a character: %q", name, i+1, l)
		}
	}
}

func decode(t *testing.T, name string, data []byte) *ical.Calendar {
	t.Helper()
	wire(t, name, data)
	cal, err := ical.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("%s: the second parser refuses it: %v\n%s", name, err, data)
	}
	return cal
}

// vevent is one event as a calendar sees it.
type vevent struct {
	ev  ical.Event
	rid string // RECURRENCE-ID value, "" for the series' own event
}

func (v vevent) get(t *testing.T, name string) string {
	t.Helper()
	if p := v.ev.Props.Get(name); p != nil {
		return p.Value
	}
	return ""
}

func (v vevent) text(t *testing.T, name string) string {
	t.Helper()
	p := v.ev.Props.Get(name)
	if p == nil {
		return ""
	}
	s, err := p.Text()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (v vevent) seq(t *testing.T) int {
	t.Helper()
	n, err := strconv.Atoi(v.get(t, ical.PropSequence))
	if err != nil {
		t.Fatalf("SEQUENCE %q: %v", v.get(t, ical.PropSequence), err)
	}
	return n
}

func (v vevent) stamp(t *testing.T) time.Time {
	t.Helper()
	ts, err := v.ev.Props.DateTime(ical.PropDateTimeStamp, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func (v vevent) start(t *testing.T) time.Time {
	t.Helper()
	ts, err := v.ev.DateTimeStart(vilnius)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// eventsOf returns the events with uid, the series' own first.
func eventsOf(t *testing.T, cal *ical.Calendar, uid string) []vevent {
	t.Helper()
	var out []vevent
	for _, ev := range cal.Events() {
		if p := ev.Props.Get(ical.PropUID); p == nil || p.Value != uid {
			continue
		}
		v := vevent{ev: ev}
		if p := ev.Props.Get(ical.PropRecurrenceID); p != nil {
			if p.Params.Get(ical.ParamTimezoneID) != "Europe/Vilnius" {
				t.Errorf("RECURRENCE-ID %s without the zone", p.Value)
			}
			v.rid = p.Value
		}
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(a, b vevent) int { return strings.Compare(a.rid, b.rid) })
	return out
}

func override(evs []vevent, rid string) (vevent, bool) {
	for _, v := range evs {
		if v.rid == rid {
			return v, true
		}
	}
	return vevent{}, false
}

// expand is what a calendar shows of a series up to before: each instance's start, by the
// rule's time (RECURRENCE-ID form), the overrides applied and the EXDATEs left out.
func expand(t *testing.T, evs []vevent, before time.Time) map[string]time.Time {
	t.Helper()
	if len(evs) == 0 || evs[0].rid != "" {
		t.Fatal("no series event")
	}
	set, err := evs[0].ev.RecurrenceSet(vilnius)
	if err != nil || set == nil {
		t.Fatalf("recurrence set: %v", err)
	}
	out := map[string]time.Time{}
	for _, s := range set.Between(evs[0].start(t).Add(-time.Minute), before, true) {
		out[s.In(vilnius).Format("20060102T150405")] = s.In(vilnius)
	}
	for _, v := range evs[1:] {
		if v.get(t, ical.PropStatus) == "CANCELLED" {
			delete(out, v.rid)
			continue
		}
		out[v.rid] = v.start(t)
	}
	return out
}

// TestCalendarsAgreeWithASecondParser follows one meeting through a move and a cancellation and
// reads the feed and its single-meeting file after each step: one identity, a version that rises
// on every change, the holiday moves years ahead, the reminders as alarms.
func TestCalendarsAgreeWithASecondParser(t *testing.T) {
	h := newHarness(t, flowtest.Options{Start: at("2026-11-20 09:00")})
	h.jump(at("2026-11-26 10:00")) // the week-before reminder of 3 December
	feed := func() []vevent {
		h.Say("lina-j", "/meeting ics")
		return eventsOf(t, decode(t, "feed", lastFile(h, "lina-j").Data), seriesUID)
	}
	file := func() vevent {
		h.Press("lina-j", "Add to calendar (.ics)")
		cal := decode(t, "file", lastFile(h, "lina-j").Data)
		if n := len(cal.Events()); n != 1 {
			t.Fatalf("the single-meeting file has %d events", n)
		}
		evs := eventsOf(t, cal, seriesUID)
		if len(evs) != 1 || evs[0].rid != "20261203T100000" {
			t.Fatalf("the file's event is not the series' UID with RECURRENCE-ID 20261203T100000: %+v", cal.Events()[0].Props)
		}
		return evs[0]
	}

	feed0, file0 := feed(), file()
	series0 := feed0[0]
	if series0.rid != "" || series0.get(t, ical.PropRecurrenceRule) == "" {
		t.Fatalf("the feed's first event is not the series")
	}
	inFeed, ok := override(feed0, file0.rid)
	if !ok {
		t.Fatalf("the meeting in the file (RECURRENCE-ID %s) is not in the feed", file0.rid)
	}
	if inFeed.seq(t) != file0.seq(t) || !inFeed.start(t).Equal(file0.start(t)) {
		t.Errorf("feed and file disagree: SEQUENCE %d/%d, start %v/%v", inFeed.seq(t), file0.seq(t), inFeed.start(t), file0.start(t))
	}
	if d := file0.text(t, ical.PropDescription); !strings.Contains(d, "https://meet.example.lt/vadovai") {
		t.Errorf("the description lacks the online link: %q", d)
	}

	// The reminders as alarms, on the series and on each meeting.
	for _, v := range []vevent{series0, file0} {
		var triggers []string
		for _, c := range v.ev.Children {
			if c.Name == ical.CompAlarm {
				if c.Props.Get(ical.PropAction).Value != "DISPLAY" {
					t.Errorf("alarm action %s", c.Props.Get(ical.PropAction).Value)
				}
				triggers = append(triggers, c.Props.Get(ical.PropTrigger).Value)
			}
		}
		slices.Sort(triggers)
		if want := []string{"-P1D", "-P7D", "-PT1H"}; !slices.Equal(triggers, want) {
			t.Errorf("alarms %v, want %v (reminders 7d, 1d, 1h)", triggers, want)
		}
	}

	// Years ahead, as fetched in 2026: the first Thursday of November 2029 is All Saints' Day, and
	// All Souls' Day and a weekend follow; the bot holds it on Monday the 5th, and so does the feed.
	all := expand(t, feed0, at("2031-01-01 00:00"))
	if got := all["20291101T100000"]; !got.Equal(at("2029-11-05 10:00")) {
		t.Errorf("the meeting of 1 November 2029 shows at %v, want 2029-11-05 10:00", got)
	}
	var last time.Time
	for rid, start := range all {
		if h := bot.Holiday(start); h != "" {
			t.Errorf("the meeting of %s shows on a holiday (%s): %v", rid, h, start)
		}
		if start.After(last) {
			last = start
		}
	}
	if last.Year() != 2029 {
		t.Errorf("the feed's last meeting is %v: the rule should end where its holiday moves are written (2029)", last)
	}
	if _, ok := all["20260101T100000"]; !ok {
		t.Errorf("the first meeting (moved from New Year's Day) is missing")
	}

	// The organizer moves it: the file and the feed show the new time, the version rises.
	h.Advance(time.Minute)
	h.Say("jurate-z", "/meeting")
	h.Press("jurate-z", "Perkelti šį posėdį")
	h.Say("jurate-z", "2026-12-10 14:00")
	h.Press("jurate-z", "Išsaugoti")
	feed1, file1 := feed(), file()
	if !file1.start(t).Equal(at("2026-12-10 14:00")) || file1.seq(t) <= file0.seq(t) || !file1.stamp(t).After(file0.stamp(t)) {
		t.Errorf("moved: start %v, SEQUENCE %d → %d, DTSTAMP %v → %v", file1.start(t), file0.seq(t), file1.seq(t), file0.stamp(t), file1.stamp(t))
	}
	if d := file1.text(t, ical.PropDescription); !strings.Contains(d, "moved") {
		t.Errorf("the moved meeting's description does not say so: %q", d)
	}
	if got := expand(t, feed1, at("2027-01-01 00:00"))["20261203T100000"]; !got.Equal(at("2026-12-10 14:00")) {
		t.Errorf("the feed shows the moved meeting at %v", got)
	}

	// The organizer cancels it: the file says CANCELLED without the online link; the series'
	// event excludes it and is a new version too.
	h.Advance(time.Minute)
	h.Say("jurate-z", "/meeting")
	h.Press("jurate-z", "Atšaukti šį posėdį")
	h.Press("jurate-z", "Išsaugoti")
	feed2, file2 := feed(), file()
	if file2.get(t, ical.PropStatus) != "CANCELLED" || file2.seq(t) <= file1.seq(t) || !file2.stamp(t).After(file1.stamp(t)) {
		t.Errorf("cancelled: STATUS %s, SEQUENCE %d → %d", file2.get(t, ical.PropStatus), file1.seq(t), file2.seq(t))
	}
	if d, u := file2.text(t, ical.PropDescription), file2.get(t, ical.PropURL); strings.Contains(d, "meet.example.lt") || u != "" {
		t.Errorf("a cancelled meeting still offers the online link: %q %q", d, u)
	}
	series2 := feed2[0]
	if series2.seq(t) <= series0.seq(t) || !series2.stamp(t).After(series0.stamp(t)) {
		t.Errorf("the series' event gained an EXDATE but SEQUENCE %d → %d, DTSTAMP %v → %v", series0.seq(t), series2.seq(t), series0.stamp(t), series2.stamp(t))
	}
	if _, shown := expand(t, feed2, at("2027-01-01 00:00"))["20261203T100000"]; shown {
		t.Error("the feed still shows the cancelled meeting")
	}
	// The card drops the link too.
	if m := h.MustSee("lina-j", "CANCELLED"); strings.Contains(m.Text(), "meet.example.lt") {
		t.Errorf("the cancelled card offers the online link:\n%s", m.Text())
	}
}

// TestSkippedMeetingIsExcludedEverywhere: with holidays: skip, the feed has no meeting on the
// holiday, in the past or years ahead.
func TestSkippedMeetingIsExcludedEverywhere(t *testing.T) {
	section := strings.Replace(exampleMeetings(), "holidays: move", "holidays: skip", 1)
	h := newHarness(t, flowtest.Options{Start: at("2028-10-20 09:00"), Config: withMeetings(section)})
	h.jump(at("2028-10-21 09:00"))
	// The first Thursday of November 2028 is All Souls' Day.
	h.MustSee("lina-j", "There is no meeting on Thursday, 2 November 2028, 10:00: it is a public holiday (All Souls' Day).")
	h.Say("lina-j", "/meeting ics")
	evs := eventsOf(t, decode(t, "feed", lastFile(h, "lina-j").Data), seriesUID)
	all := expand(t, evs, at("2032-01-01 00:00"))
	for _, rid := range []string{"20260101T100000", "20281102T100000", "20291101T100000"} {
		if s, shown := all[rid]; shown {
			t.Errorf("the skipped meeting %s shows at %v", rid, s)
		}
	}
	if _, ok := all["20281207T100000"]; !ok {
		t.Error("the next month's meeting is missing")
	}
}

// TestDeadlinesFallOnWorkingDays: a meeting moved to Monday 5 November 2029 by the holidays
// would take answers until Saturday and agenda items until Sunday; both close on the working day
// before, Wednesday 31 October (1 and 2 November are holidays).
func TestDeadlinesFallOnWorkingDays(t *testing.T) {
	h := newHarness(t, flowtest.Options{Start: at("2029-10-20 09:00")})
	h.jump(at("2029-10-29 11:00")) // the week-before reminder
	m := h.MustSee("lina-j", "Monday, 5 November 2029")
	for _, want := range []string{"Please answer by Wednesday, 31 October 2029, 10:00", "Wednesday, 31 October 2029, 10:00"} {
		if !strings.Contains(m.Text(), want) {
			t.Errorf("the card lacks %q:\n%s", want, m.Text())
		}
	}
	h.jump(at("2029-10-31 09:59"))
	if h.Saw("jurate-z", "Kas dalyvaus") {
		t.Fatal("the attendance summary came before the deadline")
	}
	h.Advance(time.Minute)
	h.MustSee("jurate-z", "Kas dalyvaus: Institucijų vadovų pasitarimas")
}
