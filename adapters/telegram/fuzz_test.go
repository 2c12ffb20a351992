package telegram_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/inboxtest"
)

// fuzzSecret is the webhook secret of the fuzzed adapter.
const fuzzSecret = "fuzz-Webhook_secret-0123"

// fuzzUpdate is what the properties need of an update, decoded independently of the adapter.
// Its fields have the library's types, so that it decodes whenever models.Update does.
type fuzzUpdate struct {
	UpdateID int64 `json:"update_id"`
	Message  *struct {
		Text string `json:"text"`
		From *struct {
			ID    int64 `json:"id"`
			IsBot bool  `json:"is_bot"`
		} `json:"from"`
		Chat struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		} `json:"chat"`
		MigrateTo   int64 `json:"migrate_to_chat_id"`
		MigrateFrom int64 `json:"migrate_from_chat_id"`
	} `json:"message"`
	CallbackQuery *struct {
		ID   string `json:"id"`
		Data string `json:"data"`
		From struct {
			ID    int64 `json:"id"`
			IsBot bool  `json:"is_bot"`
		} `json:"from"`
	} `json:"callback_query"`
}

// FuzzTelegramWebhook posts arbitrary bodies to the webhook handler, once with the fuzzed
// secret header (never the right one) and once with the right secret. Without the secret the
// answer is 401 and nothing is queued. With it the answer is 200, 400 or 413, never 5xx (the
// inbox does not fail here); only a 200 queues, at most one update, and what is queued has what
// the engine needs: the update's ID, the Telegram platform, numeric user and chat IDs, a known
// kind, the text of a message or the data and query ID of a button press. A group hears only
// commands, and only those addressed to this bot. A text message in a private chat from a person,
// or a button press by one, is always queued.
func FuzzTelegramWebhook(f *testing.F) {
	inbox := &inboxtest.Recorder{}
	ad, err := telegram.New(telegram.Config{
		Token: "123456:fuzz-token", APIURL: "http://127.0.0.1:1", BotUsername: botName,
		Mode: telegram.ModeWebhook, WebhookURL: "https://tiltas.example.lt/telegram", WebhookSecret: fuzzSecret,
		MaxBody: 64 << 10,
	}, telegram.Deps{Inbox: inbox, Records: memory.New(bot.SystemClock)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(ad.Close)
	h := ad.WebhookHandler()
	post := func(body []byte, secret string, set bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if set {
			req.Header.Set(telegram.SecretHeader, secret)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}

	f.Add([]byte(`{"update_id":1,"message":{"message_id":5,"date":1764576000,"from":{"id":1001,"is_bot":false,"first_name":"Ona"},"chat":{"id":1001,"type":"private"},"text":"/help"}}`), "")
	f.Add([]byte(`{"update_id":2,"callback_query":{"id":"cq1","from":{"id":1001,"is_bot":false,"first_name":"Ona"},"message":{"message_id":7,"date":1764576000,"chat":{"id":1001,"type":"private"}},"data":"tok123"}}`), "wrong")

	f.Fuzz(func(t *testing.T, body []byte, wrong string) {
		if wrong != fuzzSecret {
			inbox.Take()
			w := post(body, wrong, wrong != "")
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("secret %q: status %d, want 401", wrong, w.Code)
			}
			if got := inbox.Take(); len(got) != 0 {
				t.Fatalf("secret %q: queued %+v", wrong, got)
			}
		}

		inbox.Take()
		w := post(body, fuzzSecret, true)
		got := inbox.Take()
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if w.Code != http.StatusOK && len(got) != 0 {
			t.Fatalf("status %d but queued %+v", w.Code, got)
		}
		if len(got) > 1 {
			t.Fatalf("one update queued %d times: %+v", len(got), got)
		}
		if w.Code != http.StatusOK {
			return
		}
		var u fuzzUpdate
		if err := json.Unmarshal(body, &u); err != nil || u.UpdateID == 0 {
			t.Fatalf("200 for a body that is not an update with an ID (%v, id %d)", err, u.UpdateID)
		}
		m, q := u.Message, u.CallbackQuery
		wantQueued := ""
		switch {
		case m != nil && m.From != nil && !m.From.IsBot && m.Text != "" && m.Chat.Type == "private" && m.MigrateTo == 0 && m.MigrateFrom == 0:
			wantQueued = "message"
		case m == nil && q != nil && !q.From.IsBot && q.Data != "" && q.ID != "":
			wantQueued = "callback"
		}
		if len(got) == 0 {
			if wantQueued != "" {
				t.Fatalf("a %s from a person was not queued", wantQueued)
			}
			return
		}
		in := got[0]
		if want := "tg:" + strconv.FormatInt(u.UpdateID, 10); in.ID != want {
			t.Errorf("ID %q, want %q", in.ID, want)
		}
		if in.From.Platform != bot.Telegram || in.Chat.Platform != bot.Telegram {
			t.Errorf("platforms %q/%q, want telegram", in.From.Platform, in.Chat.Platform)
		}
		if _, err := strconv.ParseInt(in.From.User, 10, 64); err != nil {
			t.Errorf("user %q is not a Telegram user ID", in.From.User)
		}
		if _, err := strconv.ParseInt(in.Chat.Chat, 10, 64); err != nil {
			t.Errorf("chat %q is not a Telegram chat ID", in.Chat.Chat)
		}
		if in.Chat.Thread != "" {
			if _, err := strconv.Atoi(in.Chat.Thread); err != nil {
				t.Errorf("thread %q is not a topic ID", in.Chat.Thread)
			}
		}
		switch in.Kind {
		case "message", "command":
			if m == nil {
				t.Fatalf("a %s from an update without a message", in.Kind)
			}
			if in.Text == "" || in.Text != m.Text || in.Button != "" || in.Callback != "" {
				t.Errorf("text %q (sent %q), button %q, callback %q", in.Text, m.Text, in.Button, in.Callback)
			}
			if m.From == nil || in.From.User != strconv.FormatInt(m.From.ID, 10) || m.From.IsBot {
				t.Errorf("from %q, message from %+v", in.From.User, m.From)
			}
			if in.Chat.Group != (m.Chat.Type != "private") {
				t.Errorf("group %v for a %q chat", in.Chat.Group, m.Chat.Type)
			}
			if in.Kind == "message" && in.Chat.Group {
				t.Errorf("plain talk in a group queued: %q", in.Text)
			}
			if in.Kind == "command" {
				first, _, _ := strings.Cut(strings.Map(func(r rune) rune {
					if strings.ContainsRune("\t\n\f\r", r) {
						return ' '
					}
					return r
				}, in.Text), " ")
				if !strings.HasPrefix(first, "/") {
					t.Errorf("command %q does not start with /", in.Text)
				}
				if _, name, ok := strings.Cut(first, "@"); ok && in.Chat.Group && !strings.EqualFold(name, botName) {
					t.Errorf("a command for @%s queued in a group", name)
				}
			}
		case "callback":
			if q == nil || m != nil {
				t.Fatalf("a callback from an update without a callback query (or with a message)")
			}
			if in.Button == "" || in.Button != q.Data || in.Callback != q.ID || in.Text != "" {
				t.Errorf("button %q (data %q), callback %q (id %q), text %q", in.Button, q.Data, in.Callback, q.ID, in.Text)
			}
			if in.From.User != strconv.FormatInt(q.From.ID, 10) {
				t.Errorf("from %q, pressed by %d", in.From.User, q.From.ID)
			}
			if r := in.Message; r != nil {
				if r.Platform != bot.Telegram || r.Chat != in.Chat.Chat {
					t.Errorf("message ref %+v outside chat %q", *r, in.Chat.Chat)
				}
				if _, err := strconv.Atoi(r.ID); err != nil {
					t.Errorf("message ref ID %q", r.ID)
				}
			}
		default:
			t.Fatalf("unknown kind %q", in.Kind)
		}
		if wantQueued == "message" && in.Kind != "message" && in.Kind != "command" || wantQueued == "callback" && in.Kind != "callback" {
			t.Errorf("a %s queued as %q", wantQueued, in.Kind)
		}
	})
}
