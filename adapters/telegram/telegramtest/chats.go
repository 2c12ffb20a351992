package telegramtest

import (
	"fmt"
	"sort"
	"strings"
)

// SentMessage is a bot message as it stands in a chat now, after edits.
type SentMessage struct {
	Message          // as Telegram returns it: parsed text or caption, entities, inline keyboard
	Raw       string // text or caption as last sent, before entity parsing
	ParseMode string
	File      *File // the uploaded document, if any
	Edits     int
}

// NewestButton finds, in sent (a chat's messages as Sent returns them, oldest first), the newest
// message with an inline button whose label contains label, and that button's callback data.
func NewestButton(sent []SentMessage, label string) (SentMessage, string, bool) {
	for i := len(sent) - 1; i >= 0; i-- {
		m := sent[i]
		if m.ReplyMarkup == nil {
			continue
		}
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				if strings.Contains(b.Text, label) {
					return m, b.CallbackData, true
				}
			}
		}
	}
	return SentMessage{}, "", false
}

type storedMessage struct {
	SentMessage
	fromBot bool
}

type chatState struct {
	id        int64
	username  string
	lastMsgID int
	msgs      map[int]*storedMessage
	blocked   bool
	gone      bool
	migrateTo int64
}

// chat returns the state of chat id, creating it: every chat exists until
// RemoveChat says otherwise. Callers hold s.mu.
func (s *Server) chat(id int64) *chatState {
	c := s.chats[id]
	if c == nil {
		c = &chatState{id: id, msgs: map[int]*storedMessage{}}
		s.chats[id] = c
	}
	return c
}

func (c *chatState) nextMessageID() int {
	c.lastMsgID++
	return c.lastMsgID
}

func (c *chatState) object() Chat {
	switch {
	case c.username != "":
		return Chat{ID: c.id, Type: "channel", Title: c.username, Username: c.username}
	case c.id > 0:
		return Chat{ID: c.id, Type: "private", FirstName: fmt.Sprintf("User %d", c.id)}
	case c.id < -1000000000000:
		return Chat{ID: c.id, Type: "supergroup", Title: fmt.Sprintf("Supergroup %d", c.id)}
	}
	return Chat{ID: c.id, Type: "group", Title: fmt.Sprintf("Group %d", c.id)}
}

// resolveChat finds the chat a request targets by its chat_id parameter. A
// @username gets a stable channel ID of its own. Callers hold s.mu.
func (s *Server) resolveChat(params map[string]any) (int64, bool, *Error) {
	switch v := params["chat_id"].(type) {
	case nil:
		return 0, false, nil
	case int64:
		if v == 0 {
			return 0, false, badRequest("chat not found")
		}
		return v, true, nil
	case string:
		name, ok := strings.CutPrefix(v, "@")
		if !ok || name == "" {
			return 0, false, badRequest("chat not found")
		}
		name = strings.ToLower(name)
		id, ok := s.usernames[name]
		if !ok {
			id = -1000000000000 - int64(len(s.usernames)+1)
			s.usernames[name] = id
			s.chat(id).username = name
		}
		return id, true, nil
	}
	return 0, false, badRequest("chat not found")
}

// chatError is the answer for a chat made unusable by BlockChat, RemoveChat or MigrateChat.
func (s *Server) chatError(id int64) *Error {
	c := s.chats[id]
	switch {
	case c == nil:
		return nil
	case c.gone:
		return badRequest("chat not found")
	case c.migrateTo != 0:
		e := badRequest("group chat was upgraded to a supergroup chat")
		e.MigrateToChatID = c.migrateTo
		return e
	case c.blocked && id > 0:
		return &Error{Code: 403, Description: "Forbidden: bot was blocked by the user"}
	case c.blocked && id < -1000000000000:
		return &Error{Code: 403, Description: "Forbidden: bot was kicked from the supergroup chat"}
	case c.blocked:
		return &Error{Code: 403, Description: "Forbidden: bot was kicked from the group chat"}
	}
	return nil
}

// BlockChat makes requests to chatID fail with 403, as for a user who
// blocked the bot or a group that removed it.
func (s *Server) BlockChat(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chat(chatID).blocked = true
}

// RemoveChat makes requests to chatID fail with 400 "chat not found".
func (s *Server) RemoveChat(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chat(chatID).gone = true
}

// MigrateChat makes chatID a group upgraded to the supergroup toChatID:
// requests fail with 400 and parameters.migrate_to_chat_id.
func (s *Server) MigrateChat(chatID, toChatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chat(chatID).migrateTo = toChatID
}

// RestoreChat undoes BlockChat, RemoveChat and MigrateChat.
func (s *Server) RestoreChat(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chat(chatID)
	c.blocked, c.gone, c.migrateTo = false, false, 0
}

// Sent returns the bot's messages in chatID that have not been deleted,
// oldest first, with their latest text, caption and inline keyboard.
func (s *Server) Sent(chatID int64) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[chatID]
	if c == nil {
		return nil
	}
	var out []SentMessage
	for _, m := range c.msgs {
		if m.fromBot {
			out = append(out, m.SentMessage)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MessageID < out[j].MessageID })
	return out
}
