package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/redistest"
)

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serveConfig is the example municipality on the test Redis, with an integration and an
// encryption key.
func serveConfig(t *testing.T) (*config.Config, string) {
	t.Helper()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	addr := freeAddr(t)
	raw := withoutExampleKeys(string(config.Example()))
	raw = strings.Replace(raw, "url: redis://127.0.0.1:6379/0", "url: "+os.Getenv("TILTAS_TEST_REDIS_URL"), 1)
	raw = strings.Replace(raw, "prefix: tiltas", "prefix: "+prefix, 1)
	raw = strings.Replace(raw, `listen: ":8080"`, `listen: "`+addr+`"`, 1)
	raw = strings.Replace(raw, `metrics_listen: ":9090"`, `metrics_listen: "`+freeAddr(t)+`"`, 1)
	raw += `
integrations:
  - {id: policijos-registras, institution: policija, token: "integration-token-0123456789"}
encryption:
  keys:
    - {id: k1, key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
`
	path := t.TempDir() + "/tiltas.yaml"
	if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

func TestServeAnswersAndStopsWithinTenSeconds(t *testing.T) {
	cfg, path := serveConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	// As after a Redis restart: no script loaded, so go-redis meets NOSCRIPT for each at first.
	if err := redistest.Client(t).ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, cfg, path, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	base := "http://" + cfg.HTTP.Listen
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never became healthy: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"redis":"ok"`) {
		t.Errorf("readyz = %d %s", code, body)
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/alerts", strings.NewReader(`{"case":"K-2026-300","category":"violence","urgency":"urgent","description":"Planted secret detail"}`))
	req.Header.Set("Authorization", "Bearer integration-token-0123456789")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST alert = %d", resp.StatusCode)
	}
	if code, _ := get("/metrics"); code != 404 {
		t.Errorf("/metrics on the main listener = %d, want 404 when metrics_listen is set", code)
	}
	api := base
	base = "http://" + cfg.HTTP.MetricsListen // its own listener
	code, metrics := get("/metrics")
	base = api
	for _, series := range []string{"tiltas_outbox_depth", "tiltas_outbox_oldest_seconds", "tiltas_timer_lateness_seconds", "tiltas_redis_errors_total", "tiltas_escalations_total", "tiltas_dialogs_expired_total"} {
		if code != 200 || !strings.Contains(metrics, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	// A healthy start and run: the normal NOSCRIPT fallback and consumer groups made on start
	// are not errors; an alert on this counter must not page anyone on every restart.
	if !strings.Contains(metrics, "\ntiltas_redis_errors_total 0\n") {
		t.Errorf("a healthy start counted Redis errors:\n%s", grepLines(metrics, "tiltas_redis_errors_total"))
	}
	if code, _ := get("/calendar/not-a-token.ics"); code != 404 {
		t.Errorf("unknown calendar token = %d, want 404", code)
	}
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
		if d := time.Since(stopped); d > 10*time.Second {
			t.Errorf("stopped after %v", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	fmt.Fprintln(io.Discard, metrics)
}

// TestServeOverTelegram runs the whole binary's wiring against a fake Telegram: a new person
// links with an invite code and gets their help in Lithuanian, and the command menu is set.
func TestServeOverTelegram(t *testing.T) {
	fake := telegramtest.New(t, telegramtest.Options{})
	cfg, path := serveConfig(t)
	cfg.Telegram.Token, cfg.Telegram.APIURL, cfg.Telegram.Mode = fake.Token(), fake.URL(), "polling"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, cfg, path, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	// An operator makes an invite, as `tiltas invite` does.
	b, err := connect(ctx, cfg, nil, bot.SystemClock)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engineFor(ctx, cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	code, err := e.Invite(ctx, "ona-p", "cli")
	if err != nil {
		t.Fatal(err)
	}
	wait, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if _, err := fake.WaitFor(wait, func(c telegramtest.Call) bool { return c.Method == "setMyCommands" }); err != nil {
		t.Fatalf("no command menu: %v", err)
	}
	fake.PushUpdate(fake.PrivateMessage(4242, "/start "+code))
	call, err := fake.WaitFor(wait, func(c telegramtest.Call) bool {
		return c.Method == "sendMessage" && fmt.Sprint(c.Params["chat_id"]) == "4242"
	})
	if err != nil {
		t.Fatalf("no reply to /start: %v", err)
	}
	if text := fmt.Sprint(call.Params["text"]); !strings.Contains(text, "Jūsų paskyra susieta (Ona Petraitienė)") {
		t.Errorf("reply = %q", text)
	}
	var code2 int
	var body string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + cfg.HTTP.Listen + "/readyz")
		if err != nil {
			continue // not listening yet
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		code2, body = resp.StatusCode, string(b)
		if code2 == 200 {
			break
		}
	}
	if code2 != 200 || !strings.Contains(body, `"telegram":"ok"`) {
		t.Errorf("readyz = %d %s", code2, body)
	}
}

// TestServeFailsWhenItCannotListen: a replica whose HTTP port is taken stops with an error (a
// non-zero exit), not as if it had been asked to stop.
func TestServeFailsWhenItCannotListen(t *testing.T) {
	cfg, path := serveConfig(t)
	l, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		done <- runServe(context.Background(), cfg, path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "http") {
			t.Fatalf("serve = %v, want an http error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve kept running without its listener")
	}
}

// TestRedisErrorsCountEachFailedCommand: with the autopipeliner many callers' commands travel in
// one pipeline; the error count counts each that failed, and "no such key" is not an error.
func TestRedisErrorsCountEachFailedCommand(t *testing.T) {
	ctx := t.Context()
	redistest.Client(t) // fails the test when there is no Redis
	c, err := redis.Connect(ctx, os.Getenv("TILTAS_TEST_REDIS_URL"), redis.Topology{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n atomic.Int64
	c.AddHook(errorHook{func() { n.Add(1) }})
	key := redistest.Prefix(t, c) + ":not-a-number"
	if err := c.Set(ctx, key, "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Incr(ctx, key) // fails: not an integer
		p.Get(ctx, key+":missing")
		p.Incr(ctx, key) // fails again
		return nil
	})
	if got := n.Load(); got != 2 {
		t.Errorf("counted %d failed commands, want 2", got)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

var reExampleKeys = regexp.MustCompile(`(?m)^encryption:[^\n]*\n(?:[ ]+[^\n]*\n)*`)

// withoutExampleKeys drops the example's encryption section (its key comes from an environment
// variable), for a test that gives its own.
func withoutExampleKeys(raw string) string { return reExampleKeys.ReplaceAllString(raw, "") }

// http.desk_listen puts the desk on a listener of its own, and off the main one.
func TestDeskOnItsOwnListener(t *testing.T) {
	cfg, path := serveConfig(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	deskAddr := freeAddr(t)
	raw = []byte(strings.Replace(string(raw), `listen: "`+cfg.HTTP.Listen+`"`, `listen: "`+cfg.HTTP.Listen+`"`+"\n  desk_listen: \""+deskAddr+"\"", 1))
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = config.Load(path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, cfg, path, slog.New(slog.DiscardHandler)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	status := func(u string) int {
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", u, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if code := status("http://" + deskAddr + "/desk/"); code != http.StatusUnauthorized {
		t.Errorf("the desk's own listener: /desk/ = %d, want 401 (the sign-in instructions)", code)
	}
	if code := status("http://" + deskAddr + "/assets/tiltas.css"); code != 200 {
		t.Errorf("the desk's stylesheet on its listener = %d", code)
	}
	if code := status("http://" + cfg.HTTP.Listen + "/desk/"); code != http.StatusNotFound {
		t.Errorf("the main listener still serves the desk: %d", code)
	}
}
