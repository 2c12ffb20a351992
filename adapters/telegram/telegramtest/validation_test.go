package telegramtest_test

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
)

func TestRejectsInvalidRequests(t *testing.T) {
	ok := `{"text":"OK","callback_data":"ok"}`
	tests := []struct {
		name      string
		method    string
		params    map[string]string
		wantCode  int
		wantField string
	}{
		{name: "unknown method", method: "sendMessages", params: map[string]string{"chat_id": "1", "text": "x"}, wantCode: 404},
		{name: "method name is case-sensitive", method: "sendmessage", params: map[string]string{"chat_id": "1", "text": "x"}, wantCode: 404},
		{name: "missing chat_id", method: "sendMessage", params: map[string]string{"text": "x"}, wantCode: 400, wantField: "chat_id"},
		{name: "missing text", method: "sendMessage", params: map[string]string{"chat_id": "1"}, wantCode: 400, wantField: "text"},
		{name: "unknown parameter", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "colour": "red"}, wantCode: 400, wantField: "colour"},
		{name: "Boolean that is not", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "disable_notification": "maybe"}, wantCode: 400, wantField: "disable_notification"},
		{name: "Integer that is not", method: "deleteMessage", params: map[string]string{"chat_id": "1", "message_id": "x"}, wantCode: 400, wantField: "message_id"},
		{name: "Integer that is a float", method: "deleteMessage", params: map[string]string{"chat_id": "1", "message_id": "1.5"}, wantCode: 400, wantField: "message_id"},
		{name: "reply_markup is not JSON", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": `{"inline_keyboard":[[`}, wantCode: 400, wantField: "reply_markup"},
		{name: "unknown field in a button", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": keyboard(`{"text":"a","callback_data":"b","colour":"red"}`)}, wantCode: 400, wantField: "reply_markup.inline_keyboard[0][0].colour"},
		{name: "callback_data over 64 bytes", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": keyboard(ok, `{"text":"a","callback_data":"`+strings.Repeat("ą", 33)+`"}`)}, wantCode: 400, wantField: "reply_markup.inline_keyboard[0][1].callback_data"},
		{name: "callback_data empty", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": keyboard(`{"text":"a","callback_data":""}`)}, wantCode: 400, wantField: "reply_markup.inline_keyboard[0][0].callback_data"},
		{name: "callback_data of the wrong type", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": keyboard(`{"text":"a","callback_data":7}`)}, wantCode: 400, wantField: "reply_markup.inline_keyboard[0][0].callback_data"},
		{name: "inline_keyboard not an array of arrays", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": `{"inline_keyboard":[` + ok + `]}`}, wantCode: 400, wantField: "reply_markup.inline_keyboard[0]"},
		{name: "button text empty", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": keyboard(`{"text":"","callback_data":"b"}`)}, wantCode: 400, wantField: "reply_markup.inline_keyboard[0][0].text"},
		{name: "button without an action", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": keyboard(`{"text":"a"}`)}, wantCode: 400, wantField: "reply_markup.inline_keyboard[0][0]"},
		{name: "button with two actions", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": keyboard(`{"text":"a","callback_data":"b","url":"https://example.com"}`)}, wantCode: 400, wantField: "reply_markup.inline_keyboard[0][0]"},
		{name: "reply_markup matching no keyboard type", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": `{"buttons":[]}`}, wantCode: 400, wantField: "reply_markup"},
		{name: "reply keyboard without text", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": `{"keyboard":[[{"request_contact":true}]]}`}, wantCode: 400, wantField: "reply_markup.keyboard[0][0].text"},
		{name: "entity offset as a string", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "entities": `[{"type":"bold","offset":"0","length":1}]`}, wantCode: 400, wantField: "entities[0].offset"},
		{name: "unknown field in link_preview_options", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "link_preview_options": `{"disabled":true}`}, wantCode: 400, wantField: "link_preview_options.disabled"},
		{name: "text over 4096 characters", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": strings.Repeat("ž", 4097)}, wantCode: 400, wantField: "text"},
		{name: "HTML over 4096 characters after parsing", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": strings.Repeat("&lt;", 4097)}, wantCode: 400, wantField: "text"},
		{name: "text only white space", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": " \n "}, wantCode: 400, wantField: "text"},
		{name: "HTML empty after parsing", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": "<b></b>"}, wantCode: 400, wantField: "text"},
		{name: "HTML unknown tag", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": "<foo>x</foo>"}, wantCode: 400, wantField: "text"},
		{name: "HTML unclosed tag", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": "<b>x"}, wantCode: 400, wantField: "text"},
		{name: "HTML misnested tags", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": "<b><i>x</b></i>"}, wantCode: 400, wantField: "text"},
		{name: "HTML bare <", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": "1 < 2"}, wantCode: 400, wantField: "text"},
		{name: "HTML bare &", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": "fish & chips"}, wantCode: 400, wantField: "text"},
		{name: "HTML unsupported named entity", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": "a&nbsp;b"}, wantCode: 400, wantField: "text"},
		{name: "HTML span without spoiler class", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": "<span>x</span>"}, wantCode: 400, wantField: "text"},
		{name: "MarkdownV2 unescaped reserved character", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "MarkdownV2", "text": "Done."}, wantCode: 400, wantField: "text"},
		{name: "MarkdownV2 unclosed bold", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "MarkdownV2", "text": "*bold"}, wantCode: 400, wantField: "text"},
		{name: "unknown parse_mode", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "BBCode", "text": "x"}, wantCode: 400, wantField: "parse_mode"},
		{name: "caption over 1024 characters", method: "sendDocument", params: map[string]string{"chat_id": "1", "document": "BQAC", "caption": strings.Repeat("a", 1025)}, wantCode: 400, wantField: "caption"},
		{name: "callback answer over 200 characters", method: "answerCallbackQuery", params: map[string]string{"callback_query_id": "1", "text": strings.Repeat("a", 201)}, wantCode: 400, wantField: "text"},
		{name: "command with capitals", method: "setMyCommands", params: map[string]string{"commands": `[{"command":"Start","description":"Begin"}]`}, wantCode: 400, wantField: "commands[0].command"},
		{name: "scope missing its chat_id", method: "setMyCommands", params: map[string]string{"commands": `[{"command":"start","description":"Begin"}]`, "scope": `{"type":"chat"}`}, wantCode: 400, wantField: "scope.chat_id"},
		{name: "scope with an unknown type", method: "setMyCommands", params: map[string]string{"commands": `[{"command":"start","description":"Begin"}]`, "scope": `{"type":"everyone"}`}, wantCode: 400, wantField: "scope"},
		{name: "attach reference without a file", method: "sendDocument", params: map[string]string{"chat_id": "1", "document": "attach://report"}, wantCode: 400, wantField: "attach://report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := telegramtest.New(t, telegramtest.Options{AllowInvalid: true})
			code, a := call(t, srv, tt.method, tt.params)
			if code != tt.wantCode || a.OK {
				t.Fatalf("answer = %d %+v, want %d", code, a, tt.wantCode)
			}
			invalid := srv.Invalid()
			if len(invalid) != 1 || len(srv.Calls("")) != 0 {
				t.Fatalf("invalid = %+v, valid = %+v; want the one call recorded as invalid", invalid, srv.Calls(""))
			}
			if got := invalid[0]; got.Field != tt.wantField || got.Method != tt.method || got.Code != tt.wantCode {
				t.Errorf("invalid call = %s field %q code %d, want %s field %q code %d (%s)",
					got.Method, got.Field, got.Code, tt.method, tt.wantField, tt.wantCode, got.Error)
			}
		})
	}
}

func TestAcceptsValidRequests(t *testing.T) {
	tests := []struct {
		name   string
		method string
		params map[string]string
	}{
		{name: "chat_id as a @username String", method: "sendMessage", params: map[string]string{"chat_id": "@tiltas_news", "text": "x"}},
		{name: "Booleans as form values", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "disable_notification": "true", "protect_content": "0"}},
		{name: "4096 characters", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": strings.Repeat("ž", 4096)}},
		{name: "4096 &lt; entities parse to 4096 characters", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": strings.Repeat("&lt;", 4096)}},
		{name: "markup around 4096 characters", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": "<b>" + strings.Repeat("a", 4096) + "</b>"}},
		{name: "HTML nesting, links, numeric entities", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "HTML", "text": `<b>Bold <i>both</i></b> <a href="https://example.com/?a=1&b=2">link</a> &#39;q&#x27; <tg-spoiler>s</tg-spoiler> <span class="tg-spoiler">s</span> <pre><code class="language-go">x &lt; y</code></pre> <blockquote expandable>q</blockquote>`}},
		{name: "HTML tags are case-insensitive and </> closes", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "html", "text": "<B>x</B> <i>y</>"}},
		{name: "MarkdownV2 escaped", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "MarkdownV2", "text": "*Done\\.* _it_ __u__ ~s~ ||sp|| `co\\`de` [link](https://example.com/a\\)b)\n>quote\n>more"}},
		{name: "legacy Markdown", method: "sendMessage", params: map[string]string{"chat_id": "1", "parse_mode": "Markdown", "text": "*b* _i_ `c` [l](https://example.com) 2\\*2"}},
		{name: "explicit entities", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "bold", "entities": `[{"type":"bold","offset":0,"length":4}]`}},
		{name: "callback_data of exactly 64 bytes", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": keyboard(`{"text":"a","callback_data":"` + strings.Repeat("ą", 32) + `"}`)}},
		{name: "go-telegram's empty copy_text", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": keyboard(`{"text":"a","callback_data":"b","copy_text":{"text":""}}`)}},
		{name: "reply keyboard", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": `{"keyboard":[[{"text":"Yes"},{"text":"No"}]],"one_time_keyboard":true}`}},
		{name: "keyboard removal", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": `{"remove_keyboard":true}`}},
		{name: "force reply", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": `{"force_reply":true,"input_field_placeholder":"Date"}`}},
		{name: "link preview options", method: "sendMessage", params: map[string]string{"chat_id": "1", "text": "x", "link_preview_options": `{"is_disabled":true}`}},
		{name: "commands with a chat scope", method: "setMyCommands", params: map[string]string{"commands": `[{"command":"start","description":"Begin"}]`, "scope": `{"type":"chat","chat_id":-100}`, "language_code": "lt"}},
		{name: "generic method", method: "sendChatAction", params: map[string]string{"chat_id": "1", "action": "typing"}},
		{name: "generic method returning an object", method: "getChat", params: map[string]string{"chat_id": "-42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := telegramtest.New(t, telegramtest.Options{})
			if code, a := call(t, srv, tt.method, tt.params); code != 200 || !a.OK {
				t.Fatalf("answer = %d %+v, want 200", code, a)
			}
		})
	}
}

func TestBodyEncodings(t *testing.T) {
	srv := telegramtest.New(t, telegramtest.Options{})
	tests := []struct {
		name string
		send func() (int, answer)
	}{
		{name: "JSON", send: func() (int, answer) {
			return postJSON(t, srv, "sendMessage", map[string]any{
				"chat_id": 5, "text": "json", "disable_notification": true,
				"reply_markup": map[string]any{"inline_keyboard": [][]map[string]any{{{"text": "a", "callback_data": "b"}}}},
			})
		}},
		{name: "url-encoded", send: func() (int, answer) {
			return postForm(t, srv, "sendMessage", url.Values{"chat_id": {"7"}, "text": {"form"}, "reply_markup": {keyboard(`{"text":"a","callback_data":"b"}`)}})
		}},
		{name: "query string", send: func() (int, answer) {
			return do(t, srv.URL()+"/bot"+srv.Token()+"/sendMessage?chat_id=6&text=query", "", &bytes.Buffer{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, a := tt.send(); code != 200 {
				t.Fatalf("answer = %d %+v", code, a)
			}
		})
	}
	if got := srv.Calls("sendMessage")[0].Params["reply_markup"]; got == nil {
		t.Fatal("JSON reply_markup was not decoded")
	}
}

func TestWrongToken(t *testing.T) {
	srv := telegramtest.New(t, telegramtest.Options{AllowInvalid: true})
	code, a := do(t, srv.URL()+"/bot123:wrong/getMe", "", &bytes.Buffer{})
	if code != 401 || a.Description != "Unauthorized" {
		t.Fatalf("answer = %d %+v, want 401 Unauthorized", code, a)
	}
	if len(srv.Invalid()) != 1 {
		t.Fatalf("invalid = %+v, want the call", srv.Invalid())
	}
}

// recorder is a testing.TB that records failures instead of failing, to
// test that the server fails the test it is given.
type recorder struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (r *recorder) Helper()                           {}
func (r *recorder) Cleanup(f func())                  { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, args ...any) { r.errors = append(r.errors, format) }

func (r *recorder) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestFailsTheTestOnInvalidRequests(t *testing.T) {
	tests := []struct {
		name       string
		opts       telegramtest.Options
		params     map[string]string
		wantErrors int
	}{
		{name: "invalid request fails", params: map[string]string{"chat_id": "1"}, wantErrors: 1},
		{name: "AllowInvalid keeps quiet", opts: telegramtest.Options{AllowInvalid: true}, params: map[string]string{"chat_id": "1"}},
		{name: "valid request passes", params: map[string]string{"chat_id": "1", "text": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			srv := telegramtest.New(rec, tt.opts)
			call(t, srv, "sendMessage", tt.params)
			rec.runCleanups()
			if len(rec.errors) != tt.wantErrors {
				t.Fatalf("test failures = %q, want %d", rec.errors, tt.wantErrors)
			}
		})
	}
}

func TestFailsTheTestOnAResultTelegramWouldNotSend(t *testing.T) {
	rec := &recorder{TB: t}
	srv := telegramtest.New(rec, telegramtest.Options{})
	srv.Handle("getChat", func(telegramtest.Call) (any, *telegramtest.Error) {
		return map[string]any{"id": "not a number"}, nil
	})
	call(t, srv, "getChat", map[string]string{"chat_id": "1"})
	rec.runCleanups()
	if len(rec.errors) != 1 {
		t.Fatalf("test failures = %q, want 1", rec.errors)
	}
}
