package telegram_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/scheduler"
)

// meetingsConfig mirrors cmd/tiltas's meetingsConfig.
func meetingsConfig(c *config.Config) meetings.Config {
	out := meetings.Config{Parse: scheduler.ParseRRule, Retention: c.Retention.Meetings.D()}
	for _, s := range c.Meetings {
		start, _ := time.ParseInLocation("2006-01-02 15:04", s.Start, c.Location())
		ms := meetings.Series{ID: s.ID, Title: s.Title, RRule: s.RRule, Start: start, Duration: s.Duration.D(),
			Place: s.Place, VideoURL: s.VideoURL, Organizers: s.Organizers,
			Invitees:     bot.Audience{People: s.Invitees.People, Institutions: s.Invitees.Institutions},
			RSVPDeadline: s.RSVPDeadline.D(), AgendaCutoff: s.AgendaCutoff.D(), Holidays: meetings.Holidays(s.Holidays)}
		for _, r := range s.Invitees.Roles {
			ms.Invitees.Roles = append(ms.Invitees.Roles, bot.Role(r))
		}
		for _, r := range s.Reminders {
			ms.Reminders = append(ms.Reminders, r.D())
		}
		out.Series = append(out.Series, ms)
	}
	return out
}

// visitsConfig mirrors cmd/tiltas's visitsConfig.
func visitsConfig(c *config.Config) visits.Config {
	v := c.Visits
	out := visits.Config{Deadline: v.Deadline.D(), OutcomeAfter: v.OutcomeAfter.D(), OutcomeNudge: v.OutcomeNudge.D(),
		NoteMax: v.DescriptorMax, Retention: c.Retention.Visits.D(), Recurrence: scheduler.ParseRRule, Reminders: []time.Duration{}}
	for _, r := range v.Reminders {
		out.Reminders = append(out.Reminders, r.D())
	}
	for _, s := range v.Series {
		start, _ := time.ParseInLocation("2006-01-02 15:04", s.Start, c.Location())
		vs := visits.Series{ID: s.ID, Rule: s.RRule, Start: start, Duration: s.Duration.D(), Area: s.Area,
			MeetingPoint: s.MeetingPoint, Organizer: s.Organizer, ProposeBefore: s.ProposeBefore.D(),
			Invitees: bot.Audience{People: s.Invitees.People, Institutions: s.Invitees.Institutions}}
		for _, r := range s.Invitees.Roles {
			vs.Invitees.Roles = append(vs.Invitees.Roles, bot.Role(r))
		}
		for _, r := range bot.Roles {
			if n := s.Required[string(r)]; n > 0 {
				vs.Needs = append(vs.Needs, visits.Need{Role: r, Count: n})
			}
		}
		out.Series = append(out.Series, vs)
	}
	return out
}

func TestMeetingRSVPThroughTelegram(t *testing.T) {
	h := newHarness(t, options{link: []string{"dalia-s", "jurate-z"}})
	if err := h.meetings.Plan(h.ctx); err != nil {
		t.Fatal(err)
	}
	// Planned on Tuesday 1 December: Thursday's heads' meeting is invited to at once.
	toast := h.press("dalia-s", "Dalyvausiu")
	if !strings.Contains(toast, "Įrašyta: dalyvausiu.") {
		t.Errorf("toast = %q", toast)
	}
	h.eventually("her copy to show her answer", func() bool {
		m, ok := h.find(h.user("dalia-s"), "Jūsų atsakymas: dalyvausiu.")
		return ok && strings.Contains(strings.Join(buttons(m), ","), "✓ Dalyvausiu")
	})
	h.press("dalia-s", "Nedalyvausiu")
	h.seeFor("dalia-s", "Jūsų atsakymas: nedalyvausiu.")
	// The calendar file arrives as a document.
	h.press("dalia-s", "Į kalendorių")
	h.eventually("an .ics document", func() bool {
		for _, m := range h.srv.Sent(h.user("dalia-s")) {
			if m.File != nil && strings.HasSuffix(m.File.Name, ".ics") && strings.Contains(string(m.File.Data), "BEGIN:VCALENDAR") {
				return true
			}
		}
		return false
	})
}

func TestVisitPlannedAndConfirmedThroughTelegram(t *testing.T) {
	h := newHarness(t, options{link: []string{"jurate-z", "tomas-k", "algirdas-p", "ona-p", "egle-v"}})
	// The whole dialog at once: updates from one chat are handled one at a time, in order.
	for _, text := range []string{"/reidas", "2026-12-03 18:00", "21:00", "1", "Komisariato kiemas", "K-2026-117",
		"Liepų g. 5-3", "2", "1", "1", "1", "1", "taip"} {
		h.say("jurate-z", text)
	}
	h.seeFor("jurate-z", "suplanuotas")
	if toast := h.press("tomas-k", "Dalyvausiu"); !strings.Contains(toast, "dalyvaujate") {
		t.Errorf("Tomas's toast = %q", toast)
	}
	h.press("ona-p", "Dalyvausiu")
	for _, p := range []string{"tomas-k", "ona-p", "jurate-z"} {
		h.seeFor(p, "Reidas patvirtintas")
	}
	h.seeFor("tomas-k", "Liepų g. 5-3")
	h.delivered()
	for _, p := range []string{"algirdas-p", "egle-v"} {
		if _, ok := h.find(h.user(p), "Liepų g. 5-3"); ok {
			t.Errorf("the address reached %s, who is not on the team", p)
		}
	}
}
