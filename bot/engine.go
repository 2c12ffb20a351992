package bot

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Settings tune the engine; config fills them, zero values get defaults.
type Settings struct {
	DialogIdle    time.Duration  // a dialog nobody answers expires after this (30 min)
	InviteTTL     time.Duration  // an invite code is valid this long (72 h)
	InviteGuesses int64          // wrong codes an account may try per hour (5)
	ButtonTTL     time.Duration  // a button stays pressable this long (60 days)
	CaseCode      *regexp.Regexp // what a case code looks like (K-YYYY-NNN)
	CasePrefix    string         // prefix of generated codes ("K")
	BotUsername   string         // Telegram username, for deep links
	// LeadersManagePeople lets a leader of an institution (or a school's head) manage the
	// people of their own institution, as the coordinators manage everyone's.
	LeadersManagePeople bool
	// DeskURL is where the desk's pages are (http.public_url + "/desk"); empty: no desk links.
	DeskURL string
	// DeskRoles may sign in to the desk (coordinators and leaders); DeskIdle ends a session
	// after this long without a page (8 h).
	DeskRoles []Role
	DeskIdle  time.Duration
	// AuditRetention is how long audit entries are kept (0: for ever).
	AuditRetention time.Duration
	// ApplyLease is how long one replica holds the right to apply a record's effects (30 s): far
	// longer than applying takes, short enough that a crashed holder delays the record little.
	ApplyLease time.Duration
}

func (s *Settings) defaults() {
	if s.DialogIdle <= 0 {
		s.DialogIdle = 30 * time.Minute
	}
	if len(s.DeskRoles) == 0 {
		s.DeskRoles = []Role{RoleCoordinator, RoleLeader}
	}
	if s.DeskIdle <= 0 {
		s.DeskIdle = deskIdleDefault
	}
	if s.InviteTTL <= 0 {
		s.InviteTTL = 72 * time.Hour
	}
	if s.InviteGuesses <= 0 {
		s.InviteGuesses = 5
	}
	if s.ButtonTTL <= 0 {
		s.ButtonTTL = 60 * 24 * time.Hour
	}
	if s.CaseCode == nil {
		s.CaseCode = regexp.MustCompile(`^K-\d{4}-\d{3,}$`)
	}
	if s.CasePrefix == "" {
		s.CasePrefix = "K"
	}
	if s.ApplyLease <= 0 {
		s.ApplyLease = 30 * time.Second
	}
}

// Deps are the outside services the engine works through.
type Deps struct {
	Clock   Clock
	Records Records
	Marks   Marks
	Outbox  Outbox
	Timers  Timers
	Audit   Audit
	Texts   *Catalog
	Log     *slog.Logger
	// Observe counts events for metrics (kind such as "dialog.expired", "escalation"); may be nil.
	Observe func(kind string)
	// Gate takes messages from people who are not linked; nil keeps nothing.
	Gate Gate
}

// openGate keeps nothing and never makes anyone wait.
type openGate struct{}

func (openGate) Refuse(string, string) time.Duration { return 0 }

// Engine receives what people say and press, checks who they are and what they may do, and runs
// the flows' commands, dialogs, buttons and timers. Everything it sends goes through the outbox.
type Engine struct {
	Deps
	Settings Settings

	dir         atomic.Pointer[Directory] // the policy with the roster's people: what everything reads
	policy      atomic.Pointer[Directory] // the config's directory
	rosterMu    sync.Mutex
	roster      *Roster // as last read, at rosterRev
	rosterRev   int64
	rosterProbe coalesced // the store asked whether the roster changed, once for callers arriving together
	people      *Collection[Roster]
	mu          sync.RWMutex
	commands    map[string]*Command
	order       []string
	actions     map[string]ActionFunc
	dialogs     map[string]*Dialog
	timers      map[string]TimerFunc
	purgers     map[string]func(context.Context, string) error
	parts       []*subjectPart
	kinds       []reconciler
	assignments []AssignmentsFunc
	cases       *Collection[Case]
}

// NewEngine returns an engine over dir. Flows register themselves on it before it handles anything.
func NewEngine(d Deps, s Settings, dir *Directory) *Engine {
	s.defaults()
	if d.Clock == nil {
		d.Clock = SystemClock
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Observe == nil {
		d.Observe = func(string) {}
	}
	if d.Gate == nil {
		d.Gate = openGate{}
	}
	e := &Engine{Deps: d, Settings: s,
		commands: map[string]*Command{}, actions: map[string]ActionFunc{},
		dialogs: map[string]*Dialog{}, timers: map[string]TimerFunc{}}
	e.dir.Store(dir)
	e.policy.Store(dir)
	e.cases = NewCollection(e, e.caseKind())
	e.people = NewCollection(e, e.rosterKind())
	e.registerCore()
	return e
}

// Directory returns the current directory.
func (e *Engine) Directory() *Directory { return e.dir.Load() }

// SetDirectory swaps in a reloaded config's directory: its institutions, groups and settings at
// once, its people once SyncPeople has brought the stored people in line with them.
func (e *Engine) SetDirectory(d *Directory) {
	e.rosterMu.Lock()
	defer e.rosterMu.Unlock()
	e.policy.Store(d)
	e.compose()
}

// Number returns the next number of the sequence name (1, 2, …): alert and visit numbers.
func (e *Engine) Number(ctx context.Context, name string) (int64, error) {
	return e.Marks.Count(ctx, "seq/"+name, 0)
}

// Now is the engine's clock in the directory's time zone.
func (e *Engine) Now() time.Time { return e.Clock.Now().In(e.Directory().Location) }

// Command is a slash command ("/concern"). Roles limits who may run it (empty: every linked
// person); Private ones answer in groups only with a pointer to the direct chat.
type Command struct {
	Name    string
	Aliases []string
	Help    string // catalog ID of the one-line help
	Roles   []Role
	Private bool
	// Shown, when set, decides who sees the command in /help (who may run it is Run's to check).
	Shown func(p *Person) bool
	Run   func(ctx context.Context, r *Request) error
}

// ActionFunc handles a button press. The action comes from the server's own store; the handler
// still checks that r.Person may do it.
type ActionFunc func(ctx context.Context, r *Request, a Action) error

// TimerFunc handles a due timer. It may run more than once for one timer (after a crash), so its
// effects must be idempotent: messages keyed by the timer ID, state changed by compare-and-set.
type TimerFunc func(ctx context.Context, t Timer) error

// Action is what a button does, kept on the server under the button's token.
type Action struct {
	Name string `json:"n"`
	Ref  string `json:"r,omitempty"`
	Arg  string `json:"a,omitempty"`
	// For is the person the button was sent to; anyone else pressing it is refused. Empty on
	// buttons in group chats.
	For string `json:"f,omitempty"`
}

// Command registers a command.
func (e *Engine) Command(c Command) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.commands[c.Name] = &c
	for _, a := range c.Aliases {
		e.commands[a] = &c
	}
	e.order = append(e.order, c.Name)
}

// Commands returns the registered commands in registration order.
func (e *Engine) Commands() []*Command {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]*Command, 0, len(e.order))
	for _, n := range e.order {
		out = append(out, e.commands[n])
	}
	return out
}

// Action registers a button handler.
func (e *Engine) Action(name string, fn ActionFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.actions[name] = fn
}

// OnTimer registers a timer handler for kind.
func (e *Engine) OnTimer(kind string, fn TimerFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.timers[kind] = fn
}

// Fire runs the handler of a due timer. Unknown kinds are logged and dropped.
func (e *Engine) Fire(ctx context.Context, t Timer) error {
	e.mu.RLock()
	fn := e.timers[t.Kind]
	e.mu.RUnlock()
	if fn == nil {
		e.Log.Warn("timer of unknown kind dropped", "timer", t.ID, "kind", t.Kind)
		return nil
	}
	if err := e.Refresh(ctx); err != nil {
		return err
	}
	return fn(ctx, t)
}

// Incoming is something a person said or pressed, as an adapter hands it over.
type Incoming struct {
	// ID is the platform's update or event ID: replies are keyed by it, so that handling a
	// redelivered update again does not send its replies twice.
	ID   string   `json:"id"`
	From Identity `json:"from"`
	Chat Address  `json:"chat"`
	Text string   `json:"text,omitempty"`
	// Button is the token of a pressed button, and Message the message it was on.
	Button  string      `json:"button,omitempty"`
	Message *MessageRef `json:"message,omitempty"`
	// Callback is what the adapter needs to answer a button press (Telegram's callback query
	// ID, Slack's response_url).
	Callback string `json:"callback,omitempty"`
	// Kind is what the platform delivered (message, callback, command), for metrics.
	Kind string `json:"kind,omitempty"`
	// Joined, when set, says the bot was added to the group chat Chat, named so (KindJoined).
	Joined string `json:"joined,omitempty"`
}

// KindJoined is the Kind of an update saying the bot was added to a group.
const KindJoined = "joined"

// Response is what the adapter answers at once (Telegram answerCallbackQuery, a Slack
// ephemeral): a short toast after a button press.
type Response struct {
	Toast string
	// Forget says nothing of the update needs keeping, not even the mark that it was seen: it
	// came from someone not linked and was refused. A redelivery would only be refused again, and
	// a crowd of strangers must not leave a mark per message for the dedupe window (days).
	Forget bool
}

// Request is one incoming update being handled, with who sent it.
type Request struct {
	e       *Engine
	Person  *Person
	Lang    string
	From    Identity
	Chat    Address
	Text    string
	Args    []string
	Message *MessageRef
	inID    string
	seq     int
	toast   string
	forget  bool
	// dialog is the dialog state read ahead, alongside the account; the first read of the
	// dialog takes it, later ones read afresh.
	dialog *pending[dialogState]
}

// Engine returns the engine handling r.
func (r *Request) Engine() *Engine { return r.e }

// T localizes id in the person's language.
func (r *Request) T(id string, kv ...any) string { return r.e.Texts.T(r.Lang, id, kv...) }

// Private reports whether r came from a direct chat.
func (r *Request) Private() bool { return !r.Chat.Group }

// Toast sets the short answer to a button press.
func (r *Request) Toast(text string) { r.toast = text }

func (r *Request) nextID() string {
	r.seq++
	if r.inID == "" {
		r.inID = "r" + NewID()
	}
	return fmt.Sprintf("in:%s:%d", r.inID, r.seq)
}

// Reply sends m to the chat r came from. Buttons' actions are stored and bound to r.Person.
func (r *Request) Reply(ctx context.Context, m Message) error {
	who := ""
	if r.Person != nil {
		who = r.Person.ID
	}
	m, err := r.e.bindButtons(ctx, m, forPerson(who, r.Chat.Group))
	if err != nil {
		return err
	}
	return r.e.Outbox.Enqueue(ctx, Outgoing{ID: r.nextID(), Op: OpSend, To: r.Chat, Msg: m, Person: who, Priority: Urgent, Queued: r.e.Clock.Now()})
}

// Edit replaces the message whose button r pressed (its buttons go unless m has new ones).
func (r *Request) Edit(ctx context.Context, m Message) error {
	if r.Message == nil {
		return r.Reply(ctx, m)
	}
	m, err := r.e.bindButtons(ctx, m, forPerson(r.Person.ID, r.Chat.Group))
	if err != nil {
		return err
	}
	return r.e.Outbox.Enqueue(ctx, Outgoing{ID: r.nextID(), Op: OpEdit, To: r.pressedIn(), Ref: r.Message, Msg: m, Person: r.Person.ID, Priority: Urgent, Queued: r.e.Clock.Now()})
}

// pressedIn is the conversation of the message whose button r pressed: the request's own chat
// when the press came from there (it knows whether that is a group, which rate limits depend on),
// else what the message's ref says.
func (r *Request) pressedIn() Address {
	if r.Chat.Platform == r.Message.Platform && r.Chat.Chat == r.Message.Chat {
		return r.Chat
	}
	return r.Message.Address()
}

// Say replies with catalog message id.
func (r *Request) Say(ctx context.Context, id string, kv ...any) error {
	return r.Reply(ctx, Message{Lines: []string{r.T(id, kv...)}})
}

func forPerson(id string, group bool) string {
	if group {
		return ""
	}
	return id
}

// Problem is an error meant for the user: a catalog message. Handlers return it (with Tell) to
// refuse or correct; the engine shows it as a reply or a toast.
type Problem struct {
	ID string
	KV []any
}

func (p *Problem) Error() string { return "problem: " + p.ID }

// Tell returns a Problem.
func Tell(id string, kv ...any) error { return &Problem{ID: id, KV: kv} }

// NewID returns a random, URL-safe identifier.
func NewID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// Handle processes one incoming update and returns what to answer at once.
func (e *Engine) Handle(ctx context.Context, in Incoming) (Response, error) {
	if err := e.Refresh(ctx); err != nil {
		return Response{}, err
	}
	r := &Request{e: e, From: in.From, Chat: in.Chat, Text: strings.TrimSpace(in.Text), Message: in.Message, inID: in.ID, Lang: e.Directory().Language}
	if in.Button == "" && !in.Chat.Group {
		// Whatever is typed in a direct chat looks at the dialog in progress (an answer, or a
		// command that first tells of an expired one): read it while the account is read, so
		// that with a store that batches concurrent reads the two share one round trip.
		r.dialog = loadAsync[dialogState](ctx, e.Records, dialogKey(in.Chat, in.From))
	}
	if in.Kind == KindJoined {
		return Response{}, e.joined(ctx, in)
	}
	p, acct, err := e.whoIs(ctx, in.From)
	if err != nil {
		return Response{}, err
	}
	if p == nil {
		err := e.stranger(ctx, r, in)
		return Response{Toast: r.toast, Forget: r.forget}, err
	}
	r.Person = p
	r.Lang = e.languageOf(p, acct)
	if in.Button != "" {
		err = e.press(ctx, r, in.Button)
	} else {
		err = e.say(ctx, r)
	}
	if err != nil {
		err = e.explain(ctx, r, in.Button != "", err)
	}
	return Response{Toast: r.toast}, err
}

// explain turns a handler's refusal into words for the user and an audit entry.
func (e *Engine) explain(ctx context.Context, r *Request, button bool, err error) error {
	var p *Problem
	id, kv := "", []any(nil)
	switch {
	case errors.As(err, &p):
		id, kv = p.ID, p.KV
	case errors.Is(err, ErrForbidden):
		id = "core.forbidden"
		e.Refused(ctx, r.Person.ID, "", "forbidden")
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrExpired), errors.Is(err, ErrConflict):
		id = "core.stale"
	default:
		e.Log.Error("handling update failed", "person", r.Person.ID, "err", err)
		id = "core.error"
	}
	if button {
		r.Toast(r.T(id, kv...))
		return nil
	}
	return r.Say(ctx, id, kv...)
}

// Refused records an access refused in the audit stream.
func (e *Engine) Refused(ctx context.Context, actor, record, reason string) {
	e.Record(ctx, AuditEvent{Actor: actor, Kind: "access.refused", Record: record, Reason: reason})
}

// Record appends to the audit stream, stamping the time; a failure is logged, not fatal to the flow.
func (e *Engine) Record(ctx context.Context, ev AuditEvent) {
	if err := e.record(ctx, ev); err != nil {
		e.Log.Error("audit append failed", "kind", ev.Kind, "record", ev.Record, "err", err)
	}
}

// record appends to the audit stream, stamping the time.
func (e *Engine) record(ctx context.Context, ev AuditEvent) error {
	if ev.At.IsZero() {
		ev.At = e.Clock.Now()
	}
	return e.Audit.Append(ctx, ev)
}

var reCommand = regexp.MustCompile(`^/?([a-zA-Z_]+)(?:@\S+)?(?:\s+(.*))?$`)

// parseCommand splits "/concern K-1 urgent …" into name and arguments. "link CODE" counts too.
func parseCommand(text string) (string, []string) {
	if !strings.HasPrefix(text, "/") {
		f := strings.Fields(text)
		if len(f) == 2 && strings.EqualFold(f[0], "link") {
			return "link", f[1:]
		}
		return "", nil
	}
	m := reCommand.FindStringSubmatch(text)
	if m == nil {
		return "", nil
	}
	return strings.ToLower(m[1]), strings.Fields(m[2])
}

func (e *Engine) say(ctx context.Context, r *Request) error {
	name, args := parseCommand(r.Text)
	if name == "" {
		if r.Chat.Group {
			return nil // in groups only commands addressed to the bot count
		}
		// dialogInput tells of an expired dialog itself. Inside an open dialog a bare word is
		// the answer to its question.
		handled, err := e.dialogInput(ctx, r, r.Text, nil)
		if handled || err != nil {
			return err
		}
		// Outside one, a command's word works without its slash ("help", "concern K-1 …"):
		// Slack's composer takes a leading "/" as its own and refuses commands it does not know.
		f := strings.Fields(r.Text)
		if len(f) == 0 {
			return r.Say(ctx, "core.unknown")
		}
		e.mu.RLock()
		c := e.commands[strings.ToLower(Fold(f[0]))]
		e.mu.RUnlock()
		if c == nil {
			return r.Say(ctx, "core.unknown")
		}
		name, args = c.Name, f[1:]
	}
	if !r.Chat.Group {
		e.checkExpired(ctx, r) // a command after a long silence: say the old dialog expired
	}
	e.mu.RLock()
	c := e.commands[name]
	e.mu.RUnlock()
	if c == nil {
		if r.Chat.Group {
			return nil
		}
		return r.Say(ctx, "core.unknown_command", "Command", "/"+name)
	}
	if c.Private && r.Chat.Group {
		return r.Say(ctx, "core.use_private")
	}
	if len(c.Roles) > 0 && !r.Person.HasAny(c.Roles...) {
		e.Refused(ctx, r.Person.ID, "command/"+c.Name, "role")
		return Tell("core.forbidden")
	}
	r.Args = args
	return c.Run(ctx, r)
}

func (e *Engine) press(ctx context.Context, r *Request, token string) error {
	a, _, err := Load[Action](ctx, e.Records, "btn/"+token)
	if errors.Is(err, ErrNotFound) {
		e.Refused(ctx, r.Person.ID, "", "stale_button")
		r.Toast(r.T("core.stale"))
		return nil
	}
	if err != nil {
		return err
	}
	if a.For != "" && a.For != r.Person.ID {
		e.Refused(ctx, r.Person.ID, a.Ref, "foreign_button")
		r.Toast(r.T("core.stale"))
		return nil
	}
	e.mu.RLock()
	fn := e.actions[a.Name]
	e.mu.RUnlock()
	if fn == nil {
		r.Toast(r.T("core.stale"))
		return nil
	}
	return fn(ctx, r, a)
}

// bindButtons stores each button's action under a fresh token, bound to person (none for groups).
func (e *Engine) bindButtons(ctx context.Context, m Message, person string) (Message, error) {
	if len(m.Buttons) == 0 {
		return m, nil
	}
	rows := make([][]Button, len(m.Buttons))
	for i, row := range m.Buttons {
		rows[i] = slices.Clone(row)
		for j := range rows[i] {
			b := &rows[i][j]
			if b.Action == nil {
				continue
			}
			a := *b.Action
			a.For = person
			b.Token = NewID()[:16]
			if _, err := e.Records.Write(ctx, Write{Key: "btn/" + b.Token, Data: mustJSON(a), Version: Any, TTL: e.Settings.ButtonTTL}); err != nil {
				return m, fmt.Errorf("store button: %w", err)
			}
			b.Action = nil
		}
	}
	m.Buttons = rows
	return m, nil
}
