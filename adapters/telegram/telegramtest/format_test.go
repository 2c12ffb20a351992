package telegramtest

import (
	"reflect"
	"testing"
)

func TestParseText(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		in       string
		wantText string
		wantEnts []MessageEntity
	}{
		{
			name: "HTML tags become entities", mode: "HTML",
			in:       "<b>Bold</b> and <i>it</i>",
			wantText: "Bold and it",
			wantEnts: []MessageEntity{{Type: "bold", Offset: 0, Length: 4}, {Type: "italic", Offset: 9, Length: 2}},
		},
		{
			name: "offsets count UTF-16 code units", mode: "HTML",
			in:       "😀 ą <u>x</u>",
			wantText: "😀 ą x",
			wantEnts: []MessageEntity{{Type: "underline", Offset: 5, Length: 1}},
		},
		{
			name: "entities are decoded", mode: "HTML",
			in:       "&lt;a&gt; &amp; &quot;q&quot; &#39;&#x1F600;",
			wantText: `<a> & "q" '😀`,
		},
		{
			name: "pre with a language", mode: "HTML",
			in:       `<pre><code class="language-go">x := 1</code></pre>`,
			wantText: "x := 1",
			wantEnts: []MessageEntity{{Type: "pre", Offset: 0, Length: 6, Language: "go"}},
		},
		{
			name: "links keep a raw & in the URL", mode: "HTML",
			in:       `<a href="https://example.com/?a=1&b=2">here</a>`,
			wantText: "here",
			wantEnts: []MessageEntity{{Type: "text_link", Offset: 0, Length: 4, URL: "https://example.com/?a=1&b=2"}},
		},
		{
			name: "white space is trimmed", mode: "HTML",
			in:       "\n  <b> x</b>  \n",
			wantText: "x",
			wantEnts: []MessageEntity{{Type: "bold", Offset: 0, Length: 1}},
		},
		{
			name: "MarkdownV2 entities", mode: "MarkdownV2",
			in:       "*b* _i_ __u__ ~s~ ||p|| `c` [l](https://x\\.y)",
			wantText: "b i u s p c l",
			wantEnts: []MessageEntity{
				{Type: "bold", Offset: 0, Length: 1}, {Type: "italic", Offset: 2, Length: 1},
				{Type: "underline", Offset: 4, Length: 1}, {Type: "strikethrough", Offset: 6, Length: 1},
				{Type: "spoiler", Offset: 8, Length: 1}, {Type: "code", Offset: 10, Length: 1},
				{Type: "text_link", Offset: 12, Length: 1, URL: "https://x.y"},
			},
		},
		{
			name: "MarkdownV2 block quotation", mode: "MarkdownV2",
			in:       ">a\n>b\nc",
			wantText: "a\nb\nc",
			wantEnts: []MessageEntity{{Type: "blockquote", Offset: 0, Length: 3}},
		},
		{
			name: "MarkdownV2 pre block", mode: "MarkdownV2",
			in:       "```go\nx.y()\n```",
			wantText: "x.y()",
			wantEnts: []MessageEntity{{Type: "pre", Offset: 0, Length: 5, Language: "go"}},
		},
		{
			name: "legacy Markdown", mode: "Markdown",
			in:       "*b* _i_ 2\\*2",
			wantText: "b i 2*2",
			wantEnts: []MessageEntity{{Type: "bold", Offset: 0, Length: 1}, {Type: "italic", Offset: 2, Length: 1}},
		},
		{
			name: "no parse mode keeps markup", mode: "",
			in:       "<b>x</b>.",
			wantText: "<b>x</b>.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, ents, err := parseText(tt.in, tt.mode)
			if err != nil {
				t.Fatalf("parseText: %v", err)
			}
			if text != tt.wantText || !reflect.DeepEqual(ents, tt.wantEnts) {
				t.Fatalf("parseText = %q %+v, want %q %+v", text, ents, tt.wantText, tt.wantEnts)
			}
		})
	}
}

func TestParseTextRejects(t *testing.T) {
	tests := []struct {
		name string
		mode string
		in   string
	}{
		{name: "HTML unknown tag", mode: "HTML", in: "<p>x</p>"},
		{name: "HTML self-closing tag", mode: "HTML", in: "a<br/>b"},
		{name: "HTML unclosed start tag", mode: "HTML", in: "<b"},
		{name: "HTML end tag without start", mode: "HTML", in: "x</b>"},
		{name: "HTML misnested", mode: "HTML", in: "<b><i>x</b></i>"},
		{name: "HTML bare <", mode: "HTML", in: "a < b"},
		{name: "HTML bare &", mode: "HTML", in: "R&D"},
		{name: "HTML unknown entity", mode: "HTML", in: "&hellip;"},
		{name: "HTML emoji without id", mode: "HTML", in: "<tg-emoji>👍</tg-emoji>"},
		{name: "invalid UTF-8", mode: "", in: "\xff"},
		{name: "MarkdownV2 unescaped dash", mode: "MarkdownV2", in: "2026-03-01"},
		{name: "MarkdownV2 unclosed code", mode: "MarkdownV2", in: "`x"},
		{name: "MarkdownV2 link without URL end", mode: "MarkdownV2", in: "[x](https://x"},
		{name: "Markdown unclosed", mode: "Markdown", in: "*x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if text, _, err := parseText(tt.in, tt.mode); err == nil {
				t.Fatalf("parseText(%q) = %q, want an error", tt.in, text)
			}
		})
	}
}

func TestSpecDiscriminators(t *testing.T) {
	s, err := loadSpec(defaultSpecPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, union := range []string{"BotCommandScope", "ReactionType", "MenuButton", "InputMedia", "ChatMember", "MessageOrigin"} {
		for _, sub := range s.Types[union].Subtypes {
			if s.Types[sub].discValue == "" {
				t.Errorf("%s member %s has no discriminator", union, sub)
			}
		}
	}
}
