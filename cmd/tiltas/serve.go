package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/adapters/httpapi"
	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/inbound"
	"github.com/tiltas/tiltas/internal/app"
	"github.com/tiltas/tiltas/keyring"
	"github.com/tiltas/tiltas/refusal"
	"github.com/tiltas/tiltas/scheduler"
	"github.com/tiltas/tiltas/web"
)

// backend is everything that lives in Redis.
type backend struct {
	client  goredis.UniversalClient
	store   *redis.Store
	inbox   *redis.Inbox
	locker  *redis.Locker
	limiter *redis.Limiter
	sealer  *keyring.Keyring
	stores  app.Stores
}

// connect opens Redis and builds the stores on it, with encryption when keys are configured.
func connect(ctx context.Context, cfg *config.Config, observeErr func(), clock bot.Clock) (*backend, error) {
	raw := cfg.Redis.URL
	if cfg.Redis.Password != "" {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, errors.New("redis.url: not a URL: " + config.RedactURL(raw))
		}
		u.User = url.UserPassword(u.User.Username(), cfg.Redis.Password)
		raw = u.String()
	}
	c, err := redis.Connect(ctx, raw, redis.Topology{SentinelMaster: cfg.Redis.Sentinel.Master, SentinelAddrs: cfg.Redis.Sentinel.Addrs, SentinelPassword: cfg.Redis.Password, ClusterAddrs: cfg.Redis.Cluster.Addrs})
	if err != nil {
		return nil, err
	}
	if observeErr != nil {
		c.AddHook(errorHook{observeErr})
	}
	b := &backend{client: c}
	var sealer bot.Sealer
	if len(cfg.Encryption.Keys) > 0 {
		var keys []keyring.Key
		for _, k := range cfg.Encryption.Keys {
			secret, _ := base64.StdEncoding.DecodeString(k.Key)
			keys = append(keys, keyring.Key{ID: k.ID, Secret: secret})
		}
		if b.sealer, err = keyring.New(keys); err != nil {
			return nil, err
		}
		sealer = b.sealer
	}
	b.store, err = redis.New(redis.Options{Client: c, Prefix: cfg.Redis.Prefix, Sealer: sealer, ClaimTimeout: cfg.Delivery.ClaimTimeout.D(), Clock: clock})
	if err != nil {
		return nil, err
	}
	b.inbox = redis.NewInbox(redis.InboxOptions{Client: c, Prefix: cfg.Redis.Prefix, Sealer: sealer})
	b.locker = redis.NewLocker(c, cfg.Redis.Prefix)
	lc := redis.LimitConfig{Platforms: map[bot.Platform]redis.Limits{}}
	for p, l := range map[bot.Platform]config.Limits{bot.Telegram: cfg.Telegram.Limits, bot.Slack: cfg.Slack.Limits} {
		lc.Platforms[p] = redis.Limits{Global: redis.Rate{N: l.Global.N, Window: l.Global.Window.D()}, PerChat: redis.Rate{N: l.PerChat.N, Window: l.PerChat.Window.D()},
			PerGroup: redis.Rate{N: l.PerGroup.N, Window: l.PerGroup.Window.D()}, Margin: l.JitterGuard.D()}
	}
	b.limiter = redis.NewLimiter(c, cfg.Redis.Prefix, lc)
	b.stores = app.Stores{Records: b.store, Marks: b.store, Audit: b.store.Audit(), Timers: b.store, Queue: b.store}
	return b, nil
}

// errorHook counts failed Redis commands for /metrics, each one, in pipelines too.
type errorHook struct{ inc func() }

func (h errorHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h errorHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if failed(cmd, err) {
			h.inc()
		}
		return err
	}
}
func (h errorHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		// A pipeline (with the autopipeliner, many callers' commands) fails command by command.
		for _, c := range cmds {
			if failed(c, c.Err()) {
				h.inc()
			}
		}
		return err
	}
}

// failed tells a command that failed from the replies that are part of normal work: "no such
// key", NOSCRIPT (go-redis runs a script by its hash first and sends it whole when the server
// does not have it yet: after every Redis restart), BUSYGROUP (a consumer group made twice), and
// what go-redis asks of each new connection (HELLO, CLIENT SETINFO), which older or smaller
// servers refuse without harm. A healthy start and a healthy run count 0.
func failed(cmd goredis.Cmder, err error) bool {
	if err == nil || errors.Is(err, goredis.Nil) {
		return false
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		if msg := rerr.Error(); strings.HasPrefix(msg, "NOSCRIPT") || strings.HasPrefix(msg, "BUSYGROUP") {
			return false
		}
	}
	name := cmd.Name()
	return name != "hello" && name != "client"
}

func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("TILTAS_DEBUG") != "" {
		level = slog.LevelDebug
	}
	l := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
	redis.LogTo(l)
	return l
}

func serve(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	path := fs.String("c", "", "config `file`")
	speed := fs.Float64("clock-speed", 1, "for load and fault runs only: the bot's clock runs this many times faster than real time")
	start := fs.String("clock-start", "", "for load and fault runs only: the bot's clock starts at this RFC 3339 `time` (with -clock-speed)")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if *path == "" {
		fmt.Fprintln(stderr, "tiltas serve: -c FILE is required")
		return 2
	}
	log := newLogger(stderr)
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas serve: %s:\n%v\n", *path, err)
		return 2
	}
	for _, w := range cfg.Warnings {
		log.Warn("config: " + w)
	}
	if len(cfg.Encryption.Keys) == 0 && !cfg.Encryption.Disabled {
		fmt.Fprintf(stderr, "tiltas serve: %s: %s\n", *path, noKeys)
		return 2
	}
	clock := bot.SystemClock
	if *speed != 1 || *start != "" {
		c, err := acceleratedClock(*speed, *start)
		if err != nil {
			fmt.Fprintf(stderr, "tiltas serve: %v\n", err)
			return 2
		}
		log.Warn("the bot's clock is accelerated: for load and fault runs only", "speed", *speed, "start", *start)
		clock = c
	}
	if err := runServeClock(ctx, cfg, *path, log, clock); err != nil {
		log.Error("serve stopped", "err", err)
		return 1
	}
	return 0
}

// acceleratedClock runs from start (default now) speed times faster than real time; every
// replica given the same start and speed agrees on the time.
func acceleratedClock(speed float64, start string) (bot.Clock, error) {
	if speed <= 0 || speed > 10000 {
		return nil, fmt.Errorf("-clock-speed must be between 0 and 10000")
	}
	origin := time.Now()
	base := origin
	if start != "" {
		t, err := time.Parse(time.RFC3339, start)
		if err != nil {
			return nil, fmt.Errorf("-clock-start: want RFC 3339, got %q", start)
		}
		base = t
	}
	return bot.ClockFunc(func() time.Time {
		return base.Add(time.Duration(float64(time.Since(origin)) * speed))
	}), nil
}

// runServe runs one replica until ctx ends (SIGTERM), then stops taking work and exits within
// ten seconds; messages in flight go back to the queue.
func runServe(ctx context.Context, cfg *config.Config, path string, log *slog.Logger) error {
	return runServeClock(ctx, cfg, path, log, bot.SystemClock)
}

func runServeClock(ctx context.Context, cfg *config.Config, path string, log *slog.Logger, clock bot.Clock) error {
	metrics := &metricsHolder{}
	b, err := connect(ctx, cfg, func() { metrics.redisError() }, clock)
	if err != nil {
		return err
	}
	defer b.client.Close()
	m := httpapi.NewMetrics(b.store.Stats)
	metrics.set(m)
	if b.sealer == nil {
		log.Warn("encryption is disabled: case details are stored in Redis unencrypted")
	}
	gate := refusal.New(refusal.Options{Log: b.store.Audit(), Logger: log.With("component", "refusals"), Observe: m.Refusal})
	a, err := app.New(app.Options{Config: cfg, Stores: b.stores, Clock: clock, Log: log, Observe: m.Event, Gate: gate})
	if err != nil {
		return err
	}
	e := a.Engine
	owner := bot.NewID()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	// A component that fails stops the replica, which then exits non-zero, so that an
	// orchestrator restarts it rather than reading a clean stop.
	var failedMu sync.Mutex
	var failed error
	run := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(runCtx); err != nil && runCtx.Err() == nil {
				log.Error("component stopped", "component", name, "err", err)
				failedMu.Lock()
				if failed == nil {
					failed = fmt.Errorf("%s: %w", name, err)
				}
				failedMu.Unlock()
				stop()
			}
		}()
	}

	srv := httpapi.NewServer()
	srv.AddCheck(httpapi.Check{Name: "redis", Fn: func(ctx context.Context) error { return b.client.Ping(ctx).Err() }})
	api := httpapi.NewAPI(a.Alerts, b.store, integrations(cfg), cfg.HTTP.MaxBody, log.With("adapter", "httpapi"))
	api.Refused = e.Refused
	api.Clock = clock
	api.Gate = gate
	api.Register(srv.Mux())
	for pattern, h := range a.Routes() {
		srv.Mux().Handle(pattern, h)
	}
	desk := (&web.Desk{Engine: e, Alerts: a.Alerts, Visits: a.Visits, Meetings: a.Meetings, Requests: a.Requests,
		Secure: strings.HasPrefix(cfg.HTTP.PublicURL, "https://"), Checks: srv.Checks, Outbox: b.store.Stats, NextTimer: b.store.Next, Unreached: a.Alerts.Unreachable}).Handler()
	if cfg.HTTP.DeskListen == "" {
		srv.Mux().Handle("/desk", desk)
		srv.Mux().Handle("/desk/", desk)
	} else {
		deskMux := http.NewServeMux()
		deskMux.Handle("/desk", desk)
		deskMux.Handle("/desk/", desk)
		deskMux.Handle("GET /assets/", web.Assets())
		run("desk", func(ctx context.Context) error { return httpapi.Serve(ctx, cfg.HTTP.DeskListen, deskMux, log) })
	}

	up, err := startPlatforms(platformEnv{cfg: cfg, e: e, b: b, srv: srv, owner: owner, log: log, run: run, gate: gate})
	if err != nil {
		return err
	}
	if len(up) == 0 {
		log.Warn("no chat platform configured (telegram.token, slack.bot_token): serving HTTP and running timers only")
	}
	answerers := map[bot.Platform]bot.Answerer{}
	for _, p := range up {
		m.Platforms(p.name)
		answerers[p.name] = p.answerer
		w := a.Worker(p.name, p.messenger)
		w.Limiter, w.Observe, w.MaxAttempts = b.limiter, m.Sent, cfg.Delivery.MaxAttempts
		run("delivery/"+string(p.name), w.Run)
	}
	proc := &inbound.Processor{Inbox: b.inbox, Locker: b.locker, Marks: b.store, Handle: e.Handle, Answer: answerers, Owner: owner, Log: log.With("component", "inbound"), Observe: m.Update}
	run("inbound", proc.Run)
	runner := a.Runner()
	runner.Late = m.Late
	run("timers", runner.Run)
	cr := &scheduler.Cron{Marks: b.store, Log: log.With("component", "cron"), Loc: cfg.Location()}
	if err := a.Schedule(cr); err != nil {
		return err
	}
	run("cron", cr.Run)
	run("refusals", gate.Run)
	run("reconcile", func(ctx context.Context) error { return a.Reconcile(ctx, cfg.Reconcile.Interval.D()) })
	if err := a.Plan(runCtx); err != nil {
		log.Error("planning at start failed", "err", err)
	}
	run("http", func(ctx context.Context) error { return httpapi.Serve(ctx, cfg.HTTP.Listen, srv, log) })
	if cfg.HTTP.MetricsListen != "" {
		run("metrics", func(ctx context.Context) error { return httpapi.Serve(ctx, cfg.HTTP.MetricsListen, m.Handler(), log) })
	} else {
		srv.Mux().Handle("GET /metrics", m.Handler())
	}
	log.Info("tiltas serving", "version", versionString(), "listen", cfg.HTTP.Listen, "replica", owner)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			nc, err := loadConfig(path)
			if err != nil {
				log.Error("reload refused: config has problems; keeping the old one", "err", err)
				continue
			}
			if err := a.Reload(runCtx, nc); err != nil {
				log.Error("meeting series reload failed", "err", err)
			}
			log.Info("config reloaded", "people", len(nc.People), "meetings", len(nc.Meetings))
			continue
		case <-runCtx.Done():
		}
		break
	}
	stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(9 * time.Second):
		log.Warn("components still busy after 9s; exiting anyway (unfinished work is redelivered)")
	}
	failedMu.Lock()
	defer failedMu.Unlock()
	return failed
}

func integrations(cfg *config.Config) []httpapi.Integration {
	var out []httpapi.Integration
	for _, in := range cfg.Integrations {
		out = append(out, httpapi.Integration{ID: in.ID, Token: in.Token})
	}
	return out
}

// metricsHolder lets the Redis hook count errors before the metrics exist.
type metricsHolder struct {
	mu sync.Mutex
	m  *httpapi.Metrics
}

func (h *metricsHolder) set(m *httpapi.Metrics) { h.mu.Lock(); h.m = m; h.mu.Unlock() }
func (h *metricsHolder) redisError() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m != nil {
		h.m.RedisError()
	}
}

// platform is one running chat platform.
func invite(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	path := fs.String("c", "", "config `file`")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if *path == "" || len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: tiltas invite PERSON_ID -c FILE")
		return 2
	}
	cfg, err := loadStorageConfig(*path)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas invite: %s:\n%v\n", *path, err)
		return 2
	}
	b, err := connect(ctx, cfg, nil, bot.SystemClock)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas invite: %v\n", err)
		return 1
	}
	defer b.client.Close()
	e, err := engineFor(ctx, cfg, b)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas invite: %v\n", err)
		return 1
	}
	if e.Directory().Person(pos[0]) == nil {
		fmt.Fprintf(stderr, "tiltas invite: no active person %q in %s or among the people added in chat (tiltas people list)\n", pos[0], *path)
		return 2
	}
	code2, err := e.Invite(ctx, pos[0], "cli")
	if err != nil {
		fmt.Fprintf(stderr, "tiltas invite: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Invite code for %s (valid %d h, single use): %s\n", pos[0], int(cfg.Invites.TTL.D().Hours()), code2)
	fmt.Fprintf(stdout, "They send to the bot:  link %s\n", code2)
	if l := e.DeepLink(code2); l != "" {
		fmt.Fprintf(stdout, "Telegram link:         %s\n", l)
	}
	return 0
}

// noKeys is why serve does not start without encryption keys.
const noKeys = "encryption.keys is empty: case details about children would be stored in Redis unencrypted. " +
	"Make a key with `tiltas keygen` and give it (encryption.keys: [{id: k2026, key_env: TILTAS_KEY_2026}]), " +
	"or say `encryption: {disabled: true}` to run without"
