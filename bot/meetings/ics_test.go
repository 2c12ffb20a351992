package meetings_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// lastFile returns the newest file in person's chat.
func lastFile(h *harness, person string) *bot.File {
	h.T.Helper()
	in := h.Inbox(person)
	for i := len(in) - 1; i >= 0; i-- {
		if f := in[i].Message.File; f != nil {
			return f
		}
	}
	h.T.Fatalf("%s got no file:\n%s", person, h.Chats.Dump("dm:"+person))
	return nil
}

func parseICS(t *testing.T, data []byte) *ics.Calendar {
	t.Helper()
	cal, err := ics.ParseCalendar(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, data)
	}
	return cal
}

func prop(t *testing.T, ev *ics.VEvent, p ics.ComponentProperty) *ics.IANAProperty {
	t.Helper()
	v := ev.GetProperty(p)
	if v == nil {
		t.Fatalf("event %s has no %s", ev.Id(), p)
	}
	return v
}

func tzid(p *ics.IANAProperty) string {
	if v := p.ICalParameters["TZID"]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// events returns the events with uid: the series first, then its overridden instances.
func events(cal *ics.Calendar, uid string) []*ics.VEvent {
	var out []*ics.VEvent
	for _, ev := range cal.Events() {
		if ev.Id() == uid {
			out = append(out, ev)
		}
	}
	return out
}

func TestSeriesICSHasUIDStampZoneAndRule(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	// Cancel December so that it shows as an excluded date.
	h.Say("jurate-z", "/meeting")
	h.Press("jurate-z", "Atšaukti šį posėdį")
	h.Press("jurate-z", "Išsaugoti")
	h.Say("dalia-s", "/meeting ics")
	f := lastFile(h, "dalia-s")
	if f.Type != "text/calendar" || !strings.HasSuffix(f.Name, ".ics") {
		t.Errorf("file %s (%s)", f.Name, f.Type)
	}
	raw := string(f.Data)
	cal := parseICS(t, f.Data)

	tzs := cal.Timezones()
	if len(tzs) != 1 || tzs[0].GetProperty(ics.ComponentPropertyTzid).Value != "Europe/Vilnius" {
		t.Fatalf("VTIMEZONE: %+v", tzs)
	}
	for _, want := range []string{"BEGIN:DAYLIGHT", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0300", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
		"BEGIN:STANDARD", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "DTSTART:19700329T030000", "DTSTART:19701025T040000", "TZNAME:EEST"} {
		if !strings.Contains(raw, want) {
			t.Errorf("VTIMEZONE lacks %s", want)
		}
	}

	evs := events(cal, "vadovu-pasitarimas@tiltas.example.lt")
	if len(evs) < 2 {
		t.Fatalf("events: %d\n%s", len(evs), raw)
	}
	master := evs[0]
	// The rule as configured, ending where the feed's holiday moves end (the end of 2029, as
	// fetched in 2026).
	if got := prop(t, master, ics.ComponentPropertyRrule).Value; got != "FREQ=MONTHLY;BYDAY=1TH;UNTIL=20291231T215959Z" {
		t.Errorf("RRULE = %s", got)
	}
	start := prop(t, master, ics.ComponentPropertyDtStart)
	if start.Value != "20260101T100000" || tzid(start) != "Europe/Vilnius" {
		t.Errorf("DTSTART = %s (TZID %q)", start.Value, tzid(start))
	}
	if got, err := master.GetStartAt(); err != nil || !got.Equal(at("2026-01-01 10:00")) {
		t.Errorf("start = %v, %v", got, err)
	}
	if end, _ := master.GetEndAt(); !end.Equal(at("2026-01-01 11:30")) {
		t.Errorf("end = %v", end)
	}
	stamp := prop(t, master, ics.ComponentPropertyDtstamp)
	if !strings.HasSuffix(stamp.Value, "Z") {
		t.Errorf("DTSTAMP not in UTC: %s", stamp.Value)
	}
	if ts, err := master.GetDtStampTime(); err != nil || ts.After(h.Clock.Now()) || ts.Year() != 2026 {
		t.Errorf("DTSTAMP = %v, %v", ts, err)
	}
	if got := prop(t, master, ics.ComponentPropertySummary).Value; got != "Institucijų vadovų pasitarimas" {
		t.Errorf("SUMMARY = %q", got)
	}
	if got := prop(t, master, ics.ComponentPropertyLocation).Value; got != `Savivaldybė\, 201 kab.` && got != "Savivaldybė, 201 kab." {
		t.Errorf("LOCATION = %q", got)
	}
	// New Year's Day moved to Friday 2 January: an overridden instance.
	var moved *ics.VEvent
	for _, ev := range evs[1:] {
		if rid := ev.GetProperty(ics.ComponentPropertyRecurrenceId); rid != nil && rid.Value == "20260101T100000" {
			moved = ev
			if tzid(rid) != "Europe/Vilnius" {
				t.Errorf("RECURRENCE-ID without TZID")
			}
		}
	}
	if moved == nil {
		t.Fatalf("no override for 1 January:\n%s", raw)
	}
	if s := prop(t, moved, ics.ComponentPropertyDtStart); s.Value != "20260102T100000" || tzid(s) != "Europe/Vilnius" {
		t.Errorf("moved DTSTART = %s", s.Value)
	}
	// The cancelled December meeting is excluded.
	found := false
	for _, ex := range master.GetProperties(ics.ComponentPropertyExdate) {
		if ex.Value == "20261203T100000" && tzid(ex) == "Europe/Vilnius" {
			found = true
		}
	}
	if !found {
		t.Errorf("no EXDATE for the cancelled 3 December:\n%s", raw)
	}
}

func TestOccurrenceICSFromTheButton(t *testing.T) {
	h := newHarness(t, flowtest.Options{Start: at("2026-03-25 09:00")})
	h.jump(at("2026-03-26 10:00")) // the week-before reminder of 2 April, across the DST change
	h.Press("lina-j", "Add to calendar (.ics)")
	f := lastFile(h, "lina-j")
	cal := parseICS(t, f.Data)
	evs := cal.Events()
	if len(evs) != 1 || evs[0].Id() != "vadovu-pasitarimas@tiltas.example.lt" {
		t.Fatalf("events: %+v", evs)
	}
	ev := evs[0]
	if rid := prop(t, ev, ics.ComponentPropertyRecurrenceId); rid.Value != "20260402T100000" || tzid(rid) != "Europe/Vilnius" {
		t.Errorf("RECURRENCE-ID = %s (TZID %q)", rid.Value, tzid(rid))
	}
	if ev.GetProperty(ics.ComponentPropertyRrule) != nil {
		t.Error("one occurrence has an RRULE")
	}
	s := prop(t, ev, ics.ComponentPropertyDtStart)
	if s.Value != "20260402T100000" || tzid(s) != "Europe/Vilnius" {
		t.Errorf("DTSTART = %s (TZID %q)", s.Value, tzid(s))
	}
	if got, _ := ev.GetStartAt(); !got.Equal(time.Date(2026, 4, 2, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("start = %v, want 07:00 UTC (10:00 summer time)", got.UTC())
	}
	if !strings.Contains(string(f.Data), "PRODID:-//Tiltas//Meetings//EN") {
		t.Errorf("no English PRODID:\n%s", f.Data)
	}
}

func TestCalendarFeedBehindAPersonalSecretLink(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.Say("dalia-s", "/meeting calendar")
	m := h.MustSee("dalia-s", "https://tiltas.example.lt/calendar/")
	var link string
	for _, l := range m.Message.Lines {
		if strings.HasPrefix(l, "https://") {
			link = l
		}
	}
	token := strings.TrimSuffix(strings.TrimPrefix(link, "https://tiltas.example.lt/calendar/"), ".ics")
	if len(token) < 32 {
		t.Fatalf("token %q from %q", token, link)
	}
	data, err := h.flow.Feed(h.Ctx, token+".ics")
	if err != nil {
		t.Fatal(err)
	}
	cal := parseICS(t, data)
	if evs := events(cal, "vadovu-pasitarimas@tiltas.example.lt"); len(evs) == 0 {
		t.Errorf("feed lacks the series:\n%s", data)
	}
	// Someone not invited gets an empty calendar, not someone else's.
	h.Say("ona-p", "/meeting calendar")
	other := h.MustSee("ona-p", "https://tiltas.example.lt/calendar/")
	otherToken := strings.TrimSuffix(strings.TrimPrefix(other.Message.Lines[1], "https://tiltas.example.lt/calendar/"), ".ics")
	data, err = h.flow.Feed(h.Ctx, otherToken)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(parseICS(t, data).Events()); n != 0 {
		t.Errorf("ona-p's feed has %d events", n)
	}
	// A new link retires the old one; unknown tokens are not found.
	h.Say("dalia-s", "/meeting calendar")
	if _, err := h.flow.Feed(h.Ctx, token); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("old token: %v", err)
	}
	if _, err := h.flow.Feed(h.Ctx, "nonsense"); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	if len(h.Audit("meeting.feed_issued")) != 3 {
		t.Errorf("feed issues audited: %+v", h.Audit("meeting.feed_issued"))
	}
}

// Without a public URL there are no calendar links: /meeting calendar says so and sends the file,
// and the file's text does not send the person back to /meeting calendar.
func TestWithoutFeedsCalendarAndICSDoNotPointAtEachOther(t *testing.T) {
	h := newHarnessWith(t, flowtest.Options{}, func(c *config.Config) meetings.Config {
		out := flowConfig(c)
		out.FeedURL = ""
		return out
	})
	for _, cmd := range []string{"/meeting calendar", "/meeting ics"} {
		h.Say("dalia-s", cmd)
		m := h.Last("dalia-s")
		if m.Message.File == nil {
			t.Fatalf("%s: no .ics file: %+v", cmd, m.Message)
		}
		if text := strings.Join(m.Message.Lines, " "); strings.Contains(text, "/meeting calendar") {
			t.Errorf("%s: the file's text points to /meeting calendar, which sends this file: %q", cmd, text)
		}
	}
}
