package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"
	"unicode"
	"unicode/utf16"
)

const (
	conflictTerminated = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
	conflictWebhook    = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
	maxPollTimeout     = 50 * time.Second
)

// defaultExcluded are the update kinds Telegram leaves out unless
// allowed_updates names them.
var defaultExcluded = []string{"chat_member", "message_reaction", "message_reaction_count"}

type queuedUpdate struct {
	id   int
	kind string
	raw  json.RawMessage
}

// pollState is an in-flight getUpdates; end answers it early.
type pollState struct {
	ended chan struct{}
	err   *Error
}

func (p *pollState) end(err *Error) {
	p.err = err
	close(p.ended)
}

// updates is the update queue and long-poll state; guarded by Server.mu.
type updates struct {
	queue      []queuedUpdate
	nextID     int
	wake       chan struct{} // closed and replaced when an update is pushed
	poll       *pollState
	allowed    []string
	webhookURL string
}

// PushUpdate queues an update for getUpdates and returns its update_id.
// update is anything that marshals to a spec-valid Update carrying exactly
// one kind (its update_id is assigned here): an Update from the helpers, a
// map, or go-telegram's models.Update. An invalid update fails the test and
// is not queued.
func (s *Server) PushUpdate(update any) int {
	s.tb.Helper()
	b, err := json.Marshal(update)
	if err != nil {
		s.tb.Errorf("telegramtest: PushUpdate: encode update: %v", err)
		return 0
	}
	x, err := decodeJSON(string(b))
	m, ok := x.(map[string]any)
	if err != nil || !ok {
		s.tb.Errorf("telegramtest: PushUpdate: update must be a JSON object, got %s", clip(string(b)))
		return 0
	}
	m["update_id"] = json.Number("1")
	v := validator{spec: s.spec}
	if _, verr := v.value(m, "Update", "update"); verr != nil {
		s.tb.Errorf("telegramtest: PushUpdate: update does not match the spec: %v", verr)
		return 0
	}
	var kinds []string
	for k := range m {
		if k != "update_id" {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		sort.Strings(kinds)
		s.tb.Errorf("telegramtest: PushUpdate: an update carries exactly one kind, got %v", kinds)
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextID
	s.nextID++
	m["update_id"] = id
	raw, err := json.Marshal(m)
	if err != nil {
		s.tb.Errorf("telegramtest: PushUpdate: encode update: %v", err)
		return 0
	}
	s.queue = append(s.queue, queuedUpdate{id: id, kind: kinds[0], raw: raw})
	s.register(kinds[0], m[kinds[0]])
	close(s.wake)
	s.wake = make(chan struct{})
	return id
}

// register makes the chat know a pushed message, so that replies to it and
// its deletion work, and makes a pushed callback query answerable.
func (s *Server) register(kind string, v any) {
	obj, _ := v.(map[string]any)
	switch kind {
	case "message", "edited_message", "channel_post", "edited_channel_post", "business_message", "edited_business_message":
		chat, _ := obj["chat"].(map[string]any)
		chatID, _ := jsonInt(chat["id"])
		msgID, _ := jsonInt(obj["message_id"])
		c := s.chat(chatID)
		c.lastMsgID = max(c.lastMsgID, int(msgID))
		if c.msgs[int(msgID)] == nil {
			c.msgs[int(msgID)] = &storedMessage{SentMessage: SentMessage{Message: Message{MessageID: int(msgID), Chat: c.object()}}}
		}
	case "callback_query":
		id, _ := obj["id"].(string)
		if _, ok := s.callbacks[id]; !ok {
			s.callbacks[id] = false
		}
	}
}

func jsonInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// PrivateMessage builds (does not push) a text message from user userID in
// their private chat with the bot; /commands get their bot_command entities
// as Telegram adds them.
func (s *Server) PrivateMessage(userID int64, text string) Update {
	return s.textMessage(userID, userID, text)
}

// GroupMessage builds (does not push) a text message from user userID in
// the group chatID, which must be negative.
func (s *Server) GroupMessage(chatID, userID int64, text string) Update {
	s.tb.Helper()
	if chatID >= 0 {
		s.tb.Errorf("telegramtest: GroupMessage: group chat IDs are negative, got %d", chatID)
	}
	return s.textMessage(chatID, userID, text)
}

func (s *Server) textMessage(chatID, userID int64, text string) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chat(chatID)
	return Update{Message: &Message{
		MessageID: c.nextMessageID(),
		From:      userFor(userID),
		Chat:      c.object(),
		Date:      s.opts.Now().Unix(),
		Text:      text,
		Entities:  commandEntities(text),
	}}
}

// CallbackQuery builds (does not push) a press by user userID on a button
// with callback data of msg, usually a message from Sent. Once pushed, the
// query can be answered once with answerCallbackQuery.
func (s *Server) CallbackQuery(userID int64, msg Message, data string) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextQuery++
	return Update{CallbackQuery: &CallbackQuery{
		ID:           fmt.Sprintf("%d", 4000000000000000000+int64(s.nextQuery)),
		From:         *userFor(userID),
		Message:      &msg,
		ChatInstance: fmt.Sprintf("%d", msg.Chat.ID*7919+13),
		Data:         data,
	}}
}

func userFor(id int64) *User {
	return &User{ID: id, FirstName: fmt.Sprintf("User %d", id)}
}

// commandEntities finds /commands at the start of the text or after white
// space, with an optional @botname.
func commandEntities(text string) []MessageEntity {
	var out []MessageEntity
	runes := []rune(text)
	offset := 0
	word := func(r rune) bool { return r == '_' || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }
	for i := 0; i < len(runes); i++ {
		if runes[i] == '/' && (i == 0 || unicode.IsSpace(runes[i-1])) {
			j := i + 1
			for j < len(runes) && j-i <= 32 && word(runes[j]) {
				j++
			}
			if j > i+1 {
				if j < len(runes) && runes[j] == '@' {
					k := j + 1
					for k < len(runes) && word(runes[k]) {
						k++
					}
					if k-j-1 >= 3 {
						j = k
					}
				}
				out = append(out, MessageEntity{Type: "bot_command", Offset: offset, Length: len(utf16.Encode(runes[i:j]))})
			}
		}
		offset += utf16.RuneLen(runes[i])
	}
	return out
}

// getUpdates serves a long poll; it runs with s.mu held and releases it
// while waiting. A newer getUpdates ends this one with 409, as Telegram does.
func (s *Server) getUpdates(ctx context.Context, params map[string]any) (any, *Error) {
	if s.webhookURL != "" {
		return nil, &Error{Code: 409, Description: conflictWebhook}
	}
	if s.poll != nil {
		s.poll.end(&Error{Code: 409, Description: conflictTerminated})
		s.poll = nil
	}
	offset, _ := params["offset"].(int64)
	limit := 100
	if l, ok := params["limit"].(int64); ok && l >= 1 && l <= 100 {
		limit = int(l)
	}
	timeout, _ := params["timeout"].(int64)
	if list, ok := params["allowed_updates"].([]any); ok {
		s.allowed = s.allowed[:0]
		for _, k := range list {
			s.allowed = append(s.allowed, k.(string))
		}
	}
	switch {
	case offset > 0:
		i := sort.Search(len(s.queue), func(i int) bool { return int64(s.queue[i].id) >= offset })
		s.queue = s.queue[i:]
	case offset < 0 && int64(len(s.queue)) > -offset:
		s.queue = s.queue[int64(len(s.queue))+offset:]
	}
	batch := s.pending(limit)
	if len(batch) > 0 || timeout <= 0 {
		return batch, nil
	}
	timer := time.NewTimer(min(time.Duration(timeout)*time.Second, maxPollTimeout))
	defer timer.Stop()
	me := &pollState{ended: make(chan struct{})}
	for {
		s.poll = me
		wake := s.wake
		s.mu.Unlock()
		finished := true
		select {
		case <-wake:
			finished = false
		case <-me.ended:
		case <-timer.C:
		case <-ctx.Done():
		case <-s.done:
		}
		s.mu.Lock()
		select {
		case <-me.ended:
			return nil, me.err
		default:
		}
		if s.poll == me {
			s.poll = nil
		}
		if batch := s.pending(limit); len(batch) > 0 || finished {
			return batch, nil
		}
	}
}

// pending returns up to limit queued updates of the allowed kinds.
func (s *Server) pending(limit int) []json.RawMessage {
	out := []json.RawMessage{}
	for _, u := range s.queue {
		if len(out) == limit {
			break
		}
		if len(s.allowed) > 0 && !slices.Contains(s.allowed, u.kind) {
			continue
		}
		if len(s.allowed) == 0 && slices.Contains(defaultExcluded, u.kind) {
			continue
		}
		out = append(out, u.raw)
	}
	return out
}

// Pending is the number of queued updates not yet confirmed by an offset.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}
