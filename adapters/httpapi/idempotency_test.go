package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/httpapi"
	"github.com/tiltas/tiltas/bot/alerts"
)

// post sends a raise with an Idempotency-Key, without the harness's OpenAPI check, so that it
// may run from many goroutines; it returns the status, the Retry-After and the alert's ID.
func (h *apiHarness) post(key, body string) (int, string, string) {
	req, _ := http.NewRequest("POST", h.srv.URL+"/api/v1/alerts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+policeToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	var v struct {
		ID string `json:"id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, resp.Header.Get("Retry-After"), v.ID
}

// Fifty clients retrying one request at once, as a flaky network makes them: exactly one alert;
// those that come while it is being raised hear 409 with Retry-After and, retrying, its ID.
func TestConcurrentRequestsWithOneKeyRaiseOneAlert(t *testing.T) {
	gate := make(chan struct{})
	var raises atomic.Int32
	h := newAPIWith(t, true, func(a httpapi.Alerts) httpapi.Alerts {
		return &slowAlerts{Alerts: a, before: func() { raises.Add(1); <-gate }}
	})
	var wg sync.WaitGroup
	ids := make([]string, 50)
	conflicts := atomic.Int32{}
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for try := 0; try < 100; try++ {
				code, retry, id := h.post("burst-1", good)
				switch code {
				case 201:
					ids[i] = id
					return
				case 409:
					conflicts.Add(1)
					if n, err := strconv.Atoi(retry); err != nil || n < 1 {
						t.Errorf("409 without a Retry-After: %q", retry)
						return
					}
					time.Sleep(5 * time.Millisecond) // the test's clock stands still: retry soon
				default:
					t.Errorf("status %d", code)
					return
				}
			}
			t.Error("never got the alert")
		}()
	}
	// Hold the one raise until every other request has heard 409 at least once.
	for conflicts.Load() < 49 {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	for i, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("request %d ended with alert %q, request 0 with %q", i, id, ids[0])
		}
	}
	if n := len(h.Audit("alert.created")); n != 1 || raises.Load() != 1 {
		t.Fatalf("%d alerts created in %d raises, want 1", n, raises.Load())
	}
}

// The same key with other bodies: the first raises, every other is refused with 422.
func TestOneKeyWithDifferentBodiesRaisesOneAlert(t *testing.T) {
	h := newAPIWith(t, true, nil)
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Replace(good, "Vaikas buvo", fmt.Sprintf("Vaikas %d buvo", i), 1)
			for {
				code, _, _ := h.post("burst-2", body)
				if code != 409 {
					codes[i] = code
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	created, refused := 0, 0
	for _, c := range codes {
		switch c {
		case 201:
			created++
		case 422:
			refused++
		}
	}
	if created != 1 || refused != 19 {
		t.Fatalf("statuses %v: want one 201 and nineteen 422", codes)
	}
	if n := len(h.Audit("alert.created")); n != 1 {
		t.Fatalf("%d alerts created, want 1", n)
	}
}

// A raise whose process dies while it holds the key: the key stays taken until its lease runs
// out (a retry hears 409), then a retry raises the alert bound to the key, once.
func TestARaiseThatCrashesHoldingTheKeyIsRaisedOnceAfterTheLease(t *testing.T) {
	for _, crash := range []string{"before the alert is stored", "after the alert is stored"} {
		t.Run(crash, func(t *testing.T) {
			var calls atomic.Int32
			h := newAPIWith(t, true, func(a httpapi.Alerts) httpapi.Alerts {
				return &crashingAlerts{Alerts: a, calls: &calls, after: crash == "after the alert is stored"}
			})
			if code, _, _ := h.post("crash-1", good); code != 500 {
				t.Fatalf("the crashing raise answered %d", code)
			}
			if code, retry, _ := h.post("crash-1", good); code != 409 || retry == "" {
				t.Fatalf("retry within the lease = %d (Retry-After %q), want 409", code, retry)
			}
			h.Clock.Advance(31 * time.Second)
			code, _, id := h.post("crash-1", good)
			if code != 201 || id == "" {
				t.Fatalf("retry after the lease = %d %q", code, id)
			}
			if again, _, id2 := h.post("crash-1", good); again != 201 || id2 != id {
				t.Fatalf("a later retry = %d %q, want 201 %q", again, id2, id)
			}
			if n := len(h.Audit("alert.created")); n != 1 {
				t.Fatalf("%d alerts created, want 1", n)
			}
			a, err := h.flow.Get(context.Background(), id)
			if err != nil || a.State != alerts.Open || len(a.Reached) == 0 {
				t.Fatalf("the alert: %+v, %v", a, err)
			}
		})
	}
}

// slowAlerts holds every raise at before.
type slowAlerts struct {
	httpapi.Alerts
	before func()
}

func (s *slowAlerts) Raise(ctx context.Context, in alerts.Input) (alerts.Alert, error) {
	s.before()
	return s.Alerts.Raise(ctx, in)
}

// crashingAlerts fails the first raise as a process dying would: before storing the alert, or
// after storing it and before the answer.
type crashingAlerts struct {
	httpapi.Alerts
	calls *atomic.Int32
	after bool
}

func (c *crashingAlerts) Raise(ctx context.Context, in alerts.Input) (alerts.Alert, error) {
	if c.calls.Add(1) > 1 {
		return c.Alerts.Raise(ctx, in)
	}
	if c.after {
		if _, err := c.Alerts.Raise(ctx, in); err != nil {
			return alerts.Alert{}, err
		}
	}
	return alerts.Alert{}, errors.New("the process died")
}
