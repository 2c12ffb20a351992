package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/tiltas/tiltas/adapters/httpapi"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/flowtest"
	"github.com/tiltas/tiltas/refusal"
)

const (
	policeToken = "police-token-0123456789abcdef"
	schoolToken = "school-token-0123456789abcdef"
)

type apiHarness struct {
	*flowtest.Harness
	flow   *alerts.Flow
	srv    *httptest.Server
	router routers.Router
	gate   *refusal.Gate
}

func newAPI(t *testing.T) *apiHarness { return newAPIWith(t, false, nil) }

// newAPIWith builds the API on the harness's stores (real Redis when redis), its alerts flow
// wrapped by wrap when given.
func newAPIWith(t *testing.T, redis bool, wrap func(httpapi.Alerts) httpapi.Alerts) *apiHarness {
	t.Helper()
	h := &apiHarness{}
	h.Harness = flowtest.New(t, flowtest.Options{Redis: redis, Register: func(e *bot.Engine, c *config.Config) {
		h.flow = alerts.Register(e, alerts.Config{Categories: c.Alerts.Categories, DescriptionMax: 500,
			Integrations: map[string]string{"police-register": "policija", "school-system": "saules-progimnazija"}})
	}})
	var flow httpapi.Alerts = h.flow
	if wrap != nil {
		flow = wrap(flow)
	}
	api := httpapi.NewAPI(flow, h.Stores.Records, []httpapi.Integration{{ID: "police-register", Token: policeToken}, {ID: "school-system", Token: schoolToken}}, 4096, nil)
	api.Refused = h.Engine.Refused
	api.Clock = h.Clock
	h.gate = refusal.New(refusal.Options{Log: h.Stores.Audit.(bot.RefusalLog), Burst: 3})
	api.Gate = h.gate
	mux := http.NewServeMux()
	api.Register(mux)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: h.srv.URL}}
	if h.router, err = gorillamux.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return h
}

// call makes a real request and checks the response against the OpenAPI description; it reports
// whether the description also accepts the request.
func (h *apiHarness) call(method, path, token, contentType, body string, headers map[string]string) (int, map[string]any, bool) {
	h.T.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.T.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	h.Settle()

	vreq, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	vreq.Header = req.Header.Clone()
	route, params, err := h.router.FindRoute(vreq)
	if err != nil {
		h.T.Fatalf("%s %s: not in the OpenAPI description: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: func(context.Context, *openapi3filter.AuthenticationInput) error { return nil }}}
	reqOK := openapi3filter.ValidateRequest(context.Background(), in) == nil
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(raw)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		h.T.Errorf("%s %s → %d does not match the OpenAPI description: %v\n%s", method, path, resp.StatusCode, err, raw)
	}
	var v map[string]any
	_ = json.Unmarshal(raw, &v)
	return resp.StatusCode, v, reqOK
}

const good = `{"case":"K-2026-117","category":"violence","urgency":"urgent","description":"Vaikas buvo įvykio vietoje","phoned":true}`

func TestRaiseAndFollowAnAlert(t *testing.T) {
	h := newAPI(t)
	code, v, reqOK := h.call("POST", "/api/v1/alerts", policeToken, "application/json", good, nil)
	if code != 201 || !reqOK {
		t.Fatalf("POST = %d %v (request valid per spec: %v)", code, v, reqOK)
	}
	id := v["id"].(string)
	if v["state"] != "open" || v["case"] != "K-2026-117" {
		t.Errorf("created = %v", v)
	}
	if _, hasText := v["description"]; hasText {
		t.Error("the API echoes free text")
	}
	if u, ok := v["unreachable"].([]any); !ok || len(u) != 0 {
		t.Errorf("unreachable = %v, want [] (everyone asked has an account)", v["unreachable"])
	}
	h.MustSee("jurate-z", "Vaikas buvo įvykio vietoje") // no rule matched: the coordinator is asked
	h.Press("jurate-z", "Mačiau")
	code, v, _ = h.call("GET", "/api/v1/alerts/"+id, policeToken, "", "", nil)
	if code != 200 || v["state"] != "acknowledged" || v["acknowledged_at"] == nil {
		t.Fatalf("GET = %d %v", code, v)
	}
	// Another integration cannot see it, nor can a wrong token. The integration's refusal is on
	// the audit record; the wrong token, which names nobody, is counted by the gate instead.
	if code, _, _ := h.call("GET", "/api/v1/alerts/"+id, schoolToken, "", "", nil); code != 404 {
		t.Errorf("other integration GET = %d, want 404", code)
	}
	if code, _, _ := h.call("GET", "/api/v1/alerts/"+id, "wrong-token-0123456789", "", "", nil); code != 401 {
		t.Errorf("wrong token GET = %d, want 401", code)
	}
	var reasons []string
	for _, ev := range h.Audit("access.refused") {
		reasons = append(reasons, ev.Actor+" "+ev.Record+" "+ev.Reason)
	}
	if want := []string{"integration:school-system alert/" + id + " not_own_alert"}; !slices.Equal(reasons, want) {
		t.Errorf("refusals recorded: %q, want %q", reasons, want)
	}
	if err := h.gate.Flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	_ = h.Stores.Audit.(bot.RefusalLog).RangeRefusals(context.Background(), func(e bot.RefusalEntry) error {
		kinds = append(kinds, fmt.Sprintf("%s %d", e.Kind, e.Count))
		return nil
	})
	if !slices.Equal(kinds, []string{"api.bad_token 1"}) {
		t.Errorf("refusal stream %q, want one api.bad_token", kinds)
	}
}

// A source that keeps sending wrong tokens is made to wait: 429 with Retry-After, nothing kept.
func TestWrongTokensFromOneSourceAreSlowedDown(t *testing.T) {
	h := newAPI(t)
	var codes []int
	for range 5 {
		req, _ := http.NewRequest("GET", h.srv.URL+"/api/v1/alerts/A1", nil)
		req.Header.Set("Authorization", "Bearer wrong-token-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if !slices.Equal(codes, []int{401, 401, 401, 429, 429}) {
		t.Errorf("statuses %v, want three 401 (the burst) then 429", codes)
	}
	if err := h.gate.Flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	var counted int64
	_ = h.Stores.Audit.(bot.RefusalLog).RangeRefusals(context.Background(), func(e bot.RefusalEntry) error {
		counted += e.Count
		return nil
	})
	if counted != 3 || len(h.Audit("access.refused")) != 0 {
		t.Errorf("kept %d refusals and %d audit entries; want the three answered 401, no audit entry", counted, len(h.Audit("access.refused")))
	}
	// An integration with its token is not slowed by another's failures from the same address.
	if code, _, _ := h.call("POST", "/api/v1/alerts", policeToken, "application/json", good, nil); code != 201 {
		t.Errorf("the right token from the same source = %d, want 201", code)
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := newAPI(t)
	hdr := map[string]string{"Idempotency-Key": "incident-42"}
	c1, v1, _ := h.call("POST", "/api/v1/alerts", policeToken, "application/json", good, hdr)
	c2, v2, _ := h.call("POST", "/api/v1/alerts", policeToken, "application/json", good, hdr)
	if c1 != 201 || c2 != 201 || v1["id"] != v2["id"] {
		t.Fatalf("replay: %d %v / %d %v", c1, v1["id"], c2, v2["id"])
	}
	if n := len(h.Audit("alert.created")); n != 1 {
		t.Fatalf("alerts created: %d, want 1", n)
	}
	other := strings.Replace(good, "urgent", "today", 1)
	if c, v, _ := h.call("POST", "/api/v1/alerts", policeToken, "application/json", other, hdr); c != 422 || v["error"].(map[string]any)["code"] != "idempotency_key_reused" {
		t.Fatalf("same key, other body = %d %v", c, v)
	}
	// The same key from another integration is another key.
	if c, _, _ := h.call("POST", "/api/v1/alerts", schoolToken, "application/json", good, hdr); c != 201 {
		t.Fatalf("other integration, same key = %d", c)
	}
}

func TestEveryBadInputGetsAClearErrorAndChangesNothing(t *testing.T) {
	h := newAPI(t)
	tests := []struct {
		name        string
		method      string
		path        string
		token       string
		contentType string
		body        string
		headers     map[string]string
		status      int
		code        string
		field       string
	}{
		{"no token", "POST", "/api/v1/alerts", "", "application/json", good, nil, 401, "unauthorized", ""},
		{"wrong token", "POST", "/api/v1/alerts", "police-token-wrong", "application/json", good, nil, 401, "unauthorized", ""},
		{"not json", "POST", "/api/v1/alerts", policeToken, "text/plain", good, nil, 415, "unsupported_media_type", ""},
		{"broken json", "POST", "/api/v1/alerts", policeToken, "application/json", `{"case":`, nil, 400, "invalid_json", ""},
		{"unknown field", "POST", "/api/v1/alerts", policeToken, "application/json", `{"case":"K-2026-001","category":"violence","urgency":"urgent","description":"x","child_name":"Jonas"}`, nil, 400, "invalid_json", ""},
		{"wrong type", "POST", "/api/v1/alerts", policeToken, "application/json", `{"case":"K-2026-001","category":"violence","urgency":"urgent","description":"x","phoned":"yes"}`, nil, 400, "invalid_json", "phoned"},
		{"missing case", "POST", "/api/v1/alerts", policeToken, "application/json", `{"category":"violence","urgency":"urgent","description":"x"}`, nil, 400, "invalid_request", "case"},
		{"a name instead of a case code", "POST", "/api/v1/alerts", policeToken, "application/json", `{"case":"Jonas Jonaitis","category":"violence","urgency":"urgent","description":"x"}`, nil, 400, "invalid_request", "case"},
		{"a case code over 64 characters", "POST", "/api/v1/alerts", policeToken, "application/json", `{"case":"K-2026-` + strings.Repeat("1", 58) + `","category":"violence","urgency":"urgent","description":"x"}`, nil, 400, "invalid_request", "case"},
		{"unknown category", "POST", "/api/v1/alerts", policeToken, "application/json", `{"case":"K-2026-001","category":"weather","urgency":"urgent","description":"x"}`, nil, 400, "invalid_request", "category"},
		{"unknown urgency", "POST", "/api/v1/alerts", policeToken, "application/json", `{"case":"K-2026-001","category":"violence","urgency":"now","description":"x"}`, nil, 400, "invalid_request", "urgency"},
		{"description over the configured limit", "POST", "/api/v1/alerts", policeToken, "application/json", `{"case":"K-2026-001","category":"violence","urgency":"urgent","description":"` + strings.Repeat("a", 501) + `"}`, nil, 400, "invalid_request", "description"},
		{"body too large", "POST", "/api/v1/alerts", policeToken, "application/json", `{"case":"K-2026-001","category":"violence","urgency":"urgent","description":"` + strings.Repeat("a", 5000) + `"}`, nil, 413, "too_large", ""},
		{"bad idempotency key", "POST", "/api/v1/alerts", policeToken, "application/json", good, map[string]string{"Idempotency-Key": "has space"}, 400, "invalid_request", "Idempotency-Key"},
		{"GET on the collection", "GET", "/api/v1/alerts", policeToken, "", "", nil, 405, "method_not_allowed", ""},
		{"unknown alert", "GET", "/api/v1/alerts/A999", policeToken, "", "", nil, 404, "not_found", ""},
		{"malformed id", "GET", "/api/v1/alerts/drop-table", policeToken, "", "", nil, 400, "invalid_request", "id"},
		{"GET without token", "GET", "/api/v1/alerts/A1", "", "", "", nil, 401, "unauthorized", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.status == 405 {
				// Not in the description (only POST is); check the shape by hand.
				req, _ := http.NewRequest(tt.method, h.srv.URL+tt.path, nil)
				req.Header.Set("Authorization", "Bearer "+tt.token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
					t.Fatalf("status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
				}
				return
			}
			code, v, reqOK := h.call(tt.method, tt.path, tt.token, tt.contentType, tt.body, tt.headers)
			if code != tt.status {
				t.Fatalf("status = %d, want %d: %v", code, tt.status, v)
			}
			e, _ := v["error"].(map[string]any)
			if e["code"] != tt.code || (tt.field != "" && e["field"] != tt.field) || e["message"] == "" {
				t.Errorf("error = %v, want code %s field %s", e, tt.code, tt.field)
			}
			if reqOK && tt.status != 401 && tt.status != 404 && tt.status != 413 && tt.code != "invalid_request" {
				t.Errorf("the OpenAPI description accepts a request the server refuses")
			}
		})
	}
	if n := len(h.Audit("alert.created")); n != 0 {
		t.Fatalf("bad requests created %d alerts", n)
	}
	_ = time.Second
}
