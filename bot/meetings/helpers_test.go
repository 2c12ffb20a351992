package meetings_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/flowtest"
	"github.com/tiltas/tiltas/scheduler"
)

var vilnius = flowtest.Vilnius

// at reads a local time in Europe/Vilnius.
func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, vilnius)
	if err != nil {
		panic(err)
	}
	return t
}

// invitees of the example's heads' meeting: every leader, the juvenile officers and the schools'
// social pedagogues.
var invitees = []string{"tomas-k", "rasa-m", "algirdas-p", "dalia-s", "lina-j", "ruta-g", "giedre-s", "vytautas-d", "laura-t", "petras-n", "kestutis-a"}

// flowConfig mirrors cmd/tiltas's meetingsConfig, with a public URL for calendar feeds.
func flowConfig(c *config.Config) meetings.Config {
	out := c.MeetingsFlow(scheduler.ParseRRule)
	out.FeedURL, out.UIDDomain = "https://tiltas.example.lt/calendar", "tiltas.example.lt"
	return out
}

type harness struct {
	*flowtest.Harness
	flow *meetings.Flow
}

// storesFor, when set, gives each harness its stores; clock is the harness's clock. The Redis
// end-to-end test sets it to run every flow test on Redis. Tests here do not run in parallel.
var storesFor func(tb testing.TB, clock bot.Clock) *flowtest.Stores

// newHarness runs the meetings flow over o's stores (memory unless o.Stores or storesFor says
// otherwise) and plans, as serve does at start.
func newHarness(t *testing.T, o flowtest.Options) *harness {
	t.Helper()
	return newHarnessWith(t, o, flowConfig)
}

// newHarnessWith is newHarness with the flow's config made by cfg.
func newHarnessWith(t *testing.T, o flowtest.Options, cfg func(*config.Config) meetings.Config) *harness {
	t.Helper()
	h := &harness{}
	if o.Stores == nil && storesFor != nil {
		start := o.Start
		if start.IsZero() {
			start = at("2026-12-01 09:00")
		}
		o.Stores = storesFor(t, bot.ClockFunc(func() time.Time {
			if h.Harness == nil {
				return start
			}
			return h.Clock.Now()
		}))
	}
	o.Register = func(e *bot.Engine, c *config.Config) { h.flow = meetings.Register(e, cfg(c)) }
	h.Harness = flowtest.New(t, o)
	if err := h.flow.Plan(h.Ctx); err != nil {
		t.Fatalf("plan: %v", err)
	}
	h.Settle()
	return h
}

// jump moves the clock straight to t and fires what fell due, for stretches where nothing is
// checked in between.
func (h *harness) jump(t time.Time) {
	h.T.Helper()
	if t.Before(h.Clock.Now()) {
		h.T.Fatalf("jump back to %v", t)
	}
	h.Clock.Set(t)
	h.Settle()
}

// count counts the messages in person's chat that contain text.
func (h *harness) count(person, text string) int {
	n := 0
	for _, m := range h.Inbox(person) {
		if strings.Contains(m.Text(), text) {
			n++
		}
	}
	return n
}

// exampleMeetings is the example config's meetings section.
func exampleMeetings() string {
	ex := string(config.Example())
	return ex[strings.Index(ex, "\nmeetings:\n")+1 : strings.Index(ex, "\nvisits:\n")+1]
}

// withMeetings returns the example config with its meetings section replaced by section.
func withMeetings(section string) string {
	ex := string(config.Example())
	i := strings.Index(ex, "\nmeetings:\n")
	j := strings.Index(ex, "\nvisits:\n")
	if i < 0 || j < i {
		panic("example config has no meetings section before visits")
	}
	return ex[:i+1] + section + ex[j:]
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// meetingsRegister registers a second flow on h's engine, as a restart with a changed config
// would.
func meetingsRegister(h *harness, cfg meetings.Config) *meetings.Flow {
	return meetings.Register(h.Engine, cfg)
}

func funcPC(f func(*testing.T)) uintptr { return reflect.ValueOf(f).Pointer() }
