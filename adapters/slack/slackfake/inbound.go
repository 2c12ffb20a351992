package slackfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// pingEvery is how often the fake pings a Socket Mode connection, as Slack does.
const pingEvery = 5 * time.Second

type socket struct {
	conn *websocket.Conn
	wmu  sync.Mutex
	acks map[string]chan struct{} // guarded by Server.mu
}

func (k *socket) write(v any) error {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	_ = k.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return k.conn.WriteJSON(v)
}

// serveSocket is the Socket Mode websocket: hello, then envelopes; acks are read back.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	k := &socket{conn: c, acks: map[string]chan struct{}{}}
	s.mu.Lock()
	select {
	case <-s.stop:
		s.mu.Unlock()
		_ = c.Close()
		return
	default:
	}
	s.wg.Add(2)
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	defer s.wg.Done()
	hello := map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A0TILTAS"},
		"debug_info":      map[string]any{"host": "slackfake", "approximate_connection_time": 18060}}
	if err := k.write(hello); err != nil {
		s.wg.Done()
		return
	}
	s.mu.Lock()
	s.sock = k
	s.hellos++
	close(s.sockCh)
	s.sockCh = make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if err := c.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)); err != nil {
					return
				}
			}
		}
	}()
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			break
		}
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		s.mu.Lock()
		if err := json.Unmarshal(data, &ack); err != nil || ack.EnvelopeID == "" {
			s.problem("socket mode: not an ack: %s", data)
		} else if ch, ok := k.acks[ack.EnvelopeID]; ok {
			close(ch)
			delete(k.acks, ack.EnvelopeID)
		} else {
			s.problem("socket mode: ack of unknown or acknowledged envelope %s", ack.EnvelopeID)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	if s.sock == k {
		s.sock = nil
	}
	s.mu.Unlock()
	_ = c.Close()
}

// WaitSocket waits until a Socket Mode connection has said hello.
func (s *Server) WaitSocket(timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		k, ch := s.sock, s.sockCh
		s.mu.Unlock()
		if k != nil {
			return nil
		}
		select {
		case <-ch:
		case <-deadline:
			return errors.New("slackfake: no socket mode connection")
		}
	}
}

// Connections counts the Socket Mode connections made so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hellos
}

// Disconnect asks the Socket Mode client to reconnect, as Slack does before it recycles a
// connection.
func (s *Server) Disconnect() error {
	s.mu.Lock()
	k := s.sock
	s.mu.Unlock()
	if k == nil {
		return errors.New("slackfake: no socket mode connection")
	}
	return k.write(map[string]any{"type": "disconnect", "reason": "refresh_requested",
		"debug_info": map[string]any{"host": "slackfake"}})
}

// UseHTTP makes the fake deliver to an app in HTTP mode at base (the app's URL without the
// /slack/… paths), signing every request with the signing secret.
func (s *Server) UseHTTP(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.target = strings.TrimSuffix(base, "/")
}

// Kinds of delivery, by the Socket Mode envelope type.
const (
	kindEvents      = "events_api"
	kindInteractive = "interactive"
	kindCommands    = "slash_commands"
)

// deliver hands payload to the app and waits for its ack (Socket Mode) or 200 (HTTP mode).
func (s *Server) deliver(kind string, payload any, retry int) error {
	s.mu.Lock()
	target := s.target
	s.mu.Unlock()
	if target != "" {
		return s.post(target, kind, payload, retry)
	}
	return s.envelope(kind, payload, retry)
}

func (s *Server) envelope(kind string, payload any, retry int) error {
	s.mu.Lock()
	k := s.sock
	s.seq++
	id := fmt.Sprintf("env-%06d", s.seq)
	ch := make(chan struct{})
	if k != nil {
		k.acks[id] = ch
	}
	s.mu.Unlock()
	if k == nil {
		return errors.New("slackfake: no socket mode connection and no HTTP target")
	}
	env := map[string]any{"envelope_id": id, "type": kind, "payload": payload,
		"accepts_response_payload": kind != kindEvents, "retry_attempt": retry}
	if retry > 0 {
		env["retry_reason"] = "timeout"
	}
	if err := k.write(env); err != nil {
		return fmt.Errorf("slackfake: write envelope: %w", err)
	}
	select {
	case <-ch:
		return nil
	case <-time.After(s.opts.AckTimeout):
		s.mu.Lock()
		delete(k.acks, id)
		s.mu.Unlock()
		return fmt.Errorf("slackfake: envelope %s (%s) not acknowledged", id, kind)
	}
}

// post sends a signed request to the app in HTTP mode.
func (s *Server) post(target, kind string, payload any, retry int) error {
	var body []byte
	var path, ctype string
	switch kind {
	case kindEvents:
		path, ctype = "/slack/events", "application/json"
		body, _ = json.Marshal(payload)
	case kindInteractive:
		path, ctype = "/slack/interactivity", "application/x-www-form-urlencoded"
		js, _ := json.Marshal(payload)
		body = []byte(url.Values{"payload": {string(js)}}.Encode())
	default:
		path, ctype = "/slack/commands", "application/x-www-form-urlencoded"
		form := url.Values{}
		for k, v := range payload.(map[string]string) {
			form.Set(k, v)
		}
		body = []byte(form.Encode())
	}
	req, err := http.NewRequest(http.MethodPost, target+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts, sig := Sign(s.opts.SigningSecret, time.Now(), body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sig)
	if retry > 0 {
		req.Header.Set("X-Slack-Retry-Num", fmt.Sprint(retry))
		req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	client := &http.Client{Timeout: s.opts.AckTimeout}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("slackfake: %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("slackfake: %s answered %s", path, resp.Status)
	}
	return nil
}

// EventCallback wraps an inner event in the Events API envelope with a fresh event_id.
func (s *Server) EventCallback(event map[string]any) map[string]any {
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("Ev%08d", s.seq)
	s.mu.Unlock()
	return map[string]any{"token": "verification-token-unused", "team_id": s.opts.Team, "api_app_id": "A0TILTAS",
		"type": "event_callback", "event_id": id, "event_time": time.Now().Unix(), "event": event,
		"authorizations": []map[string]any{{"team_id": s.opts.Team, "user_id": s.opts.BotUser, "is_bot": true}}}
}

// SendEvent delivers an Events API callback (from EventCallback), as a retry when retry > 0.
func (s *Server) SendEvent(callback map[string]any, retry int) error {
	return s.deliver(kindEvents, callback, retry)
}

func (s *Server) ts() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextTS()
}

// Say sends text from user in their direct messages with the bot (message.im).
func (s *Server) Say(user, text string) error {
	return s.SendEvent(s.EventCallback(map[string]any{"type": "message", "channel": DMChannel(user),
		"channel_type": "im", "user": user, "team": s.opts.Team, "text": Escape(text), "ts": s.ts()}), 0)
}

// SayIn sends text from user in a channel, not addressed to the bot.
func (s *Server) SayIn(channel, user, text string) error {
	return s.SendEvent(s.EventCallback(map[string]any{"type": "message", "channel": channel,
		"channel_type": "channel", "user": user, "team": s.opts.Team, "text": Escape(text), "ts": s.ts()}), 0)
}

// Mention sends "@bot text" from user in a channel (app_mention).
func (s *Server) Mention(channel, user, text string) error {
	return s.SendEvent(s.EventCallback(map[string]any{"type": "app_mention", "channel": channel,
		"user": user, "team": s.opts.Team, "text": "<@" + s.opts.BotUser + "> " + Escape(text), "ts": s.ts()}), 0)
}

// Join sends member_joined_channel: user joined channel (a public one when its ID starts with
// C), invited by inviter when that is not "". The app's own joining is Join(ch, s.BotUser(), …).
func (s *Server) Join(channel, user, inviter string) error {
	ev := map[string]any{"type": "member_joined_channel", "channel": channel, "channel_type": "C",
		"user": user, "team": s.opts.Team, "event_ts": s.ts()}
	if !strings.HasPrefix(channel, "C") {
		ev["channel_type"] = "G"
	}
	if inviter != "" {
		ev["inviter"] = inviter
	}
	return s.SendEvent(s.EventCallback(ev), 0)
}

// Command runs "/tiltas text" as user in channel.
func (s *Server) Command(channel, user, text string) error {
	return s.SlashCommand(channel, user, "/tiltas", text)
}

// SlashCommand runs a slash command as user in channel.
func (s *Server) SlashCommand(channel, user, command, text string) error {
	s.mu.Lock()
	s.seq++
	trigger := fmt.Sprintf("%d.%d.fake", s.seq, time.Now().UnixNano())
	hookID := fmt.Sprintf("cmd-%06d", s.seq)
	s.hooks[hookID] = hook{channel: channel, user: user}
	s.mu.Unlock()
	name := "directmessage"
	if !strings.HasPrefix(channel, "D") {
		name = "channel-" + strings.ToLower(channel)
	}
	return s.deliver(kindCommands, map[string]string{"token": "verification-token-unused", "team_id": s.opts.Team,
		"team_domain": "tiltas", "channel_id": channel, "channel_name": name, "user_id": user, "user_name": user,
		"command": command, "text": text, "api_app_id": "A0TILTAS", "is_enterprise_install": "false",
		"response_url": s.srv.URL + "/hooks/" + hookID, "trigger_id": trigger}, 0)
}

// Press presses, as user, the button whose label contains label on the newest message in
// channel that has one.
func (s *Server) Press(user, channel, label string) error {
	s.mu.Lock()
	var msg *Message
	var btn Button
	for i := len(s.chans[channel]) - 1; i >= 0 && msg == nil; i-- {
		m := s.chans[channel][i]
		for _, b := range m.Blocks {
			for _, bt := range b.Buttons {
				if msg == nil && strings.Contains(bt.Label, label) {
					msg, btn = m, bt
				}
			}
		}
	}
	s.mu.Unlock()
	if msg == nil {
		return fmt.Errorf("slackfake: no button %q in %s", label, channel)
	}
	return s.PressButton(user, channel, msg.TS, btn)
}

// PressButton sends a block_actions payload for button b on the message ts in channel, as
// user; b may be made up (a forged press).
func (s *Server) PressButton(user, channel, ts string, b Button) error {
	s.mu.Lock()
	s.seq++
	trigger := fmt.Sprintf("%d.%d.fake", s.seq, time.Now().UnixNano())
	hookID := fmt.Sprintf("act-%06d", s.seq)
	s.hooks[hookID] = hook{channel: channel, user: user}
	s.mu.Unlock()
	payload := map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": user, "username": user, "name": user, "team_id": s.opts.Team},
		"api_app_id":   "A0TILTAS",
		"token":        "verification-token-unused",
		"container":    map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"trigger_id":   trigger,
		"team":         map[string]any{"id": s.opts.Team, "domain": "tiltas"},
		"channel":      map[string]any{"id": channel, "name": channel},
		"message":      map[string]any{"type": "message", "ts": ts, "user": s.opts.BotUser},
		"response_url": s.srv.URL + "/hooks/" + hookID,
		"actions": []map[string]any{{"type": "button", "action_id": b.ActionID, "block_id": "row-0",
			"text": map[string]any{"type": "plain_text", "text": b.Label}, "value": b.Value,
			"action_ts": fmt.Sprintf("%d.%06d", time.Now().Unix(), s.seqNext())}},
	}
	return s.deliver(kindInteractive, payload, 0)
}

func (s *Server) seqNext() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape escapes text the way Slack does in the events it sends.
func Escape(s string) string { return escaper.Replace(s) }
