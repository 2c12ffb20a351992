package telegramtest

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Telegram's documented content limits, in characters after entity parsing
// (Unicode code points, which is what Telegram counts for message length)
// or in bytes where the documentation says bytes.
const (
	maxTextLen          = 4096
	maxCaptionLen       = 1024
	maxCallbackDataLen  = 64
	maxCallbackAnswer   = 200
	maxCommandDescLen   = 256
	maxInputPlaceholder = 64
)

var botCommandPattern = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// inlineButtonKinds are the InlineKeyboardButton fields of which exactly one
// must be used (everything except text, icon_custom_emoji_id and style).
var inlineButtonKinds = []string{
	"url", "callback_data", "web_app", "login_url", "switch_inline_query",
	"switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
	"copy_text", "callback_game", "pay",
}

// objectChecks add Telegram's value limits to the spec's type checks.
var objectChecks = map[string]func(m map[string]any, path string) *specError{
	"InlineKeyboardButton": checkInlineButton,
	"KeyboardButton": func(m map[string]any, path string) *specError {
		if strings.TrimSpace(m["text"].(string)) == "" {
			return errAt(join(path, "text"), "BUTTON_TEXT_EMPTY: keyboard button text must be non-empty")
		}
		return nil
	},
	"ReplyKeyboardMarkup": checkPlaceholder,
	"ForceReply":          checkPlaceholder,
	"BotCommand": func(m map[string]any, path string) *specError {
		if !botCommandPattern.MatchString(m["command"].(string)) {
			return errAt(join(path, "command"), "BOT_COMMAND_INVALID: must be 1-32 characters of a-z, 0-9 and _")
		}
		if n := utf8.RuneCountInString(m["description"].(string)); n < 1 || n > maxCommandDescLen {
			return errAt(join(path, "description"), "BOT_COMMAND_DESCRIPTION_INVALID: must be 1-%d characters, got %d", maxCommandDescLen, n)
		}
		return nil
	},
}

// checkInlineButton enforces the button rules. go-telegram/bot v1.19.0 sends
// "copy_text":{"text":""} with every button (a struct field tagged
// omitempty); Telegram accepts that in practice, so an empty copy_text
// counts as absent here.
func checkInlineButton(m map[string]any, path string) *specError {
	if m["text"].(string) == "" {
		return errAt(join(path, "text"), "BUTTON_TEXT_EMPTY: inline keyboard button text must be non-empty")
	}
	if d, ok := m["callback_data"].(string); ok && (len(d) < 1 || len(d) > maxCallbackDataLen) {
		return errAt(join(path, "callback_data"), "BUTTON_DATA_INVALID: callback_data must be 1-%d bytes, got %d", maxCallbackDataLen, len(d))
	}
	var used []string
	for _, k := range inlineButtonKinds {
		v, ok := m[k]
		if !ok {
			continue
		}
		if ct, isMap := v.(map[string]any); k == "copy_text" && isMap && ct["text"] == "" {
			continue
		}
		if k == "pay" && v == false {
			continue
		}
		used = append(used, k)
	}
	switch len(used) {
	case 0:
		return errAt(path, "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
	case 1:
		return nil
	}
	return errAt(path, "can't parse inline keyboard button: exactly one of %s must be used, got %s",
		strings.Join(inlineButtonKinds, ", "), strings.Join(used, " and "))
}

func checkPlaceholder(m map[string]any, path string) *specError {
	if p, ok := m["input_field_placeholder"].(string); ok {
		if n := utf8.RuneCountInString(p); n < 1 || n > maxInputPlaceholder {
			return errAt(join(path, "input_field_placeholder"), "must be 1-%d characters, got %d", maxInputPlaceholder, n)
		}
	}
	return nil
}

// formatted is a text or caption after entity parsing.
type formatted struct {
	Raw      string
	Text     string
	Entities []MessageEntity
}

// format parses params[field] with params[modeField], or takes the explicit
// entities from params[entitiesField], which win over parse_mode.
func format(params map[string]any, field, modeField, entitiesField string) (formatted, *Error) {
	raw, _ := params[field].(string)
	mode, _ := params[modeField].(string)
	if ents, ok := params[entitiesField].([]any); ok {
		if !utf8.ValidString(raw) {
			return formatted{}, badRequest("%s must be encoded in UTF-8", field)
		}
		text, list := trimText(raw, entitiesFrom(ents))
		return formatted{Raw: raw, Text: text, Entities: list}, nil
	}
	text, ents, err := parseText(raw, mode)
	if err != nil {
		return formatted{}, badRequest("can't parse entities: %v", err)
	}
	return formatted{Raw: raw, Text: text, Entities: ents}, nil
}

func entitiesFrom(list []any) []MessageEntity {
	out := make([]MessageEntity, 0, len(list))
	for _, x := range list {
		m, _ := x.(map[string]any)
		e := MessageEntity{}
		e.Type, _ = m["type"].(string)
		off, _ := m["offset"].(int64)
		length, _ := m["length"].(int64)
		e.Offset, e.Length = int(off), int(length)
		e.URL, _ = m["url"].(string)
		e.Language, _ = m["language"].(string)
		e.CustomEmojiID, _ = m["custom_emoji_id"].(string)
		e.UnixTime, _ = m["unix_time"].(int64)
		e.DateTimeFormat, _ = m["date_time_format"].(string)
		out = append(out, e)
	}
	return out
}

// checkContent applies Telegram's limits on top-level parameters and returns
// the parsed text or caption for the method's behaviour.
func checkContent(m *specObject, params map[string]any) (*formatted, *Error) {
	for _, f := range m.Fields {
		if !strings.HasSuffix(f.Name, "parse_mode") {
			continue
		}
		if mode, ok := params[f.Name].(string); ok {
			switch strings.ToLower(mode) {
			case "", "html", "markdownv2", "markdown":
			default:
				return nil, fieldError(f.Name, badRequest("unsupported parse_mode %q", mode))
			}
		}
	}
	switch m.Name {
	case "sendMessage", "editMessageText":
		ft, err := format(params, "text", "parse_mode", "entities")
		if err != nil {
			return nil, fieldError("text", err)
		}
		switch n := utf8.RuneCountInString(ft.Text); {
		case n == 0:
			return nil, fieldError("text", badRequest("message text is empty"))
		case n > maxTextLen:
			return nil, fieldError("text", badRequest("message is too long"))
		}
		return &ft, nil
	case "answerCallbackQuery":
		if t, _ := params["text"].(string); utf8.RuneCountInString(t) > maxCallbackAnswer {
			return nil, fieldError("text", badRequest("MESSAGE_TOO_LONG: callback answer text must be at most %d characters", maxCallbackAnswer))
		}
	}
	if m.field("caption") != nil {
		ft, err := format(params, "caption", "parse_mode", "caption_entities")
		if err != nil {
			return nil, fieldError("caption", err)
		}
		if utf8.RuneCountInString(ft.Text) > maxCaptionLen {
			return nil, fieldError("caption", badRequest("message caption is too long"))
		}
		return &ft, nil
	}
	return nil, nil
}

func fieldError(field string, e *Error) *Error {
	e.field = field
	return e
}

func badRequest(format string, args ...any) *Error {
	return &Error{Code: 400, Description: "Bad Request: " + fmt.Sprintf(format, args...)}
}
