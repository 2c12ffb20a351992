package slack

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/tiltas/tiltas/bot"
)

// Slack's Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
const (
	maxBlocks      = 50   // blocks in one message
	maxSectionText = 3000 // characters of a section's text
	maxButtonText  = 75   // characters of a button's label
	maxActionID    = 255
	maxValue       = 2000 // characters of a button's value
	maxElements    = 25   // elements in one actions block
	maxFallback    = 300  // characters of the notification text we send along
)

// escape makes plain text safe for mrkdwn: with &, < and > escaped, nothing a person typed can
// become a mention (<@U1>, <!channel>) or a link (<http://x|y>).
func escape(s string) string { return slackutilsx.EscapeMessage(s) }

// part is one message's worth of blocks.
type part struct {
	blocks []slackgo.Block
	text   string // the notification and accessibility fallback
}

// section is a section block's mrkdwn and the plain text it shows.
type section struct {
	mrkdwn, plain string
}

// render turns m into Block Kit: the title as bold sections, the lines as mrkdwn sections of at
// most maxSectionText characters (long lines broken at spaces where possible), then one actions
// block per row of buttons. Content that does not fit into maxBlocks blocks continues in further
// messages; the buttons go with the last one (rows beyond maxBlocks are cut: no flow comes near
// that). For an edit (single), the content is cut to fit into one message instead, and the cut is
// marked with an ellipsis.
func render(m bot.Message, single bool) []part {
	var secs []section
	for _, l := range strings.Split(m.Title, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		secs = append(secs, chop(strings.TrimSpace(l), 2, bold)...)
	}
	var body []string
	for _, l := range m.Lines {
		body = append(body, strings.Split(l, "\n")...)
	}
	secs = append(secs, pack(body)...)
	actions := actionBlocks(m.Buttons)
	if len(actions) > maxBlocks {
		actions = actions[:maxBlocks]
	}
	room := maxBlocks - len(actions)
	if single && len(secs) > room {
		if room > 0 {
			secs = append(secs[:room-1], section{mrkdwn: "…", plain: "…"})
		} else {
			secs = nil
		}
	}
	var parts []part
	for len(secs) > room {
		n := min(len(secs), maxBlocks)
		parts = append(parts, sectionPart(secs[:n], nil))
		secs = secs[n:]
	}
	last := sectionPart(secs, actions)
	if len(last.blocks) > 0 || len(parts) == 0 {
		if last.text == "" {
			last.text = buttonText(m.Buttons)
		}
		parts = append(parts, last)
	}
	return parts
}

// bold renders a title piece; mrkdwn bold needs no space inside its asterisks.
func bold(s string) string { return "*" + escape(strings.TrimSpace(s)) + "*" }

func sectionPart(secs []section, actions []slackgo.Block) part {
	var p part
	var plain []string
	for _, s := range secs {
		p.blocks = append(p.blocks, slackgo.NewSectionBlock(
			slackgo.NewTextBlockObject(slackgo.MarkdownType, s.mrkdwn, false, true), nil, nil))
		plain = append(plain, s.plain)
	}
	p.blocks = append(p.blocks, actions...)
	p.text = escape(truncate(strings.Join(plain, "\n"), maxFallback))
	return p
}

func buttonText(rows [][]bot.Button) string {
	var labels []string
	for _, row := range rows {
		for _, b := range row {
			labels = append(labels, b.Label)
		}
	}
	return escape(truncate(strings.Join(labels, " · "), maxFallback))
}

// actionBlocks makes one actions block per row (more when a row has more than maxElements
// buttons). A button's value is its opaque token; buttons without one do nothing and are left out.
func actionBlocks(rows [][]bot.Button) []slackgo.Block {
	var out []slackgo.Block
	for i, row := range rows {
		var elems []slackgo.BlockElement
		flush := func() {
			if len(elems) > 0 {
				out = append(out, slackgo.NewActionBlock("row-"+strconv.Itoa(len(out)), elems...))
				elems = nil
			}
		}
		for j, b := range row {
			if b.Token == "" || len(b.Token) > maxValue {
				continue
			}
			label := truncate(strings.TrimSpace(b.Label), maxButtonText)
			if label == "" {
				label = "…"
			}
			id := "b" + strconv.Itoa(i) + "-" + strconv.Itoa(j)
			elems = append(elems, slackgo.NewButtonBlockElement(id, b.Token,
				slackgo.NewTextBlockObject(slackgo.PlainTextType, label, false, false)))
			if len(elems) == maxElements {
				flush()
			}
		}
		flush()
	}
	return out
}

// pack joins lines into sections of at most maxSectionText escaped characters, keeping lines
// whole where they fit.
func pack(lines []string) []section {
	var out []section
	var md, plain []string
	n := 0
	flush := func() {
		if strings.TrimSpace(strings.Join(plain, "")) != "" {
			out = append(out, section{mrkdwn: strings.Join(md, "\n"), plain: strings.Join(plain, "\n")})
		}
		md, plain, n = nil, nil, 0
	}
	for _, l := range lines {
		for _, s := range chop(l, 0, escape) {
			size := utf8.RuneCountInString(s.mrkdwn)
			if len(md) > 0 && n+1+size > maxSectionText {
				flush()
			}
			if len(md) > 0 {
				n++
			}
			md, plain = append(md, s.mrkdwn), append(plain, s.plain)
			n += size
		}
	}
	flush()
	return out
}

// chop splits one line into pieces whose rendering (wrap, adding extra characters around the
// escaped text) is at most maxSectionText characters, breaking after a space where it can and
// never inside an escape.
func chop(line string, extra int, wrap func(string) string) []section {
	limit := maxSectionText - extra
	var out []section
	rs := []rune(line)
	for len(rs) > 0 {
		size, cut, space := 0, len(rs), -1
		for i, r := range rs {
			w := 1
			switch r {
			case '&':
				w = 5
			case '<', '>':
				w = 4
			}
			if size+w > limit {
				cut = i
				break
			}
			size += w
			if unicode.IsSpace(r) {
				space = i + 1
			}
		}
		if cut < len(rs) && space > cut/2 {
			cut = space
		}
		piece := string(rs[:cut])
		out = append(out, section{mrkdwn: wrap(piece), plain: piece})
		rs = rs[cut:]
	}
	if len(out) == 0 {
		out = append(out, section{mrkdwn: "", plain: ""})
	}
	return out
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

var reSlashWord = regexp.MustCompile(`(^|[\s(„“"'«])/([a-z_]+)\b`)

// nativeCommands returns what rewrites a text's "/word", for each word among the bot's commands,
// as "/tiltas word" (main being the app's slash command). A slash inside a word (a URL, "ir/arba")
// is left alone, as is a command Slack knows itself (main).
func nativeCommands(main string, words []string) func(string) string {
	known := map[string]bool{}
	for _, w := range words {
		known[strings.ToLower(w)] = true
	}
	return func(s string) string {
		if len(known) == 0 || !strings.Contains(s, "/") {
			return s
		}
		return reSlashWord.ReplaceAllStringFunc(s, func(m string) string {
			sub := reSlashWord.FindStringSubmatch(m)
			if !known[sub[2]] || "/"+sub[2] == main {
				return m
			}
			return sub[1] + main + " " + sub[2]
		})
	}
}

// nativeMessage is m with every command named as Slack lets people type it.
func (a *Adapter) nativeMessage(m bot.Message) bot.Message {
	m.Title = a.native(m.Title)
	m.Lines = append([]string(nil), m.Lines...)
	for i, l := range m.Lines {
		m.Lines[i] = a.native(l)
	}
	return m
}
