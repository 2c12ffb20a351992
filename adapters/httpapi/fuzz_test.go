package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/adapters/httpapi"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/flowtest"
)

var (
	reFuzzIdemKey = regexp.MustCompile(`^[\x21-\x7e]{1,200}$`)
	reFuzzAlertID = regexp.MustCompile(`^[A-Z][0-9]+$`)
)

// fuzzMaxBody is the fuzzed API's body limit.
const fuzzMaxBody = 4096

// fuzzAnswer is an answer of the API, success or error.
type fuzzAnswer struct {
	httpapi.AlertView
	Description *string `json:"description"`
	Error       *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// FuzzAlertsAPI posts arbitrary bodies, with an arbitrary Idempotency-Key, to POST
// /api/v1/alerts, over the in-memory stores (no Redis). A wrong token is 401 whatever the body.
// With the right one the answer is never 5xx, always JSON: an alert (201) or an error with a code
// and a message (400, 409, 413, 422; 409 and 422 only with a key). A body that is not JSON is a
// 400 invalid_json. A raised alert is a JSON object with the four fields, answers with its ID and
// state and never the description, and its integration can read it back.
func FuzzAlertsAPI(f *testing.F) {
	var flow *alerts.Flow
	h := flowtest.New(f, flowtest.Options{Register: func(e *bot.Engine, c *config.Config) {
		flow = alerts.Register(e, alerts.Config{Categories: c.Alerts.Categories, DescriptionMax: 500,
			Integrations: map[string]string{"police-register": "policija", "school-system": "saules-progimnazija"}})
	}})
	api := httpapi.NewAPI(flow, h.Stores.Records, []httpapi.Integration{{ID: "police-register", Token: policeToken}, {ID: "school-system", Token: schoolToken}}, fuzzMaxBody, nil)
	api.Refused = h.Engine.Refused
	api.Clock = h.Clock
	mux := http.NewServeMux()
	api.Register(mux)
	do := func(t *testing.T, method, path, token string, body []byte, key string) (*httptest.ResponseRecorder, fuzzAnswer) {
		t.Helper()
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		var a fuzzAnswer
		if ct := w.Header().Get("Content-Type"); ct != "application/json" || json.Unmarshal(w.Body.Bytes(), &a) != nil {
			t.Fatalf("%s %s → %d, %q: %q is not JSON", method, path, w.Code, ct, w.Body)
		}
		return w, a
	}

	f.Add([]byte(good), "")
	f.Add([]byte(`{"case":`), "incident-42")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		if w, a := do(t, http.MethodPost, "/api/v1/alerts", "wrong-token-0123456789", body, key); w.Code != http.StatusUnauthorized || a.Error == nil || a.Error.Code != "unauthorized" {
			t.Fatalf("wrong token: %d %s", w.Code, w.Body)
		}
		w, a := do(t, http.MethodPost, "/api/v1/alerts", policeToken, body, key)
		switch w.Code {
		case http.StatusCreated, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		case http.StatusConflict, http.StatusUnprocessableEntity:
			if key == "" {
				t.Fatalf("%d without an Idempotency-Key: %s", w.Code, w.Body)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if w.Code != http.StatusCreated {
			if a.Error == nil || a.Error.Code == "" || a.Error.Message == "" {
				t.Fatalf("%d with no error code and message: %s", w.Code, w.Body)
			}
			if len(body) <= fuzzMaxBody && (key == "" || reFuzzIdemKey.MatchString(key)) && !json.Valid(body) && a.Error.Code != "invalid_json" {
				t.Fatalf("a body that is not JSON answered %d %s", w.Code, w.Body)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("a body that is not JSON raised alert %s: %q", a.ID, body)
		}
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("raised from a body that is not an object: %v", err)
		}
		for _, field := range []string{"case", "category", "urgency", "description"} {
			if s, ok := in[field].(string); !ok || strings.TrimSpace(s) == "" {
				t.Fatalf("raised without %s: %q", field, body)
			}
		}
		if !reFuzzAlertID.MatchString(a.ID) || a.State != "open" || a.Case != strings.ToUpper(strings.TrimSpace(in["case"].(string))) || a.Category != in["category"] || a.Urgency != in["urgency"] {
			t.Fatalf("raised %s from %q", w.Body, body)
		}
		if a.Description != nil {
			t.Fatalf("the answer echoes the description: %s", w.Body)
		}
		if g, back := do(t, http.MethodGet, "/api/v1/alerts/"+a.ID, policeToken, nil, ""); g.Code != http.StatusOK || back.ID != a.ID || back.Case != a.Case {
			t.Fatalf("GET %s = %d %s", a.ID, g.Code, g.Body)
		}
	})
}
