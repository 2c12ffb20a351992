// Package telegramtest is a fake Telegram Bot API server for tests. It speaks
// the real wire format (multipart, url-encoded or JSON requests to
// /bot<token>/<method>, {"ok":...} answers), checks every request against the
// machine-readable Bot API spec and Telegram's content limits, keeps chats,
// messages and an update queue, enforces the broadcast rate limits and
// injects failures, so that adapter tests never reach Telegram.
package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	defaultToken       = "123456789:TEST-telegramtest-token"
	defaultBotUsername = "tiltas_test_bot"
	maxRequestBytes    = 64 << 20
)

// Options configure a Server. The zero value is usable.
type Options struct {
	Token       string // bot token the server accepts; default 123456789:TEST-telegramtest-token
	BotUsername string // getMe username; default tiltas_test_bot
	// SpecPath is the api.json to validate against; default is this
	// repository's adapters/telegram/testdata/api.json, found from the
	// source path (so pass it explicitly when testing with -trimpath).
	SpecPath string
	Limits   Limits
	// Now is the clock for message dates, rate windows and fault deadlines;
	// default time.Now. Long-poll timeouts always use real time.
	Now func() time.Time
	// AllowInvalid stops the server from failing the test at cleanup when it
	// answered invalid requests; for tests of the validation itself.
	AllowInvalid bool
}

// Call is one request the server answered.
type Call struct {
	Method string
	// Params are the decoded parameters: Integer as int64, Float as float64,
	// Boolean as bool, JSON-serialized objects and arrays as map[string]any
	// and []any (their numbers as int64 or float64), uploads as *File. For an
	// invalid call they are the raw strings. Read-only.
	Params  map[string]any
	Files   map[string]*File // multipart file parts by field name
	Time    time.Time        // arrival, on the server clock
	Code    int              // HTTP status answered: 200 or the error code; 0 while in flight
	Error   string           // error description when Code is not 200
	Invalid bool             // rejected by spec or limit validation
	// Chunked tells that the body came with Transfer-Encoding: chunked (as go-telegram/bot
	// streams it) rather than with a Content-Length.
	Chunked bool
	// Field is, for an invalid call, the parameter or nested field at
	// fault, e.g. "reply_markup.inline_keyboard[0][1].callback_data".
	Field string

	seq     int
	idx     int // position in Server.calls once recorded, else -1
	aborted bool
}

// HandlerFunc answers a method instead of the built-in behaviour; it runs
// after validation, fault injection and rate limiting.
type HandlerFunc func(Call) (result any, err *Error)

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	tb    testing.TB
	opts  Options
	spec  *spec
	ts    *httptest.Server
	botID int64
	done  chan struct{}
	close sync.Once

	mu        sync.Mutex
	seq       int
	calls     []Call
	changed   chan struct{} // closed and replaced whenever a call is recorded
	handlers  map[string]HandlerFunc
	faults    []*Fault
	chats     map[int64]*chatState
	usernames map[string]int64
	limiter   *rateLimiter
	sends     []Send
	early     []Send // sends that arrived during a retry_after that concerned them
	count429  int
	commands  map[string][]any
	callbacks map[string]bool // callback query ID -> answered
	nextQuery int
	updates
}

// New starts a server and stops it when the test ends. At cleanup the test
// fails for every invalid request the server answered, unless
// opts.AllowInvalid is set.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.Token == "" {
		opts.Token = defaultToken
	}
	if opts.BotUsername == "" {
		opts.BotUsername = defaultBotUsername
	}
	if opts.SpecPath == "" {
		opts.SpecPath = defaultSpecPath()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	sp, err := loadSpec(opts.SpecPath)
	if err != nil {
		tb.Fatalf("telegramtest: %v", err)
	}
	botID, err := strconv.ParseInt(strings.SplitN(opts.Token, ":", 2)[0], 10, 64)
	if err != nil || botID <= 0 {
		botID = 1
	}
	s := &Server{
		tb:        tb,
		opts:      opts,
		spec:      sp,
		botID:     botID,
		done:      make(chan struct{}),
		changed:   make(chan struct{}),
		handlers:  map[string]HandlerFunc{},
		chats:     map[int64]*chatState{},
		usernames: map[string]int64{},
		limiter:   newRateLimiter(opts.Limits),
		commands:  map[string][]any{},
		callbacks: map[string]bool{},
		updates:   updates{nextID: 1, wake: make(chan struct{})},
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	tb.Cleanup(func() {
		s.Close()
		if opts.AllowInvalid {
			return
		}
		for _, c := range s.Invalid() {
			tb.Errorf("telegramtest: invalid request %s: %d %s", c.Method, c.Code, c.Error)
		}
	})
	return s
}

// URL is the server's base URL, for bot.WithServerURL.
func (s *Server) URL() string { return s.ts.URL }

// Token is the bot token the server accepts.
func (s *Server) Token() string { return s.opts.Token }

// Close ends pending long polls and stops the server. It is idempotent and
// runs at test cleanup anyway.
func (s *Server) Close() {
	s.close.Do(func() {
		close(s.done)
		s.ts.Close()
	})
}

// Handle makes fn answer method, replacing the built-in behaviour.
func (s *Server) Handle(method string, fn HandlerFunc) {
	if s.spec.Methods[method] == nil {
		s.tb.Errorf("telegramtest: Handle: %s is not a Bot API method", method)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[method] = fn
}

// Calls returns the valid calls of method ("" for every method) in arrival
// order, however they were answered; a call still in flight (a long poll)
// has Code 0.
func (s *Server) Calls(method string) []Call {
	return s.filterCalls(func(c Call) bool { return !c.Invalid && (method == "" || c.Method == method) })
}

// Invalid returns the requests rejected by validation: unknown method or
// token, malformed body, spec mismatch, content over Telegram's limits.
func (s *Server) Invalid() []Call {
	return s.filterCalls(func(c Call) bool { return c.Invalid })
}

func (s *Server) filterCalls(keep func(Call) bool) []Call {
	s.mu.Lock()
	all := append([]Call(nil), s.calls...)
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	out := all[:0]
	for _, c := range all {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// WaitFor returns the first call in arrival order that satisfies pred,
// waiting for new calls and answers until ctx ends. pred sees valid calls
// (in flight with Code 0, then again once answered) and invalid ones.
func (s *Server) WaitFor(ctx context.Context, pred func(Call) bool) (Call, error) {
	for {
		s.mu.Lock()
		wake := s.changed
		s.mu.Unlock()
		for _, c := range s.filterCalls(func(Call) bool { return true }) {
			if pred(c) {
				return c, nil
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return Call{}, fmt.Errorf("wait for telegram call: %w", ctx.Err())
		}
	}
}

// Sends returns every accepted send (messages, documents, edits) in arrival
// order, for throughput measurements.
func (s *Server) Sends() []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Send(nil), s.sends...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Count429 is the number of sends refused by the rate limits.
func (s *Server) Count429() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count429
}

// Early returns the sends that arrived while a retry_after that concerned
// them was running (the bot's, or their chat's): each was refused and
// lengthened the wait, as Telegram's flood control does. A bot that obeys
// every retry_after has none, but for sends already on their way when the
// 429 was answered.
func (s *Server) Early() []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Send(nil), s.early...)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seq++
	call := Call{Time: s.opts.Now(), seq: s.seq, idx: -1, Chunked: slices.Contains(r.TransferEncoding, "chunked")}
	s.mu.Unlock()

	result, apiErr := s.serve(r, &call)
	var body []byte
	if apiErr != nil {
		call.Code, call.Error, call.Field = apiErr.Code, apiErr.Description, apiErr.field
		body = errorBody(apiErr)
	} else {
		call.Code = http.StatusOK
		b, err := json.Marshal(map[string]any{"ok": true, "result": result})
		if err != nil {
			s.tb.Errorf("telegramtest: encode %s result: %v", call.Method, err)
			b = errorBody(&Error{Code: 500, Description: "Internal Server Error"})
			call.Code = 500
		}
		body = b
	}
	switch {
	case call.idx >= 0:
		s.finish(call)
	case !call.aborted:
		s.record(call)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(call.Code)
	_, _ = w.Write(body)
}

func errorBody(e *Error) []byte {
	out := map[string]any{"ok": false, "error_code": e.Code, "description": e.Description}
	params := map[string]any{}
	if e.RetryAfter > 0 {
		params["retry_after"] = e.RetryAfter
	}
	if e.MigrateToChatID != 0 {
		params["migrate_to_chat_id"] = e.MigrateToChatID
	}
	if len(params) > 0 {
		out["parameters"] = params
	}
	b, _ := json.Marshal(out)
	return b
}

// record adds a call and wakes WaitFor; it returns the call's index.
func (s *Server) record(c Call) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.idx = len(s.calls)
	s.calls = append(s.calls, c)
	s.notify()
	return c.idx
}

// finish stores the answer of a call recorded while in flight.
func (s *Server) finish(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[c.idx] = c
	s.notify()
}

func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// serve validates the request and answers it.
func (s *Server) serve(r *http.Request, call *Call) (any, *Error) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	call.Method = method
	call.Invalid = true
	if !ok || !ok2 || method == "" || strings.Contains(method, "/") {
		return nil, &Error{Code: 404, Description: "Not Found"}
	}
	if token != s.opts.Token {
		return nil, &Error{Code: 401, Description: "Unauthorized"}
	}
	m := s.spec.Methods[method]
	if m == nil {
		return nil, &Error{Code: 404, Description: "Not Found"}
	}
	raw, files, err := decodeRequest(r)
	if err != nil {
		// A body cut short is a client that gave up (go-telegram/bot
		// aborts its streamed request when its context ends), not a
		// malformed request: it is answered but not recorded.
		call.aborted = errors.Is(err, io.ErrUnexpectedEOF) || r.Context().Err() != nil
		return nil, badRequest("%v", err)
	}
	call.Files = files
	call.Params = make(map[string]any, len(raw))
	for k, p := range raw {
		if p.file != nil {
			call.Params[k] = p.file
		} else {
			call.Params[k] = p.value
		}
	}
	v := validator{spec: s.spec, files: files}
	params, verr := v.request(m, raw)
	if verr != nil {
		e := badRequest("%v", verr)
		e.field = verr.Path
		return nil, e
	}
	call.Params = params
	content, apiErr := checkContent(m, params)
	if apiErr != nil {
		return nil, apiErr
	}
	call.Invalid = false
	call.idx = s.record(*call)
	result, apiErr := s.dispatch(r.Context(), m, call, content)
	if apiErr == nil {
		s.checkResult(m, result)
	}
	return result, apiErr
}

// checkResult fails the test when an answer, built in or from a HandlerFunc,
// does not match the method's return type: the fake must not teach the
// adapter a wire format Telegram never sends.
func (s *Server) checkResult(m *specObject, result any) {
	b, err := json.Marshal(result)
	if err != nil {
		return // reported by serveHTTP
	}
	x, err := decodeJSON(string(b))
	if err != nil {
		s.tb.Errorf("telegramtest: %s result is not JSON: %v", m.Name, err)
		return
	}
	v := validator{spec: s.spec}
	if _, verr := v.anyOf(x, m.Returns, "result"); verr != nil {
		s.tb.Errorf("telegramtest: %s result does not match the spec (%s): %v", m.Name, strings.Join(m.Returns, " or "), verr)
	}
}

// decodeRequest reads parameters from the query string and a multipart,
// url-encoded or JSON body. Top-level JSON values are re-encoded as the Bot
// API server does: strings as they are, everything else as JSON text.
func decodeRequest(r *http.Request) (map[string]rawParam, map[string]*File, error) {
	raw := map[string]rawParam{}
	files := map[string]*File{}
	add := func(k string, p rawParam) error {
		if _, dup := raw[k]; dup {
			return fmt.Errorf("parameter %q is given twice", k)
		}
		raw[k] = p
		return nil
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			if err := add(k, rawParam{value: v}); err != nil {
				return nil, nil, err
			}
		}
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return raw, files, nil
	}
	mt, mp, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, nil, fmt.Errorf("bad Content-Type %q: %v", ct, err)
	}
	body := http.MaxBytesReader(nil, r.Body, maxRequestBytes)
	switch mt {
	case "multipart/form-data":
		mr := multipart.NewReader(body, mp["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, nil, fmt.Errorf("read multipart body: %w", err)
			}
			name := part.FormName()
			if name == "" {
				return nil, nil, errors.New("multipart part without a form-data name")
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return nil, nil, fmt.Errorf("read multipart part %q: %w", name, err)
			}
			_, disp, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
			p := rawParam{value: string(data)}
			if fileName, isFile := disp["filename"]; isFile {
				p.file = &File{Field: name, Name: fileName, ContentType: part.Header.Get("Content-Type"), Data: data}
				files[name] = p.file
			}
			if err := add(name, p); err != nil {
				return nil, nil, err
			}
		}
	case "application/x-www-form-urlencoded":
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, nil, fmt.Errorf("read body: %w", err)
		}
		q, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, nil, fmt.Errorf("parse url-encoded body: %v", err)
		}
		for k, vs := range q {
			for _, v := range vs {
				if err := add(k, rawParam{value: v}); err != nil {
					return nil, nil, err
				}
			}
		}
	case "application/json":
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, nil, fmt.Errorf("read body: %w", err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			break
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, nil, fmt.Errorf("request body must be a JSON object: %v", err)
		}
		for k, v := range obj {
			v = bytes.TrimSpace(v)
			switch {
			case string(v) == "null":
				continue
			case len(v) > 0 && v[0] == '"':
				var str string
				if err := json.Unmarshal(v, &str); err != nil {
					return nil, nil, err
				}
				if err := add(k, rawParam{value: str}); err != nil {
					return nil, nil, err
				}
			default:
				if err := add(k, rawParam{value: string(v)}); err != nil {
					return nil, nil, err
				}
			}
		}
	default:
		return nil, nil, fmt.Errorf("unsupported Content-Type %q", mt)
	}
	return raw, files, nil
}
