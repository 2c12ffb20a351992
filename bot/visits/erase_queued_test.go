package visits_test

import (
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// TestErasedCaseReportHeldOverQuietHoursNeverArrives: a routine outcome report about a case waits
// out a reader's quiet hours; the case is erased that night; in the morning nothing arrives.
func TestErasedCaseReportHeldOverQuietHoursNeverArrives(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	const c = "K-2026-201"
	h.Say("egle-v", "/case new "+c)
	h.Say("egle-v", "/case assign "+c+" mindaugas-l child_rights")
	h.plan("jurate-z", "2026-12-03 18:00", "21:00", "1", meeting, c, address, "2", "1", "1", "1", "1", "taip")
	h.press("tomas-k", "Dalyvausiu")
	h.press("ona-p", "Dalyvausiu")
	h.AdvanceTo(at(3, 22, 30))
	h.MustSee("tomas-k", "Užpildykite trumpą ataskaitą")
	const note = "Vaikai namie vieni, slaptas pastebejimas"
	h.press("tomas-k", "Ataskaita: "+c)
	h.sayAll("tomas-k", "1", "2", note, "taip")
	h.MustSee("tomas-k", "ataskaita išsiųsta")
	h.MustSee("egle-v", note)
	h.MustNotSee("mindaugas-l", note) // quiet hours
	if _, err := h.Engine.Erase(h.Ctx, bot.Subject{Case: c}, "dpo"); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	h.MustNotSee("egle-v", note)
	h.AdvanceTo(at(4, 9, 0))
	h.MustNotSee("mindaugas-l", note)
}

// TestErasedCaseBriefHeldOverQuietHoursComesWithoutIt: the team's details wait out the officer's
// quiet hours; the case (the visit's only one) is erased that night; in the morning the details
// come without its address.
func TestErasedCaseBriefHeldOverQuietHoursComesWithoutIt(t *testing.T) {
	h := newHarness(t, flowtest.Options{Start: time.Date(2026, 12, 1, 15, 0, 0, 0, flowtest.Vilnius)})
	const c = "K-2026-202"
	const addr = "Slapta g. 9-9"
	h.plan("jurate-z", "2026-12-03 18:00", "21:00", "2", meeting, c, addr, "2", "1", "1", "1", "1", "taip")

	h.Settle()
	h.AdvanceTo(time.Date(2026, 12, 1, 22, 30, 0, 0, flowtest.Vilnius))
	h.press("rasa-m", "Dalyvausiu")
	h.press("jurgis-b", "Dalyvausiu")
	h.Settle()
	h.MustNotSee("rasa-m", addr)
	if _, err := h.Engine.Erase(h.Ctx, bot.Subject{Case: c}, "dpo"); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	h.Advance(30 * time.Minute)
	h.AdvanceTo(time.Date(2026, 12, 2, 9, 0, 0, 0, flowtest.Vilnius))
	h.MustNotSee("rasa-m", addr)
	h.MustNotSee("jurgis-b", addr)
	h.MustSee("rasa-m", meeting) // the details, as the visit now stands
}
