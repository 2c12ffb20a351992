package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/adapters/slack/slackfake"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/redistest"
)

// doctorConfig is the example municipality on redisURL with Telegram and Slack on the fakes.
func doctorConfig(t *testing.T, redisURL, tgToken, tgURL, slackURL string) string {
	t.Helper()
	raw := string(config.Example())
	raw = strings.Replace(raw, "url: redis://127.0.0.1:6379/0", "url: "+redisURL, 1)
	raw = strings.Replace(raw, "# telegram:", fmt.Sprintf("telegram: {token: %q, api_url: %q, bot_username: tiltas_test_bot}\n# telegram:", tgToken, tgURL), 1)
	raw = strings.Replace(raw, "# slack:", fmt.Sprintf("slack: {bot_token: %q, app_token: %q, api_url: %q}\n# slack:", slackfake.DefaultBotToken, slackfake.DefaultAppToken, slackURL), 1)
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tiltas doctor names each finding with its fix, and exits 1 on a blocker: a token Telegram
// refuses, a bot missing from a group, an app missing from a channel, Redis without AOF. People
// in routing rules without an account are a warning.
func TestDoctor(t *testing.T) {
	t.Setenv("TILTAS_KEY_2026", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	withAOF := redistest.Own(t, "--appendonly", "yes")
	noAOF := redistest.Own(t)
	aofURL := "redis://" + withAOF.Options().Addr + "/0"
	plainURL := "redis://" + noAOF.Options().Addr + "/0"

	tg := telegramtest.New(t, telegramtest.Options{})
	sl := slackfake.New(t, slackfake.Options{})

	out, errs, code := runCLI(t, "", "doctor", "-c", doctorConfig(t, aofURL, tg.Token(), tg.URL(), sl.APIURL()))
	if code != 0 {
		t.Fatalf("a healthy setup: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"ok   Redis keeps an append-only file", "ok   telegram: the bot @", "ok   slack: the bot user", "ok   encryption: 1 key(s), newest k2026", "stored values open with the configured keys",
		"warn", "people in alert routing rules have no linked chat account", "fix: tiltas invite PERSON_ID"} {
		if !strings.Contains(out, want) {
			t.Errorf("healthy: missing %q in:\n%s", want, out)
		}
	}

	for _, tt := range []struct {
		name  string
		setup func() string // returns the config path
		want  string
	}{
		{"a token Telegram refuses", func() string {
			wrong := telegramtest.New(t, telegramtest.Options{AllowInvalid: true}) // it counts a 401 as a client's mistake
			return doctorConfig(t, aofURL, "987654321:WRONG-token", wrong.URL(), sl.APIURL())
		}, "FAIL telegram.token: refused by Telegram"},
		{"the bot is not in a group", func() string {
			tg.RemoveChat(-1001234567890)
			return doctorConfig(t, aofURL, tg.Token(), tg.URL(), sl.APIURL())
		}, "FAIL group vtas-grupe: the bot is not in Telegram chat -1001234567890"},
		{"the app is not in a channel", func() string {
			sl.Fail(slackfake.Fault{Method: "conversations.info", Error: "channel_not_found"})
			return doctorConfig(t, aofURL, tg.Token(), tg.URL(), sl.APIURL())
		}, "FAIL group policija-kanalas: the app cannot post in Slack channel C0000000"},
		{"Redis without AOF", func() string {
			return doctorConfig(t, plainURL, tg.Token(), tg.URL(), sl.APIURL())
		}, "FAIL Redis keeps no append-only file"},
		{"data sealed with a key the config no longer holds", func() string {
			path := doctorConfig(t, aofURL, tg.Token(), tg.URL(), sl.APIURL())
			// A case written while k2026 had another secret (a key typed anew, not restored).
			t.Setenv("TILTAS_KEY_2026", "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=")
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			b, err := connect(t.Context(), cfg, nil, bot.SystemClock)
			if err != nil {
				t.Fatal(err)
			}
			defer b.client.Close()
			if _, err := b.store.Write(t.Context(), bot.Write{Key: "case/K-2026-001", Data: []byte(`{"code":"K-2026-001"}`)}); err != nil {
				t.Fatal(err)
			}
			t.Setenv("TILTAS_KEY_2026", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
			return path
		}, "FAIL 1 of 1 stored values cannot be opened with the configured keys; they were sealed with k2026 (1)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runCLI(t, "", "doctor", "-c", tt.setup())
			if code != 1 || !strings.Contains(out, tt.want) || !strings.Contains(out, "fix: ") {
				t.Errorf("exit %d, want 1 and %q:\n%s%s", code, tt.want, out, errs)
			}
		})
	}
}
