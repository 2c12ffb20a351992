package telegramtest

import (
	"encoding/json"
	"fmt"
	"maps"
)

// The types below are the few Bot API objects the fake produces, with the
// spec's field names. They are deliberately independent of go-telegram/bot so
// that the fake checks the wire format rather than the library's view of it.

// User is a Telegram user or bot.
type User struct {
	ID                      int64  `json:"id"`
	IsBot                   bool   `json:"is_bot"`
	FirstName               string `json:"first_name"`
	LastName                string `json:"last_name,omitempty"`
	Username                string `json:"username,omitempty"`
	LanguageCode            string `json:"language_code,omitempty"`
	CanJoinGroups           bool   `json:"can_join_groups,omitempty"`
	CanReadAllGroupMessages bool   `json:"can_read_all_group_messages,omitempty"`
	SupportsInlineQueries   bool   `json:"supports_inline_queries,omitempty"`
}

// Chat is a private chat (positive ID), a group (negative) or a supergroup or
// channel (below -1000000000000).
type Chat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
}

// MessageEntity is a formatting entity; offsets and lengths are in UTF-16 code units.
type MessageEntity struct {
	Type           string `json:"type"`
	Offset         int    `json:"offset"`
	Length         int    `json:"length"`
	URL            string `json:"url,omitempty"`
	Language       string `json:"language,omitempty"`
	CustomEmojiID  string `json:"custom_emoji_id,omitempty"`
	UnixTime       int64  `json:"unix_time,omitempty"`
	DateTimeFormat string `json:"date_time_format,omitempty"`
}

// Document is a file sent with sendDocument.
type Document struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// InlineKeyboardMarkup is the inline keyboard attached to a message.
type InlineKeyboardMarkup struct {
	InlineKeyboard [][]InlineKeyboardButton `json:"inline_keyboard"`
}

// InlineKeyboardButton names the fields tests usually inspect; Extra keeps
// the others (web_app, login_url, ...) so that the button round-trips.
type InlineKeyboardButton struct {
	Text         string
	CallbackData string
	URL          string
	Extra        map[string]any
}

// MarshalJSON writes the button with spec field names.
func (b InlineKeyboardButton) MarshalJSON() ([]byte, error) {
	m := maps.Clone(b.Extra)
	if m == nil {
		m = map[string]any{}
	}
	m["text"] = b.Text
	if b.CallbackData != "" {
		m["callback_data"] = b.CallbackData
	}
	if b.URL != "" {
		m["url"] = b.URL
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads a button with spec field names.
func (b *InlineKeyboardButton) UnmarshalJSON(data []byte) error {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*b = buttonFromMap(m)
	return nil
}

// Message is a message as the Bot API returns it.
type Message struct {
	MessageID       int                   `json:"message_id"`
	From            *User                 `json:"from,omitempty"`
	Chat            Chat                  `json:"chat"`
	Date            int64                 `json:"date"`
	EditDate        int64                 `json:"edit_date,omitempty"`
	Text            string                `json:"text,omitempty"`
	Entities        []MessageEntity       `json:"entities,omitempty"`
	Caption         string                `json:"caption,omitempty"`
	CaptionEntities []MessageEntity       `json:"caption_entities,omitempty"`
	Document        *Document             `json:"document,omitempty"`
	ReplyMarkup     *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// CallbackQuery is a press on an inline keyboard button.
type CallbackQuery struct {
	ID           string   `json:"id"`
	From         User     `json:"from"`
	Message      *Message `json:"message,omitempty"`
	ChatInstance string   `json:"chat_instance"`
	Data         string   `json:"data,omitempty"`
}

// Update is an incoming update. PushUpdate accepts any value that marshals to
// a spec-valid Update, including go-telegram's models.Update.
type Update struct {
	UpdateID      int            `json:"update_id"`
	Message       *Message       `json:"message,omitempty"`
	EditedMessage *Message       `json:"edited_message,omitempty"`
	CallbackQuery *CallbackQuery `json:"callback_query,omitempty"`
}

// BotCommand is one entry of setMyCommands.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// File is an uploaded multipart file part.
type File struct {
	Field       string // form field name the part was sent under
	Name        string // file name from Content-Disposition
	ContentType string
	Data        []byte
}

// Error is a Bot API error answer; RetryAfter and MigrateToChatID become
// its "parameters" when set.
type Error struct {
	Code            int
	Description     string
	RetryAfter      int
	MigrateToChatID int64

	field string // the parameter or nested field a validation error is about
}

// Error makes an *Error usable as an error in HandlerFunc code.
func (e *Error) Error() string { return fmt.Sprintf("telegram %d: %s", e.Code, e.Description) }

func buttonFromMap(m map[string]any) InlineKeyboardButton {
	var b InlineKeyboardButton
	extra := maps.Clone(m)
	b.Text, _ = extra["text"].(string)
	b.CallbackData, _ = extra["callback_data"].(string)
	b.URL, _ = extra["url"].(string)
	delete(extra, "text")
	delete(extra, "callback_data")
	delete(extra, "url")
	if ct, ok := extra["copy_text"].(map[string]any); ok && ct["text"] == "" {
		delete(extra, "copy_text")
	}
	if len(extra) > 0 {
		b.Extra = extra
	}
	return b
}

// inlineMarkup converts a validated reply_markup into an inline keyboard, or
// nil for the other keyboard kinds, which messages do not carry.
func inlineMarkup(v any) *InlineKeyboardMarkup {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	rows, ok := m["inline_keyboard"].([]any)
	if !ok {
		return nil
	}
	out := &InlineKeyboardMarkup{InlineKeyboard: make([][]InlineKeyboardButton, 0, len(rows))}
	for _, r := range rows {
		cells, _ := r.([]any)
		row := make([]InlineKeyboardButton, 0, len(cells))
		for _, c := range cells {
			cm, _ := c.(map[string]any)
			row = append(row, buttonFromMap(cm))
		}
		out.InlineKeyboard = append(out.InlineKeyboard, row)
	}
	return out
}
