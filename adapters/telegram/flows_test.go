package telegram_test

import (
	"strings"
	"testing"

	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/scheduler"
)

// meetingsConfig mirrors cmd/tiltas's meetingsConfig.
func meetingsConfig(c *config.Config) meetings.Config {
	return c.MeetingsFlow(scheduler.ParseRRule)
}

// visitsConfig mirrors cmd/tiltas's visitsConfig.
func visitsConfig(c *config.Config) visits.Config {
	return c.VisitsFlow(scheduler.ParseRRule)
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
