package telegram_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
)

const secret = "s3cret-Webhook_token"

// postUpdate posts u to the running replica's webhook handler with secret and returns the status.
func (h *harness) postUpdate(u any, secret string) int {
	h.t.Helper()
	b, err := json.Marshal(u)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.post(http.MethodPost, b, secret).Code
}

func (h *harness) post(method string, body []byte, secret string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/telegram", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(telegram.SecretHeader, secret)
	}
	w := httptest.NewRecorder()
	h.rep.ad.WebhookHandler().ServeHTTP(w, req)
	return w
}

func TestWebhook(t *testing.T) {
	h := newHarness(t, options{webhook: true, link: []string{"giedre-s"}})
	set := h.srv.Calls("setWebhook")
	if len(set) != 1 || set[0].Params["secret_token"] != secret || set[0].Params["url"] != "https://tiltas.example.lt/telegram" {
		t.Fatalf("setWebhook calls = %+v", set)
	}
	giedre := h.user("giedre-s")
	update := func(id int, u telegramtest.Update) []byte {
		u.UpdateID = id
		b, _ := json.Marshal(u)
		return b
	}
	msg := h.srv.PrivateMessage(giedre, "/help")
	edited := *h.srv.PrivateMessage(giedre, "/help").Message
	edited.EditDate = edited.Date + 1
	channel, _ := json.Marshal(map[string]any{"update_id": 7004, "channel_post": map[string]any{
		"message_id": 1, "date": time.Now().Unix(), "text": "/help",
		"chat": map[string]any{"id": int64(-1002000000001), "type": "channel", "title": "Kanalas"},
	}})
	tests := []struct {
		name    string
		method  string
		secret  string
		body    []byte
		code    int
		handled int // update ID expected to be handled, 0 for none
	}{
		{name: "wrong secret", method: "POST", secret: "wrong", body: update(7001, msg), code: 401},
		{name: "no secret", method: "POST", body: update(7001, msg), code: 401},
		{name: "secret differing in the last character", method: "POST", secret: secret[:len(secret)-1] + "X", body: update(7001, msg), code: 401},
		{name: "GET", method: "GET", secret: secret, code: 405},
		{name: "oversized body", method: "POST", secret: secret, body: append(update(7001, msg)[:1], bytes.Repeat([]byte(" "), 2<<20)...), code: 413},
		{name: "not JSON", method: "POST", secret: secret, body: []byte("{"), code: 400},
		{name: "edited message ignored", method: "POST", secret: secret, body: update(7003, telegramtest.Update{EditedMessage: &edited}), code: 200},
		{name: "channel post ignored", method: "POST", secret: secret, body: channel, code: 200},
		{name: "good request", method: "POST", secret: secret, body: update(7002, msg), code: 200, handled: 7002},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := h.post(tt.method, tt.body, tt.secret)
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.code, w.Body)
			}
			if tt.code == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q", w.Header().Get("Allow"))
			}
			if tt.handled != 0 {
				h.handledUpdate(tt.handled)
				h.seeFor("giedre-s", "Jūsų komandos")
			}
		})
	}
	h.delivered()
	for _, id := range []int{7001, 7003, 7004} {
		if n := h.timesHandled(id); n != 0 {
			t.Errorf("refused or ignored update %d was handled %d times", id, n)
		}
	}
	if n := len(h.calls("sendMessage", giedre)); n != 1 {
		t.Errorf("%d answers, want 1", n)
	}
	if strings.Contains(h.logs.String(), "/help") {
		t.Error("message text reached the logs")
	}
}

func TestWebhookModeNeedsURLAndSecret(t *testing.T) {
	h := newHarness(t, options{})
	tests := []struct {
		name string
		cfg  telegram.Config
		want string
	}{
		{"no token", telegram.Config{}, "token is empty"},
		{"unknown mode", telegram.Config{Token: "1:x", Mode: "push"}, "mode"},
		{"webhook without secret", telegram.Config{Token: "1:x", Mode: "webhook", WebhookURL: "https://x.lt/tg"}, "secret"},
		{"webhook secret with bad characters", telegram.Config{Token: "1:x", Mode: "webhook", WebhookURL: "https://x.lt/tg", WebhookSecret: "a b"}, "secret"},
		{"webhook over http", telegram.Config{Token: "1:x", Mode: "webhook", WebhookURL: "http://x.lt/tg", WebhookSecret: "ok"}, "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := telegram.New(tt.cfg, telegram.Deps{Inbox: h.inbox, Locker: h.locker, Records: h.mem})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one about %q", err, tt.want)
			}
		})
	}
	if len(h.srv.Calls("setWebhook")) != 0 {
		t.Error("polling mode set a webhook")
	}
}
