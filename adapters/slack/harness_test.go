package slack_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/internal/logbuf"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/adapters/slack/slackfake"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/delivery"
	"github.com/tiltas/tiltas/inbound"
	"github.com/tiltas/tiltas/scheduler"
)

var vilnius = mustLoc("Europe/Vilnius")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// alertsConfig mirrors cmd/tiltas's alertsConfig for the example municipality.
func alertsConfig(c *config.Config) alerts.Config {
	return c.AlertsFlow()
}

// world is the bot core over memory stores with the alerts flow: one engine, one inbox and
// processor, one outbox, timers; platforms plug in with their adapters and workers.
type world struct {
	t      *testing.T
	ctx    context.Context
	clock  *bot.ManualClock
	mem    *memory.Store
	inbox  *memory.Inbox
	cfg    *config.Config
	engine *bot.Engine
	alerts *alerts.Flow
	proc   *inbound.Processor
	runner *scheduler.Runner
	// workers deliver each platform's messages.
	workers []*delivery.Worker
	// logs collects the adapters' logs at debug level.
	logs *logbuf.Buffer
	log  *slog.Logger
}

func newWorld(t *testing.T, register func(e *bot.Engine, cfg *config.Config)) *world {
	t.Helper()
	cfg, err := config.Parse(bytes.NewReader(config.Example()), config.ExampleEnv)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	clock := bot.NewManualClock(time.Date(2026, 12, 1, 9, 0, 0, 0, vilnius))
	mem := memory.New(clock)
	texts, err := bot.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logs := &logbuf.Buffer{}
	w := &world{t: t, ctx: ctx, clock: clock, mem: mem, inbox: memory.NewInbox(clock), cfg: cfg,
		logs: logs, log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	w.engine = bot.NewEngine(bot.Deps{Clock: clock, Records: mem, Marks: mem, Outbox: mem, Timers: mem,
		Audit: mem.Audit(), Texts: texts}, cfg.Settings(), cfg.Directory())
	w.alerts = alerts.Register(w.engine, alertsConfig(cfg))
	if register != nil {
		register(w.engine, cfg)
	}
	w.proc = &inbound.Processor{Inbox: w.inbox, Locker: memory.NewLocker(clock), Marks: mem,
		Handle: w.engine.Handle, Answer: map[bot.Platform]bot.Answerer{}}
	w.runner = &scheduler.Runner{Queue: mem, Fire: w.engine.Fire, Clock: clock}
	return w
}

// fastLimits keep the per-conversation spacing out of the tests' way; the platform's own
// Retry-After still goes through the limiter.
func fastLimits() *memory.Limiter {
	fast := memory.Limits{PerChat: memory.Rate{N: 1000, Window: time.Second}, PerGroup: memory.Rate{N: 1000, Window: time.Second}}
	return memory.NewLimiter(memory.LimitConfig{Platforms: map[bot.Platform]memory.Limits{bot.Slack: fast, bot.Telegram: fast}})
}

// addWorker delivers platform's messages through m.
func (w *world) addWorker(p bot.Platform, m bot.Messenger) {
	w.workers = append(w.workers, &delivery.Worker{Platform: p, Queue: w.mem, Messenger: m, Limiter: fastLimits(),
		Records: w.mem, Clock: w.clock, Failed: w.engine.Undeliverable})
}

// settle handles queued updates, fires due timers and delivers until nothing more happens now.
func (w *world) settle() {
	w.t.Helper()
	for range 50 {
		if err := w.proc.Drain(w.ctx); err != nil {
			w.t.Fatalf("inbound: %v", err)
		}
		if err := w.runner.RunAllDue(w.ctx); err != nil {
			w.t.Fatalf("timers: %v", err)
		}
		for _, wk := range w.workers {
			if err := wk.Drain(w.ctx); err != nil {
				w.t.Fatalf("delivery: %v", err)
			}
		}
		next, ok, err := w.mem.Next(w.ctx)
		if err != nil {
			w.t.Fatal(err)
		}
		if !ok || next.After(w.clock.Now()) {
			return
		}
	}
}

// advance moves the clock by d in steps of at most a minute, settling after each.
func (w *world) advance(d time.Duration) {
	w.t.Helper()
	end := w.clock.Now().Add(d)
	for w.clock.Now().Before(end) {
		w.clock.Advance(min(time.Minute, end.Sub(w.clock.Now())))
		w.settle()
	}
}

func (w *world) audit(kind string) []bot.AuditEvent {
	w.t.Helper()
	var out []bot.AuditEvent
	err := w.mem.Audit().Range(w.ctx, time.Time{}, w.clock.Now().Add(time.Hour), func(e bot.AuditEvent) error {
		if e.Kind == kind {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// slackSide is a fake Slack workspace with the adapter connected to it, in socket or HTTP mode.
type slackSide struct {
	w    *world
	fake *slackfake.Server
	ad   *slack.Adapter
	// users maps people to their Slack user IDs.
	users map[string]string
}

// slackUser is the Slack user ID the tests give a person: "giedre-s" is "UGIEDRES".
func slackUser(person string) string {
	return "U" + strings.ToUpper(strings.ReplaceAll(person, "-", ""))
}

func (w *world) addSlack(mode string) *slackSide {
	w.t.Helper()
	fake := slackfake.New(w.t, slackfake.Options{})
	o := fake.Options()
	var words []string
	for _, c := range w.engine.Commands() {
		words = append(words, c.Name)
		words = append(words, c.Aliases...)
	}
	ad, err := slack.New(slack.Config{BotToken: o.BotToken, AppToken: o.AppToken, SigningSecret: o.SigningSecret,
		APIURL: fake.APIURL(), Mode: mode, Commands: words}, slack.Deps{Inbox: w.inbox, Records: w.mem, Log: w.log})
	if err != nil {
		w.t.Fatal(err)
	}
	s := &slackSide{w: w, fake: fake, ad: ad, users: map[string]string{}}
	w.t.Cleanup(func() {
		for _, secret := range []string{o.BotToken, o.AppToken, o.SigningSecret} {
			if strings.Contains(w.logs.String(), secret) {
				w.t.Errorf("a token or secret reached the logs")
			}
		}
	})
	w.proc.Answer[bot.Slack] = ad
	w.addWorker(bot.Slack, ad)
	switch mode {
	case slack.ModeHTTP:
		srv := httptest.NewServer(ad.Handler())
		w.t.Cleanup(srv.Close)
		fake.UseHTTP(srv.URL)
	default:
		ctx, cancel := context.WithCancel(w.ctx)
		done := make(chan error, 1)
		go func() { done <- ad.Run(ctx) }()
		w.t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				w.t.Errorf("socket mode: %v", err)
			}
		})
		if err := fake.WaitSocket(10 * time.Second); err != nil {
			w.t.Fatal(err)
		}
	}
	return s
}

// link puts people on this Slack, as if they had redeemed invites.
func (s *slackSide) link(people ...string) {
	s.w.t.Helper()
	for _, p := range people {
		u := slackUser(p)
		s.users[p] = u
		if err := s.w.engine.Link(s.w.ctx, p, slack.Identity(s.fake.Team(), u), slack.DM(s.fake.Team(), u)); err != nil {
			s.w.t.Fatal(err)
		}
	}
}

// channel makes a configured group a Slack channel.
func (s *slackSide) channel(group, channel string) {
	for _, g := range s.w.engine.Directory().Groups {
		if g.ID == group {
			g.Address = slack.Channel(s.fake.Team(), channel)
		}
	}
}

func (s *slackSide) user(person string) string {
	if u, ok := s.users[person]; ok {
		return u
	}
	return slackUser(person)
}

// say sends text from person in their DM with the bot, then settles.
func (s *slackSide) say(person, text string) {
	s.w.t.Helper()
	if err := s.fake.Say(s.user(person), text); err != nil {
		s.w.t.Fatal(err)
	}
	s.w.settle()
}

// command runs "/tiltas text" as person in their DM with the bot, then settles.
func (s *slackSide) command(person, text string) {
	s.w.t.Helper()
	if err := s.fake.Command(slackfake.DMChannel(s.user(person)), s.user(person), text); err != nil {
		s.w.t.Fatal(err)
	}
	s.w.settle()
}

// press presses the newest button labelled label in person's DM, then settles.
func (s *slackSide) press(person, label string) {
	s.w.t.Helper()
	s.pressIn(person, slackfake.DMChannel(s.user(person)), label)
}

func (s *slackSide) pressIn(person, channel, label string) {
	s.w.t.Helper()
	if err := s.fake.Press(s.user(person), channel, label); err != nil {
		s.w.t.Fatalf("%v; %s reads:\n%s", err, channel, s.dump(channel))
	}
	s.w.settle()
}

// mustSee returns the newest message in person's DM containing text.
func (s *slackSide) mustSee(person, text string) slackfake.Message {
	s.w.t.Helper()
	msgs := s.fake.DM(s.user(person))
	for i := len(msgs) - 1; i >= 0; i-- {
		if strings.Contains(msgs[i].Plain(), text) {
			return msgs[i]
		}
	}
	s.w.t.Fatalf("%s never saw %q; their DM:\n%s", person, text, s.dump(slackfake.DMChannel(s.user(person))))
	return slackfake.Message{}
}

func (s *slackSide) mustNotSee(person, text string) {
	s.w.t.Helper()
	for _, m := range s.fake.DM(s.user(person)) {
		if strings.Contains(m.Plain(), text) {
			s.w.t.Fatalf("%s saw %q in:\n%s", person, text, m.Plain())
		}
	}
}

// toasts returns what only person saw (ephemeral messages), unescaped.
func (s *slackSide) toasts(person string) []string {
	var out []string
	for _, e := range s.fake.Ephemerals(s.user(person)) {
		out = append(out, slackfake.Unescape(e.Text))
	}
	return out
}

func (s *slackSide) dump(channel string) string {
	var b strings.Builder
	for _, m := range s.fake.Channel(channel) {
		b.WriteString("--- " + m.TS)
		if m.Edits > 0 {
			b.WriteString(" (edited)")
		}
		b.WriteString("\n" + m.Plain() + "\n")
		if l := m.Labels(); len(l) > 0 {
			b.WriteString("[" + strings.Join(l, "] [") + "]\n")
		}
	}
	return b.String()
}
