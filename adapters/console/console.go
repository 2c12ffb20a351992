// Package console is a terminal chat for Tiltas, like Hubot's shell adapter: the user acts as any
// person in the directory, sees every message the bot sends with numbered buttons, presses them by
// number, and moves the clock to see reminders and escalations. It runs through the same engine,
// outbox, timers and authorization as the real platforms.
package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Console prints what the bot sends. It is the console platform's Messenger. Messages to the
// person the user acts as, and to groups, are shown whole with numbered buttons; messages to
// others as one line, so that escalations stay visible without burying the conversation
// (/all shows everyone's whole; /inbox shows the current person's latest again).
type Console struct {
	mu      sync.Mutex
	out     io.Writer
	clock   bot.Clock
	name    func(chat string) string
	buttons map[int]pressable
	nextBtn int
	nextMsg int
	viewer  string
	all     bool
	chats   map[string][]*shown
	seen    map[string]int // chat → how many of its messages were printed whole
}

type shown struct {
	ref bot.MessageRef
	msg bot.Message
}

type pressable struct {
	token string
	label string
	ref   bot.MessageRef
	chat  bot.Address
}

var _ bot.Messenger = (*Console)(nil)

// New returns a console writing to out. name turns a chat ("dm:ona-p", "group:vtas") into what the
// user reads.
func New(out io.Writer, clock bot.Clock, name func(chat string) string) *Console {
	return &Console{out: out, clock: clock, name: name, buttons: map[int]pressable{}, chats: map[string][]*shown{}, seen: map[string]int{}}
}

// SetViewer says whom the user acts as, and prints what they received meanwhile.
func (c *Console) SetViewer(person string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.viewer = person
	chat := "dm:" + person
	msgs := c.chats[chat]
	if unread := msgs[min(c.seen[chat], len(msgs)):]; len(unread) > 0 {
		fmt.Fprintf(c.out, "    (%d new for %s:)\n", len(unread), person)
		for _, m := range unread {
			fmt.Fprintf(c.out, "    ── #%s\n", m.ref.ID)
			c.print(m.msg, m.ref, bot.Address{Platform: bot.Console, Chat: chat})
		}
	}
	c.seen[chat] = len(msgs)
}

// ShowAll prints everyone's messages whole (true) or only the viewer's and groups' (false).
func (c *Console) ShowAll(all bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = all
}

// whole reports whether a message in chat is printed whole.
func (c *Console) whole(chat string) bool {
	return c.all || chat == "dm:"+c.viewer || strings.HasPrefix(chat, "group:")
}

// Inbox prints the last n messages of the viewer's direct chat as they read now.
func (c *Console) Inbox(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	chat := "dm:" + c.viewer
	msgs := c.chats[chat]
	if len(msgs) == 0 {
		fmt.Fprintln(c.out, "    (no messages yet)")
		return
	}
	for _, m := range msgs[max(0, len(msgs)-n):] {
		fmt.Fprintf(c.out, "    ── #%s\n", m.ref.ID)
		c.print(m.msg, m.ref, bot.Address{Platform: bot.Console, Chat: chat})
	}
}

// DM is the console address of a person's direct chat.
func DM(person string) bot.Address {
	return bot.Address{Platform: bot.Console, Chat: "dm:" + person}
}

// GroupChat is the console address of a group.
func GroupChat(group string) bot.Address {
	return bot.Address{Platform: bot.Console, Chat: "group:" + group, Group: true}
}

// Identity is the console account of a person.
func Identity(person string) bot.Identity {
	return bot.Identity{Platform: bot.Console, User: person}
}

// Send prints m as a new message to.
func (c *Console) Send(_ context.Context, to bot.Address, m bot.Message) (bot.MessageRef, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextMsg++
	ref := bot.MessageRef{Platform: bot.Console, Chat: to.Chat, ID: strconv.Itoa(c.nextMsg)}
	c.chats[to.Chat] = append(c.chats[to.Chat], &shown{ref: ref, msg: m})
	if c.whole(to.Chat) {
		c.seen[to.Chat] = len(c.chats[to.Chat])
	}
	if !c.whole(to.Chat) {
		fmt.Fprintf(c.out, "[%s] → %s  #%s: %s\n", c.clock.Now().Format("01-02 15:04"), c.name(to.Chat), ref.ID, summary(m))
		return ref, nil
	}
	fmt.Fprintf(c.out, "[%s] → %s  #%s\n", c.clock.Now().Format("01-02 15:04"), c.name(to.Chat), ref.ID)
	c.print(m, ref, to)
	return ref, nil
}

// summary is a message in one line.
func summary(m bot.Message) string {
	s := m.Title
	if s == "" && len(m.Lines) > 0 {
		s = m.Lines[0]
	}
	if r := []rune(s); len(r) > 70 {
		s = string(r[:69]) + "…"
	}
	return s
}

// Edit prints the new content of an earlier message; its old buttons stop working.
func (c *Console) Edit(_ context.Context, ref bot.MessageRef, m bot.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n, b := range c.buttons {
		if b.ref == ref {
			delete(c.buttons, n)
		}
	}
	for _, sm := range c.chats[ref.Chat] {
		if sm.ref == ref {
			sm.msg = m
		}
	}
	if !c.whole(ref.Chat) {
		fmt.Fprintf(c.out, "[%s] ✎ %s  #%s (edited): %s\n", c.clock.Now().Format("01-02 15:04"), c.name(ref.Chat), ref.ID, summary(m))
		return nil
	}
	fmt.Fprintf(c.out, "[%s] ✎ %s  #%s (edited)\n", c.clock.Now().Format("01-02 15:04"), c.name(ref.Chat), ref.ID)
	c.print(m, ref, bot.Address{Platform: bot.Console, Chat: ref.Chat, Group: strings.HasPrefix(ref.Chat, "group:")})
	return nil
}

func (c *Console) print(m bot.Message, ref bot.MessageRef, to bot.Address) {
	if m.Title != "" {
		fmt.Fprintf(c.out, "    ** %s **\n", m.Title)
	}
	for _, l := range m.Lines {
		for _, part := range strings.Split(l, "\n") {
			fmt.Fprintf(c.out, "    %s\n", part)
		}
	}
	if m.File != nil {
		fmt.Fprintf(c.out, "    📎 %s (%s, %d bytes)\n", m.File.Name, m.File.Type, len(m.File.Data))
	}
	for _, row := range m.Buttons {
		var cells []string
		for _, b := range row {
			c.nextBtn++
			c.buttons[c.nextBtn] = pressable{token: b.Token, label: b.Label, ref: ref, chat: to}
			cells = append(cells, fmt.Sprintf("[%d] %s", c.nextBtn, b.Label))
		}
		fmt.Fprintf(c.out, "    %s\n", strings.Join(cells, "   "))
	}
}

// find returns the button, in the current version of a message in the viewer's chat or a
// group, whose label is text (the newest such), or else the one whose label contains text. Two
// different labels containing text are ambiguous: the error lists them. A button found is
// pressable by its number from then on.
func (c *Console) find(text string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	want := bot.Fold(text)
	type hit struct {
		b   bot.Button
		ref bot.MessageRef
		to  bot.Address
	}
	var exact, partial []hit
	for chat, msgs := range c.chats {
		if chat != "dm:"+c.viewer && !strings.HasPrefix(chat, "group:") {
			continue
		}
		to := bot.Address{Platform: bot.Console, Chat: chat, Group: strings.HasPrefix(chat, "group:")}
		for _, m := range msgs {
			for _, row := range m.msg.Buttons {
				for _, b := range row {
					switch label := bot.Fold(b.Label); {
					case label == want:
						exact = append(exact, hit{b, m.ref, to})
					case strings.Contains(label, want):
						partial = append(partial, hit{b, m.ref, to})
					}
				}
			}
		}
	}
	hits := exact
	if len(hits) == 0 {
		hits = partial
		var labels []string
		for _, h := range partial {
			if !slices.Contains(labels, h.b.Label) {
				labels = append(labels, h.b.Label)
			}
		}
		if len(labels) > 1 {
			slices.Sort(labels)
			return 0, fmt.Errorf("%q could be any of: %s; say which", text, strings.Join(labels, ", "))
		}
	}
	if len(hits) == 0 {
		return 0, fmt.Errorf("no button of yours says %q", text)
	}
	// The newest: the highest message number.
	newest := hits[0]
	for _, h := range hits[1:] {
		if atoi(h.ref.ID) > atoi(newest.ref.ID) {
			newest = h
		}
	}
	for n, b := range c.buttons {
		if b.token == newest.b.Token && b.ref == newest.ref {
			return n, nil
		}
	}
	c.nextBtn++
	c.buttons[c.nextBtn] = pressable{token: newest.b.Token, label: newest.b.Label, ref: newest.ref, chat: newest.to}
	return c.nextBtn, nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// button returns the pressable button n.
func (c *Console) button(n int) (pressable, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.buttons[n]
	return b, ok
}

// Shell reads what the user types and hands it to the engine.
type Shell struct {
	Console *Console
	// Handle is the engine's Handle.
	Handle func(ctx context.Context, in bot.Incoming) (bot.Response, error)
	// Settle delivers queued messages and fires due timers, so the transcript shows their effect.
	Settle func(ctx context.Context) error
	// Clock is moved by /clock.
	Clock *bot.ManualClock
	// Who describes a person ("Ona Petraitienė, social worker"), ok false when unknown.
	Who func(person string) (string, bool)
	// Groups lists the configured group IDs; People the directory's person IDs.
	Groups, People []string
	Out            io.Writer

	person string
	chat   bot.Address
	seq    int
}

// Run reads lines until EOF or /quit. In script mode (piped input) each line is echoed, so the
// output is a transcript.
func (s *Shell) Run(ctx context.Context, in io.Reader, script bool) error {
	lines := make(chan string)
	errc := make(chan error, 1)
	go func() {
		defer close(lines)
		br := bufio.NewReader(in)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				select {
				case lines <- line:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				if err != io.EOF {
					errc <- err
				}
				return
			}
		}
	}()
	for {
		if !script {
			fmt.Fprintf(s.Out, "%s> ", s.person)
		}
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case line, ok = <-lines:
		}
		if !ok {
			select {
			case err := <-errc:
				return err
			default:
				return nil
			}
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if script {
			fmt.Fprintf(s.Out, "\n%s> %s\n", s.person, line)
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		if quit, err := s.do(ctx, line); err != nil {
			fmt.Fprintf(s.Out, "    ! %v\n", err)
		} else if quit {
			return nil
		}
	}
}

// Start makes the user act as person, before Run.
func (s *Shell) Start(person string) { s.as(person) }

func (s *Shell) as(person string) {
	s.person = person
	defer s.Console.SetViewer(person)
	s.chat = DM(person)
	desc, ok := s.Who(person)
	if !ok {
		desc = "not in the directory"
	}
	fmt.Fprintf(s.Out, "    (you are now %s: %s)\n", person, desc)
}

// like returns up to five person IDs that start with or contain text, else the first five.
func (s *Shell) like(text string) []string {
	text = strings.ToLower(text)
	var starts, contains []string
	for _, id := range s.People {
		switch {
		case strings.HasPrefix(id, text):
			starts = append(starts, id)
		case strings.Contains(id, text):
			contains = append(contains, id)
		}
	}
	out := append(starts, contains...)
	if len(out) == 0 {
		out = s.People
	}
	return out[:min(len(out), 5)]
}

func (s *Shell) do(ctx context.Context, line string) (bool, error) {
	f := strings.Fields(line)
	switch f[0] {
	case "/quit", "/exit":
		return true, nil
	case "/as":
		if len(f) != 2 {
			return false, fmt.Errorf("usage: /as PERSON_ID")
		}
		if _, ok := s.Who(f[1]); !ok {
			// Not silently a stranger: say so, and offer the IDs that look like it.
			return false, fmt.Errorf("nobody in the directory is %q; try %s (or /stranger to see what someone not in it gets)", f[1], strings.Join(s.like(f[1]), ", "))
		}
		s.as(f[1])
		return false, nil
	case "/stranger":
		// Explicitly someone the directory does not know, to see what they get.
		s.as("stranger")
		return false, nil
	case "/in":
		if len(f) != 2 {
			return false, fmt.Errorf("usage: /in GROUP_ID (groups: %s)", strings.Join(s.Groups, ", "))
		}
		s.chat = GroupChat(f[1])
		fmt.Fprintf(s.Out, "    (you now write in group %s)\n", f[1])
		return false, nil
	case "/all":
		on := len(f) < 2 || f[1] != "off"
		s.Console.ShowAll(on)
		fmt.Fprintf(s.Out, "    (everyone's messages shown whole: %v)\n", on)
		return false, nil
	case "/inbox":
		n := 5
		if len(f) == 2 {
			if v, err := strconv.Atoi(f[1]); err == nil && v > 0 {
				n = v
			}
		}
		s.Console.Inbox(n)
		return false, nil
	case "/dm":
		s.chat = DM(s.person)
		fmt.Fprintf(s.Out, "    (you now write in your direct chat)\n")
		return false, nil
	case "/clock":
		if len(f) < 2 {
			fmt.Fprintf(s.Out, "    (it is %s)\n", s.Clock.Now().Format("2006-01-02 15:04 Mon"))
			return false, nil
		}
		to, err := s.target(strings.Join(f[1:], " "))
		if err != nil {
			return false, err
		}
		fmt.Fprintf(s.Out, "    (clock → %s)\n", to.Format("2006-01-02 15:04 Mon"))
		// Minute by minute, so that reminders and escalations happen at their own times.
		for s.Clock.Now().Before(to) {
			next := s.Clock.Now().Add(time.Minute)
			if next.After(to) {
				next = to
			}
			s.Clock.Set(next)
			if err := s.Settle(ctx); err != nil {
				return false, err
			}
		}
		return false, nil
	case "/press":
		if len(f) < 2 {
			return false, fmt.Errorf("usage: /press N, or /press LABEL (the newest button of yours with that label)")
		}
		arg := strings.Join(f[1:], " ")
		if _, err := strconv.Atoi(arg); err != nil {
			n, err := s.Console.find(arg)
			if err != nil {
				return false, err
			}
			fmt.Fprintf(s.Out, "    (pressing [%d])\n", n)
			arg = strconv.Itoa(n)
		}
		return false, s.press(ctx, arg)
	case "/help":
		if len(f) == 1 {
			fmt.Fprintln(s.Out, "    console: /as PERSON, /stranger, /inbox [N], /in GROUP, /dm, /press N or LABEL (or just N), /clock +1h|+2d|YYYY-MM-DD HH:MM, /all [off], /quit; bot commands follow:")
		}
	}
	if n, err := strconv.Atoi(line); err == nil {
		if _, ok := s.Console.button(n); ok {
			return false, s.press(ctx, line)
		}
	}
	s.seq++
	resp, err := s.Handle(ctx, bot.Incoming{ID: "console-" + strconv.Itoa(s.seq), From: Identity(s.person), Chat: s.chat, Text: line})
	if err != nil {
		return false, err
	}
	if resp.Toast != "" {
		fmt.Fprintf(s.Out, "    (%s)\n", resp.Toast)
	}
	return false, s.Settle(ctx)
}

func (s *Shell) press(ctx context.Context, arg string) error {
	n, err := strconv.Atoi(arg)
	if err != nil {
		return fmt.Errorf("usage: /press N")
	}
	b, ok := s.Console.button(n)
	if !ok {
		return fmt.Errorf("there is no button [%d] (buttons go away when their message is edited)", n)
	}
	s.seq++
	ref := b.ref
	resp, err := s.Handle(ctx, bot.Incoming{ID: "console-" + strconv.Itoa(s.seq), From: Identity(s.person), Chat: b.chat, Button: b.token, Message: &ref})
	if err != nil {
		return err
	}
	if resp.Toast != "" {
		fmt.Fprintf(s.Out, "    (%s)\n", resp.Toast)
	}
	return s.Settle(ctx)
}

// target reads "+1h", "+2d", "+1d2h" or an absolute "2026-12-03 09:00" as a time to move to.
func (s *Shell) target(arg string) (time.Time, error) {
	if rest, ok := strings.CutPrefix(arg, "+"); ok {
		var total time.Duration
		for rest != "" {
			i := strings.IndexAny(rest, "dhm")
			if i <= 0 {
				return time.Time{}, fmt.Errorf("usage: /clock +1h, +30m, +2d or +1d2h")
			}
			n, err := strconv.Atoi(rest[:i])
			if err != nil {
				return time.Time{}, fmt.Errorf("usage: /clock +1h, +30m, +2d or +1d2h")
			}
			unit := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute}[rest[i]]
			total += time.Duration(n) * unit
			rest = rest[i+1:]
		}
		if total > 62*24*time.Hour {
			return time.Time{}, fmt.Errorf("move the clock at most two months at a time")
		}
		return s.Clock.Now().Add(total), nil
	}
	now := s.Clock.Now()
	t, err := time.ParseInLocation("2006-01-02 15:04", arg, now.Location())
	if err != nil {
		return time.Time{}, fmt.Errorf("usage: /clock +1h or /clock 2026-12-03 09:00")
	}
	if t.Before(now) {
		return time.Time{}, fmt.Errorf("the clock only moves forward")
	}
	if t.Sub(now) > 62*24*time.Hour {
		return time.Time{}, fmt.Errorf("move the clock at most two months at a time")
	}
	return t, nil
}
