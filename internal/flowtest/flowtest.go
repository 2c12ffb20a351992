// Package flowtest drives the engine the way people do, for flow tests: people say things and
// press buttons, the clock moves, timers fire, and the outbox delivers to a recording messenger
// that keeps each chat's messages as they currently read (after edits). It runs the same engine,
// outbox, delivery worker and timer runner as serve, over the in-memory stores.
package flowtest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/delivery"
	"github.com/tiltas/tiltas/internal/app"
	"github.com/tiltas/tiltas/internal/redistest"
	"github.com/tiltas/tiltas/scheduler"
)

// Options shape a harness.
type Options struct {
	// Start is where the clock starts (default 2026-12-01 09:00 Europe/Vilnius, a Tuesday).
	Start time.Time
	// Config is a YAML config; empty means config/example.yaml.
	Config string
	// Register registers the flows under test on the engine; with AllFlows every flow is
	// registered as serve runs them (the harness's App has them).
	Register func(e *bot.Engine, cfg *config.Config)
	AllFlows bool
	// Unlinked lists people left without a chat account.
	Unlinked []string
	// Stores replaces the in-memory stores.
	Stores *Stores
	// Redis runs the harness on the real Redis the suite provides (TILTAS_TEST_REDIS_URL), under
	// a fresh key prefix, with the harness's clock: each flow's end-to-end test.
	Redis bool
	// Wrap, when set, wraps the stores everything works through: fault injection.
	Wrap func(Stores) Stores
	// Settings changes the engine's settings from the config's.
	Settings func(*bot.Settings)
	// Platforms are more platforms whose messages the harness delivers into Chats, keyed by
	// chat ID as on the console: people linked on Telegram or Slack identities.
	Platforms []bot.Platform
}

// Stores are the storage services a harness runs on.
type Stores = app.Stores

// Harness is a running engine with people around it.
type Harness struct {
	T      testing.TB
	Ctx    context.Context
	Clock  *bot.ManualClock
	Engine *bot.Engine
	App    *app.App
	Config *config.Config
	Stores Stores
	Chats  *Recorder

	worker  *delivery.Worker
	workers []*delivery.Worker // for Options.Platforms
	runner  *scheduler.Runner
	seq     int
	// idPrefix starts the IDs of the updates this harness makes up, so that two harnesses on one
	// store (two replicas) never take each other's for a redelivery.
	idPrefix string
}

// Vilnius is the default time zone.
var Vilnius = mustLoc("Europe/Vilnius")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// New builds a harness; every person in the directory is linked on the console platform unless
// listed in Unlinked.
func New(t testing.TB, o Options) *Harness {
	t.Helper()
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 12, 1, 9, 0, 0, 0, Vilnius)
	}
	raw := config.Example()
	if o.Config != "" {
		raw = []byte(o.Config)
	}
	cfg, err := config.Parse(bytes.NewReader(raw), config.ExampleEnv)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	clock := bot.NewManualClock(o.Start)
	var st Stores
	switch {
	case o.Stores != nil:
		st = *o.Stores
	case o.Redis:
		c := redistest.Client(t)
		rs, err := redis.New(redis.Options{Client: c, Prefix: redistest.Prefix(t, c), Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		st = Stores{Records: rs, Marks: rs, Audit: rs.Audit(), Timers: rs, Queue: rs}
	default:
		st = app.Memory(clock)
	}
	dir := cfg.Directory()
	for _, g := range dir.Groups {
		g.Address = bot.Address{Platform: bot.Console, Chat: "group:" + g.ID, Group: true}
	}
	if o.Wrap != nil {
		st = o.Wrap(st)
	}
	register := o.Register
	if register == nil && !o.AllFlows {
		register = func(*bot.Engine, *config.Config) {}
	}
	a, err := app.New(app.Options{Config: cfg, Directory: dir, Stores: st, Clock: clock, Settings: o.Settings, Register: register})
	if err != nil {
		t.Fatal(err)
	}
	e := a.Engine
	texts := e.Texts
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &Harness{T: t, Ctx: ctx, Clock: clock, Engine: e, App: a, Config: cfg, Stores: st, Chats: NewRecorder(), idPrefix: "t" + bot.NewID()[:6] + "-"}
	for _, p := range dir.People {
		if slices.Contains(o.Unlinked, p.ID) {
			continue
		}
		if err := e.Link(ctx, p.ID, Identity(p.ID), DM(p.ID)); err != nil {
			t.Fatal(err)
		}
	}
	h.worker = a.Worker(bot.Console, h.Chats)
	h.worker.Parallel = 1
	for _, p := range o.Platforms {
		w := a.Worker(p, h.Chats)
		w.Parallel = 1
		h.workers = append(h.workers, w)
	}
	h.runner = a.Runner()
	h.runner.Parallel = 1
	t.Cleanup(func() {
		if m := texts.Missing(); len(m) > 0 {
			t.Errorf("catalog messages asked for but missing: %v", m)
		}
	})
	return h
}

// Identity is a person's test account.
func Identity(person string) bot.Identity { return bot.Identity{Platform: bot.Console, User: person} }

// DM is a person's direct chat.
func DM(person string) bot.Address { return bot.Address{Platform: bot.Console, Chat: "dm:" + person} }

// Group is a configured group's chat.
func Group(id string) bot.Address {
	return bot.Address{Platform: bot.Console, Chat: "group:" + id, Group: true}
}

// Settle fires due timers and delivers queued messages until nothing more happens now.
func (h *Harness) Settle() {
	h.T.Helper()
	for range 50 {
		if err := h.runner.RunAllDue(h.Ctx); err != nil {
			h.T.Fatalf("timers: %v", err)
		}
		for _, w := range append([]*delivery.Worker{h.worker}, h.workers...) {
			if err := w.Drain(h.Ctx); err != nil {
				h.T.Fatalf("delivery: %v", err)
			}
		}
		// Drain took everything due now; what is left waits for a later time.
		next, ok, err := h.Stores.Timers.Next(h.Ctx)
		if err != nil {
			h.T.Fatal(err)
		}
		if !ok || next.After(h.Clock.Now()) {
			return
		}
	}
}

// Advance moves the clock by d in steps of at most a minute, settling after each, so that timers
// fire in order and at their time.
func (h *Harness) Advance(d time.Duration) {
	h.T.Helper()
	end := h.Clock.Now().Add(d)
	for h.Clock.Now().Before(end) {
		step := min(time.Minute, end.Sub(h.Clock.Now()))
		h.Clock.Advance(step)
		h.Settle()
	}
}

// AdvanceTo moves the clock to t.
func (h *Harness) AdvanceTo(t time.Time) {
	h.T.Helper()
	if t.After(h.Clock.Now()) {
		h.Advance(t.Sub(h.Clock.Now()))
	}
}

func (h *Harness) handle(in bot.Incoming) bot.Response {
	h.T.Helper()
	h.seq++
	in.ID = h.idPrefix + strconv.Itoa(h.seq)
	resp, err := h.Engine.Handle(h.Ctx, in)
	if err != nil {
		h.T.Fatalf("handle %+v: %v", in, err)
	}
	h.Settle()
	return resp
}

// SayAs sends text as whoever id is, in their direct chat dm: someone linked on another
// platform, or nobody yet.
func (h *Harness) SayAs(id bot.Identity, dm bot.Address, text string) bot.Response {
	h.T.Helper()
	return h.handle(bot.Incoming{From: id, Chat: dm, Text: text})
}

// PressAs presses, as id, the button labelled label on the newest message in chat dm.
func (h *Harness) PressAs(id bot.Identity, dm bot.Address, label string) bot.Response {
	h.T.Helper()
	m, b := h.Chats.find(dm.Chat, label)
	if m == nil {
		h.T.Fatalf("no button %q in %s; messages:\n%s", label, dm.Chat, h.Chats.Dump(dm.Chat))
	}
	ref := m.Ref
	return h.handle(bot.Incoming{From: id, Chat: dm, Button: b.Token, Message: &ref})
}

// Say sends text from person in their direct chat.
func (h *Harness) Say(person, text string) bot.Response {
	h.T.Helper()
	return h.handle(bot.Incoming{From: Identity(person), Chat: DM(person), Text: text})
}

// SayIn sends text from person in a group.
func (h *Harness) SayIn(group, person, text string) bot.Response {
	h.T.Helper()
	return h.handle(bot.Incoming{From: Identity(person), Chat: Group(group), Text: text})
}

// Press presses, as person, the button whose label contains label on the newest message in
// person's direct chat that has one. It fails the test when there is none.
func (h *Harness) Press(person, label string) bot.Response {
	h.T.Helper()
	return h.PressOn(person, DM(person).Chat, label)
}

// PressOn presses, as person, a button on the newest message in chat that has one matching label
// (chat may be someone else's: that is a foreign press).
func (h *Harness) PressOn(person, chat, label string) bot.Response {
	h.T.Helper()
	m, b := h.Chats.find(chat, label)
	if m == nil {
		h.T.Fatalf("%s: no button %q in %s; messages:\n%s", person, label, chat, h.Chats.Dump(chat))
	}
	ref := m.Ref
	return h.handle(bot.Incoming{From: Identity(person), Chat: bot.Address{Platform: bot.Console, Chat: chat, Group: strings.HasPrefix(chat, "group:")}, Button: b.Token, Message: &ref})
}

// Button finds the button whose label contains label on the newest message in chat that has
// one, with that message's ref; ok is false when there is none.
func (h *Harness) Button(chat, label string) (token string, ref bot.MessageRef, ok bool) {
	m, b := h.Chats.find(chat, label)
	if m == nil {
		return "", bot.MessageRef{}, false
	}
	return b.Token, m.Ref, true
}

// PressToken presses a raw token as person (forged or stale buttons).
func (h *Harness) PressToken(person, token string) bot.Response {
	h.T.Helper()
	return h.handle(bot.Incoming{From: Identity(person), Chat: DM(person), Button: token})
}

// Inbox returns person's direct chat as it reads now.
func (h *Harness) Inbox(person string) []*Msg { return h.Chats.Chat(DM(person).Chat) }

// Last returns the newest message in person's direct chat, or nil.
func (h *Harness) Last(person string) *Msg {
	in := h.Inbox(person)
	if len(in) == 0 {
		return nil
	}
	return in[len(in)-1]
}

// Saw reports whether any message in person's chat contains text.
func (h *Harness) Saw(person, text string) bool {
	for _, m := range h.Inbox(person) {
		if strings.Contains(m.Text(), text) {
			return true
		}
	}
	return false
}

// MustSee fails unless person's chat has a message containing text.
func (h *Harness) MustSee(person, text string) *Msg {
	h.T.Helper()
	for _, m := range slices.Backward(h.Inbox(person)) {
		if strings.Contains(m.Text(), text) {
			return m
		}
	}
	h.T.Fatalf("%s never saw %q; their chat:\n%s", person, text, h.Chats.Dump(DM(person).Chat))
	return nil
}

// MustNotSee fails if person's chat has a message containing text.
func (h *Harness) MustNotSee(person, text string) {
	h.T.Helper()
	for _, m := range h.Inbox(person) {
		if strings.Contains(m.Text(), text) {
			h.T.Fatalf("%s saw %q in:\n%s", person, text, m.Text())
		}
	}
}

// Audit returns the audit events of kind (all when empty).
func (h *Harness) Audit(kind string) []bot.AuditEvent {
	h.T.Helper()
	var out []bot.AuditEvent
	err := h.Stores.Audit.Range(h.Ctx, time.Time{}, h.Clock.Now().Add(time.Hour), func(e bot.AuditEvent) error {
		if kind == "" || e.Kind == kind {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		h.T.Fatal(err)
	}
	return out
}

// Msg is a message as it reads now in a chat.
type Msg struct {
	Ref     bot.MessageRef
	Message bot.Message
	Edits   int
}

// Text is the title and lines.
func (m *Msg) Text() string { return m.Message.Text() }

// Buttons lists the button labels.
func (m *Msg) Buttons() []string {
	var out []string
	for _, row := range m.Message.Buttons {
		for _, b := range row {
			out = append(out, b.Label)
		}
	}
	return out
}

// Recorder is a Messenger that keeps every chat's messages.
type Recorder struct {
	mu    sync.Mutex
	chats map[string][]*Msg
	n     int
	// Fail, when set, is asked before each send; a non-nil error is returned to the worker.
	Fail func(to bot.Address) error
}

var _ bot.Messenger = (*Recorder)(nil)

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{chats: map[string][]*Msg{}} }

// Send records m.
func (r *Recorder) Send(_ context.Context, to bot.Address, m bot.Message) (bot.MessageRef, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Fail != nil {
		if err := r.Fail(to); err != nil {
			return bot.MessageRef{}, err
		}
	}
	r.n++
	ref := bot.MessageRef{Platform: to.Platform, Chat: to.Chat, ID: strconv.Itoa(r.n)}
	r.chats[to.Chat] = append(r.chats[to.Chat], &Msg{Ref: ref, Message: m})
	return ref, nil
}

// Edit replaces a recorded message.
func (r *Recorder) Edit(_ context.Context, ref bot.MessageRef, m bot.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, msg := range r.chats[ref.Chat] {
		if msg.Ref == ref {
			msg.Message = m
			msg.Edits++
			return nil
		}
	}
	return &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: fmt.Errorf("edit: no message %v", ref)}
}

// Chat returns a copy of chat's messages.
func (r *Recorder) Chat(chat string) []*Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Msg, len(r.chats[chat]))
	for i, m := range r.chats[chat] {
		c := *m
		out[i] = &c
	}
	return out
}

func (r *Recorder) find(chat, label string) (*Msg, *bot.Button) {
	r.mu.Lock()
	defer r.mu.Unlock()
	msgs := r.chats[chat]
	for i := len(msgs) - 1; i >= 0; i-- {
		for _, row := range msgs[i].Message.Buttons {
			for j := range row {
				if strings.Contains(row[j].Label, label) {
					c := *msgs[i]
					b := row[j]
					return &c, &b
				}
			}
		}
	}
	return nil, nil
}

// Dump renders chat for failure messages.
func (r *Recorder) Dump(chat string) string {
	var b strings.Builder
	for _, m := range r.Chat(chat) {
		fmt.Fprintf(&b, "--- #%s (edits %d)\n%s\n", m.Ref.ID, m.Edits, m.Text())
		if bs := m.Buttons(); len(bs) > 0 {
			fmt.Fprintf(&b, "[%s]\n", strings.Join(bs, "] ["))
		}
	}
	return b.String()
}
