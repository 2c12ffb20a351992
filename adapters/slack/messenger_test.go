package slack_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/adapters/slack/slackfake"
	"github.com/tiltas/tiltas/bot"
)

// messenger is an adapter on a fake workspace, without inbound traffic.
func messenger(t *testing.T, o slackfake.Options) (*slack.Adapter, *slackfake.Server, *memory.Store) {
	t.Helper()
	fake := slackfake.New(t, o)
	mem := memory.New(nil)
	fo := fake.Options()
	ad, err := slack.New(slack.Config{BotToken: fo.BotToken, AppToken: fo.AppToken, APIURL: fake.APIURL()},
		slack.Deps{Inbox: memory.NewInbox(nil), Records: mem})
	if err != nil {
		t.Fatal(err)
	}
	return ad, fake, mem
}

func TestNewChecksConfigAndCallsNobody(t *testing.T) {
	fake := slackfake.New(t, slackfake.Options{})
	deps := slack.Deps{Inbox: memory.NewInbox(nil), Records: memory.New(nil)}
	tests := []struct {
		name string
		cfg  slack.Config
		deps slack.Deps
		want []string // parts of the error; none: valid
	}{
		{"socket mode", slack.Config{BotToken: "xoxb-1", AppToken: "xapp-1", APIURL: fake.APIURL()}, deps, nil},
		{"http mode", slack.Config{BotToken: "xoxb-1", SigningSecret: "s", Mode: "http", APIURL: fake.APIURL()}, deps, nil},
		{"GovSlack URL without the slash", slack.Config{BotToken: "xoxb-1", AppToken: "xapp-1", APIURL: "https://slack-gov.com/api"}, deps, nil},
		{"nothing", slack.Config{}, slack.Deps{}, []string{"bot token", "app-level token", "inbox", "records"}},
		{"http mode without secret", slack.Config{BotToken: "xoxb-1", Mode: "http"}, deps, []string{"signing secret"}},
		{"unknown mode", slack.Config{BotToken: "xoxb-1", Mode: "rtm"}, deps, []string{`mode "rtm"`}},
		{"bad URL", slack.Config{BotToken: "xoxb-1", AppToken: "xapp-1", APIURL: "ftp://x/"}, deps, []string{"api url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := slack.New(tt.cfg, tt.deps)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if calls := fake.Calls(""); len(calls) != 0 {
		t.Errorf("the constructor called Slack: %v", calls)
	}
}

func TestSendOpensADirectMessageOnce(t *testing.T) {
	ad, fake, mem := messenger(t, slackfake.Options{})
	ctx := context.Background()
	to := slack.DM(fake.Team(), "U7")
	for i := range 3 {
		ref, err := ad.Send(ctx, to, bot.Message{Lines: []string{"labas"}})
		if err != nil {
			t.Fatal(err)
		}
		if ref.Chat != "DU7" || ref.Platform != bot.Slack || ref.Team != fake.Team() || ref.ID == "" {
			t.Fatalf("send %d: ref %+v", i, ref)
		}
	}
	if n := len(fake.Calls("conversations.open")); n != 1 {
		t.Errorf("conversations.open called %d times, want once", n)
	}
	if c := fake.Calls("conversations.open")[0]; c.Params.Get("users") != "U7" {
		t.Errorf("conversations.open users=%q", c.Params.Get("users"))
	}
	// The DM channel was closed since: the adapter opens it anew instead of dropping the message.
	if _, err := bot.Save(ctx, mem, "slack/dm/"+fake.Team()+"/U7", map[string]string{"chat": "DGONE"}, bot.Any); err != nil {
		t.Fatal(err)
	}
	fake.Fail(slackfake.Fault{Method: "chat.postMessage", Channel: "DGONE", Error: "channel_not_found"})
	if ref, err := ad.Send(ctx, to, bot.Message{Lines: []string{"vėl"}}); err != nil || ref.Chat != "DU7" {
		t.Fatalf("after a stale DM channel: %+v, %v", ref, err)
	}
	if got := len(fake.DM("U7")); got != 4 {
		t.Errorf("DM has %d messages, want 4", got)
	}
}

func TestSendSpeaksBlockKit(t *testing.T) {
	ad, fake, _ := messenger(t, slackfake.Options{})
	ctx := context.Background()
	long := strings.Repeat("ž", 80)
	m := bot.Message{Title: "Susirūpinimas A1", Lines: []string{"Pirma eilutė", "Antra & <b>"},
		Buttons: [][]bot.Button{{{Label: "Patvirtinti", Token: "tok1"}, {Label: long, Token: "tok2"}}, {{Label: "be žetono"}}}}
	ref, err := ad.Send(ctx, slack.Channel(fake.Team(), "C1"), m)
	if err != nil {
		t.Fatal(err)
	}
	got := fake.Channel("C1")[0]
	if got.TS != ref.ID {
		t.Errorf("ref %s, message %s", ref.ID, got.TS)
	}
	if len(got.Blocks) != 3 || got.Blocks[0].Text != "*Susirūpinimas A1*" || got.Blocks[1].Text != "Pirma eilutė\nAntra &amp; &lt;b&gt;" {
		t.Fatalf("blocks: %+v", got.Blocks)
	}
	bs := got.Blocks[2].Buttons
	if len(bs) != 2 || bs[0].Value != "tok1" || bs[1].Value != "tok2" || bs[0].ActionID == bs[1].ActionID {
		t.Fatalf("buttons: %+v (the one without a token does nothing and is left out)", bs)
	}
	if n := len([]rune(bs[1].Label)); n != 75 || !strings.HasSuffix(bs[1].Label, "…") {
		t.Errorf("long label of %d characters: %q", n, bs[1].Label)
	}
	if got.Text != "Susirūpinimas A1\nPirma eilutė\nAntra &amp; &lt;b&gt;" {
		t.Errorf("fallback text %q", got.Text)
	}
	c := fake.Calls("chat.postMessage")[0]
	if c.Params.Get("unfurl_links") != "false" || c.Params.Get("unfurl_media") != "false" {
		t.Errorf("links unfurl: %v", c.Params)
	}
}

func TestEditReplacesBlocksAndDropsButtons(t *testing.T) {
	ad, fake, _ := messenger(t, slackfake.Options{})
	ctx := context.Background()
	ref, err := ad.Send(ctx, slack.DM(fake.Team(), "U1"), bot.Message{Lines: []string{"Klausimas?"}, Buttons: [][]bot.Button{{{Label: "Taip", Token: "t1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ad.Edit(ctx, ref, bot.Message{Lines: []string{"Klausimas?", "→ Taip"}}); err != nil {
		t.Fatal(err)
	}
	m := fake.DM("U1")[0]
	if m.Edits != 1 || m.Plain() != "Klausimas?\n→ Taip" || len(m.Labels()) != 0 {
		t.Fatalf("after the edit: %q buttons %v edits %d", m.Plain(), m.Labels(), m.Edits)
	}
	// Content too long for one message is cut to fit, with the buttons kept.
	lines := make([]string, 80)
	for i := range lines {
		lines[i] = strings.Repeat("y", 2999)
	}
	if err := ad.Edit(ctx, ref, bot.Message{Lines: lines, Buttons: [][]bot.Button{{{Label: "Gerai", Token: "t2"}}}}); err != nil {
		t.Fatal(err)
	}
	m = fake.DM("U1")[0]
	if len(m.Blocks) != 50 || m.Blocks[48].Text != "…" || len(m.Labels()) != 1 {
		t.Errorf("cut edit: %d blocks, buttons %v", len(m.Blocks), m.Labels())
	}
	err = ad.Edit(ctx, bot.MessageRef{Platform: bot.Slack, Team: fake.Team(), Chat: "DU1", ID: "1.2"}, bot.Message{Lines: []string{"x"}})
	var de *bot.DeliveryError
	if !errors.As(err, &de) || !de.Permanent {
		t.Errorf("edit of a message that is not there: %v", err)
	}
}

func TestFilesGoThroughTheExternalUploadFlow(t *testing.T) {
	ad, fake, _ := messenger(t, slackfake.Options{})
	ics := []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
	ref, err := ad.Send(context.Background(), slack.DM(fake.Team(), "U1"),
		bot.Message{Lines: []string{"Vizitas"}, File: &bot.File{Name: "vizitas.ics", Type: "text/calendar", Data: ics}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.DM("U1")
	if len(msgs) != 2 || msgs[0].TS != ref.ID || len(msgs[1].Files) != 1 {
		t.Fatalf("DM: %+v", msgs)
	}
	if f := msgs[1].Files[0]; f.Name != "vizitas.ics" || string(f.Data) != string(ics) {
		t.Errorf("file %s: %q", f.Name, f.Data)
	}
	for _, m := range []string{"files.getUploadURLExternal", "files.completeUploadExternal"} {
		if len(fake.Calls(m)) != 1 {
			t.Errorf("%s not called once", m)
		}
	}
}

func TestDeliveryErrors(t *testing.T) {
	o := slackfake.Options{BotToken: "xoxb-SECRET-TOKEN-42"}
	tests := []struct {
		name       string
		fault      slackfake.Fault
		to         bot.Address
		permanent  bool
		reason     string
		retryAfter time.Duration
	}{
		{"429 with Retry-After", slackfake.Fault{Status: 429, RetryAfter: 7}, slack.Channel("T", "C1"), false, "rate_limited", 7 * time.Second},
		{"bare 429", slackfake.Fault{Status: 429}, slack.Channel("T", "C1"), false, "rate_limited", 30 * time.Second},
		{"503", slackfake.Fault{Status: 503}, slack.Channel("T", "C1"), false, "unavailable", 0},
		{"internal_error", slackfake.Fault{Error: "internal_error"}, slack.Channel("T", "C1"), false, "unavailable", 0},
		{"channel_not_found", slackfake.Fault{Error: "channel_not_found"}, slack.Channel("T", "C1"), true, "chat_not_found", 0},
		{"is_archived", slackfake.Fault{Error: "is_archived"}, slack.Channel("T", "C1"), true, "chat_not_found", 0},
		{"not_in_channel", slackfake.Fault{Error: "not_in_channel"}, slack.Channel("T", "C1"), true, "chat_not_found", 0},
		{"user_not_found", slackfake.Fault{Method: "conversations.open", Error: "user_not_found"}, slack.DM("T", "U1"), true, "chat_not_found", 0},
		{"cannot_dm_bot", slackfake.Fault{Method: "conversations.open", Error: "cannot_dm_bot"}, slack.DM("T", "U1"), true, "blocked", 0},
		{"user_disabled", slackfake.Fault{Method: "conversations.open", Error: "user_disabled"}, slack.DM("T", "U1"), true, "blocked", 0},
		{"invalid_auth", slackfake.Fault{Error: "invalid_auth"}, slack.Channel("T", "C1"), true, "unauthorized", 0},
		{"token_revoked", slackfake.Fault{Error: "token_revoked"}, slack.Channel("T", "C1"), true, "unauthorized", 0},
		{"not_authed", slackfake.Fault{Error: "not_authed"}, slack.Channel("T", "C1"), true, "unauthorized", 0},
		{"account_inactive (the bot's own account)", slackfake.Fault{Error: "account_inactive"}, slack.Channel("T", "C1"), true, "unauthorized", 0},
		{"invalid_blocks", slackfake.Fault{Error: "invalid_blocks"}, slack.Channel("T", "C1"), true, "invalid", 0},
		{"a code nobody knows yet", slackfake.Fault{Error: "brand_new_error"}, slack.Channel("T", "C1"), false, "unavailable", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ad, fake, _ := messenger(t, o)
			fake.Fail(tt.fault)
			_, err := ad.Send(context.Background(), tt.to, bot.Message{Lines: []string{"x"}})
			var de *bot.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T) is not a *bot.DeliveryError", err, err)
			}
			if de.Permanent != tt.permanent || de.Reason != tt.reason || de.RetryAfter != tt.retryAfter {
				t.Errorf("got permanent=%v reason=%s retry after %v", de.Permanent, de.Reason, de.RetryAfter)
			}
			if de.Unwrap() == nil {
				t.Error("the platform's error is not kept")
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the token leaks into the error: %v", err)
			}
		})
	}
	t.Run("Slack unreachable", func(t *testing.T) {
		ad, err := slack.New(slack.Config{BotToken: "xoxb-SECRET", AppToken: "xapp-x", APIURL: "http://127.0.0.1:1/api/"},
			slack.Deps{Inbox: memory.NewInbox(nil), Records: memory.New(nil)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ad.Send(context.Background(), slack.Channel("T", "C1"), bot.Message{Lines: []string{"x"}})
		var de *bot.DeliveryError
		if !errors.As(err, &de) || de.Permanent || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "127.0.0.1:1/api") {
			t.Errorf("unreachable: %v", err)
		}
	})
}

func TestAnswerIsEphemeralToTheActor(t *testing.T) {
	ad, fake, _ := messenger(t, slackfake.Options{})
	ctx := context.Background()
	in := bot.Incoming{From: slack.Identity(fake.Team(), "U1"), Chat: bot.Address{Platform: bot.Slack, Team: fake.Team(), Chat: "DU1", User: "U1"}}
	if err := ad.Answer(ctx, in, bot.Response{}); err != nil || len(fake.Calls("")) != 0 {
		t.Fatalf("no toast, yet: %v, %v", err, fake.Calls(""))
	}
	if err := ad.Answer(ctx, in, bot.Response{Toast: "A1 <patvirtintas>"}); err != nil {
		t.Fatal(err)
	}
	e := fake.Ephemerals("U1")
	if len(e) != 1 || e[0].Text != "A1 &lt;patvirtintas&gt;" || e[0].Channel != "DU1" || e[0].ViaHook {
		t.Fatalf("ephemerals %+v", e)
	}
	in.Callback = "https://evil.example/steal"
	if err := ad.Answer(ctx, in, bot.Response{Toast: "x"}); err == nil {
		t.Error("posted a toast to a response_url that is not Slack's")
	}
}

// TestEveryMessageKeepsWithinBlockKitLimits sends awkward content; the fake refuses (and fails
// the test on) anything beyond Slack's limits, so each case only says how it should be split.
func TestEveryMessageKeepsWithinBlockKitLimits(t *testing.T) {
	row := func(n int) []bot.Button {
		var out []bot.Button
		for i := range n {
			out = append(out, bot.Button{Label: "B" + strings.Repeat("x", i), Token: "tok" + strings.Repeat("y", i)})
		}
		return out
	}
	lines := func(n, size int, r string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat(r, size)
		}
		return out
	}
	tests := []struct {
		name     string
		m        bot.Message
		messages int
	}{
		{"title only", bot.Message{Title: "Antraštė"}, 1},
		{"buttons only", bot.Message{Buttons: [][]bot.Button{row(2)}}, 1},
		{"a line of 3000 ampersands (15000 escaped)", bot.Message{Lines: lines(1, 3000, "&")}, 1},
		{"a long title", bot.Message{Title: strings.Repeat("Labai ilga antraštė ", 300)}, 1},
		{"a line without spaces", bot.Message{Lines: lines(1, 7001, "ą")}, 1},
		{"thirty buttons in a row", bot.Message{Lines: []string{"x"}, Buttons: [][]bot.Button{row(30)}}, 1},
		{"fifty-five rows of buttons", bot.Message{Lines: []string{"x"}, Buttons: func() [][]bot.Button {
			var rows [][]bot.Button
			for range 55 {
				rows = append(rows, row(1))
			}
			return rows
		}()}, 2},
		{"a hundred and twenty long lines", bot.Message{Lines: lines(120, 2999, "z"), Buttons: [][]bot.Button{row(1)}}, 3},
		{"lines that only fit one by one", bot.Message{Lines: lines(50, 1501, "w")}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ad, fake, _ := messenger(t, slackfake.Options{})
			ref, err := ad.Send(context.Background(), slack.Channel(fake.Team(), "C1"), tt.m)
			if err != nil {
				t.Fatal(err)
			}
			got := fake.Channel("C1")
			if len(got) != tt.messages {
				t.Fatalf("%d messages, want %d", len(got), tt.messages)
			}
			if ref.ID != got[len(got)-1].TS {
				t.Errorf("ref %s is not the last message %s", ref.ID, got[len(got)-1].TS)
			}
			var text strings.Builder
			for _, m := range got {
				text.WriteString(strings.ReplaceAll(m.Plain(), "\n", ""))
			}
			want := strings.ReplaceAll(strings.Join(append([]string{strings.TrimSpace(tt.m.Title)}, tt.m.Lines...), ""), " ", "")
			if g := strings.ReplaceAll(text.String(), " ", ""); g != want {
				t.Errorf("text changed in the split: %d characters, want %d", len([]rune(g)), len([]rune(want)))
			}
		})
	}
}
