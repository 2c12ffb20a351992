package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// builtin is the behaviour of a method; it runs with s.mu held. chatID is
// the resolved chat_id, 0 when the method has none.
type builtin func(s *Server, call *Call, chatID int64, content *formatted) (any, *Error)

var builtins = map[string]builtin{
	"getMe":                  (*Server).getMe,
	"sendMessage":            (*Server).sendMessage,
	"sendDocument":           (*Server).sendDocument,
	"editMessageText":        (*Server).editMessageText,
	"editMessageCaption":     (*Server).editMessageCaption,
	"editMessageReplyMarkup": (*Server).editMessageReplyMarkup,
	"deleteMessage":          (*Server).deleteMessage,
	"answerCallbackQuery":    (*Server).answerCallbackQuery,
	"setMyCommands":          (*Server).setMyCommands,
	"getMyCommands":          (*Server).getMyCommands,
	"deleteMyCommands":       (*Server).deleteMyCommands,
	"setWebhook":             (*Server).setWebhook,
	"deleteWebhook":          (*Server).deleteWebhook,
	"getWebhookInfo":         (*Server).getWebhookInfo,
	"getChatMember":          (*Server).getChatMember,
}

const notModified = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

// isSend says whether a method posts or edits a message, which is what
// Telegram's broadcast limits count.
func isSend(m *specObject) bool {
	for _, r := range m.Returns {
		switch r {
		case "Message", "Array of Message", "MessageId", "Array of MessageId":
			return true
		}
	}
	return false
}

func (s *Server) dispatch(ctx context.Context, m *specObject, call *Call, content *formatted) (any, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	chatID, hasChat, chatErr := s.resolveChat(call.Params)
	if e := s.takeFault(m.Name, chatID, hasChat, call.Time); e != nil {
		return nil, e
	}
	if chatErr != nil {
		return nil, chatErr
	}
	if e := s.chatError(chatID); hasChat && e != nil {
		return nil, e
	}
	send := isSend(m)
	if send {
		if retry, ok, early := s.limiter.admit(call.Time, chatID); !ok {
			s.count429++
			if early {
				s.early = append(s.early, Send{Method: m.Name, ChatID: chatID, Time: call.Time})
			}
			return nil, &Error{Code: 429, Description: fmt.Sprintf("Too Many Requests: retry after %d", retry), RetryAfter: retry}
		}
	}
	var (
		result any
		err    *Error
	)
	switch h := s.handlers[m.Name]; {
	case h != nil:
		s.mu.Unlock()
		result, err = h(*call)
		s.mu.Lock()
	case m.Name == "getUpdates":
		result, err = s.getUpdates(ctx, call.Params)
	case builtins[m.Name] != nil:
		result, err = builtins[m.Name](s, call, chatID, content)
	default:
		result = s.synthesize(m.Returns, call.Params, 0)
	}
	if send {
		if err != nil {
			s.limiter.cancel(call.Time, chatID)
		} else {
			s.sends = append(s.sends, Send{Method: m.Name, ChatID: chatID, Time: call.Time})
		}
	}
	return result, err
}

func (s *Server) botUser() *User {
	return &User{ID: s.botID, IsBot: true, FirstName: "Tiltas Test", Username: s.opts.BotUsername}
}

func (s *Server) getMe(*Call, int64, *formatted) (any, *Error) {
	u := s.botUser()
	u.CanJoinGroups, u.CanReadAllGroupMessages = true, false
	return u, nil
}

// checkReply refuses a reply to a message the chat does not have, unless
// allow_sending_without_reply is set.
func (s *Server) checkReply(c *chatState, params map[string]any) *Error {
	rp, ok := params["reply_parameters"].(map[string]any)
	if !ok || rp["allow_sending_without_reply"] == true {
		return nil
	}
	if _, other := rp["chat_id"]; other {
		return nil
	}
	if id, _ := rp["message_id"].(int64); c.msgs[int(id)] == nil {
		return badRequest("message to be replied not found")
	}
	return nil
}

func (s *Server) sendMessage(call *Call, chatID int64, content *formatted) (any, *Error) {
	c := s.chat(chatID)
	if err := s.checkReply(c, call.Params); err != nil {
		return nil, err
	}
	msg := Message{
		MessageID:   c.nextMessageID(),
		From:        s.botUser(),
		Chat:        c.object(),
		Date:        call.Time.Unix(),
		Text:        content.Text,
		Entities:    content.Entities,
		ReplyMarkup: inlineMarkup(call.Params["reply_markup"]),
	}
	mode, _ := call.Params["parse_mode"].(string)
	c.msgs[msg.MessageID] = &storedMessage{fromBot: true, SentMessage: SentMessage{Message: msg, Raw: content.Raw, ParseMode: mode}}
	return msg, nil
}

func (s *Server) sendDocument(call *Call, chatID int64, content *formatted) (any, *Error) {
	c := s.chat(chatID)
	if err := s.checkReply(c, call.Params); err != nil {
		return nil, err
	}
	id := c.nextMessageID()
	doc := &Document{}
	var file *File
	switch d := call.Params["document"].(type) {
	case *File:
		file = d
		doc.FileID = fmt.Sprintf("BQACAgIAAxk-doc-%d-%d", chatID, id)
		doc.FileName, doc.MimeType, doc.FileSize = d.Name, d.ContentType, int64(len(d.Data))
	case string:
		doc.FileID = d
	}
	doc.FileUniqueID = "AgAD-" + doc.FileID
	msg := Message{
		MessageID:       id,
		From:            s.botUser(),
		Chat:            c.object(),
		Date:            call.Time.Unix(),
		Document:        doc,
		Caption:         content.Text,
		CaptionEntities: content.Entities,
		ReplyMarkup:     inlineMarkup(call.Params["reply_markup"]),
	}
	mode, _ := call.Params["parse_mode"].(string)
	c.msgs[id] = &storedMessage{fromBot: true, SentMessage: SentMessage{Message: msg, Raw: content.Raw, ParseMode: mode, File: file}}
	return msg, nil
}

// editTarget finds the message an edit refers to; inline is true for
// inline_message_id edits, which the fake accepts without state.
func (s *Server) editTarget(params map[string]any, chatID int64) (sm *storedMessage, inline bool, err *Error) {
	if _, ok := params["inline_message_id"]; ok {
		return nil, true, nil
	}
	if chatID == 0 {
		return nil, false, badRequest("chat_id is empty")
	}
	id, ok := params["message_id"].(int64)
	if !ok {
		return nil, false, badRequest("message identifier is not specified")
	}
	sm = s.chat(chatID).msgs[int(id)]
	if sm == nil {
		return nil, false, badRequest("message to edit not found")
	}
	if !sm.fromBot {
		return nil, false, badRequest("message can't be edited")
	}
	return sm, false, nil
}

func (s *Server) editMessageText(call *Call, chatID int64, content *formatted) (any, *Error) {
	sm, inline, err := s.editTarget(call.Params, chatID)
	if err != nil {
		return nil, err
	}
	if inline {
		return true, nil
	}
	if sm.Document != nil {
		return nil, badRequest("there is no text in the message to edit")
	}
	markup := inlineMarkup(call.Params["reply_markup"])
	if sm.Text == content.Text && sameJSON(sm.Entities, content.Entities) && sameJSON(sm.ReplyMarkup, markup) {
		return nil, badRequest(notModified)
	}
	sm.Text, sm.Entities, sm.ReplyMarkup, sm.EditDate = content.Text, content.Entities, markup, call.Time.Unix()
	sm.Raw = content.Raw
	sm.ParseMode, _ = call.Params["parse_mode"].(string)
	sm.Edits++
	return sm.Message, nil
}

func (s *Server) editMessageCaption(call *Call, chatID int64, content *formatted) (any, *Error) {
	sm, inline, err := s.editTarget(call.Params, chatID)
	if err != nil {
		return nil, err
	}
	if inline {
		return true, nil
	}
	if sm.Document == nil {
		return nil, badRequest("there is no caption in the message to edit")
	}
	markup := inlineMarkup(call.Params["reply_markup"])
	if sm.Caption == content.Text && sameJSON(sm.CaptionEntities, content.Entities) && sameJSON(sm.ReplyMarkup, markup) {
		return nil, badRequest(notModified)
	}
	sm.Caption, sm.CaptionEntities, sm.ReplyMarkup, sm.EditDate = content.Text, content.Entities, markup, call.Time.Unix()
	sm.Raw = content.Raw
	sm.ParseMode, _ = call.Params["parse_mode"].(string)
	sm.Edits++
	return sm.Message, nil
}

func (s *Server) editMessageReplyMarkup(call *Call, chatID int64, _ *formatted) (any, *Error) {
	sm, inline, err := s.editTarget(call.Params, chatID)
	if err != nil {
		return nil, err
	}
	if inline {
		return true, nil
	}
	markup := inlineMarkup(call.Params["reply_markup"])
	if sameJSON(sm.ReplyMarkup, markup) {
		return nil, badRequest(notModified)
	}
	sm.ReplyMarkup, sm.EditDate = markup, call.Time.Unix()
	sm.Edits++
	return sm.Message, nil
}

func (s *Server) deleteMessage(call *Call, chatID int64, _ *formatted) (any, *Error) {
	id, _ := call.Params["message_id"].(int64)
	c := s.chat(chatID)
	if c.msgs[int(id)] == nil {
		return nil, badRequest("message to delete not found")
	}
	delete(c.msgs, int(id))
	return true, nil
}

func (s *Server) answerCallbackQuery(call *Call, _ int64, _ *formatted) (any, *Error) {
	id, _ := call.Params["callback_query_id"].(string)
	if answered, known := s.callbacks[id]; !known || answered {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	s.callbacks[id] = true
	return true, nil
}

// commandsKey identifies a command list by scope and language, as Telegram keeps them.
func commandsKey(params map[string]any) string {
	scope, _ := json.Marshal(params["scope"])
	lang, _ := params["language_code"].(string)
	if _, ok := params["scope"]; !ok {
		scope = []byte(`{"type":"default"}`)
	}
	return string(scope) + "|" + lang
}

func (s *Server) setMyCommands(call *Call, _ int64, _ *formatted) (any, *Error) {
	cmds, _ := call.Params["commands"].([]any)
	if len(cmds) > 100 {
		return nil, badRequest("too many commands: at most 100 are allowed")
	}
	s.commands[commandsKey(call.Params)] = cmds
	return true, nil
}

func (s *Server) getMyCommands(call *Call, _ int64, _ *formatted) (any, *Error) {
	cmds := s.commands[commandsKey(call.Params)]
	if cmds == nil {
		cmds = []any{}
	}
	return cmds, nil
}

func (s *Server) deleteMyCommands(call *Call, _ int64, _ *formatted) (any, *Error) {
	delete(s.commands, commandsKey(call.Params))
	return true, nil
}

// Commands returns the command list last set for the default scope and no
// language, as getMyCommands would.
func (s *Server) Commands() []BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []BotCommand
	for _, c := range s.commands[commandsKey(nil)] {
		m, _ := c.(map[string]any)
		cmd, _ := m["command"].(string)
		desc, _ := m["description"].(string)
		out = append(out, BotCommand{Command: cmd, Description: desc})
	}
	return out
}

func (s *Server) setWebhook(call *Call, _ int64, _ *formatted) (any, *Error) {
	u, _ := call.Params["url"].(string)
	if u != "" && !strings.HasPrefix(u, "https://") {
		return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	s.webhookURL = u
	if call.Params["drop_pending_updates"] == true {
		s.queue = nil
	}
	if u != "" && s.poll != nil {
		s.poll.end(&Error{Code: 409, Description: "Conflict: terminated by setWebhook request"})
		s.poll = nil
	}
	return true, nil
}

func (s *Server) deleteWebhook(call *Call, _ int64, _ *formatted) (any, *Error) {
	s.webhookURL = ""
	if call.Params["drop_pending_updates"] == true {
		s.queue = nil
	}
	return true, nil
}

// getChatMember answers for the bot as a member of any chat that BlockChat or RemoveChat did not
// take from it (those answer as Telegram does), and for anyone else as a member.
func (s *Server) getChatMember(call *Call, chatID int64, _ *formatted) (any, *Error) {
	if e := s.chatError(chatID); e != nil {
		return nil, e
	}
	uid, _ := call.Params["user_id"].(int64)
	u := &User{ID: uid, FirstName: "Member"}
	if uid == s.botID {
		u = s.botUser()
	}
	return map[string]any{"status": "member", "user": u}, nil
}

func (s *Server) getWebhookInfo(*Call, int64, *formatted) (any, *Error) {
	return map[string]any{"url": s.webhookURL, "has_custom_certificate": false, "pending_update_count": len(s.queue)}, nil
}

// synthesize builds the smallest spec-valid result for a method without a
// built-in behaviour: true, an empty array, or an object with its required
// fields set to zero values (an "id" takes the request's chat_id).
func (s *Server) synthesize(returns []string, params map[string]any, depth int) any {
	if slices.Contains(returns, "Boolean") {
		return true
	}
	t := returns[0]
	if strings.HasPrefix(t, "Array of ") {
		return []any{}
	}
	switch t {
	case "Integer", "Float":
		return 0
	case "String":
		return ""
	case "Boolean":
		return false
	}
	obj := s.spec.Types[t]
	if obj == nil || depth > 8 {
		return map[string]any{}
	}
	if len(obj.Subtypes) > 0 {
		return s.synthesize(obj.Subtypes[:1], params, depth+1)
	}
	out := map[string]any{}
	for _, f := range obj.Fields {
		if !f.Required {
			continue
		}
		switch {
		case f.Name == obj.discField:
			out[f.Name] = obj.discValue
		case f.Name == "id" && depth == 0 && isInt64(params["chat_id"]) && slices.Contains(f.Types, "Integer"):
			out[f.Name] = params["chat_id"]
		default:
			out[f.Name] = s.synthesize(f.Types[:1], params, depth+1)
		}
	}
	return out
}

func isInt64(v any) bool {
	_, ok := v.(int64)
	return ok
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) == "null" && (string(jb) == "[]" || string(jb) == "null") {
		return true
	}
	if string(jb) == "null" && string(ja) == "[]" {
		return true
	}
	return string(ja) == string(jb)
}
