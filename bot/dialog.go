package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// StepKind is what a dialog step asks for.
type StepKind int

// Step kinds.
const (
	AskChoice   StepKind = iota // one of Options, as buttons; a typed number or label works too
	AskText                     // free text up to MaxLen characters
	AskDate                     // a date, the Lithuanian way
	AskDateTime                 // a date and a time
	AskClock                    // a time of day
	AskPerson                   // one of Options naming people
	AskCount                    // a whole number from Min to Max
	AskCase                     // a case code, never a name
	AskConfirm                  // the summary, confirmed or cancelled
	AskList                     // the questions of Each, item after item, until "no more"
)

// Option is one answer to a choice step.
type Option struct {
	Value string
	Label string
}

// Step is one question of a dialog.
type Step struct {
	Name   string
	Kind   StepKind
	Prompt string // catalog ID; answers so far are its template data
	// Options lists the choices of AskChoice and AskPerson steps.
	Options  func(r *Request, a Answers) []Option
	MaxLen   int
	Min, Max int
	// Optional text steps take "-" for nothing.
	Optional bool
	// If asks the step only when it returns true: this is how dialogs branch (Decline → reason).
	If func(a Answers) bool
	// Check validates and may normalise an answer; a Problem asks again.
	Check func(ctx context.Context, r *Request, v string, a Answers) (string, error)

	// Each, for an AskList step, are the questions asked for every item, again and again, until
	// the person answers More with MoreNo or Max items are in. Their answers are stored as
	// "<list>.<n>.<question>" (n from 1) and read back with Answers.List; in Each's callbacks the
	// current item's answers also stand under their own names. While, when set, must hold for
	// another item to be offered at all (someone left to pick).
	Each                  []Step
	More, MoreYes, MoreNo string
	While                 func(a Answers) bool
	// PromptAgain, on a question of Each, is its prompt for the items after the first.
	PromptAgain string
}

// Dialog is a multi-step form. Answers prefilled when it starts (say, from a button) skip their steps.
type Dialog struct {
	Name    string
	Title   string // catalog ID
	Steps   []Step
	Summary func(r *Request, a Answers) []string
	Done    func(ctx context.Context, r *Request, a Answers) error
}

// Answers are a dialog's answers by step name, normalised: dates as 2006-01-02, times with zone
// as RFC 3339, clocks as 15:04, people as IDs, counts as decimals, confirmations as "yes".
type Answers map[string]string

// Time reads an AskDateTime or AskDate answer.
func (a Answers) Time(name string, loc *time.Location) time.Time {
	if t, err := time.Parse(time.RFC3339, a[name]); err == nil {
		return t.In(loc)
	}
	t, _ := time.ParseInLocation("2006-01-02", a[name], loc)
	return t
}

// List reads an AskList answer: each item's answers by question name, in order.
func (a Answers) List(name string) []Answers {
	var out []Answers
	for n := 1; ; n++ {
		prefix := itemKey(name, n, "")
		item := Answers{}
		for k, v := range a {
			if q, ok := strings.CutPrefix(k, prefix); ok && q != moreQuestion {
				item[q] = v
			}
		}
		if len(item) == 0 {
			return out
		}
		out = append(out, item)
	}
}

// moreQuestion is the name of a list item's "another one?".
const moreQuestion = "more"

func itemKey(list string, n int, question string) string {
	return list + "." + strconv.Itoa(n) + "." + question
}

// itemView is a's answers with the list's item n's own also under their question names.
func itemView(a Answers, list *Step, n int) Answers {
	v := make(Answers, len(a)+len(list.Each))
	for k, x := range a {
		v[k] = x
	}
	for _, q := range list.Each {
		delete(v, q.Name)
		if x, ok := a[itemKey(list.Name, n, q.Name)]; ok {
			v[q.Name] = x
		}
	}
	return v
}

// question is item n's question q of list step l as a step of its own.
func (l *Step) question(n int, q Step) *Step {
	s := q
	s.Name = itemKey(l.Name, n, q.Name)
	if n > 1 && q.PromptAgain != "" {
		s.Prompt = q.PromptAgain
	}
	if q.Options != nil {
		s.Options = func(r *Request, a Answers) []Option { return q.Options(r, itemView(a, l, n)) }
	}
	if q.Check != nil {
		s.Check = func(ctx context.Context, r *Request, v string, a Answers) (string, error) {
			return q.Check(ctx, r, v, itemView(a, l, n))
		}
	}
	s.If = nil
	return &s
}

// more is the "another one?" after item n of list step l.
func (l *Step) more(n int) *Step {
	return &Step{Name: itemKey(l.Name, n, moreQuestion), Kind: AskChoice, Prompt: l.More, Options: func(r *Request, _ Answers) []Option {
		return []Option{{Value: "yes", Label: r.T(l.MoreYes)}, {Value: "no", Label: r.T(l.MoreNo)}}
	}}
}

// nextItem is the next question of list step l, or nil when the list is done.
func (l *Step) nextItem(a Answers) *Step {
	for n := 1; ; n++ {
		view := itemView(a, l, n)
		for _, q := range l.Each {
			if _, done := a[itemKey(l.Name, n, q.Name)]; done || q.If != nil && !q.If(view) {
				continue
			}
			return l.question(n, q)
		}
		if v, done := a[itemKey(l.Name, n, moreQuestion)]; done {
			if v != "yes" {
				return nil
			}
			continue
		}
		if l.Max > 0 && n >= l.Max || l.While != nil && !l.While(view) {
			return nil
		}
		return l.more(n)
	}
}

// Int reads an AskCount answer.
func (a Answers) Int(name string) int {
	n, _ := strconv.Atoi(a[name])
	return n
}

type dialogState struct {
	Dialog  string    `json:"dialog"`
	Step    string    `json:"step"`
	Seq     int       `json:"seq"`
	Answers Answers   `json:"answers"`
	Person  string    `json:"person"`
	Chat    Address   `json:"chat"`
	Expires time.Time `json:"expires"`
}

// Dialog registers a dialog.
func (e *Engine) Dialog(d *Dialog) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dialogs[d.Name] = d
}

func dialogKey(chat Address, id Identity) string { return "dialog/" + chat.Key() + "/" + id.Key() }

func (d *Dialog) step(name string) *Step {
	for i := range d.Steps {
		s := &d.Steps[i]
		if s.Name == name {
			return s
		}
		rest, ok := strings.CutPrefix(name, s.Name+".")
		if !ok || s.Kind != AskList {
			continue
		}
		num, q, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			return nil
		}
		if q == moreQuestion {
			return s.more(n)
		}
		for _, each := range s.Each {
			if each.Name == q {
				return s.question(n, each)
			}
		}
	}
	return nil
}

func (d *Dialog) next(a Answers) *Step {
	for i := range d.Steps {
		s := &d.Steps[i]
		if s.If != nil && !s.If(a) {
			continue
		}
		if s.Kind == AskList {
			if q := s.nextItem(a); q != nil {
				return q
			}
			continue
		}
		if _, done := a[s.Name]; done {
			continue
		}
		return s
	}
	return nil
}

// StartDialog starts dialog name for r's person with prefilled answers. A dialog started in a
// group continues in the person's direct chat, where its answers belong.
func (e *Engine) StartDialog(ctx context.Context, r *Request, name string, pre Answers) error {
	e.mu.RLock()
	d := e.dialogs[name]
	e.mu.RUnlock()
	if d == nil {
		return fmt.Errorf("dialog %s: %w", name, ErrNotFound)
	}
	chat := r.Chat
	if chat.Group {
		dm, err := e.AddressOf(ctx, r.Person.ID)
		if err != nil {
			return err
		}
		chat = dm
	}
	st := dialogState{Dialog: name, Answers: Answers{}, Person: r.Person.ID, Chat: chat, Expires: e.Clock.Now().Add(e.Settings.DialogIdle)}
	for k, v := range pre {
		st.Answers[k] = v
	}
	s := d.next(st.Answers)
	if s == nil {
		return d.Done(ctx, r, st.Answers)
	}
	st.Step = s.Name
	key := dialogKey(chat, r.From)
	if _, err := Save(ctx, e.Records, key, st, Any); err != nil {
		return err
	}
	if err := e.Timers.Schedule(ctx, Timer{ID: "dlg:" + key, Due: st.Expires, Kind: "dialog.expire", Ref: key}); err != nil {
		return err
	}
	e.Observe("dialog.started")
	return e.prompt(ctx, r, d, st, key)
}

// DialogAbout is what a button that opens a dialog about a record (a visit, a meeting) does: the
// record the button names is read (Gone, a catalog ID, says so when it is not there), Guard
// refuses whoever may not (and records the refusal), and the dialog starts with Prefill's answers.
type DialogAbout[T any] struct {
	Dialog  string
	Gone    string
	Load    func(ctx context.Context, id string) (T, error)
	Guard   func(ctx context.Context, r *Request, v *T) error
	Prefill func(r *Request, v *T) Answers
}

// Action is the button's handler, for Host.Action.
func (d DialogAbout[T]) Action(h Host) ActionFunc {
	return func(ctx context.Context, r *Request, a Action) error {
		v, err := d.Load(ctx, a.Ref)
		if errors.Is(err, ErrNotFound) && d.Gone != "" {
			return Tell(d.Gone)
		}
		if err != nil {
			return err
		}
		if d.Guard != nil {
			if err := d.Guard(ctx, r, &v); err != nil {
				return err
			}
		}
		return h.StartDialog(ctx, r, d.Dialog, d.Prefill(r, &v))
	}
}

type dialogPress struct {
	seq   int
	value string
}

// dialogInput feeds text (or a pressed dialog button) to the active dialog, if any.
func (e *Engine) dialogInput(ctx context.Context, r *Request, text string, press *dialogPress) (bool, error) {
	key := dialogKey(r.Chat, r.From)
	for attempt := 0; attempt < 20; attempt++ {
		st, ver, err := e.loadDialog(ctx, r, key)
		if errors.Is(err, ErrNotFound) {
			if press != nil {
				return true, Tell("core.stale")
			}
			return false, nil
		}
		if err != nil {
			return true, err
		}
		e.mu.RLock()
		d := e.dialogs[st.Dialog]
		e.mu.RUnlock()
		step := (*Step)(nil)
		if d != nil {
			step = d.step(st.Step)
		}
		if step == nil || st.Person != r.Person.ID {
			_ = Delete(ctx, e.Records, key)
			return false, nil
		}
		if press != nil {
			if press.seq != st.Seq {
				return true, Tell("core.stale")
			}
			text = press.value
		}
		value, err := e.answer(ctx, r, step, text, st.Answers, press != nil)
		var pr *Problem
		if errors.As(err, &pr) {
			if press != nil {
				return true, err
			}
			return true, e.send(ctx, r, st.Chat, Message{Lines: []string{r.T(pr.ID, pr.KV...), r.T("dialog.again")}})
		}
		if err != nil {
			return true, err
		}
		// How the question reads once answered, worked out before the answer changes the
		// answers (an option list may leave out what was just picked).
		answered := e.answered(r, d, step, st.Answers, value)
		if step.Kind == AskConfirm && value != "yes" {
			if _, err := e.Records.Write(ctx, Write{Key: key, Version: ver}); errors.Is(err, ErrConflict) {
				continue
			} else if err != nil {
				return true, err
			}
			_ = e.Timers.Cancel(ctx, "dlg:"+key)
			e.editPressed(ctx, r, answered)
			return true, e.send(ctx, r, st.Chat, Message{Lines: []string{r.T("dialog.cancelled")}})
		}
		st.Answers[step.Name] = value
		st.Seq++
		next := d.next(st.Answers)
		if next == nil {
			if _, err := e.Records.Write(ctx, Write{Key: key, Version: ver}); errors.Is(err, ErrConflict) {
				continue
			} else if err != nil {
				return true, err
			}
			_ = e.Timers.Cancel(ctx, "dlg:"+key)
			e.editPressed(ctx, r, answered)
			e.Observe("dialog.done")
			return true, d.Done(ctx, r, st.Answers)
		}
		st.Step = next.Name
		st.Expires = e.Clock.Now().Add(e.Settings.DialogIdle)
		if _, err := Save(ctx, e.Records, key, st, ver); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return true, err
		}
		if err := e.Timers.Schedule(ctx, Timer{ID: "dlg:" + key, Due: st.Expires, Kind: "dialog.expire", Ref: key}); err != nil {
			return true, err
		}
		e.editPressed(ctx, r, answered)
		return true, e.prompt(ctx, r, d, st, key)
	}
	return true, ErrConflict
}

// answered is the question of step s showing its answer, without buttons.
func (e *Engine) answered(r *Request, d *Dialog, s *Step, a Answers, value string) Message {
	label := value
	switch s.Kind {
	case AskChoice, AskPerson:
		for _, o := range s.Options(r, a) {
			if o.Value == value {
				label = o.Label
			}
		}
	case AskConfirm:
		label = r.T("dialog.confirm")
		if value != "yes" {
			label = r.T("dialog.cancel")
		}
	}
	return Message{Title: r.T(d.Title), Lines: []string{r.T(s.Prompt, templateData(a)...), "→ " + label}}
}

// editPressed replaces the dialog message whose button was just pressed with m (its question and
// the answer), removing its buttons, so that an old question cannot be answered again.
func (e *Engine) editPressed(ctx context.Context, r *Request, m Message) {
	if r.Message == nil {
		return
	}
	if err := e.Outbox.Enqueue(ctx, Outgoing{ID: r.nextID(), Op: OpEdit, To: r.pressedIn(), Ref: r.Message, Msg: m, Person: r.Person.ID, Priority: Urgent, Queued: e.Clock.Now()}); err != nil {
		e.Log.Warn("dialog message not edited", "person", r.Person.ID, "err", err)
	}
}

// loadDialog reads the dialog state at key: the one read ahead for r the first time, afresh after.
func (e *Engine) loadDialog(ctx context.Context, r *Request, key string) (dialogState, int64, error) {
	if p := r.dialog; p != nil && key == dialogKey(r.Chat, r.From) {
		r.dialog = nil
		return p.wait()
	}
	return Load[dialogState](ctx, e.Records, key)
}

// checkExpired tells the person, with their next message at the latest, that a dialog they left
// expired.
func (e *Engine) checkExpired(ctx context.Context, r *Request) {
	key := dialogKey(r.Chat, r.From)
	st, ver, err := e.loadDialog(ctx, r, key)
	if err != nil || e.Clock.Now().Before(st.Expires) {
		return
	}
	e.expire(ctx, key, st, ver)
}

func (e *Engine) expire(ctx context.Context, key string, st dialogState, ver int64) {
	if _, err := e.Records.Write(ctx, Write{Key: key, Version: ver}); err != nil {
		return // someone answered or expired it meanwhile
	}
	_ = e.Timers.Cancel(ctx, "dlg:"+key)
	e.Observe("dialog.expired")
	lang := e.Language(ctx, e.Directory().Person(st.Person))
	title := ""
	if d := e.dialogs[st.Dialog]; d != nil {
		title = e.Texts.T(lang, d.Title)
	}
	_ = e.Outbox.Enqueue(ctx, Outgoing{ID: "dlgexp:" + key + ":" + st.Expires.Format(time.RFC3339Nano), Op: OpSend, To: st.Chat, Person: st.Person, Queued: e.Clock.Now(),
		Msg: Message{Lines: []string{e.Texts.T(lang, "dialog.expired", "Title", title)}}})
}

func (e *Engine) dialogTimer(ctx context.Context, t Timer) error {
	st, ver, err := Load[dialogState](ctx, e.Records, t.Ref)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if e.Clock.Now().Before(st.Expires) {
		return nil
	}
	e.expire(ctx, t.Ref, st, ver)
	return nil
}

// CancelDialog ends r's active dialog; it reports whether there was one.
func (e *Engine) CancelDialog(ctx context.Context, r *Request) (bool, error) {
	key := dialogKey(r.Chat, r.From)
	if _, _, err := e.Records.Get(ctx, key); errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err := Delete(ctx, e.Records, key); err != nil {
		return false, err
	}
	return true, e.Timers.Cancel(ctx, "dlg:"+key)
}

func (e *Engine) send(ctx context.Context, r *Request, to Address, m Message) error {
	m, err := e.bindButtons(ctx, m, r.Person.ID)
	if err != nil {
		return err
	}
	return e.Outbox.Enqueue(ctx, Outgoing{ID: r.nextID(), Op: OpSend, To: to, Msg: m, Person: r.Person.ID, Priority: Urgent, Queued: e.Clock.Now()})
}

func templateData(a Answers) []any {
	kv := make([]any, 0, 2*len(a))
	for k, v := range a {
		kv = append(kv, k, v)
	}
	return kv
}

// prompt asks st's current step.
func (e *Engine) prompt(ctx context.Context, r *Request, d *Dialog, st dialogState, key string) error {
	s := d.step(st.Step)
	m := Message{Title: r.T(d.Title), Lines: []string{r.T(s.Prompt, templateData(st.Answers)...)}}
	btn := func(label, value string) Button {
		return Button{Label: label, Action: &Action{Name: "dialog", Ref: key, Arg: strconv.Itoa(st.Seq) + "|" + value}}
	}
	switch s.Kind {
	case AskChoice, AskPerson:
		for _, o := range s.Options(r, st.Answers) {
			m.Buttons = append(m.Buttons, []Button{btn(o.Label, o.Value)})
		}
	case AskConfirm:
		if d.Summary != nil {
			m.Lines = append(m.Lines, d.Summary(r, st.Answers)...)
		}
		m.Buttons = [][]Button{{btn(r.T("dialog.confirm"), "yes"), btn(r.T("dialog.cancel"), "no")}}
	case AskText:
		if s.Optional {
			m.Lines = append(m.Lines, r.T("dialog.hint.optional"))
		}
		m.Lines = append(m.Lines, r.T("dialog.hint.text", "Max", s.maxLen()))
	case AskDate:
		m.Lines = append(m.Lines, r.T("dialog.hint.date"))
	case AskDateTime:
		m.Lines = append(m.Lines, r.T("dialog.hint.datetime"))
	case AskClock:
		m.Lines = append(m.Lines, r.T("dialog.hint.clock"))
	case AskCount:
		m.Lines = append(m.Lines, r.T("dialog.hint.count", "Min", s.Min, "Max", s.Max))
	case AskCase:
		m.Lines = append(m.Lines, r.T("dialog.hint.case"))
	}
	m.Lines = append(m.Lines, r.T("dialog.hint.cancel"))
	return e.send(ctx, r, st.Chat, m)
}

func (s *Step) maxLen() int {
	if s.MaxLen > 0 {
		return s.MaxLen
	}
	return 500
}

// answer parses and checks one answer to step s.
func (e *Engine) answer(ctx context.Context, r *Request, s *Step, text string, a Answers, pressed bool) (string, error) {
	text = strings.TrimSpace(text)
	now := e.Now()
	var v string
	switch s.Kind {
	case AskChoice, AskPerson:
		opts := s.Options(r, a)
		v = pick(opts, text, pressed)
		if v == "" {
			return "", Tell("dialog.bad.choice", "Count", len(opts))
		}
	case AskConfirm:
		switch foldLT(text) {
		case "yes", "taip", "1", "ok", "gerai":
			v = "yes"
		case "no", "ne", "2":
			v = "no"
		default:
			return "", Tell("dialog.bad.confirm")
		}
	case AskText:
		if s.Optional && text == "-" {
			text = ""
		} else if text == "" {
			return "", Tell("dialog.bad.empty")
		}
		if n := utf8.RuneCountInString(text); n > s.maxLen() {
			return "", Tell("dialog.bad.long", "Max", s.maxLen(), "Len", n)
		}
		v = text
	case AskDate:
		t, err := ParseDate(text, now)
		if err != nil {
			return "", Tell("dialog.bad.date")
		}
		v = t.Format("2006-01-02")
	case AskDateTime:
		t, err := ParseDateTime(text, now)
		if err != nil {
			return "", Tell("dialog.bad.datetime")
		}
		v = t.Format(time.RFC3339)
	case AskClock:
		h, m, err := ParseClock(text)
		if err != nil {
			return "", Tell("dialog.bad.clock")
		}
		v = fmt.Sprintf("%02d:%02d", h, m)
	case AskCount:
		n, err := strconv.Atoi(text)
		if err != nil || n < s.Min || n > s.Max {
			return "", Tell("dialog.bad.count", "Min", s.Min, "Max", s.Max)
		}
		v = strconv.Itoa(n)
	case AskCase:
		code := strings.ToUpper(text)
		if !e.ValidCaseCode(code) {
			return "", Tell("dialog.bad.case")
		}
		v = code
	}
	if s.Check != nil {
		return s.Check(ctx, r, v, a)
	}
	return v, nil
}

func pick(opts []Option, text string, pressed bool) string {
	for _, o := range opts {
		if o.Value == text {
			return o.Value
		}
	}
	if pressed {
		return ""
	}
	if n, err := strconv.Atoi(text); err == nil && n >= 1 && n <= len(opts) {
		return opts[n-1].Value
	}
	t := foldLT(text)
	for _, o := range opts {
		if foldLT(o.Label) == t {
			return o.Value
		}
	}
	return ""
}
