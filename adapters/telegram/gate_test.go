package telegram_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/refusal"
)

// Webhook requests with a wrong secret are summed up by the gate, and a source that keeps sending
// them is answered 429 with Retry-After.
func TestWrongWebhookSecretsFromOneSourceAreSlowedDown(t *testing.T) {
	var kinds []string
	g := refusal.New(refusal.Options{Burst: 2, Observe: func(k string) { kinds = append(kinds, k) }})
	a, err := telegram.New(telegram.Config{Token: "1:x", Mode: "webhook", WebhookURL: "https://x.lt/tg", WebhookSecret: strings.Repeat("s", 20)},
		telegram.Deps{Inbox: memory.NewInbox(nil), Records: memory.New(nil), Gate: g})
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for range 4 {
		req := httptest.NewRequest("POST", "/telegram/webhook", strings.NewReader("{}"))
		req.RemoteAddr = "203.0.113.7:5555"
		req.Header.Set(telegram.SecretHeader, "guess")
		w := httptest.NewRecorder()
		a.WebhookHandler().ServeHTTP(w, req)
		codes = append(codes, w.Code)
		if w.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if !slices.Equal(codes, []int{401, 401, 429, 429}) {
		t.Errorf("statuses %v", codes)
	}
	if !slices.Equal(kinds, []string{"telegram.bad_secret", "telegram.bad_secret", "telegram.bad_secret.throttled", "telegram.bad_secret.throttled"}) {
		t.Errorf("counted %v", kinds)
	}
}
