//lint:file-ignore ST1005 the fake answers with Telegram's own error descriptions, which are capitalized.

package telegramtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// textBuilder accumulates parsed text and its length in UTF-16 code units,
// the unit of MessageEntity offsets.
type textBuilder struct {
	b   strings.Builder
	n16 int
}

func (t *textBuilder) rune(r rune) {
	t.b.WriteRune(r)
	t.n16 += utf16.RuneLen(r)
}

// parseText applies parse_mode to s the way Telegram does before it checks
// lengths: markup is removed and becomes entities, leading and trailing
// white space is dropped.
func parseText(s, mode string) (string, []MessageEntity, error) {
	if !utf8.ValidString(s) {
		return "", nil, fmt.Errorf("text must be encoded in UTF-8")
	}
	var (
		text string
		ents []MessageEntity
		err  error
	)
	switch strings.ToLower(mode) {
	case "":
		text = s
	case "html":
		text, ents, err = parseHTML(s)
	case "markdownv2":
		text, ents, err = parseMarkdownV2(s)
	case "markdown":
		text, ents, err = parseMarkdown(s)
	default:
		return "", nil, fmt.Errorf("unsupported parse_mode %q", mode)
	}
	if err != nil {
		return "", nil, err
	}
	text, ents = trimText(text, ents)
	return text, ents, nil
}

// trimText drops leading and trailing white space, shifting and clipping entities.
func trimText(text string, ents []MessageEntity) (string, []MessageEntity) {
	lead := text[:len(text)-len(strings.TrimLeftFunc(text, unicode.IsSpace))]
	text = strings.TrimSpace(text)
	shift := len(utf16.Encode([]rune(lead)))
	n16 := len(utf16.Encode([]rune(text)))
	out := ents[:0]
	for _, e := range ents {
		start, end := max(e.Offset-shift, 0), min(e.Offset+e.Length-shift, n16)
		if end <= start {
			continue
		}
		e.Offset, e.Length = start, end-start
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Offset != out[j].Offset {
			return out[i].Offset < out[j].Offset
		}
		return out[i].Length > out[j].Length
	})
	if len(out) == 0 {
		out = nil
	}
	return text, out
}

// htmlTags maps Telegram's supported HTML tags to entity types.
var htmlTags = map[string]string{
	"b": "bold", "strong": "bold",
	"i": "italic", "em": "italic",
	"u": "underline", "ins": "underline",
	"s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
	"span": "spoiler", "tg-spoiler": "spoiler",
	"a":          "text_link",
	"code":       "code",
	"pre":        "pre",
	"blockquote": "blockquote",
	"tg-emoji":   "custom_emoji",
	"tg-time":    "date_time",
}

// parseHTML follows tdlib's parse_html. It is stricter than Telegram in one
// place: a '&' that does not start &lt; &gt; &amp; &quot; or a numeric
// entity is an error (Telegram keeps it literally), because such text is
// unescaped input waiting to break on the next '<'.
func parseHTML(s string) (string, []MessageEntity, error) {
	type open struct {
		tag    string
		pos    int
		ent    MessageEntity
		merged bool // <code> directly inside <pre>: its language goes to the pre
	}
	var (
		tb    textBuilder
		stack []open
		ents  []MessageEntity
	)
	for i := 0; i < len(s); {
		switch s[i] {
		case '&':
			r, n, ok := htmlEntity(s[i:])
			if !ok {
				return "", nil, fmt.Errorf("Character '&' at byte offset %d must be escaped as \"&amp;\"", i)
			}
			tb.rune(r)
			i += n
		case '<':
			begin := i
			if i+1 < len(s) && s[i+1] == '/' {
				j := i + 2
				for j < len(s) && !isHTMLSpace(s[j]) && s[j] != '>' {
					j++
				}
				name := strings.ToLower(s[i+2 : j])
				for j < len(s) && isHTMLSpace(s[j]) {
					j++
				}
				if j >= len(s) || s[j] != '>' {
					return "", nil, fmt.Errorf("Unclosed end tag at byte offset %d", begin)
				}
				if len(stack) == 0 {
					return "", nil, fmt.Errorf("Unexpected end tag at byte offset %d", begin)
				}
				top := stack[len(stack)-1]
				if name != "" && name != top.tag {
					return "", nil, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top.tag, name)
				}
				stack = stack[:len(stack)-1]
				if !top.merged && top.ent.Type != "" && tb.n16 > top.ent.Offset {
					top.ent.Length = tb.n16 - top.ent.Offset
					ents = append(ents, top.ent)
				}
				i = j + 1
				continue
			}
			j := i + 1
			for j < len(s) && !isHTMLSpace(s[j]) && s[j] != '>' {
				j++
			}
			if j >= len(s) {
				return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
			}
			name := strings.ToLower(s[i+1 : j])
			typ, ok := htmlTags[name]
			if !ok {
				return "", nil, fmt.Errorf("Unsupported start tag \"%s\" at byte offset %d", name, begin)
			}
			attrs, next, err := htmlAttrs(s, j, name, begin)
			if err != nil {
				return "", nil, err
			}
			i = next
			o := open{tag: name, pos: begin, ent: MessageEntity{Type: typ, Offset: tb.n16}}
			switch name {
			case "span":
				if attrs["class"] != "tg-spoiler" {
					return "", nil, fmt.Errorf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
				}
			case "a":
				o.ent.URL = attrs["href"]
				if o.ent.URL == "" {
					o.ent.Type = ""
				}
			case "tg-emoji":
				if attrs["emoji-id"] == "" {
					return "", nil, fmt.Errorf("Tag \"tg-emoji\" must have attribute \"emoji-id\" at byte offset %d", begin)
				}
				o.ent.CustomEmojiID = attrs["emoji-id"]
			case "tg-time":
				unix, err := strconv.ParseInt(attrs["unix"], 10, 64)
				if err != nil {
					return "", nil, fmt.Errorf("Tag \"tg-time\" must have an integer attribute \"unix\" at byte offset %d", begin)
				}
				o.ent.UnixTime, o.ent.DateTimeFormat = unix, attrs["format"]
			case "blockquote":
				if _, ok := attrs["expandable"]; ok {
					o.ent.Type = "expandable_blockquote"
				}
			case "code":
				if n := len(stack); n > 0 && stack[n-1].tag == "pre" && stack[n-1].ent.Offset == tb.n16 {
					o.merged = true
					stack[n-1].ent.Language = strings.TrimPrefix(attrs["class"], "language-")
				}
			}
			stack = append(stack, o)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			tb.rune(r)
			i += n
		}
	}
	if len(stack) > 0 {
		return "", nil, fmt.Errorf("Can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1].tag)
	}
	return tb.b.String(), ents, nil
}

// htmlAttrs parses attributes from s[j:] up to and including the closing '>'.
func htmlAttrs(s string, j int, tag string, begin int) (map[string]string, int, error) {
	attrs := map[string]string{}
	for {
		for j < len(s) && isHTMLSpace(s[j]) {
			j++
		}
		if j >= len(s) {
			return nil, 0, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
		}
		if s[j] == '>' {
			return attrs, j + 1, nil
		}
		k := j
		for j < len(s) && (isASCIIAlnum(s[j]) || s[j] == '-' || s[j] == '_') {
			j++
		}
		if k == j {
			return nil, 0, fmt.Errorf("Empty attribute name in the tag \"%s\" at byte offset %d", tag, begin)
		}
		name := strings.ToLower(s[k:j])
		for j < len(s) && isHTMLSpace(s[j]) {
			j++
		}
		if j >= len(s) || s[j] != '=' {
			attrs[name] = ""
			continue
		}
		j++
		for j < len(s) && isHTMLSpace(s[j]) {
			j++
		}
		if j >= len(s) {
			return nil, 0, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
		}
		var raw string
		if q := s[j]; q == '"' || q == '\'' {
			end := strings.IndexByte(s[j+1:], q)
			if end < 0 {
				return nil, 0, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
			}
			raw, j = s[j+1:j+1+end], j+1+end+1
		} else {
			k := j
			for j < len(s) && !isHTMLSpace(s[j]) && s[j] != '>' {
				j++
			}
			raw = s[k:j]
		}
		attrs[name] = decodeAttr(raw)
	}
}

// decodeAttr decodes entities in an attribute value; like Telegram it keeps
// a '&' that starts no entity, so URLs with raw query strings pass.
func decodeAttr(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); {
		if raw[i] == '&' {
			if r, n, ok := htmlEntity(raw[i:]); ok {
				b.WriteRune(r)
				i += n
				continue
			}
		}
		b.WriteByte(raw[i])
		i++
	}
	return b.String()
}

// htmlEntity decodes the entity at the start of s: the four named entities
// Telegram supports and numeric ones.
func htmlEntity(s string) (rune, int, bool) {
	for name, r := range map[string]rune{"&lt;": '<', "&gt;": '>', "&amp;": '&', "&quot;": '"'} {
		if strings.HasPrefix(s, name) {
			return r, len(name), true
		}
	}
	if !strings.HasPrefix(s, "&#") {
		return 0, 0, false
	}
	end := strings.IndexByte(s, ';')
	if end < 3 {
		return 0, 0, false
	}
	num, base := s[2:end], 10
	if num[0] == 'x' || num[0] == 'X' {
		num, base = num[1:], 16
	}
	n, err := strconv.ParseUint(num, base, 32)
	if err != nil || n == 0 || n > unicode.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
		return 0, 0, false
	}
	return rune(n), end + 1, true
}

func isHTMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

const markdownV2Reserved = "_*[]()~`>#+-=|{}.!"

// mdV2Names are tdlib's entity names used in its "Can't find end" errors.
var mdV2Names = map[string]string{
	"bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
	"spoiler": "Spoiler", "code": "Code", "pre": "PreCode", "text_link": "TextUrl",
	"custom_emoji": "CustomEmoji", "expandable_blockquote": "ExpandableBlockquote",
}

// parseMarkdownV2 follows the MarkdownV2 rules of the Bot API documentation:
// reserved characters must be escaped outside entities, '`' and '\' inside
// code, ')' and '\' inside a link URL.
func parseMarkdownV2(s string) (string, []MessageEntity, error) {
	type open struct {
		ent MessageEntity
		pos int
	}
	var (
		tb    textBuilder
		stack []open
		ents  []MessageEntity
	)
	top := func() string {
		if len(stack) == 0 {
			return ""
		}
		return stack[len(stack)-1].ent.Type
	}
	push := func(typ string, pos int) {
		stack = append(stack, open{ent: MessageEntity{Type: typ, Offset: tb.n16}, pos: pos})
	}
	pop := func() MessageEntity {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		o.ent.Length = tb.n16 - o.ent.Offset
		if o.ent.Length > 0 {
			ents = append(ents, o.ent)
		}
		return o.ent
	}
	reserved := func(c byte, i int) error {
		return fmt.Errorf("Character '%c' is reserved and must be escaped with the preceding '\\' at byte offset %d", c, i)
	}
	for i := 0; i < len(s); {
		c := s[i]
		lineStart := i == 0 || s[i-1] == '\n'
		if c == '\\' && i+1 < len(s) && s[i+1] >= 1 && s[i+1] <= 126 {
			tb.rune(rune(s[i+1]))
			i += 2
			continue
		}
		if t := top(); t == "code" || t == "pre" {
			switch {
			case c == '`' && t == "pre" && strings.HasPrefix(s[i:], "```"):
				pop()
				i += 3
			case c == '`' && t == "code":
				pop()
				i++
			case c == '`' || c == '\\':
				return "", nil, reserved(c, i)
			default:
				r, n := utf8.DecodeRuneInString(s[i:])
				tb.rune(r)
				i += n
			}
			continue
		}
		if c == '\n' && top() == "blockquote" && (i+1 >= len(s) || s[i+1] != '>') {
			pop()
		}
		if c != '\\' && strings.IndexByte(markdownV2Reserved, c) < 0 {
			r, n := utf8.DecodeRuneInString(s[i:])
			tb.rune(r)
			i += n
			continue
		}
		switch {
		case c == '>' && lineStart:
			if t := top(); t != "blockquote" && t != "expandable_blockquote" {
				push("blockquote", i)
			}
			i++
		case c == '*' && lineStart && strings.HasPrefix(s[i:], "**>"):
			push("expandable_blockquote", i)
			i += 3
		case c == '*':
			if top() == "bold" {
				pop()
			} else {
				push("bold", i)
			}
			i++
		case c == '_' && strings.HasPrefix(s[i:], "__"):
			if top() == "underline" {
				pop()
			} else {
				push("underline", i)
			}
			i += 2
		case c == '_':
			if top() == "italic" {
				pop()
			} else {
				push("italic", i)
			}
			i++
		case c == '~':
			if top() == "strikethrough" {
				pop()
			} else {
				push("strikethrough", i)
			}
			i++
		case c == '|' && strings.HasPrefix(s[i:], "||"):
			switch {
			case top() == "spoiler":
				pop()
			case top() == "expandable_blockquote" && (i+2 == len(s) || s[i+2] == '\n'):
				pop()
			default:
				push("spoiler", i)
			}
			i += 2
		case c == '`' && strings.HasPrefix(s[i:], "```"):
			push("pre", i)
			i += 3
			if nl := strings.IndexByte(s[i:], '\n'); nl >= 0 && !strings.ContainsAny(s[i:i+nl], " `\\") {
				stack[len(stack)-1].ent.Language = s[i : i+nl]
				i += nl + 1
			}
		case c == '`':
			push("code", i)
			i++
		case c == '[':
			push("text_link", i)
			i++
		case c == '!' && strings.HasPrefix(s[i:], "!["):
			push("custom_emoji", i)
			i += 2
		case c == ']' && (top() == "text_link" || top() == "custom_emoji"):
			if i+1 >= len(s) || s[i+1] != '(' {
				return "", nil, reserved(c, i)
			}
			var url strings.Builder
			j := i + 2
			for ; j < len(s) && s[j] != ')'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				url.WriteByte(s[j])
			}
			if j >= len(s) {
				return "", nil, fmt.Errorf("Can't find end of a URL at byte offset %d", i+1)
			}
			o := &stack[len(stack)-1].ent
			if o.Type == "custom_emoji" {
				id, ok := strings.CutPrefix(url.String(), "tg://emoji?id=")
				if !ok || id == "" {
					return "", nil, fmt.Errorf("Custom emoji URL must have scheme tg://emoji?id= at byte offset %d", i+1)
				}
				o.CustomEmojiID = id
			} else {
				o.URL = url.String()
			}
			pop()
			i = j + 1
		default:
			return "", nil, reserved(c, i)
		}
	}
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		if o.ent.Type != "blockquote" {
			return "", nil, fmt.Errorf("Can't find end of %s entity at byte offset %d", mdV2Names[o.ent.Type], o.pos)
		}
		pop()
	}
	return tb.b.String(), ents, nil
}

// parseMarkdown is the legacy Markdown mode: no nesting, '\' escapes only
// the four markup characters outside entities.
func parseMarkdown(s string) (string, []MessageEntity, error) {
	var (
		tb   textBuilder
		ents []MessageEntity
	)
	literal := func(part string) {
		for _, r := range part {
			tb.rune(r)
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' && i+1 < len(s) && strings.IndexByte("_*`[", s[i+1]) >= 0 {
			tb.rune(rune(s[i+1]))
			i += 2
			continue
		}
		if strings.IndexByte("_*`[", c) < 0 {
			r, n := utf8.DecodeRuneInString(s[i:])
			tb.rune(r)
			i += n
			continue
		}
		unclosed := fmt.Errorf("Can't find end of the entity starting at byte offset %d", i)
		start := tb.n16
		switch {
		case c == '`' && strings.HasPrefix(s[i:], "```"):
			end := strings.Index(s[i+3:], "```")
			if end < 0 {
				return "", nil, unclosed
			}
			body, lang := s[i+3:i+3+end], ""
			if nl := strings.IndexByte(body, '\n'); nl >= 0 && !strings.ContainsAny(body[:nl], " ") {
				body, lang = body[nl+1:], body[:nl]
			}
			literal(body)
			ents = append(ents, MessageEntity{Type: "pre", Offset: start, Length: tb.n16 - start, Language: lang})
			i += 3 + end + 3
		case c == '[':
			end := strings.Index(s[i:], "](")
			closeURL := -1
			if end >= 0 {
				closeURL = strings.IndexByte(s[i+end:], ')')
			}
			if end < 0 || closeURL < 0 {
				return "", nil, unclosed
			}
			literal(s[i+1 : i+end])
			url := s[i+end+2 : i+end+closeURL]
			ents = append(ents, MessageEntity{Type: "text_link", Offset: start, Length: tb.n16 - start, URL: url})
			i += end + closeURL + 1
		default:
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return "", nil, unclosed
			}
			literal(s[i+1 : i+1+end])
			typ := map[byte]string{'*': "bold", '_': "italic", '`': "code"}[c]
			ents = append(ents, MessageEntity{Type: typ, Offset: start, Length: tb.n16 - start})
			i += end + 2
		}
	}
	out := ents[:0]
	for _, e := range ents {
		if e.Length > 0 {
			out = append(out, e)
		}
	}
	return tb.b.String(), out, nil
}
