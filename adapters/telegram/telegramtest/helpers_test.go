package telegramtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
)

// hang turns a hang into a failure; nothing asserts on elapsed time.
const hang = 30 * time.Second

// answer is the Bot API response envelope.
type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// call posts params as multipart/form-data, as go-telegram/bot does.
func call(t *testing.T, srv *telegramtest.Server, method string, params map[string]string) (int, answer) {
	t.Helper()
	code, a, err := tryCall(srv, method, params)
	if err != nil {
		t.Fatal(err)
	}
	return code, a
}

// tryCall is call for goroutines other than the test's.
func tryCall(srv *telegramtest.Server, method string, params map[string]string) (int, answer, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range params {
		if err := w.WriteField(k, v); err != nil {
			return 0, answer{}, err
		}
	}
	if err := w.Close(); err != nil {
		return 0, answer{}, err
	}
	return tryDo(srv.URL()+"/bot"+srv.Token()+"/"+method, w.FormDataContentType(), &body)
}

func do(t *testing.T, u, contentType string, body *bytes.Buffer) (int, answer) {
	t.Helper()
	code, a, err := tryDo(u, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, a
}

func tryDo(u, contentType string, body *bytes.Buffer) (int, answer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return 0, answer{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, answer{}, err
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return 0, answer{}, fmt.Errorf("decode answer: %w", err)
	}
	if a.OK != (resp.StatusCode == http.StatusOK) || (!a.OK && a.ErrorCode != resp.StatusCode) {
		return 0, answer{}, fmt.Errorf("envelope %+v does not match HTTP status %d", a, resp.StatusCode)
	}
	return resp.StatusCode, a, nil
}

func postJSON(t *testing.T, srv *telegramtest.Server, method string, params map[string]any) (int, answer) {
	t.Helper()
	b, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, srv.URL()+"/bot"+srv.Token()+"/"+method, "application/json", bytes.NewBuffer(b))
}

func postForm(t *testing.T, srv *telegramtest.Server, method string, params url.Values) (int, answer) {
	t.Helper()
	return do(t, srv.URL()+"/bot"+srv.Token()+"/"+method, "application/x-www-form-urlencoded", bytes.NewBufferString(params.Encode()))
}

// fakeClock is a settable server clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// keyboard is an inline_keyboard reply_markup with one row of buttons given as JSON objects.
func keyboard(buttons ...string) string {
	return `{"inline_keyboard":[[` + strings.Join(buttons, ",") + `]]}`
}
