package slack_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/inboxtest"
)

// The fuzzed adapter's signing secret, and the direct-message channel its fake Web API opens.
const (
	fuzzSigningSecret = "fuzz-signing-secret-8f14e45f"
	fuzzDM            = "DFUZZ0001"
)

// fuzzWebAPI answers every Web API call as conversations.open does, without a network.
type fuzzWebAPI struct{}

func (fuzzWebAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Request: req,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(`{"ok":true,"channel":{"id":"` + fuzzDM + `"}}`))}, nil
}

// fuzzSlack is an adapter in HTTP mode with the inbox it fills.
type fuzzSlack struct {
	h     http.Handler
	inbox *inboxtest.Recorder
}

func newFuzzSlack(f *testing.F) *fuzzSlack {
	f.Helper()
	inbox := &inboxtest.Recorder{}
	ad, err := slack.New(slack.Config{BotToken: "xoxb-fuzz", SigningSecret: fuzzSigningSecret, Mode: slack.ModeHTTP,
		APIURL: "https://slack.example.invalid/api/", HTTPClient: &http.Client{Transport: fuzzWebAPI{}}},
		slack.Deps{Inbox: inbox, Records: memory.New(bot.SystemClock)})
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzSlack{h: ad.Handler(), inbox: inbox}
}

// post signs body with secret as Slack does (v0: HMAC-SHA256 of "v0:<timestamp>:<body>") and
// serves it; it returns the answer and what was queued.
func (s *fuzzSlack) post(path, ctype, body, secret string) (*httptest.ResponseRecorder, []bot.Incoming) {
	s.inbox.Take()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":" + body))
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	return w, s.inbox.Take()
}

// check posts body signed with a wrong secret, which must be refused with 401 before anything
// is queued, then signed rightly; it fails on a 5xx (the inbox never fails here), on any answer
// but 200 and 400, and on anything queued but by a 200, or more than once. It returns the
// answer and what was queued.
func (s *fuzzSlack) check(t *testing.T, path, ctype, body string) (*httptest.ResponseRecorder, *bot.Incoming) {
	t.Helper()
	if w, got := s.post(path, ctype, body, "not-"+fuzzSigningSecret); w.Code != http.StatusUnauthorized || len(got) != 0 {
		t.Fatalf("wrong signature: status %d, queued %+v", w.Code, got)
	}
	w, got := s.post(path, ctype, body, fuzzSigningSecret)
	if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if len(got) > 1 || len(got) == 1 && w.Code != http.StatusOK {
		t.Fatalf("status %d, queued %+v", w.Code, got)
	}
	if len(got) == 0 {
		return w, nil
	}
	in := got[0]
	if in.From.Platform != bot.Slack || in.Chat.Platform != bot.Slack || in.From.User == "" {
		t.Errorf("from %+v in %+v", in.From, in.Chat)
	}
	if in.Message != nil && (in.Message.Platform != bot.Slack || in.Message.ID == "" || in.Message.Chat != in.Chat.Chat) {
		t.Errorf("message ref %+v outside chat %+v", *in.Message, in.Chat)
	}
	return w, &in
}

// fuzzEvent is what the properties need of an Events API callback, decoded independently of the
// adapter, with the adapter's field types.
type fuzzEvent struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge"`
	TeamID    string          `json:"team_id"`
	EventID   string          `json:"event_id"`
	Event     json.RawMessage `json:"event"`
}

type fuzzMessageEvent struct {
	Type        string `json:"type"`
	Subtype     string `json:"subtype"`
	User        string `json:"user"`
	BotID       string `json:"bot_id"`
	Text        string `json:"text"`
	Channel     string `json:"channel"`
	ChannelType string `json:"channel_type"`
}

// FuzzSlackEvents posts signed Events API bodies. Malformed JSON is a 400, url_verification
// echoes its challenge, and what is queued is a direct message (in the sender's DM, as sent) or a
// mention in a channel (as a command, in the channel): with its event ID, a user, a chat. A text
// message from a person in a direct message is always queued.
func FuzzSlackEvents(f *testing.F) {
	s := newFuzzSlack(f)
	f.Add(`{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"message","channel":"DU1","channel_type":"im","user":"U1","text":"labas","ts":"1.000001"}}`)
	f.Add(`{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`)
	f.Fuzz(func(t *testing.T, body string) {
		w, in := s.check(t, slack.EventsPath, "application/json", body)
		var cb fuzzEvent
		cbErr := json.Unmarshal([]byte(body), &cb)
		if cbErr != nil {
			if w.Code != http.StatusBadRequest {
				t.Fatalf("undecodable body (%v) answered %d", cbErr, w.Code)
			}
			return
		}
		if cb.Type == "url_verification" {
			var echo struct{ Challenge *string }
			if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &echo) != nil || echo.Challenge == nil || *echo.Challenge != cb.Challenge {
				t.Fatalf("url_verification answered %d %q, want the challenge %q", w.Code, w.Body, cb.Challenge)
			}
			if in != nil {
				t.Fatalf("url_verification queued %+v", *in)
			}
			return
		}
		var ev fuzzMessageEvent
		evOK := cb.Type == "event_callback" && len(cb.Event) > 0 && json.Unmarshal(cb.Event, &ev) == nil
		if in == nil {
			if evOK && ev.Type == "message" && ev.Subtype == "" && ev.BotID == "" && ev.User != "" && ev.Channel != "" && ev.ChannelType == "im" {
				t.Fatalf("a direct message from %q was not queued (status %d)", ev.User, w.Code)
			}
			return
		}
		if !evOK || ev.BotID != "" || in.From.User != ev.User || in.Chat.Chat != ev.Channel || in.Chat.Team != cb.TeamID {
			t.Fatalf("queued %+v from event %+v", *in, ev)
		}
		if !strings.HasPrefix(in.ID, "slack:ev:") || len(in.ID) == len("slack:ev:") || cb.EventID != "" && in.ID != "slack:ev:"+cb.EventID {
			t.Errorf("ID %q for event ID %q", in.ID, cb.EventID)
		}
		if in.Button != "" || in.Callback != "" || in.Message != nil {
			t.Errorf("an event queued with a button or message: %+v", *in)
		}
		switch in.Kind {
		case "message":
			im := ev.ChannelType == "im" || ev.ChannelType == "" && strings.HasPrefix(ev.Channel, "D")
			if ev.Type != "message" || ev.Subtype != "" || !im || in.Chat.Group || in.Chat.User != ev.User {
				t.Errorf("message %+v from event %+v", *in, ev)
			}
			if !strings.Contains(ev.Text, "&") && in.Text != ev.Text {
				t.Errorf("text %q, sent %q", in.Text, ev.Text)
			}
		case "mention":
			if ev.Type != "app_mention" || !in.Chat.Group || !strings.HasPrefix(in.Text, "/") || strings.HasPrefix(ev.Channel, "D") || ev.ChannelType == "im" {
				t.Errorf("mention %+v from event %+v", *in, ev)
			}
		default:
			t.Errorf("unknown kind %q", in.Kind)
		}
	})
}

// fuzzInteraction is what the properties need of a block_actions payload.
type fuzzInteraction struct {
	Type string `json:"type"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	TriggerID   string `json:"trigger_id"`
	ResponseURL string `json:"response_url"`
	Actions     []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"actions"`
}

// FuzzSlackInteractivity posts signed interactivity forms: payload (url-encoded here) and
// further raw form fields. A form that does not parse, lacks a payload or carries one that is not
// JSON is a 400; a button press by a person is always queued, with the first button's value as
// its token and the response URL to answer on.
func FuzzSlackInteractivity(f *testing.F) {
	s := newFuzzSlack(f)
	f.Add(`{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1","team_id":"T1"},"channel":{"id":"DU1"},"container":{"type":"message","message_ts":"17.000100","channel_id":"DU1"},"trigger_id":"tr.1","response_url":"https://hooks.slack.com/actions/T1/2/y","actions":[{"type":"button","action_id":"b0-0","value":"tok123","action_ts":"18.1"}]}`, "")
	f.Add(`{"type":"view_submission"}`, "token=legacy&payload=second")
	f.Fuzz(func(t *testing.T, payload, form string) {
		body := "payload=" + url.QueryEscape(payload)
		if form != "" {
			body += "&" + form
		}
		w, in := s.check(t, slack.InteractivityPath, "application/x-www-form-urlencoded", body)
		var ia fuzzInteraction
		vals, formErr := url.ParseQuery(body)
		if formErr != nil || payload == "" || json.Unmarshal([]byte(payload), &ia) != nil {
			if vals.Get("payload") != payload {
				t.Fatalf("the payload field came out as %q", vals.Get("payload"))
			}
			if w.Code != http.StatusBadRequest {
				t.Fatalf("form error %v, payload %q: status %d, want 400", formErr, payload, w.Code)
			}
			return
		}
		token := ""
		for _, a := range ia.Actions {
			if a.Type == "button" && a.Value != "" {
				token = a.Value
				break
			}
		}
		pressed := ia.Type == "block_actions" && ia.User.ID != "" && token != ""
		if in == nil {
			if pressed {
				t.Fatalf("a press of %q by %q was not queued (status %d)", token, ia.User.ID, w.Code)
			}
			return
		}
		if !pressed || in.Kind != "callback" || in.Button != token || in.From.User != ia.User.ID || in.Callback != ia.ResponseURL || in.Text != "" {
			t.Fatalf("queued %+v from payload %+v", *in, ia)
		}
		if !strings.HasPrefix(in.ID, "slack:act:") || ia.TriggerID != "" && in.ID != "slack:act:"+ia.TriggerID {
			t.Errorf("ID %q for trigger %q", in.ID, ia.TriggerID)
		}
		if !in.Chat.Group && in.Chat.User != ia.User.ID {
			t.Errorf("a direct chat %+v that is not the presser's", in.Chat)
		}
	})
}

var reCommandHash = regexp.MustCompile(`^slack:cmd:h[0-9a-f]{32}$`)

// FuzzSlackCommands posts signed slash-command forms. A form that does not parse is a 400;
// ssl_check is acknowledged; a command with a user is always queued as the engine's text (a
// slash command, or "link CODE") from that user, answered in the channel it was typed in or, from
// a direct message, in the user's DM with the bot.
func FuzzSlackCommands(f *testing.F) {
	s := newFuzzSlack(f)
	f.Add("token=x&team_id=T1&channel_id=C1&user_id=U1&command=%2Ftiltas&text=concern+K-2026-1&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx&trigger_id=tr.1")
	f.Add("ssl_check=1&token=x")
	f.Fuzz(func(t *testing.T, form string) {
		w, in := s.check(t, slack.CommandsPath, "application/x-www-form-urlencoded", form)
		v, err := url.ParseQuery(form)
		if err != nil {
			if w.Code != http.StatusBadRequest {
				t.Fatalf("form error %v: status %d, want 400", err, w.Code)
			}
			return
		}
		if w.Code != http.StatusOK {
			t.Fatalf("a well-formed form answered %d", w.Code)
		}
		user, command, channel, team := v.Get("user_id"), v.Get("command"), v.Get("channel_id"), v.Get("team_id")
		want := v.Get("ssl_check") != "1" && user != "" && command != ""
		if in == nil {
			if want {
				t.Fatalf("command %q by %q was not queued", command, user)
			}
			return
		}
		if !want || in.Kind != "command" || in.From != slack.Identity(team, user) || in.Callback != v.Get("response_url") || in.Button != "" {
			t.Fatalf("queued %+v from %v", *in, v)
		}
		if tr := v.Get("trigger_id"); tr != "" && in.ID != "slack:cmd:"+tr || tr == "" && !reCommandHash.MatchString(in.ID) {
			t.Errorf("ID %q for trigger %q", in.ID, tr)
		}
		if strings.HasPrefix(command, "/") && !strings.HasPrefix(in.Text, "/") && in.Text != "link" && !strings.HasPrefix(in.Text, "link ") {
			t.Errorf("command %q %q became %q", command, v.Get("text"), in.Text)
		}
		if channel == "" || strings.HasPrefix(channel, "D") {
			if in.Chat != (bot.Address{Platform: bot.Slack, Team: team, Chat: fuzzDM, User: user}) {
				t.Errorf("a command from a direct message answered in %+v", in.Chat)
			}
		} else if in.Chat != (bot.Address{Platform: bot.Slack, Team: team, Chat: channel, Group: true}) {
			t.Errorf("a command in %q answered in %+v", channel, in.Chat)
		}
	})
}
