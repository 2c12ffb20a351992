package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
	"go.uber.org/goleak"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/adapters/slack/slackfake"
	"github.com/tiltas/tiltas/bot"
)

// runSocket runs the adapter's Socket Mode until the test ends.
func runSocket(t *testing.T, ad *slack.Adapter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ad.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

// TestSocketModeOverSlacktest drives the adapter through slack-go's own test server: its
// apps.connections.open and websocket, with Socket Mode envelopes pushed by SendToWebsocket and
// the acks read back from its feed of what the client wrote; then a send through its
// chat.postMessage (which parses our blocks with slack-go's own types) and a toast through its
// chat.postEphemeral.
func TestSocketModeOverSlacktest(t *testing.T) {
	// slacktest logs on the standard logger, including a burst of read errors from its websocket
	// after the client hangs up; none of it is ours.
	log.SetOutput(io.Discard)
	sts := slacktest.NewTestServer()
	sts.Start()
	t.Cleanup(sts.Stop)
	seen := make(chan string, 64)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case m := <-sts.SeenFeed: // slacktest stalls unless this is drained
				select {
				case seen <- m:
				default:
				}
			case <-stop:
				return
			}
		}
	}()
	inbox := memory.NewInbox(nil)
	ad, err := slack.New(slack.Config{BotToken: "xoxb-slacktest", AppToken: "xapp-slacktest", APIURL: sts.GetAPIURL()},
		slack.Deps{Inbox: inbox, Records: memory.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	runSocket(t, ad)

	envelope := func(id, kind string, payload any, retry int) string {
		b, _ := json.Marshal(map[string]any{"envelope_id": id, "type": kind, "payload": payload, "retry_attempt": retry,
			"accepts_response_payload": kind != "events_api"})
		return string(b)
	}
	event := map[string]any{"type": "event_callback", "team_id": "T1", "event_id": "EvST1",
		"event": map[string]any{"type": "message", "channel": "DU1", "channel_type": "im", "user": "U1", "text": "labas", "ts": "1.1"}}
	tests := []struct {
		name, envelope string
		queued         string // the update ID queued, or "" for none
	}{
		{"hello", `{"type":"hello","num_connections":1,"debug_info":{"host":"slacktest"},"connection_info":{"app_id":"A1"}}`, ""},
		{"direct message", envelope("env-1", "events_api", event, 0), "slack:ev:EvST1"},
		{"the same event again", envelope("env-2", "events_api", event, 1), ""},
		{"bot message", envelope("env-3", "events_api", map[string]any{"type": "event_callback", "team_id": "T1", "event_id": "EvST2",
			"event": map[string]any{"type": "message", "channel": "DU1", "channel_type": "im", "user": "U1", "bot_id": "B1", "text": "x"}}, 0), ""},
		{"button", envelope("env-4", "interactive", map[string]any{"type": "block_actions", "team": map[string]any{"id": "T1"},
			"user": map[string]any{"id": "U1", "team_id": "T1"}, "channel": map[string]any{"id": "DU1"}, "trigger_id": "tr-st-1",
			"container":    map[string]any{"type": "message", "message_ts": "2.2", "channel_id": "DU1"},
			"response_url": "https://hooks.slack.com/actions/T1/1/z",
			"actions":      []map[string]any{{"type": "button", "action_id": "b0-0", "value": "tok", "action_ts": "3.3"}}}, 0), "slack:act:tr-st-1"},
		{"slash command", envelope("env-5", "slash_commands", map[string]string{"team_id": "T1", "channel_id": "C1", "user_id": "U1",
			"command": "/tiltas", "text": "help", "trigger_id": "tr-st-2", "response_url": "https://hooks.slack.com/commands/T1/2/z"}, 0), "slack:cmd:tr-st-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sts.SendToWebsocket(tt.envelope)
			var env struct {
				EnvelopeID string `json:"envelope_id"`
			}
			_ = json.Unmarshal([]byte(tt.envelope), &env)
			if env.EnvelopeID != "" {
				select {
				case ack := <-seen:
					var got struct {
						EnvelopeID string `json:"envelope_id"`
					}
					if err := json.Unmarshal([]byte(ack), &got); err != nil || got.EnvelopeID != env.EnvelopeID {
						t.Fatalf("ack %s, want envelope %s", ack, env.EnvelopeID)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("envelope %s not acknowledged", env.EnvelopeID)
				}
			}
			var ids []string
			for _, in := range queued(t, inbox) {
				ids = append(ids, in.ID)
			}
			if got := strings.Join(ids, ","); got != tt.queued {
				t.Errorf("queued %q, want %q", got, tt.queued)
			}
		})
	}

	// slacktest's chat.postMessage decodes our blocks with slack-go's own Block Kit types.
	ref, err := ad.Send(context.Background(), slack.Channel("T1", "C1"), bot.Message{Title: "Antraštė", Lines: []string{"<!channel>"},
		Buttons: [][]bot.Button{{{Label: "Gerai", Token: "tok"}}}})
	if err != nil || ref.Chat != "C1" || ref.ID == "" {
		t.Fatalf("send through slacktest: %+v, %v", ref, err)
	}
	// slacktest's chat.postEphemeral passes the message on to its websocket feed.
	in := bot.Incoming{From: slack.Identity("T1", "U1"), Chat: bot.Address{Platform: bot.Slack, Team: "T1", Chat: "DU1", User: "U1"}}
	if err := ad.Answer(context.Background(), in, bot.Response{Toast: "<@U2> & co"}); err != nil {
		t.Fatal(err)
	}
	var ephemeral *slackgo.Message
	for _, m := range sts.GetSeenOutboundMessages() {
		var msg slackgo.Message
		if json.Unmarshal([]byte(m), &msg) == nil && msg.Channel == "DU1" && msg.User == "U1" {
			ephemeral = &msg
		}
	}
	if ephemeral == nil || ephemeral.Text != "&lt;@U2&gt; &amp; co" {
		t.Errorf("ephemeral toast: %+v", ephemeral)
	}
}

func TestSocketModeReconnectsWhenSlackAsks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fake := slackfake.New(t, slackfake.Options{})
	inbox := memory.NewInbox(nil)
	o := fake.Options()
	ad, err := slack.New(slack.Config{BotToken: o.BotToken, AppToken: o.AppToken, APIURL: fake.APIURL()},
		slack.Deps{Inbox: inbox, Records: memory.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	func() {
		runCtx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ad.Run(runCtx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
		if err := fake.WaitSocket(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if err := fake.Disconnect(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for fake.Connections() < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if err := fake.WaitSocket(10 * time.Second); err != nil || fake.Connections() < 2 {
			t.Fatalf("no second connection: %v", err)
		}
		cb := fake.EventCallback(map[string]any{"type": "message", "channel": "DU1", "channel_type": "im", "user": "U1", "text": "po pertraukos", "ts": "9.9"})
		for retry := range 2 {
			if err := fake.SendEvent(cb, retry); err != nil {
				t.Fatal(err)
			}
		}
		if got := queued(t, inbox); len(got) != 1 || got[0].Text != "po pertraukos" {
			t.Fatalf("queued %+v, want the event once", got)
		}
	}()
	fake.Close()
}

func TestSocketModeLeavesAnEnvelopeItCouldNotQueueUnacknowledged(t *testing.T) {
	fake := slackfake.New(t, slackfake.Options{AckTimeout: 300 * time.Millisecond})
	o := fake.Options()
	ad, err := slack.New(slack.Config{BotToken: o.BotToken, AppToken: o.AppToken, APIURL: fake.APIURL()},
		slack.Deps{Inbox: failingInbox{}, Records: memory.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	runSocket(t, ad)
	if err := fake.WaitSocket(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := fake.Say("U1", "labas"); err == nil || !strings.Contains(err.Error(), "not acknowledged") {
		t.Fatalf("an update the inbox refused was acknowledged: %v", err)
	}
	// Envelopes with nothing to queue are acknowledged all the same.
	if err := fake.SayIn("C1", "U1", "plepalai"); err != nil {
		t.Fatal(err)
	}
}

func TestRunRefusesABadAppToken(t *testing.T) {
	fake := slackfake.New(t, slackfake.Options{})
	ad, err := slack.New(slack.Config{BotToken: fake.Options().BotToken, AppToken: "xapp-wrong", APIURL: fake.APIURL()},
		slack.Deps{Inbox: memory.NewInbox(nil), Records: memory.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = ad.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "invalid_auth") || strings.Contains(err.Error(), "xapp-wrong") {
		t.Fatalf("Run with a bad app token: %v", err)
	}
}
