package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
)

// finding is one thing doctor found: ok, a warning, or a blocker (serve would not work as
// configured), with what to do about it.
type finding struct {
	level     string // "ok", "warn", "FAIL"
	what, fix string
}

// doctor checks a deployment end to end: the config, Redis and its persistence, the encryption
// keys, each platform's token, webhook and the bot's membership in every configured group, and
// the people routing rules name who have no chat account. Blockers make it exit 1.
func doctor(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	path := fs.String("c", "", "config `file`")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if *path == "" {
		fmt.Fprintln(stderr, "tiltas doctor: -c FILE is required")
		return 2
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas doctor: %s (run check-config for the list):\n%v\n", *path, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	found := diagnose(ctx, cfg)
	blockers := 0
	for _, f := range found {
		fmt.Fprintf(stdout, "%-4s %s\n", f.level, f.what)
		if f.fix != "" {
			fmt.Fprintf(stdout, "     fix: %s\n", f.fix)
		}
		if f.level == "FAIL" {
			blockers++
		}
	}
	if blockers > 0 {
		fmt.Fprintf(stdout, "\n%d blocker(s): fix them, then run tiltas doctor again.\n", blockers)
		return 1
	}
	fmt.Fprintln(stdout, "\nNo blockers.")
	return 0
}

func diagnose(ctx context.Context, cfg *config.Config) []finding {
	var out []finding
	add := func(level, what, fix string) { out = append(out, finding{level, what, fix}) }
	for _, w := range cfg.Warnings {
		add("warn", w, "")
	}
	switch {
	case len(cfg.Encryption.Keys) > 0:
		add("ok", fmt.Sprintf("encryption: %d key(s), newest %s", len(cfg.Encryption.Keys), cfg.Encryption.Keys[0].ID), "")
	case cfg.Encryption.Disabled:
		add("warn", "encryption is disabled: case details are stored in Redis unencrypted", "tiltas keygen, then encryption.keys")
	default:
		add("FAIL", "encryption.keys is empty: serve will not start", "tiltas keygen, then encryption.keys (or encryption: {disabled: true})")
	}
	b, err := connect(ctx, cfg, nil, bot.SystemClock)
	if err != nil {
		add("FAIL", "Redis: "+err.Error(), "start Redis, or correct redis.url")
		return out
	}
	defer b.client.Close()
	add("ok", "Redis answers", "")
	if aof, known := appendOnly(ctx, b); !known {
		add("warn", "Redis: cannot tell whether it keeps an append-only file (CONFIG and INFO refused)", "make sure appendonly is yes")
	} else if !aof {
		add("FAIL", "Redis keeps no append-only file: a crash loses what was written since the last snapshot (messages, timers)", "appendonly yes in redis.conf (or CONFIG SET appendonly yes, then CONFIG REWRITE)")
	} else {
		add("ok", "Redis keeps an append-only file", "")
	}
	out = append(out, keyFindings(ctx, cfg, b)...)
	groups := map[string][]string{} // platform → chats
	groupOf := map[string]string{}  // chat → group ID
	for _, g := range cfg.Groups {
		groups[g.Platform] = append(groups[g.Platform], g.Chat)
		groupOf[g.Chat] = g.ID
	}
	if cfg.Telegram.Token != "" {
		t, err := telegram.New(telegramConfig(cfg), telegram.Deps{Inbox: b.inbox, Locker: b.locker, Records: b.store})
		if err != nil {
			add("FAIL", "telegram: "+err.Error(), "")
		} else {
			h := t.Diagnose(ctx, groups["telegram"])
			t.Close()
			out = append(out, telegramFindings(cfg, h, groupOf)...)
		}
	}
	if cfg.Slack.BotToken != "" {
		s, err := slack.New(slackConfig(cfg), slack.Deps{Inbox: b.inbox, Records: b.store})
		if err != nil {
			add("FAIL", "slack: "+err.Error(), "")
		} else {
			h := s.Diagnose(ctx, groups["slack"])
			switch {
			case h.Err != nil:
				add("FAIL", "slack.bot_token: refused by Slack: "+h.Err.Error(), "the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page")
			default:
				add("ok", fmt.Sprintf("slack: the bot user %s in workspace %s", h.User, h.Team), "")
				for _, ch := range slices.Sorted(maps.Keys(h.Missing)) {
					add("FAIL", fmt.Sprintf("group %s: the app cannot post in Slack channel %s: %s", groupOf[ch], ch, h.Missing[ch]), "invite the app to the channel (/invite @app), or correct the group's chat")
				}
			}
		}
	}
	if cfg.Telegram.Token == "" && cfg.Slack.BotToken == "" {
		add("warn", "no chat platform configured: nobody can be reached", "telegram.token_env or slack.bot_token_env")
	}
	if e, err := engineFor(ctx, cfg, b); err == nil {
		var unlinked []string
		dir := e.Directory() // the people added in chat too
		for _, r := range cfg.AlertsFlow().Rules {
			for _, s := range r.Steps {
				for _, p := range dir.Resolve(s.Audience) {
					if slices.Contains(unlinked, p) {
						continue
					}
					if _, err := e.AddressOf(ctx, p); err != nil {
						unlinked = append(unlinked, p)
					}
				}
			}
		}
		if len(unlinked) > 0 {
			add("warn", fmt.Sprintf("%d people in alert routing rules have no linked chat account, so alerts skip them: %s", len(unlinked), strings.Join(unlinked, ", ")),
				"tiltas invite PERSON_ID for each, and have them send the code to the bot")
		} else {
			add("ok", "everyone in the alert routing rules has a linked chat account", "")
		}
	}
	return out
}

// keyFindings reads every stored value and tells whether the configured keys open it: a key
// removed or given another secret makes the data it sealed unreadable, which serve only finds
// when someone asks for that case.
func keyFindings(ctx context.Context, cfg *config.Config, b *backend) []finding {
	u, err := b.store.KeyUse(ctx)
	if err != nil {
		return []finding{{"FAIL", "Redis: reading the stored data: " + err.Error(), ""}}
	}
	var out []finding
	count := func(m map[string]int) (n int, ids []string) {
		for _, id := range slices.Sorted(maps.Keys(m)) {
			n += m[id]
			ids = append(ids, fmt.Sprintf("%s (%d)", id, m[id]))
		}
		return n, ids
	}
	if n, ids := count(u.Unreadable); n > 0 {
		out = append(out, finding{"FAIL", fmt.Sprintf("%d of %d stored values cannot be opened with the configured keys; they were sealed with %s, a key the config lacks or holds with another secret",
			n, u.Values, strings.Join(ids, ", ")), "put that key back in encryption.keys (after the newest) with its old secret, then tiltas rekey"})
	}
	old := maps.Clone(u.Opened)
	if len(cfg.Encryption.Keys) > 0 {
		delete(old, cfg.Encryption.Keys[0].ID)
	}
	if n, ids := count(old); n > 0 {
		out = append(out, finding{"warn", fmt.Sprintf("%d stored values are still sealed with older keys: %s", n, strings.Join(ids, ", ")),
			"tiltas rekey -c FILE; then the older keys can be removed"})
	}
	if u.Plain > 0 && len(cfg.Encryption.Keys) > 0 {
		out = append(out, finding{"warn", fmt.Sprintf("%d stored values are not encrypted (written while encryption was off)", u.Plain), "tiltas rekey -c FILE"})
	}
	if len(out) == 0 {
		out = append(out, finding{"ok", fmt.Sprintf("all %d stored values open with the configured keys", u.Values), ""})
	}
	return out
}

func telegramFindings(cfg *config.Config, h telegram.Health, groupOf map[string]string) []finding {
	var out []finding
	add := func(level, what, fix string) { out = append(out, finding{level, what, fix}) }
	if h.Err != nil {
		add("FAIL", "telegram.token: refused by Telegram: "+h.Err.Error(), "a token from @BotFather (/mybots → API Token)")
		return out
	}
	add("ok", "telegram: the bot @"+h.Username, "")
	want := ""
	if cfg.Telegram.Mode == telegram.ModeWebhook {
		want = telegramConfig(cfg).WebhookURL
	}
	switch {
	case want == "" && h.Webhook != "":
		add("warn", "telegram: a webhook is set ("+h.Webhook+") while the config polls", "serve removes it at start; if another program set it, that program will stop getting updates")
	case want != "" && h.Webhook != want:
		add("warn", fmt.Sprintf("telegram: the webhook is %q, not %q", h.Webhook, want), "serve sets it at start")
	case want != "" && h.WebhookError != "":
		add("FAIL", "telegram: Telegram cannot deliver to the webhook: "+h.WebhookError, "http.public_url must reach serve over HTTPS with a valid certificate")
	}
	for _, chat := range slices.Sorted(maps.Keys(h.Missing)) {
		add("FAIL", fmt.Sprintf("group %s: the bot is not in Telegram chat %s: %s", groupOf[chat], chat, h.Missing[chat]), "add the bot to the group, or correct the group's chat ID")
	}
	return out
}

// appendOnly reports whether Redis keeps an AOF; known false when it will not say (a managed
// Redis may refuse CONFIG).
func appendOnly(ctx context.Context, b *backend) (aof, known bool) {
	if v, err := b.client.ConfigGet(ctx, "appendonly").Result(); err == nil {
		if s, ok := v["appendonly"]; ok {
			return s == "yes", true
		}
	}
	info, err := b.client.Info(ctx, "persistence").Result()
	if err != nil {
		return false, false
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "aof_enabled:"); ok {
			return v == "1", true
		}
	}
	return false, false
}
