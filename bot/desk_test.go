package bot_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// Desk sign-in on real Redis: a link works once and only for ten minutes, a session ends after
// its idle time, and only the desk's roles get a link.
func TestDeskLinksAndSessions(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{Redis: true, Settings: func(s *bot.Settings) { s.DeskURL = "https://tiltas.example.lt/desk"; s.DeskIdle = time.Hour }})
	e := h.Engine
	link, err := e.DeskLink(h.Ctx, "jurate-z")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // a link preview, then the person: looking takes nothing
		if !e.DeskLinkValid(h.Ctx, link) {
			t.Fatal("looking at a link used it up")
		}
	}
	sid, p, err := e.DeskSignIn(h.Ctx, link)
	if err != nil || p.ID != "jurate-z" {
		t.Fatalf("sign in: %v %v", p, err)
	}
	if _, _, err := e.DeskSignIn(h.Ctx, link); !errors.Is(err, bot.ErrDeskLink) {
		t.Errorf("a link used twice: %v", err)
	}
	if p, _ := e.DeskSession(h.Ctx, sid); p == nil || p.ID != "jurate-z" {
		t.Fatalf("session: %v", p)
	}
	// Expired: eleven minutes later the link signs nobody in.
	late, err := e.DeskLink(h.Ctx, "jurate-z")
	if err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(11 * time.Minute)
	if _, _, err := e.DeskSignIn(h.Ctx, late); !errors.Is(err, bot.ErrDeskLink) {
		t.Errorf("an expired link: %v", err)
	}
	// The session lives while used: now, 50 minutes on, 50 more; then an idle hour ends it.
	if p, _ := e.DeskSession(h.Ctx, sid); p == nil {
		t.Fatal("the session ended after 11 minutes")
	}
	for range 2 {
		h.Clock.Advance(50 * time.Minute)
		if p, _ := e.DeskSession(h.Ctx, sid); p == nil {
			t.Fatal("a session in use ended")
		}
	}
	h.Clock.Advance(61 * time.Minute)
	if p, _ := e.DeskSession(h.Ctx, sid); p != nil {
		t.Error("an idle session still works")
	}
	// Only coordinators and leaders: a school's staff is refused and gets no link.
	h.Say("giedre-s", "/desk")
	h.MustSee("giedre-s", "skirti koordinatoriams ir vadovams")
	h.Say("dalia-s", "/desk")
	h.MustSee("dalia-s", "https://tiltas.example.lt/desk/signin?t=")
}
