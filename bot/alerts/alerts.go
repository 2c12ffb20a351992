// Package alerts carries concerns and notices to the people who must act on them: a school flags a
// concern, police notify a school before the next school day, the right people acknowledge, and
// the chain escalates when nobody does. Every state change edits every recipient's copy and is
// kept on the alert's timeline and in the audit stream.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Urgencies, most urgent first.
var Urgencies = []string{"urgent", "today", "routine"}

// Config is the flow's settings.
type Config struct {
	Categories     []string
	Senders        []bot.Role
	DescriptionMax int
	// AckTimeout reminds an acknowledger of an unresolved alert; AckGrace is how long they have
	// to confirm before the alert returns to open.
	AckTimeout, AckGrace time.Duration
	// AckNight is the night for the acknowledgement check of today's and routine concerns,
	// for acknowledgers without quiet hours of their own: a check that would fall in it waits
	// for its end, and the grace counts from then. Nil: no night.
	AckNight      *bot.QuietHours
	Rules         []Rule
	NoticeSenders []bot.Role
	// NoticeHour and NoticeMinute are when an unconfirmed notice escalates to the school's head
	// on the next school day (08:00).
	NoticeHour, NoticeMinute int
	Calendar                 *bot.Calendar
	Retention                time.Duration
	// Integrations maps an integration's ID to the institution it speaks for.
	Integrations map[string]string
}

// Rule maps category and urgency (and optionally the sender's institution or area) to a chain.
type Rule struct {
	Name         string
	Categories   []string
	Urgency      []string
	Institutions []string
	Areas        []string
	Repeat       int
	Steps        []Step
}

// Step notifies an audience and groups, then waits for an acknowledgement.
type Step struct {
	Audience bot.Audience
	Groups   []string
	Wait     time.Duration
	// Until, when set, is an absolute deadline instead of Wait (notices: 08:00 next school day).
	Until time.Time
}

func (r *Rule) matches(category, urgency, institution, area string) bool {
	ok := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	return ok(r.Categories, category) && ok(r.Urgency, urgency) && ok(r.Institutions, institution) && ok(r.Areas, area)
}

// Kinds of alert.
const (
	Concern = "concern"
	Notice  = "notice"
)

// States of an alert.
const (
	Open         = "open"
	Acknowledged = "acknowledged"
	Resolved     = "resolved"
)

// Alert is a concern or a notice and everything that happened to it.
type Alert struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Case        string    `json:"case"`
	Category    string    `json:"category,omitempty"`
	Urgency     string    `json:"urgency"`
	Text        string    `json:"text,omitempty"`
	Phoned      bool      `json:"phoned,omitempty"`
	Sender      string    `json:"sender"`
	Integration string    `json:"integration,omitempty"`
	Institution string    `json:"institution,omitempty"`
	Area        string    `json:"area,omitempty"`
	Created     time.Time `json:"created"`
	CaseCreated bool      `json:"case_created,omitempty"`

	// Notices: the school, when the incident was and whether the child was present.
	School   string    `json:"school,omitempty"`
	Incident time.Time `json:"incident,omitzero"`
	Present  bool      `json:"present,omitempty"`

	Rule   string `json:"rule"`
	Steps  []Step `json:"steps"`
	Repeat int    `json:"repeat"`
	Round  int    `json:"round"`
	Step   int    `json:"step"`
	// StepDue is when the current step's wait ends and the chain moves on.
	StepDue time.Time `json:"step_due,omitzero"`
	// Exhausted is set when the chain ran out with nobody acknowledging.
	Exhausted bool `json:"exhausted,omitempty"`

	State   string    `json:"state"`
	Reached []string  `json:"reached,omitempty"`
	AckBy   string    `json:"ack_by,omitempty"`
	AckAt   time.Time `json:"ack_at,omitzero"`
	Claimed bool      `json:"claimed,omitempty"`
	AckSeq  int       `json:"ack_seq,omitempty"`
	// AckDue is when the acknowledger is asked whether they are still on it; once Reminded,
	// ExpireDue is when the acknowledgement lapses without an answer.
	AckDue     time.Time `json:"ack_due,omitzero"`
	Reminded   bool      `json:"reminded,omitempty"`
	ExpireDue  time.Time `json:"expire_due,omitzero"`
	ResolvedBy string    `json:"resolved_by,omitempty"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	Outcome    string    `json:"outcome,omitempty"`

	// Timeline is everything that happened to the alert; what each entry owes (messages, audit
	// events) follows from it (effects.go).
	Timeline []Event `json:"timeline"`

	Fx bot.Ledger `json:"fx"`
}

// Event is one line of an alert's timeline: who did what, when, to whom. IDs only.
type Event struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Kind  string    `json:"kind"`
	To    []string  `json:"to,omitempty"`
	// Arg is the step ("round:step") of notified and unreachable, the acknowledgement's number
	// of ack_reminded.
	Arg string `json:"arg,omitempty"`
}

// Flow is the alerts flow on an engine.
type Flow struct {
	e      bot.Host
	cfg    Config
	alerts *bot.Collection[Alert]
}

// Register adds the alerts flow to e.
func Register(e bot.Host, cfg Config) *Flow {
	if cfg.DescriptionMax <= 0 {
		cfg.DescriptionMax = 500
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 4 * time.Hour
	}
	if cfg.AckGrace <= 0 {
		cfg.AckGrace = time.Hour
	}
	if cfg.Calendar == nil {
		cfg.Calendar = &bot.Calendar{}
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 365 * 24 * time.Hour
	}
	if cfg.NoticeHour == 0 && cfg.NoticeMinute == 0 {
		cfg.NoticeHour = 8
	}
	f := &Flow{e: e, cfg: cfg}
	f.alerts = bot.NewCollection(e, bot.Kind[Alert]{Prefix: "alert/", Open: "alerts:open",
		Ledger: func(a *Alert) *bot.Ledger { return &a.Fx }, Index: f.indexes, Effects: f.effects})
	f.registerCommands()
	f.registerActions()
	f.registerSubject()
	e.OnTimer("alert.escalate", f.escalateTimer)
	e.OnTimer("alert.ackcheck", f.ackCheckTimer)
	e.OnTimer("alert.ackexpire", f.ackExpireTimer)
	return f
}

func key(id string) string { return "alert/" + id }

// Get returns the alert with id.
func (f *Flow) Get(ctx context.Context, id string) (Alert, error) {
	return f.alerts.Get(ctx, id)
}

func (a *Alert) log(at time.Time, actor, kind string, to ...string) {
	a.Timeline = append(a.Timeline, Event{At: at, Actor: actor, Kind: kind, To: to})
}

func (a *Alert) logArg(at time.Time, actor, kind, arg string, to ...string) {
	a.Timeline = append(a.Timeline, Event{At: at, Actor: actor, Kind: kind, To: to, Arg: arg})
}

// mayAct reports whether person may acknowledge or take the alert: someone it reached, the
// school's contact or head for a notice, or a coordinator.
func (f *Flow) mayAct(a *Alert, p *bot.Person) bool {
	return slices.Contains(a.Reached, p.ID) || p.Has(bot.RoleCoordinator)
}

// maySee reports whether person may see the alert's details: its sender, anyone it reached,
// and coordinators.
func (f *Flow) maySee(a *Alert, p *bot.Person) bool {
	return a.Sender == p.ID || f.mayAct(a, p)
}

// mayResolve reports whether person may resolve the alert: the acknowledger or a coordinator; a
// notice is closed by its sender or a coordinator, never by the school.
func (f *Flow) mayResolve(a *Alert, p *bot.Person) bool {
	if p.Has(bot.RoleCoordinator) {
		return true
	}
	if a.Kind == Notice {
		return a.Sender == p.ID
	}
	return a.AckBy == p.ID
}

// change applies fn to the alert by compare-and-set; what the change owes follows from the
// alert's new state (effects.go). fn returns errUnchanged to store nothing.
func (f *Flow) change(ctx context.Context, id string, fn func(a *Alert) error) (Alert, error) {
	a, err := f.alerts.Change(ctx, id, func(a *Alert) error {
		err := fn(a)
		if errors.Is(err, errUnchanged) {
			return bot.ErrUnchanged
		}
		return err
	})
	if errors.Is(err, bot.ErrNotFound) {
		return a, bot.Tell("alert.unknown", "ID", id)
	}
	return a, err
}

// indexes keeps "alerts:open" (open and acknowledged alerts by creation time) up to date.
func (f *Flow) indexes(a *Alert) []bot.IndexOp {
	score := float64(a.Created.Unix())
	if a.State == Resolved {
		return []bot.IndexOp{{Index: "alerts:open", Member: a.ID, Remove: true}, {Index: "alerts:resolved", Member: a.ID, Score: score}}
	}
	return []bot.IndexOp{{Index: "alerts:open", Member: a.ID, Score: score}, {Index: "alerts:resolved", Member: a.ID, Remove: true}}
}

func (f *Flow) name(id string) string {
	if p := f.e.Directory().Person(id); p != nil {
		return p.Name
	}
	return id
}

func (f *Flow) nextID(ctx context.Context, prefix string) (string, error) {
	n, err := f.e.Number(ctx, "alert/"+prefix)
	if err != nil {
		return "", err
	}
	return prefix + strconv.FormatInt(n, 10), nil
}

// Input is a new concern, from a dialog, a shortcut or the integration API.
type Input struct {
	// ID, when set, is the new alert's ID (NewID made it): raising it again returns the alert
	// raised before instead of a second one.
	ID          string
	Case        string
	Category    string
	Urgency     string
	Text        string
	Phoned      bool
	Sender      string // person ID; empty for an integration
	Integration string
}

// Raise creates a concern and starts its chain.
func (f *Flow) Raise(ctx context.Context, in Input) (Alert, error) {
	if !f.e.ValidCaseCode(in.Case) {
		return Alert{}, fmt.Errorf("%w: case code", bot.ErrInvalid)
	}
	if !slices.Contains(f.cfg.Categories, in.Category) {
		return Alert{}, fmt.Errorf("%w: category", bot.ErrInvalid)
	}
	if !slices.Contains(Urgencies, in.Urgency) {
		return Alert{}, fmt.Errorf("%w: urgency", bot.ErrInvalid)
	}
	if len([]rune(in.Text)) > f.cfg.DescriptionMax {
		return Alert{}, fmt.Errorf("%w: description too long", bot.ErrInvalid)
	}
	now := f.e.Now()
	a := Alert{Kind: Concern, Case: in.Case, Category: in.Category, Urgency: in.Urgency, Text: in.Text, Phoned: in.Phoned,
		Sender: in.Sender, Integration: in.Integration, Created: now, State: Open}
	actor := in.Sender
	if in.Integration != "" {
		a.Institution = f.cfg.Integrations[in.Integration]
		actor = "integration:" + in.Integration
		a.Sender = ""
		if i := f.e.Directory().Institution(a.Institution); i != nil && len(i.Areas) > 0 {
			a.Area = i.Areas[0] // routed like a concern from the institution's own staff
		}
	} else if p := f.e.Directory().Person(in.Sender); p != nil {
		a.Institution = p.Institution
		if len(p.Areas) > 0 {
			a.Area = p.Areas[0]
		} else if i := f.e.Directory().Institution(p.Institution); i != nil && len(i.Areas) > 0 {
			a.Area = i.Areas[0]
		}
	}
	rule := f.route(a.Category, a.Urgency, a.Institution, a.Area)
	a.Rule, a.Steps, a.Repeat = rule.Name, rule.Steps, rule.Repeat
	a.ID = in.ID
	return f.create(ctx, a, actor, "A")
}

// NewID reserves the ID of a concern not raised yet.
func (f *Flow) NewID(ctx context.Context) (string, error) { return f.nextID(ctx, "A") }

// route picks the first rule that matches; with none, the coordinators are asked.
func (f *Flow) route(category, urgency, institution, area string) Rule {
	for _, r := range f.cfg.Rules {
		if r.matches(category, urgency, institution, area) {
			return r
		}
	}
	return Rule{Name: "fallback", Steps: []Step{{Audience: bot.Audience{Roles: []bot.Role{bot.RoleCoordinator}}, Wait: time.Hour}}}
}

func (f *Flow) create(ctx context.Context, a Alert, actor, prefix string) (Alert, error) {
	if a.ID == "" {
		id, err := f.nextID(ctx, prefix)
		if err != nil {
			return a, err
		}
		a.ID = id
	}
	// The case is created (when new) as an effect of the alert's creation, so that a fault
	// never leaves a case behind without its alert.
	_, err := f.e.Case(ctx, a.Case)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		return a, err
	}
	a.CaseCreated = errors.Is(err, bot.ErrNotFound)
	a.log(a.Created, actor, "created")
	f.enter(ctx, &a, 0, 0, a.Created)
	out, created, err := f.alerts.Create(ctx, a.ID, a)
	if err == nil && created && out.reachedNobody(pos(0, 0)) {
		f.unreached(&out)
	}
	return out, err
}

// reachedNobody reports whether the step at position at reached no person and no group: every
// person it named lacks a chat account (or it named nobody), and it names no group.
func (a *Alert) reachedNobody(at string) bool {
	for _, ev := range a.Timeline {
		if ev.Kind == "notified" && ev.Arg == at {
			return false
		}
	}
	_, step := parsePos(at)
	return step < len(a.Steps) && len(a.Steps[step].Groups) == 0
}

// Unreachable lists, in order and once each, the people the alert was meant for who have no chat
// account.
func (a *Alert) Unreachable() []string {
	var out []string
	for _, ev := range a.Timeline {
		if ev.Kind == "unreachable" {
			for _, p := range ev.To {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// unreached counts and logs (IDs only) a step that reached nobody; the coordinators are told as
// an effect of the timeline (effects.go).
func (f *Flow) unreached(a *Alert) {
	f.e.Count("alert.unreached")
	f.e.Logger().Warn("alert reached nobody: nobody in the step has a chat account", "alert", a.ID, "step", pos(a.Round, a.Step), "unreachable", a.Unreachable())
}
