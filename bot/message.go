package bot

import (
	"strings"
)

// Platform names a chat system.
type Platform string

// The platforms Tiltas speaks.
const (
	Telegram Platform = "telegram"
	Slack    Platform = "slack"
	Console  Platform = "console"
)

// Identity is a chat account: a platform user. On Slack the workspace (team) is part of it.
type Identity struct {
	Platform Platform `json:"platform"`
	Team     string   `json:"team,omitempty"`
	User     string   `json:"user"`
}

// Key is a stable string form, used to key links and dialogs.
func (id Identity) Key() string {
	return string(id.Platform) + ":" + id.Team + ":" + id.User
}

// Address is where a message goes: a chat or channel, optionally a forum topic; or, when Chat is
// empty, the direct-message conversation with User (which the adapter opens).
type Address struct {
	Platform Platform `json:"platform"`
	Team     string   `json:"team,omitempty"`
	Chat     string   `json:"chat,omitempty"`
	Thread   string   `json:"thread,omitempty"`
	User     string   `json:"user,omitempty"`
	// Group is true for group chats and channels, where no case detail may go.
	Group bool `json:"group,omitempty"`
}

// Key identifies the conversation for rate limiting and ordering.
func (a Address) Key() string {
	if a.Chat == "" {
		return string(a.Platform) + ":" + a.Team + ":dm:" + a.User
	}
	return string(a.Platform) + ":" + a.Team + ":" + a.Chat
}

// MessageRef points at a message already sent, so that it can be edited.
type MessageRef struct {
	Platform Platform `json:"platform"`
	Team     string   `json:"team,omitempty"`
	Chat     string   `json:"chat"`
	ID       string   `json:"id"` // Telegram message_id, Slack ts
}

// Address is the conversation the message is in.
func (r MessageRef) Address() Address {
	return Address{Platform: r.Platform, Team: r.Team, Chat: r.Chat}
}

// Message is what a flow says, platform-neutral. Every string is plain text: adapters escape it
// for their markup, so that nothing a user typed can format, mention or link. Title is shown bold.
type Message struct {
	Title   string     `json:"title,omitempty"`
	Lines   []string   `json:"lines,omitempty"`
	Buttons [][]Button `json:"buttons,omitempty"`
	File    *File      `json:"file,omitempty"`
}

// Text joins title and lines, one per line, for adapters without markup and for tests.
func (m Message) Text() string {
	var b strings.Builder
	if m.Title != "" {
		b.WriteString(m.Title)
	}
	for _, l := range m.Lines {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}

// Button is an inline button. Flows set Action; the engine stores it and puts an opaque Token in
// its place before the message is queued, so a token decides nothing by itself.
type Button struct {
	Label  string  `json:"label"`
	Token  string  `json:"token,omitempty"`
	Action *Action `json:"-"`
}

// Btn is a button that runs the named action on ref.
func Btn(label, action, ref, arg string) Button {
	return Button{Label: label, Action: &Action{Name: action, Ref: ref, Arg: arg}}
}

// File is an attachment, such as an .ics calendar file.
type File struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Data []byte `json:"data"`
}

// SplitLines splits text into chunks of at most max runes, breaking at line ends where it can.
// Adapters use it to respect their platforms' length limits.
func SplitLines(text string, max int) []string {
	if max <= 0 || len([]rune(text)) <= max {
		return []string{text}
	}
	var out []string
	var cur []rune
	for _, line := range strings.SplitAfter(text, "\n") {
		r := []rune(line)
		if len(cur)+len(r) <= max {
			cur = append(cur, r...)
			continue
		}
		if len(cur) > 0 {
			out = append(out, strings.TrimRight(string(cur), "\n"))
			cur = cur[:0]
		}
		for len(r) > max {
			out = append(out, string(r[:max]))
			r = r[max:]
		}
		cur = append(cur, r...)
	}
	if s := strings.TrimRight(string(cur), "\n"); s != "" {
		out = append(out, s)
	}
	return out
}
