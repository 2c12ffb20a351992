package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/adapters/slack/slackfake"
	"github.com/tiltas/tiltas/bot"
)

const secret = "test-signing-secret"

// httpAdapter is an adapter in HTTP mode with its handler served, and the inbox it fills.
func httpAdapter(t *testing.T, maxBody int64) (*httptest.Server, *memory.Inbox, *memory.Store) {
	t.Helper()
	return httpAdapterOn(t, "http://127.0.0.1:1/api/", "xoxb-test", maxBody)
}

func httpAdapterOn(t *testing.T, apiURL, token string, maxBody int64) (*httptest.Server, *memory.Inbox, *memory.Store) {
	t.Helper()
	inbox := memory.NewInbox(nil)
	mem := memory.New(bot.SystemClock)
	ad, err := slack.New(slack.Config{BotToken: token, SigningSecret: secret, Mode: slack.ModeHTTP,
		APIURL: apiURL, MaxBody: maxBody}, slack.Deps{Inbox: inbox, Records: mem})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ad.Handler())
	t.Cleanup(srv.Close)
	return srv, inbox, mem
}

// queued takes everything in the inbox.
func queued(t *testing.T, inbox *memory.Inbox) []bot.Incoming {
	t.Helper()
	ins, err := inbox.Pull(context.Background(), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []bot.Incoming
	for _, in := range ins {
		out = append(out, in.Incoming)
		_ = inbox.Done(context.Background(), in)
	}
	return out
}

type request struct {
	path, ctype, body string
	signedAt          time.Time
	secret            string
	header            map[string]string
	method            string
}

func (r request) do(t *testing.T, base string) (*http.Response, string) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	req, err := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", r.ctype)
	if r.secret != "" {
		at := r.signedAt
		if at.IsZero() {
			at = time.Now()
		}
		ts, sig := slackfake.Sign(r.secret, at, []byte(r.body))
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", sig)
	}
	for k, v := range r.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func eventBody(eventID string, event map[string]any) string {
	b, _ := json.Marshal(map[string]any{"type": "event_callback", "team_id": "T1", "event_id": eventID, "event": event})
	return string(b)
}

func dmEvent(text string) map[string]any {
	return map[string]any{"type": "message", "channel": "DU1", "channel_type": "im", "user": "U1", "text": text, "ts": "1.000001"}
}

func TestHTTPRequestsAreVerifiedBeforeTheyAreRead(t *testing.T) {
	srv, inbox, _ := httpAdapter(t, 4096)
	event := eventBody("Ev1", dmEvent("labas"))
	tests := []struct {
		name   string
		req    request
		status int
		queued int
	}{
		{"signed", request{path: slack.EventsPath, ctype: "application/json", body: event, secret: secret}, 200, 1},
		{"wrong secret", request{path: slack.EventsPath, ctype: "application/json", body: eventBody("Ev2", dmEvent("x")), secret: "guess"}, 401, 0},
		{"stale timestamp", request{path: slack.EventsPath, ctype: "application/json", body: eventBody("Ev3", dmEvent("x")), secret: secret, signedAt: time.Now().Add(-6 * time.Minute)}, 401, 0},
		{"timestamp from the future", request{path: slack.EventsPath, ctype: "application/json", body: eventBody("Ev4", dmEvent("x")), secret: secret, signedAt: time.Now().Add(6 * time.Minute)}, 401, 0},
		{"no signature", request{path: slack.EventsPath, ctype: "application/json", body: eventBody("Ev5", dmEvent("x"))}, 401, 0},
		{"signature without timestamp", request{path: slack.EventsPath, ctype: "application/json", body: eventBody("Ev6", dmEvent("x")), secret: secret,
			header: map[string]string{"X-Slack-Request-Timestamp": ""}}, 401, 0},
		{"body changed after signing", request{path: slack.EventsPath, ctype: "application/json", body: eventBody("Ev7", dmEvent("x")), secret: secret,
			header: map[string]string{"X-Slack-Signature": "v0=" + strings.Repeat("ab", 32)}}, 401, 0},
		{"signed interactivity without payload", request{path: slack.InteractivityPath, ctype: "application/x-www-form-urlencoded", body: "x=1", secret: secret}, 400, 0},
		{"unsigned command", request{path: slack.CommandsPath, ctype: "application/x-www-form-urlencoded",
			body: url.Values{"command": {"/tiltas"}, "user_id": {"U1"}, "team_id": {"T1"}, "channel_id": {"DU1"}, "trigger_id": {"tr1"}}.Encode()}, 401, 0},
		{"too large", request{path: slack.EventsPath, ctype: "application/json", body: eventBody("Ev8", dmEvent(strings.Repeat("x", 5000))), secret: secret}, 413, 0},
		{"not JSON", request{path: slack.EventsPath, ctype: "application/json", body: "{", secret: secret}, 400, 0},
		{"GET", request{path: slack.EventsPath, method: http.MethodGet, secret: secret}, 405, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := tt.req.do(t, srv.URL)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := queued(t, inbox); len(got) != tt.queued {
				t.Errorf("queued %d updates, want %d", len(got), tt.queued)
			}
		})
	}
}

func TestHTTPURLVerificationAndRetriedEvents(t *testing.T) {
	srv, inbox, _ := httpAdapter(t, 0)
	resp, body := request{path: slack.EventsPath, ctype: "application/json", secret: secret,
		body: `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`}.do(t, srv.URL)
	var ch struct{ Challenge string }
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &ch) != nil || ch.Challenge != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("url_verification: %d %s", resp.StatusCode, body)
	}
	event := eventBody("Ev42", dmEvent("labas"))
	for retry, hdr := range []map[string]string{nil, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}, {"X-Slack-Retry-Num": "2"}} {
		if resp, _ := (request{path: slack.EventsPath, ctype: "application/json", body: event, secret: secret, header: hdr}).do(t, srv.URL); resp.StatusCode != 200 {
			t.Fatalf("delivery %d: status %d", retry, resp.StatusCode)
		}
	}
	if got := queued(t, inbox); len(got) != 1 || got[0].ID != "slack:ev:Ev42" {
		t.Fatalf("a retried event queued as %+v, want once", got)
	}
}

// failingInbox refuses every push.
type failingInbox struct{ *memory.Inbox }

func (failingInbox) Push(context.Context, bot.Incoming) (bool, error) {
	return false, context.DeadlineExceeded
}

func TestHTTPAnswers500WhenTheInboxFails(t *testing.T) {
	ad, err := slack.New(slack.Config{BotToken: "xoxb-test", SigningSecret: secret, Mode: slack.ModeHTTP},
		slack.Deps{Inbox: failingInbox{}, Records: memory.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ad.Handler())
	defer srv.Close()
	resp, _ := request{path: slack.EventsPath, ctype: "application/json", body: eventBody("Ev1", dmEvent("x")), secret: secret}.do(t, srv.URL)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d: Slack must hear that the event was not taken, so that it retries", resp.StatusCode)
	}
}

func TestConversion(t *testing.T) {
	fake := slackfake.New(t, slackfake.Options{})
	srv, inbox, mem := httpAdapterOn(t, fake.APIURL(), fake.Options().BotToken, 0)
	// U2 has a known direct-message channel with the bot.
	if _, err := bot.Save(context.Background(), mem, "slack/dm/T1/U2", map[string]string{"chat": "DBOT2"}, bot.Any); err != nil {
		t.Fatal(err)
	}
	ev := func(id string, e map[string]any) request {
		return request{path: slack.EventsPath, ctype: "application/json", body: eventBody(id, e), secret: secret}
	}
	cmd := func(channel, user, command, text string) request {
		return request{path: slack.CommandsPath, ctype: "application/x-www-form-urlencoded", secret: secret,
			body: url.Values{"team_id": {"T1"}, "channel_id": {channel}, "user_id": {user}, "command": {command}, "text": {text},
				"response_url": {"https://hooks.slack.com/commands/T1/1/x"}, "trigger_id": {"tr." + user + channel + text}}.Encode()}
	}
	action := func(channel string) request {
		p, _ := json.Marshal(map[string]any{"type": "block_actions", "team": map[string]any{"id": "T1"},
			"user": map[string]any{"id": "U1", "team_id": "T1"}, "channel": map[string]any{"id": channel},
			"container":  map[string]any{"type": "message", "message_ts": "17.000100", "channel_id": channel},
			"trigger_id": "tr.act." + channel, "response_url": "https://hooks.slack.com/actions/T1/2/y",
			"actions": []map[string]any{{"type": "button", "action_id": "b0-0", "value": "tok123", "action_ts": "18.1"}}})
		return request{path: slack.InteractivityPath, ctype: "application/x-www-form-urlencoded", secret: secret,
			body: url.Values{"payload": {string(p)}}.Encode()}
	}
	dm := bot.Address{Platform: bot.Slack, Team: "T1", Chat: "DU1", User: "U1"}
	me := slack.Identity("T1", "U1")
	tests := []struct {
		name  string
		setup func()
		req   request
		want  *bot.Incoming // nil: acknowledged and dropped
	}{
		{"direct message, Slack's escapes undone", nil, ev("E1", dmEvent("a &lt; b &amp;&amp; c")),
			&bot.Incoming{ID: "slack:ev:E1", From: me, Chat: dm, Text: "a < b && c", Kind: "message"}},
		{"link CODE in a direct message", nil, ev("E2", dmEvent("link ABCD2345")),
			&bot.Incoming{ID: "slack:ev:E2", From: me, Chat: dm, Text: "link ABCD2345", Kind: "message"}},
		{"bot message", nil, ev("E3", map[string]any{"type": "message", "channel": "DU1", "channel_type": "im", "user": "U1", "bot_id": "B1", "text": "x"}), nil},
		{"edit", nil, ev("E4", map[string]any{"type": "message", "subtype": "message_changed", "channel": "DU1", "channel_type": "im", "message": map[string]any{"user": "U1", "text": "x"}}), nil},
		{"file share", nil, ev("E5", map[string]any{"type": "message", "subtype": "file_share", "channel": "DU1", "channel_type": "im", "user": "U1", "text": ""}), nil},
		{"channel chatter", nil, ev("E6", map[string]any{"type": "message", "channel": "C1", "channel_type": "channel", "user": "U1", "text": "/concern K-2026-1"}), nil},
		{"mention in a channel", nil, ev("E7", map[string]any{"type": "app_mention", "channel": "C1", "user": "U1", "text": "<@UBOT> concern K-2026-1", "ts": "5.5"}),
			&bot.Incoming{ID: "slack:ev:E7", From: me, Chat: bot.Address{Platform: bot.Slack, Team: "T1", Chat: "C1", Thread: "5.5", Group: true}, Text: "/concern K-2026-1", Kind: "mention"}},
		{"bare mention", nil, ev("E8", map[string]any{"type": "app_mention", "channel": "C1", "user": "U1", "text": "<@UBOT>", "ts": "5.6", "thread_ts": "5.0"}),
			&bot.Incoming{ID: "slack:ev:E8", From: me, Chat: bot.Address{Platform: bot.Slack, Team: "T1", Chat: "C1", Thread: "5.0", Group: true}, Text: "/help", Kind: "mention"}},
		{"mention in passing", nil, ev("E9", map[string]any{"type": "app_mention", "channel": "C1", "user": "U1", "text": "ask <@UBOT> later", "ts": "5.7"}), nil},
		{"/tiltas concern", nil, cmd("C1", "U1", "/tiltas", "concern K-2026-1 skubu smurtas"),
			&bot.Incoming{ID: "slack:cmd:tr.U1C1concern K-2026-1 skubu smurtas", From: me, Chat: bot.Address{Platform: bot.Slack, Team: "T1", Chat: "C1", Group: true},
				Text: "/concern K-2026-1 skubu smurtas", Callback: "https://hooks.slack.com/commands/T1/1/x", Kind: "command"}},
		{"/tiltas link CODE in a DM between two people", nil, cmd("DPEER", "U1", "/tiltas", "link ABCD2345"),
			&bot.Incoming{ID: "slack:cmd:tr.U1DPEERlink ABCD2345", From: me, Chat: dm,
				Text: "link ABCD2345", Callback: "https://hooks.slack.com/commands/T1/1/x", Kind: "command"}},
		{"/tiltas in the bot's DM", nil, cmd("DBOT2", "U2", "/tiltas", ""),
			&bot.Incoming{ID: "slack:cmd:tr.U2DBOT2", From: slack.Identity("T1", "U2"), Chat: bot.Address{Platform: bot.Slack, Team: "T1", Chat: "DBOT2", User: "U2"},
				Text: "/help", Callback: "https://hooks.slack.com/commands/T1/1/x", Kind: "command"}},
		{"another command of the app", nil, cmd("DU1", "U1", "/concern", "K-2026-1"),
			&bot.Incoming{ID: "slack:cmd:tr.U1DU1K-2026-1", From: me, Chat: dm,
				Text: "/concern K-2026-1", Callback: "https://hooks.slack.com/commands/T1/1/x", Kind: "command"}},
		{"button in a DM", nil, action("DU1"),
			&bot.Incoming{ID: "slack:act:tr.act.DU1", From: me, Chat: dm, Button: "tok123", Callback: "https://hooks.slack.com/actions/T1/2/y", Kind: "callback",
				Message: &bot.MessageRef{Platform: bot.Slack, Team: "T1", Chat: "DU1", ID: "17.000100"}}},
		{"button in a channel", nil, action("C9"),
			&bot.Incoming{ID: "slack:act:tr.act.C9", From: me, Chat: bot.Address{Platform: bot.Slack, Team: "T1", Chat: "C9", Group: true}, Button: "tok123",
				Callback: "https://hooks.slack.com/actions/T1/2/y", Kind: "callback", Message: &bot.MessageRef{Platform: bot.Slack, Team: "T1", Chat: "C9", ID: "17.000100"}}},
		{"Slack cannot say which DM: the reply opens it", func() { fake.Fail(slackfake.Fault{Method: "conversations.open", Error: "internal_error"}) },
			cmd("DPEER", "U3", "/tiltas", "help"),
			&bot.Incoming{ID: "slack:cmd:tr.U3DPEERhelp", From: slack.Identity("T1", "U3"), Chat: slack.DM("T1", "U3"),
				Text: "/help", Callback: "https://hooks.slack.com/commands/T1/1/x", Kind: "command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			if resp, body := tt.req.do(t, srv.URL); resp.StatusCode != 200 || body != "" {
				t.Fatalf("answered %d %q, want an empty 200", resp.StatusCode, body)
			}
			got := queued(t, inbox)
			if tt.want == nil {
				if len(got) != 0 {
					t.Fatalf("queued %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("queued %d updates, want 1", len(got))
			}
			g, w := mustJSON(got[0]), mustJSON(*tt.want)
			if g != w {
				t.Errorf("queued\n%s\nwant\n%s", g, w)
			}
		})
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// A slash command without trigger_id (older clients, some proxies) is keyed by a hash: the same
// command from the same person in the same conversation is one update, and its text (a case code,
// a description) never reaches a key name or the log through its ID.
func TestCommandWithoutTriggerIDIsKeyedByAHash(t *testing.T) {
	fake := slackfake.New(t, slackfake.Options{})
	srv, inbox, _ := httpAdapterOn(t, fake.APIURL(), fake.Options().BotToken, 0)
	cmd := func(text string) request {
		return request{path: slack.CommandsPath, ctype: "application/x-www-form-urlencoded", secret: secret,
			body: url.Values{"team_id": {"T1"}, "channel_id": {"C1"}, "user_id": {"U1"}, "command": {"/tiltas"}, "text": {text},
				"response_url": {"https://hooks.slack.com/commands/T1/1/x"}}.Encode()}
	}
	var ids []string
	for _, text := range []string{"concern K-2026-7 skubu", "concern K-2026-7 skubu", "concern K-2026-8 skubu"} {
		if resp, _ := cmd(text).do(t, srv.URL); resp.StatusCode != 200 {
			t.Fatalf("answered %d", resp.StatusCode)
		}
		for _, in := range queued(t, inbox) {
			ids = append(ids, in.ID)
		}
	}
	if len(ids) != 2 {
		t.Fatalf("queued %q: want the repeated command once and the other once", ids)
	}
	for _, id := range ids {
		if !strings.HasPrefix(id, "slack:cmd:h") || strings.Contains(id, "K-2026") || strings.Contains(id, "skubu") {
			t.Errorf("ID %q: want a hash, not the text", id)
		}
	}
}
