package telegramtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
)

type polled struct {
	UpdateID int `json:"update_id"`
	Message  *struct {
		Text string `json:"text"`
	} `json:"message"`
}

func updatesOf(t *testing.T, a answer) []polled {
	t.Helper()
	var out []polled
	if err := json.Unmarshal(a.Result, &out); err != nil {
		t.Fatalf("decode updates %s: %v", a.Result, err)
	}
	return out
}

func waitInFlight(t *testing.T, srv *telegramtest.Server, method string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if _, err := srv.WaitFor(ctx, func(c telegramtest.Call) bool { return c.Method == method && c.Code == 0 }); err != nil {
		t.Fatal(err)
	}
}

type result struct {
	code int
	a    answer
	err  error
}

func pollAsync(srv *telegramtest.Server, params map[string]string) <-chan result {
	done := make(chan result, 1)
	go func() {
		code, a, err := tryCall(srv, "getUpdates", params)
		done <- result{code, a, err}
	}()
	return done
}

func await(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	case <-time.After(hang):
		t.Fatal("getUpdates hangs")
		return result{}
	}
}

func TestGetUpdatesLongPollReturnsAPushedUpdate(t *testing.T) {
	srv := telegramtest.New(t, telegramtest.Options{})
	if code, a := call(t, srv, "getUpdates", map[string]string{"timeout": "0"}); code != 200 || len(updatesOf(t, a)) != 0 {
		t.Fatalf("empty poll = %d %s", code, a.Result)
	}

	poll := pollAsync(srv, map[string]string{"timeout": "30"})
	waitInFlight(t, srv, "getUpdates")
	id := srv.PushUpdate(srv.PrivateMessage(5, "labas"))
	r := await(t, poll)
	if got := updatesOf(t, r.a); r.code != 200 || len(got) != 1 || got[0].UpdateID != id || got[0].Message.Text != "labas" {
		t.Fatalf("long poll = %d %s, want update %d", r.code, r.a.Result, id)
	}

	// Unconfirmed updates are delivered again; an offset confirms them.
	second := srv.PushUpdate(srv.PrivateMessage(5, "antras"))
	if _, a := call(t, srv, "getUpdates", map[string]string{"offset": strconv.Itoa(id)}); len(updatesOf(t, a)) != 2 {
		t.Fatalf("poll from %d = %s, want both updates", id, a.Result)
	}
	if _, a := call(t, srv, "getUpdates", map[string]string{"offset": strconv.Itoa(id + 1), "limit": "1"}); len(updatesOf(t, a)) != 1 || updatesOf(t, a)[0].UpdateID != second {
		t.Fatalf("poll from %d = %s, want only %d", id+1, a.Result, second)
	}
	if n := srv.Pending(); n != 1 {
		t.Fatalf("Pending = %d, want 1", n)
	}
	if _, a := call(t, srv, "getUpdates", map[string]string{"offset": strconv.Itoa(second + 1)}); len(updatesOf(t, a)) != 0 || srv.Pending() != 0 {
		t.Fatalf("poll after confirming = %s, pending %d", a.Result, srv.Pending())
	}
}

func TestGetUpdatesTimesOut(t *testing.T) {
	srv := telegramtest.New(t, telegramtest.Options{})
	r := await(t, pollAsync(srv, map[string]string{"timeout": "1"}))
	if r.code != 200 || len(updatesOf(t, r.a)) != 0 {
		t.Fatalf("poll = %d %s, want an empty result", r.code, r.a.Result)
	}
}

func TestGetUpdatesConflicts(t *testing.T) {
	t.Run("a newer poll terminates the one in flight", func(t *testing.T) {
		srv := telegramtest.New(t, telegramtest.Options{})
		first := pollAsync(srv, map[string]string{"timeout": "30"})
		waitInFlight(t, srv, "getUpdates")
		second := pollAsync(srv, map[string]string{"timeout": "30"})
		if r := await(t, first); r.code != 409 {
			t.Fatalf("first poll = %d %+v, want 409", r.code, r.a)
		}
		srv.PushUpdate(srv.PrivateMessage(5, "x"))
		if r := await(t, second); r.code != 200 || len(updatesOf(t, r.a)) != 1 {
			t.Fatalf("second poll = %d %s, want the update", r.code, r.a.Result)
		}
	})
	t.Run("a webhook forbids polling", func(t *testing.T) {
		srv := telegramtest.New(t, telegramtest.Options{})
		if code, a := call(t, srv, "setWebhook", map[string]string{"url": "https://example.com/hook"}); code != 200 {
			t.Fatalf("setWebhook = %d %+v", code, a)
		}
		if code, _ := call(t, srv, "getUpdates", nil); code != 409 {
			t.Fatalf("getUpdates with a webhook = %d, want 409", code)
		}
		call(t, srv, "deleteWebhook", nil)
		if code, _ := call(t, srv, "getUpdates", nil); code != 200 {
			t.Fatalf("getUpdates after deleteWebhook = %d, want 200", code)
		}
	})
	t.Run("Close ends a poll in flight", func(t *testing.T) {
		srv := telegramtest.New(t, telegramtest.Options{})
		poll := pollAsync(srv, map[string]string{"timeout": "50"})
		waitInFlight(t, srv, "getUpdates")
		srv.Close()
		if r := await(t, poll); r.code != 200 {
			t.Fatalf("poll at Close = %d %+v", r.code, r.a)
		}
	})
}

func TestRateLimits(t *testing.T) {
	type step struct {
		at        time.Duration
		method    string
		chat      int64
		wantCode  int
		wantRetry int
	}
	send := func(at time.Duration, chat int64, code, retry int) step {
		return step{at: at, method: "sendMessage", chat: chat, wantCode: code, wantRetry: retry}
	}
	var group, global []step
	for i := range 20 {
		group = append(group, send(time.Duration(i)*100*time.Millisecond, -100, 200, 0))
	}
	group = append(group, send(10500*time.Millisecond, -100, 429, 50), send(60500*time.Millisecond, -100, 200, 0))
	for i := range 30 {
		global = append(global, send(0, int64(i+1), 200, 0))
	}
	global = append(global, send(0, 31, 429, 1), send(time.Second, 31, 200, 0))
	// Sends before a retry_after has passed are refused and lengthen it: the bot's after the
	// overall window was full, the chat's alone after the chat's was.
	var early []step
	for i := range 30 {
		early = append(early, send(0, int64(i+1), 200, 0))
	}
	early = append(early, send(0, 31, 429, 1), send(500*time.Millisecond, 32, 429, 2),
		send(1500*time.Millisecond, 33, 429, 2), send(3*time.Second, 33, 200, 0),
		send(4*time.Second, 5, 200, 0), send(4500*time.Millisecond, 5, 429, 1),
		send(5*time.Second, 6, 200, 0), send(5200*time.Millisecond, 5, 429, 2), send(7500*time.Millisecond, 5, 200, 0))

	tests := []struct {
		name   string
		limits telegramtest.Limits
		steps  []step
		early  int
	}{
		{name: "one message per second in a private chat", steps: []step{
			send(0, 5, 200, 0), send(300*time.Millisecond, 5, 429, 1), send(300*time.Millisecond, 6, 200, 0), send(1300*time.Millisecond, 5, 200, 0),
		}},
		{name: "twenty messages per minute in a group", steps: group},
		{name: "thirty messages per second overall", steps: global},
		{name: "sends during a retry_after", steps: early, early: 3},
		{name: "edits count as sends", steps: []step{
			send(0, 5, 200, 0), {at: 500 * time.Millisecond, method: "editMessageText", chat: 5, wantCode: 429, wantRetry: 1},
			{at: 1500 * time.Millisecond, method: "editMessageText", chat: 5, wantCode: 200},
		}},
		{name: "disabled", limits: telegramtest.Limits{Disabled: true}, steps: []step{
			send(0, 5, 200, 0), send(0, 5, 200, 0), send(0, 5, 200, 0),
		}},
		{name: "raised for a benchmark", limits: telegramtest.Limits{Private: telegramtest.Window{N: 100, Per: time.Second}}, steps: []step{
			send(0, 5, 200, 0), send(0, 5, 200, 0), send(0, 5, 200, 0),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			start := clock.Now()
			srv := telegramtest.New(t, telegramtest.Options{Now: clock.Now, Limits: tt.limits})
			want429, wantSends := 0, 0
			for i, st := range tt.steps {
				clock.Advance(start.Add(st.at).Sub(clock.Now()))
				params := map[string]string{"chat_id": strconv.FormatInt(st.chat, 10), "text": fmt.Sprintf("message %d", i)}
				if st.method == "editMessageText" {
					params["message_id"] = "1"
				}
				code, a := call(t, srv, st.method, params)
				if code != st.wantCode {
					t.Fatalf("step %d (%s to %d at %v) = %d %+v, want %d", i, st.method, st.chat, st.at, code, a, st.wantCode)
				}
				if st.wantCode == 429 {
					want429++
					if a.Parameters == nil || a.Parameters.RetryAfter != st.wantRetry {
						t.Fatalf("step %d retry_after = %+v, want %d", i, a.Parameters, st.wantRetry)
					}
				} else {
					wantSends++
				}
			}
			if srv.Count429() != want429 || len(srv.Sends()) != wantSends || len(srv.Early()) != tt.early {
				t.Fatalf("Count429 = %d, Sends = %d, Early = %d; want %d, %d, %d", srv.Count429(), len(srv.Sends()), len(srv.Early()), want429, wantSends, tt.early)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	type step struct {
		method   string
		params   map[string]string
		wantCode int
	}
	msg := func(chat string, code int) step {
		return step{method: "sendMessage", params: map[string]string{"chat_id": chat, "text": "x"}, wantCode: code}
	}
	getMe := func(code int) step { return step{method: "getMe", wantCode: code} }
	tests := []struct {
		name  string
		setup func(*telegramtest.Server, *fakeClock)
		steps []step
	}{
		{
			name:  "next calls to one chat",
			setup: func(s *telegramtest.Server, _ *fakeClock) { s.FailNext(5, 2, 400, "Bad Request: custom", 0) },
			steps: []step{msg("6", 200), msg("5", 400), getMe(200), msg("5", 400), msg("7", 200), msg("5", 200)},
		},
		{
			name:  "next calls of one method",
			setup: func(s *telegramtest.Server, _ *fakeClock) { s.FailMethod("getMe", 2, 500) },
			steps: []step{getMe(500), msg("5", 200), getMe(500), getMe(200)},
		},
		{
			name: "every method until a time",
			setup: func(s *telegramtest.Server, c *fakeClock) {
				s.FailUntil("", c.Now().Add(10*time.Second), 503)
			},
			steps: []step{getMe(503), msg("5", 503), {method: "advance"}, getMe(200), msg("5", 200)},
		},
		{
			name: "blocked, restored",
			setup: func(s *telegramtest.Server, _ *fakeClock) {
				s.BlockChat(5)
				s.BlockChat(-5)
			},
			steps: []step{msg("5", 403), msg("-5", 403), msg("6", 200), {method: "restore"}, msg("5", 200)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			srv := telegramtest.New(t, telegramtest.Options{Now: clock.Now, Limits: telegramtest.Limits{Disabled: true}})
			tt.setup(srv, clock)
			for i, st := range tt.steps {
				switch st.method {
				case "advance":
					clock.Advance(10 * time.Second)
					continue
				case "restore":
					srv.RestoreChat(5)
					continue
				}
				code, a := call(t, srv, st.method, st.params)
				if code != st.wantCode {
					t.Fatalf("step %d %s = %d %+v, want %d", i, st.method, code, a, st.wantCode)
				}
				if code != 200 && a.Parameters != nil {
					t.Errorf("step %d: parameters %+v on an error that has none", i, a.Parameters)
				}
			}
		})
	}
}

func TestFaultParameters(t *testing.T) {
	srv := telegramtest.New(t, telegramtest.Options{})
	srv.Inject(telegramtest.Fault{Method: "sendMessage", Times: 1, Err: telegramtest.Error{Code: 429, RetryAfter: 3}})
	srv.MigrateChat(-77, -1007700000000)
	code, a := call(t, srv, "sendMessage", map[string]string{"chat_id": "5", "text": "x"})
	if code != 429 || a.Parameters == nil || a.Parameters.RetryAfter != 3 || a.Description != "Too Many Requests: retry after 3" {
		t.Fatalf("injected 429 = %d %+v", code, a)
	}
	code, a = call(t, srv, "sendMessage", map[string]string{"chat_id": "-77", "text": "x"})
	if code != 400 || a.Parameters == nil || a.Parameters.MigrateToChatID != -1007700000000 {
		t.Fatalf("migrated group = %d %+v", code, a)
	}
}

func TestMessageState(t *testing.T) {
	srv := telegramtest.New(t, telegramtest.Options{Limits: telegramtest.Limits{Disabled: true}})
	kb := keyboard(`{"text":"Taip","callback_data":"yes"}`)
	send := map[string]string{"chat_id": "5", "text": "Ar ateisite?", "reply_markup": kb}
	if code, a := call(t, srv, "sendMessage", send); code != 200 {
		t.Fatalf("sendMessage = %d %+v", code, a)
	}
	user := srv.PrivateMessage(5, "labas")
	srv.PushUpdate(user)
	press := srv.CallbackQuery(5, srv.Sent(5)[0].Message, "yes")
	srv.PushUpdate(press)

	tests := []struct {
		name     string
		method   string
		params   map[string]string
		wantCode int
	}{
		{name: "edit without changes", method: "editMessageText", params: map[string]string{"chat_id": "5", "message_id": "1", "text": "Ar ateisite?", "reply_markup": kb}, wantCode: 400},
		{name: "edit of a missing message", method: "editMessageText", params: map[string]string{"chat_id": "5", "message_id": "99", "text": "x"}, wantCode: 400},
		{name: "edit of the user's message", method: "editMessageText", params: map[string]string{"chat_id": "5", "message_id": strconv.Itoa(user.Message.MessageID), "text": "x"}, wantCode: 400},
		{name: "reply to a missing message", method: "sendMessage", params: map[string]string{"chat_id": "5", "text": "x", "reply_parameters": `{"message_id":99}`}, wantCode: 400},
		{name: "reply to a missing message allowed", method: "sendMessage", params: map[string]string{"chat_id": "5", "text": "x", "reply_parameters": `{"message_id":99,"allow_sending_without_reply":true}`}, wantCode: 200},
		{name: "reply to the user's message", method: "sendMessage", params: map[string]string{"chat_id": "5", "text": "x", "reply_parameters": fmt.Sprintf(`{"message_id":%d}`, user.Message.MessageID)}, wantCode: 200},
		{name: "answer an unknown query", method: "answerCallbackQuery", params: map[string]string{"callback_query_id": "123"}, wantCode: 400},
		{name: "answer the query", method: "answerCallbackQuery", params: map[string]string{"callback_query_id": press.CallbackQuery.ID}, wantCode: 200},
		{name: "answer the query twice", method: "answerCallbackQuery", params: map[string]string{"callback_query_id": press.CallbackQuery.ID}, wantCode: 400},
		{name: "edit text, dropping the keyboard", method: "editMessageText", params: map[string]string{"chat_id": "5", "message_id": "1", "text": "<b>Ačiū</b>", "parse_mode": "HTML"}, wantCode: 200},
		{name: "delete a missing message", method: "deleteMessage", params: map[string]string{"chat_id": "5", "message_id": "99"}, wantCode: 400},
		{name: "delete the user's message", method: "deleteMessage", params: map[string]string{"chat_id": "5", "message_id": strconv.Itoa(user.Message.MessageID)}, wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, a := call(t, srv, tt.method, tt.params); code != tt.wantCode {
				t.Fatalf("%s = %d %+v, want %d", tt.method, code, a, tt.wantCode)
			}
		})
	}
	sent := srv.Sent(5)
	if len(sent) != 3 {
		t.Fatalf("Sent = %+v, want 3 bot messages", sent)
	}
	if m := sent[0]; m.Text != "Ačiū" || m.Raw != "<b>Ačiū</b>" || m.ReplyMarkup != nil || m.Edits != 1 || len(m.Entities) != 1 {
		t.Errorf("edited message = %+v", m)
	}
}

func TestWaitFor(t *testing.T) {
	srv := telegramtest.New(t, telegramtest.Options{})
	sent := make(chan error, 1)
	go func() {
		_, _, err := tryCall(srv, "sendMessage", map[string]string{"chat_id": "5", "text": "vėliau"})
		sent <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	c, err := srv.WaitFor(ctx, func(c telegramtest.Call) bool { return c.Method == "sendMessage" && c.Code == 200 })
	if err != nil || c.Params["text"] != "vėliau" || c.Params["chat_id"] != int64(5) {
		t.Fatalf("WaitFor = %+v, %v", c, err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	cancelled, stop := context.WithCancel(context.Background())
	stop()
	if _, err := srv.WaitFor(cancelled, func(c telegramtest.Call) bool { return c.Method == "getMe" }); err == nil {
		t.Fatal("WaitFor with a cancelled context and no match returned no error")
	}
}

func TestPushUpdateRejectsInvalidUpdates(t *testing.T) {
	tests := []struct {
		name   string
		update any
	}{
		{name: "missing required field", update: map[string]any{"message": map[string]any{"message_id": 1, "text": "x"}}},
		{name: "two kinds", update: map[string]any{
			"message":        map[string]any{"message_id": 1, "date": 1, "chat": map[string]any{"id": 1, "type": "private"}},
			"edited_message": map[string]any{"message_id": 1, "date": 1, "chat": map[string]any{"id": 1, "type": "private"}},
		}},
		{name: "unknown field", update: map[string]any{"message": map[string]any{"message_id": 1, "date": 1, "chat": map[string]any{"id": 1, "type": "private"}, "colour": "red"}}},
		{name: "not an object", update: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			srv := telegramtest.New(rec, telegramtest.Options{})
			srv.PushUpdate(tt.update)
			rec.runCleanups()
			if len(rec.errors) != 1 || srv.Pending() != 0 {
				t.Fatalf("failures = %q, pending = %d; want one failure and nothing queued", rec.errors, srv.Pending())
			}
		})
	}
}
