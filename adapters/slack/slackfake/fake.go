// Package slackfake is a fake Slack workspace for tests: a Web API server speaking Slack's wire
// format (url-encoded forms in, {"ok":…} JSON out) for the methods Tiltas calls, which keeps
// channels and their messages as they read after edits, checks every message against Block
// Kit's limits, injects failures (429 with Retry-After, 5xx, Slack error codes) and notices a
// call made before a Retry-After passed; and the Slack side of inbound traffic: a Socket Mode
// endpoint (apps.connections.open and a websocket that sends hello, pings and envelopes and
// waits for their acks) or signed HTTP requests to an app's request URLs. slack-go's own
// slacktest serves only part of this (no chat.update, conversations.open or uploads) and its
// websocket is the old RTM one.
package slackfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults of Options.
const (
	DefaultBotToken      = "xoxb-0000-fake-bot-token"
	DefaultAppToken      = "xapp-1-A0000-fake-app-token"
	DefaultSigningSecret = "fake-signing-secret"
	DefaultTeam          = "T0TILTAS"
	DefaultBotUser       = "U0TILTASBOT"
)

// Options configure a Server; the zero value is usable.
type Options struct {
	BotToken, AppToken, SigningSecret string
	Team                              string // the workspace's ID
	BotUser                           string // the bot's user ID, for mentions
	// AckTimeout is how long the fake waits for an envelope's ack or a request's answer
	// (default 10 s: Slack waits 3 s, the fake is generous so that a slow -race run does not
	// flake).
	AckTimeout time.Duration
	// AllowInvalid stops the server from failing the test at cleanup when it refused a
	// request as invalid; for tests that provoke exactly that.
	AllowInvalid bool
}

// Call is one Web API request the server answered.
type Call struct {
	Method  string
	Params  url.Values // the form, without the token
	Channel string
	Time    time.Time
	Status  int    // HTTP status answered
	Error   string // Slack's error code when ok was false
}

// Message is a message in a channel as it reads now.
type Message struct {
	Channel, TS, Thread string
	Text                string  // the fallback text sent along
	Blocks              []Block // as sent, parsed
	RawBlocks           string  // the blocks parameter exactly as sent
	Edits               int
	Files               []File
}

// Block is a section (Text is its mrkdwn) or an actions block (Buttons).
type Block struct {
	Type    string
	Text    string
	Buttons []Button
}

// Button is a button element.
type Button struct {
	ActionID, Value, Label string
}

// File is an uploaded file shared into a channel.
type File struct {
	ID, Name, Title string
	Data            []byte
}

// Ephemeral is a message only one person sees: chat.postEphemeral or a response_url post.
type Ephemeral struct {
	Channel, User, Text string
	ViaHook             bool
}

// Fault makes matching calls fail. Empty Method or Channel match any; Times 0 means once.
type Fault struct {
	Method, Channel string
	Times           int
	Status          int    // HTTP status, e.g. 429 or 503 (0: 200 with Error)
	RetryAfter      int    // seconds, sent as Retry-After with a 429
	Error           string // Slack error code in {"ok":false}
}

// Server is a running fake workspace. Its methods are safe for concurrent use.
type Server struct {
	tb   testing.TB
	opts Options
	srv  *httptest.Server

	mu         sync.Mutex
	calls      []Call
	chans      map[string][]*Message
	ephemerals []Ephemeral
	faults     []*Fault
	blocked    map[string]time.Time // channel → Retry-After end
	seq        int
	uploads    map[string]*File
	hooks      map[string]hook
	problems   []string
	missing    map[string]string // user → conversations.open error

	// inbound
	target string // HTTP mode: the app's base URL
	sock   *socket
	sockCh chan struct{} // closed and replaced when a socket connects
	hellos int           // Socket Mode connections made
	conns  []*websocket.Conn
	stop   chan struct{}
	wg     sync.WaitGroup
}

type hook struct{ channel, user string }

// New starts a fake workspace and stops it when the test ends; at the end it also fails the
// test if any request was invalid (unless Options.AllowInvalid).
func New(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.BotToken == "" {
		o.BotToken = DefaultBotToken
	}
	if o.AppToken == "" {
		o.AppToken = DefaultAppToken
	}
	if o.SigningSecret == "" {
		o.SigningSecret = DefaultSigningSecret
	}
	if o.Team == "" {
		o.Team = DefaultTeam
	}
	if o.BotUser == "" {
		o.BotUser = DefaultBotUser
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 10 * time.Second
	}
	s := &Server{tb: tb, opts: o, chans: map[string][]*Message{}, blocked: map[string]time.Time{},
		uploads: map[string]*File{}, hooks: map[string]hook{}, missing: map[string]string{},
		sockCh: make(chan struct{}), stop: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(func() {
		s.Close()
		if !o.AllowInvalid {
			for _, p := range s.Problems() {
				tb.Errorf("slackfake: %s", p)
			}
		}
	})
	return s
}

// Close stops the server and its websockets.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.stop:
		s.mu.Unlock()
		return
	default:
	}
	close(s.stop)
	conns := s.conns
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	s.srv.Close()
	s.wg.Wait()
}

// APIURL is the Web API base to configure the adapter with.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// Team is the workspace ID.
func (s *Server) Team() string { return s.opts.Team }

// BotUser is the bot's user ID.
func (s *Server) BotUser() string { return s.opts.BotUser }

// Options returns the options in effect (tokens and secret included).
func (s *Server) Options() Options { return s.opts }

// DMChannel is the ID of user's direct-message conversation with the bot.
func DMChannel(user string) string { return "D" + user }

// Fail queues a fault for matching calls.
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// Unreachable makes conversations.open with user fail with code (user_not_found,
// cannot_dm_bot, user_disabled…).
func (s *Server) Unreachable(user, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.missing[user] = code
}

// Calls returns the calls of method (all when empty), oldest first.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Channel returns copies of a channel's messages, oldest first.
func (s *Server) Channel(id string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.chans[id]))
	for _, m := range s.chans[id] {
		out = append(out, *m)
	}
	return out
}

// DM returns user's direct messages from the bot.
func (s *Server) DM(user string) []Message { return s.Channel(DMChannel(user)) }

// Ephemerals returns what only user saw.
func (s *Server) Ephemerals(user string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ephemeral
	for _, e := range s.ephemerals {
		if e.User == user {
			out = append(out, e)
		}
	}
	return out
}

// Problems lists the invalid requests the server refused and the calls made during a
// Retry-After.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

// Plain is the message as a person reads it: each section's text with Slack's escapes undone
// and a bold line's asterisks dropped, one section per line.
func (m Message) Plain() string {
	var out []string
	for _, b := range m.Blocks {
		if b.Type != "section" {
			continue
		}
		var lines []string
		for _, l := range strings.Split(b.Text, "\n") {
			if len(l) > 1 && strings.HasPrefix(l, "*") && strings.HasSuffix(l, "*") {
				l = l[1 : len(l)-1]
			}
			lines = append(lines, Unescape(l))
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	return strings.Join(out, "\n")
}

// Labels lists the message's button labels.
func (m Message) Labels() []string {
	var out []string
	for _, b := range m.Blocks {
		for _, bt := range b.Buttons {
			out = append(out, bt.Label)
		}
	}
	return out
}

var unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// Unescape undoes mrkdwn's escapes.
func Unescape(s string) string { return unescaper.Replace(s) }

// Sign returns Slack's v0 signature of body sent at ts with secret.
func Sign(secret string, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:", timestamp)
	mac.Write(body)
	return timestamp, "v0=" + hex.EncodeToString(mac.Sum(nil))
}

func (s *Server) problem(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("1800000000.%06d", s.seq)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/socket":
		s.serveSocket(w, r)
	case strings.HasPrefix(r.URL.Path, "/upload/"):
		s.serveUpload(w, r)
	case strings.HasPrefix(r.URL.Path, "/hooks/"):
		s.serveHook(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.serveAPI(w, r, strings.TrimPrefix(r.URL.Path, "/api/"))
	default:
		http.NotFound(w, r)
	}
}

type answer map[string]any

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, method string) {
	body, _ := io.ReadAll(r.Body)
	form := url.Values{}
	bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		var err error
		if form, err = url.ParseQuery(string(body)); err != nil {
			s.mu.Lock()
			s.problem("%s: body is not a form: %v", method, err)
			s.mu.Unlock()
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
	}
	token := form.Get("token")
	form.Del("token")
	if token == "" {
		token = bearer
	}
	s.mu.Lock()
	call := Call{Method: method, Params: form, Channel: form.Get("channel"), Time: time.Now(), Status: http.StatusOK}
	if call.Channel == "" {
		call.Channel = form.Get("channel_id")
	}
	status, header, res := s.method(method, token, form, &call)
	call.Status = status
	if e, ok := res["error"].(string); ok {
		call.Error = e
	}
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	for k, v := range header {
		w.Header().Set(k, v)
	}
	if status != http.StatusOK {
		w.WriteHeader(status)
		if res == nil {
			_, _ = io.WriteString(w, "<html>unavailable</html>")
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

func fail(code string) answer { return answer{"ok": false, "error": code} }

// method answers one call; s.mu is held.
func (s *Server) method(method, token string, form url.Values, call *Call) (int, map[string]string, answer) {
	want := s.opts.BotToken
	if method == "apps.connections.open" {
		want = s.opts.AppToken
	}
	if token != want {
		return 200, nil, fail("invalid_auth")
	}
	if until, ok := s.blocked[call.Channel]; ok && call.Channel != "" {
		if call.Time.Before(until) {
			s.problem("%s to %s %v before its Retry-After passed", method, call.Channel, until.Sub(call.Time).Round(time.Millisecond))
		} else {
			delete(s.blocked, call.Channel)
		}
	}
	for i, f := range s.faults {
		if (f.Method != "" && f.Method != method) || (f.Channel != "" && f.Channel != call.Channel) {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		switch {
		case f.Status == http.StatusTooManyRequests:
			h := map[string]string{}
			if f.RetryAfter > 0 {
				h["Retry-After"] = strconv.Itoa(f.RetryAfter)
				s.blocked[call.Channel] = call.Time.Add(time.Duration(f.RetryAfter) * time.Second)
			}
			return f.Status, h, fail("ratelimited")
		case f.Status != 0:
			return f.Status, nil, nil
		default:
			return 200, nil, fail(f.Error)
		}
	}
	switch method {
	case "auth.test":
		return 200, nil, answer{"ok": true, "team_id": s.opts.Team, "user_id": s.opts.BotUser, "bot_id": "B0TILTAS"}
	case "conversations.info":
		// The app is in every channel, unless a Fault says otherwise (channel_not_found).
		ch := form.Get("channel")
		return 200, nil, answer{"ok": true, "channel": map[string]any{"id": ch, "name": strings.ToLower(ch), "is_channel": true, "is_member": true}}
	case "apps.connections.open":
		return 200, nil, answer{"ok": true, "url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/socket"}
	case "conversations.open":
		users := strings.Split(form.Get("users"), ",")
		if len(users) != 1 || users[0] == "" {
			s.problem("conversations.open: users = %q, want one user", form.Get("users"))
			return 200, nil, fail("invalid_arguments")
		}
		if code, ok := s.missing[users[0]]; ok {
			return 200, nil, fail(code)
		}
		return 200, nil, answer{"ok": true, "channel": answer{"id": DMChannel(users[0]), "is_im": true}}
	case "chat.postMessage":
		return s.postMessage(form, call)
	case "chat.update":
		return s.update(form, call)
	case "chat.postEphemeral":
		if form.Get("channel") == "" || form.Get("user") == "" || form.Get("text") == "" {
			s.problem("chat.postEphemeral without channel, user or text: %v", form)
			return 200, nil, fail("invalid_arguments")
		}
		s.ephemerals = append(s.ephemerals, Ephemeral{Channel: form.Get("channel"), User: form.Get("user"), Text: form.Get("text")})
		return 200, nil, answer{"ok": true, "message_ts": s.nextTS()}
	case "files.getUploadURLExternal":
		n, err := strconv.Atoi(form.Get("length"))
		if form.Get("filename") == "" || err != nil || n <= 0 {
			s.problem("files.getUploadURLExternal: filename %q, length %q", form.Get("filename"), form.Get("length"))
			return 200, nil, fail("invalid_arguments")
		}
		s.seq++
		id := fmt.Sprintf("F%06d", s.seq)
		s.uploads[id] = &File{ID: id, Name: form.Get("filename")}
		return 200, nil, answer{"ok": true, "upload_url": s.srv.URL + "/upload/" + id, "file_id": id}
	case "files.completeUploadExternal":
		return s.completeUpload(form)
	}
	s.problem("unknown method %s", method)
	return 200, nil, fail("unknown_method")
}

func (s *Server) postMessage(form url.Values, call *Call) (int, map[string]string, answer) {
	ch := form.Get("channel")
	if ch == "" {
		s.problem("chat.postMessage without channel")
		return 200, nil, fail("channel_not_found")
	}
	blocks, err := s.checkMessage("chat.postMessage", form)
	if err != "" {
		return 200, nil, fail(err)
	}
	m := &Message{Channel: ch, TS: s.nextTS(), Thread: form.Get("thread_ts"), Text: form.Get("text"), Blocks: blocks, RawBlocks: form.Get("blocks")}
	s.chans[ch] = append(s.chans[ch], m)
	return 200, nil, answer{"ok": true, "channel": ch, "ts": m.TS, "message": answer{"ts": m.TS, "text": m.Text}}
}

func (s *Server) update(form url.Values, call *Call) (int, map[string]string, answer) {
	ch, ts := form.Get("channel"), form.Get("ts")
	var m *Message
	for _, x := range s.chans[ch] {
		if x.TS == ts {
			m = x
		}
	}
	if m == nil {
		return 200, nil, fail("message_not_found")
	}
	blocks, err := s.checkMessage("chat.update", form)
	if err != "" {
		return 200, nil, fail(err)
	}
	if _, ok := form["blocks"]; !ok {
		s.problem("chat.update of %s/%s without blocks keeps the old buttons", ch, ts)
	}
	m.Text, m.Blocks, m.RawBlocks = form.Get("text"), blocks, form.Get("blocks")
	m.Edits++
	return 200, nil, answer{"ok": true, "channel": ch, "ts": ts, "text": m.Text}
}

func (s *Server) completeUpload(form url.Values) (int, map[string]string, answer) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(form.Get("files")), &files); err != nil || len(files) == 0 {
		s.problem("files.completeUploadExternal: files = %q", form.Get("files"))
		return 200, nil, fail("invalid_arguments")
	}
	ch := form.Get("channel_id")
	var out []answer
	for _, f := range files {
		up := s.uploads[f.ID]
		if up == nil || up.Data == nil {
			s.problem("files.completeUploadExternal: file %s was never uploaded", f.ID)
			return 200, nil, fail("file_not_found")
		}
		up.Title = f.Title
		if ch != "" {
			m := &Message{Channel: ch, TS: s.nextTS(), Files: []File{*up}}
			s.chans[ch] = append(s.chans[ch], m)
		}
		out = append(out, answer{"id": up.ID, "title": up.Title})
	}
	return 200, nil, answer{"ok": true, "files": out}
}

func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	s.mu.Lock()
	defer s.mu.Unlock()
	up := s.uploads[id]
	if up == nil {
		s.problem("upload to unknown file %s", id)
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.opts.BotToken {
		s.problem("upload of %s without the bot token", id)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		s.problem("upload of %s is not multipart: %v", id, err)
		http.Error(w, "bad upload", http.StatusBadRequest)
		return
	}
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if p.FormName() == "file" {
			up.Data, _ = io.ReadAll(p)
		}
		_ = p.Close()
	}
	if up.Data == nil {
		s.problem("upload of %s has no file part", id)
	}
	_, _ = io.WriteString(w, "OK - "+strconv.Itoa(len(up.Data)))
}

func (s *Server) serveHook(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/hooks/")
	var msg struct {
		Text            string `json:"text"`
		ResponseType    string `json:"response_type"`
		ReplaceOriginal bool   `json:"replace_original"`
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hooks[id]
	if !ok {
		s.problem("post to unknown response_url %s", id)
		http.NotFound(w, r)
		return
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.Text == "" {
		s.problem("response_url post is not a message: %s", body)
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if msg.ResponseType != "ephemeral" || msg.ReplaceOriginal {
		s.problem("response_url post is not a fresh ephemeral message: %s", body)
	}
	s.ephemerals = append(s.ephemerals, Ephemeral{Channel: h.channel, User: h.user, Text: msg.Text, ViaHook: true})
	_, _ = io.WriteString(w, "ok")
}
