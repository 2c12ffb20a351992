package slack_test

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/refusal"
)

// Requests that are not Slack's are summed up by the gate, and a source that keeps sending them
// is answered 429.
func TestUnsignedRequestsFromOneSourceAreSlowedDown(t *testing.T) {
	var kinds []string
	g := refusal.New(refusal.Options{Burst: 1, Observe: func(k string) { kinds = append(kinds, k) }})
	a, err := slack.New(slack.Config{BotToken: "xoxb-1", SigningSecret: "s3cret", Mode: "http"},
		slack.Deps{Inbox: memory.NewInbox(nil), Records: memory.New(nil), Gate: g})
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for range 3 {
		req := httptest.NewRequest("POST", slack.EventsPath, strings.NewReader(`{"type":"event_callback"}`))
		req.RemoteAddr = "203.0.113.8:4444"
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, req)
		codes = append(codes, w.Code)
	}
	if !slices.Equal(codes, []int{401, 429, 429}) {
		t.Errorf("statuses %v", codes)
	}
	if len(kinds) != 3 || kinds[0] != "slack.missing_headers" {
		t.Errorf("counted %v", kinds)
	}
}
