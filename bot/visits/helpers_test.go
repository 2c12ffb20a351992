package visits_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/flowtest"
	"github.com/tiltas/tiltas/scheduler"
)

// flowConfig builds the flow's settings from config the way cmd/tiltas does.
func flowConfig(c *config.Config) visits.Config {
	return c.VisitsFlow(scheduler.ParseRRule)
}

// harness is a flow test harness with the visits flow registered.
type harness struct {
	*flowtest.Harness
	flow *visits.Flow
}

// newHarness runs the visits flow over opts' stores: memory by default; the Redis end-to-end
// test passes Redis stores and runs the same scenarios.
func newHarness(t testing.TB, opts flowtest.Options) *harness {
	t.Helper()
	h := &harness{}
	opts.Register = func(e *bot.Engine, cfg *config.Config) { h.flow = visits.Register(e, flowConfig(cfg)) }
	h.Harness = flowtest.New(t, opts)
	return h
}

// sayAll answers a dialog step by step.
func (h *harness) sayAll(person string, answers ...string) {
	h.T.Helper()
	for _, a := range answers {
		h.Say(person, a)
	}
}

// The standard visit: Jūratė (coordinator) plans one for Thursday 18:00–21:00 in "centras" to
// case K-2026-117 at a secret address, needing 1 police officer and 1 social worker, inviting the
// area's police (Tomas, Algirdas) and social workers (Ona, Eglė), to confirm 24 h before.
const (
	address = "Liepų g. 5-3"
	code    = "K-2026-117"
	meeting = "Komisariato kiemas"
)

func (h *harness) planStandard() string {
	h.T.Helper()
	return h.plan("jurate-z", "2026-12-03 18:00", "21:00", "1", meeting, code, address, "2", "1", "1", "1", "1", "taip")
}

var rePlanned = regexp.MustCompile(`Reidas (V\d+) suplanuotas`)

// plan runs /reidas as person with answers, and returns the new visit's ID.
func (h *harness) plan(person string, answers ...string) string {
	h.T.Helper()
	h.sayAll(person, append([]string{"/reidas"}, answers...)...)
	m := rePlanned.FindStringSubmatch(h.MustSee(person, "suplanuotas").Text())
	if m == nil {
		h.T.Fatalf("%s planned nothing:\n%s", person, h.Chats.Dump("dm:"+person))
	}
	return m[1]
}

// press presses the newest button labelled label in person's chat and returns the toast.
func (h *harness) press(person, label string) string {
	h.T.Helper()
	return h.Press(person, label).Toast
}

// button finds the token of the newest button labelled label in person's chat.
func (h *harness) button(person, label string) (string, bot.MessageRef) {
	h.T.Helper()
	in := h.Inbox(person)
	for _, m := range slices.Backward(in) {
		for _, row := range m.Message.Buttons {
			for _, b := range row {
				if strings.Contains(b.Label, label) {
					return b.Token, m.Ref
				}
			}
		}
	}
	h.T.Fatalf("%s has no button %q", person, label)
	return "", bot.MessageRef{}
}

// count is how many messages in person's chat contain text.
func (h *harness) count(person, text string) int {
	n := 0
	for _, m := range h.Inbox(person) {
		if strings.Contains(m.Text(), text) {
			n++
		}
	}
	return n
}

// visit reads a visit's record.
func (h *harness) visit(id string) visits.Visit {
	h.T.Helper()
	v, _, err := bot.Load[visits.Visit](h.Ctx, h.Engine.Records, "visit/"+id)
	if err != nil {
		h.T.Fatalf("visit %s: %v", id, err)
	}
	return v
}

// everyone is every person in the directory.
func (h *harness) everyone() []string {
	var out []string
	for _, p := range h.Engine.Directory().People {
		out = append(out, p.ID)
	}
	return out
}

// noDetails fails if case details or the address reached anyone but the people allowed, or any
// group chat.
func (h *harness) noDetails(allowed []string, secrets ...string) {
	h.T.Helper()
	for _, p := range h.everyone() {
		if slices.Contains(allowed, p) {
			continue
		}
		for _, s := range secrets {
			h.MustNotSee(p, s)
		}
	}
	for _, g := range h.Engine.Directory().Groups {
		for _, m := range h.Chats.Chat("group:" + g.ID) {
			for _, s := range secrets {
				if strings.Contains(m.Text(), s) {
					h.T.Fatalf("group %s saw %q:\n%s", g.ID, s, m.Text())
				}
			}
		}
	}
}

// shares lists who got case details, per the audit.
func (h *harness) shares(code string) []string {
	var out []string
	for _, e := range h.Audit("case.shared") {
		if e.Case == code && !slices.Contains(out, e.To) {
			out = append(out, e.To)
		}
	}
	slices.Sort(out)
	return out
}
