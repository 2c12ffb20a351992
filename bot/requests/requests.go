// Package requests is the fourth flow: one institution asks another about a case — how often a
// child was absent, whether there were call-outs to the family — and gets an answer by a
// deadline, on the record. The request goes to the asked institution's contacts in a direct
// message; they answer, forward it to a colleague, ask back, or decline; reminders come before
// the deadline and the institution's head hears when it passes. Every answer is a recorded
// share with its purpose. Like the other flows, a request is a record whose messages, timers and
// audit events follow from its state.
package requests

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Config is the flow's settings (cmd builds it from the config file).
type Config struct {
	// Askers may ask (default child_rights, social_worker, case_manager, coordinator, police).
	Askers []bot.Role
	// DueDays is how many working days a request has (default 5); an urgent one is due at the
	// end of the next working day.
	DueDays int
	// Reminders are how long before the deadline the asked are reminded, on working days
	// (default 2 days and 1 day).
	Reminders []time.Duration
	// Bases are the purposes a request may give (catalog-free text from the config), so that
	// every share has a recorded purpose.
	Bases []string
	// QuestionMax and AnswerMax limit the texts, in characters (defaults 500 and 1500).
	QuestionMax, AnswerMax int
	// Retention is how long a closed request is kept (default 365 days).
	Retention time.Duration
}

func (c *Config) defaults() {
	if len(c.Askers) == 0 {
		c.Askers = []bot.Role{bot.RoleChildRights, bot.RoleSocialWorker, bot.RoleCaseManager, bot.RoleCoordinator, bot.RolePolice}
	}
	if c.DueDays <= 0 {
		c.DueDays = 5
	}
	if len(c.Reminders) == 0 {
		c.Reminders = []time.Duration{48 * time.Hour, 24 * time.Hour}
	}
	if len(c.Bases) == 0 {
		c.Bases = []string{"Vaiko teisių apsauga (VTAPĮ 57 str.)", "Atvejo vadyba", "Socialinės paslaugos"}
	}
	if c.QuestionMax <= 0 {
		c.QuestionMax = 500
	}
	if c.AnswerMax <= 0 {
		c.AnswerMax = 1500
	}
	if c.Retention <= 0 {
		c.Retention = 365 * 24 * time.Hour
	}
}

// States of a request.
const (
	Open     = "open"
	Answered = "answered"
	Declined = "declined"
)

// Request is one question from one institution to another about a case, stored at
// "request/<ID>" (encrypted at rest by the store).
type Request struct {
	ID          string    `json:"id"`
	Case        string    `json:"case"`
	Asker       string    `json:"asker"`
	Institution string    `json:"institution"` // asked
	To          []string  `json:"to"`          // who holds it now
	Question    string    `json:"question"`
	Basis       string    `json:"basis"`
	Urgent      bool      `json:"urgent,omitempty"`
	Created     time.Time `json:"created"`
	Due         time.Time `json:"due"`
	State       string    `json:"state"`
	Overdue     bool      `json:"overdue,omitempty"`
	Reminded    []string  `json:"reminded,omitempty"` // reminder offsets sent ("48h")
	// Exchanges are the clarifying questions and their answers, in order.
	Exchanges []Exchange `json:"exchanges,omitempty"`
	Answer    string     `json:"answer,omitempty"`
	Reason    string     `json:"reason,omitempty"` // why declined
	ClosedBy  string     `json:"closed_by,omitempty"`
	Closed    time.Time  `json:"closed,omitzero"`
	// SharedWith are the case's other members the asker gave the answer to.
	SharedWith []string `json:"shared_with,omitempty"`
	// Granted are the people this request put on the case; they leave it when it closes.
	Granted  []string `json:"granted,omitempty"`
	Timeline []Event  `json:"timeline"`
	Fx       bot.Ledger
}

// Exchange is a clarifying question and, once given, its answer.
type Exchange struct {
	By, Question string
	Answer       string    `json:",omitempty"`
	At           time.Time `json:",omitzero"`
}

// Event is one line of a request's timeline: who did what, when, to whom. IDs only.
type Event struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Kind  string    `json:"kind"` // asked, delivered, forwarded, opened, clarify, clarified, answered, declined, reminded, overdue, shared
	To    []string  `json:"to,omitempty"`
}

func (q *Request) log(at time.Time, actor, kind string, to ...string) {
	q.Timeline = append(q.Timeline, Event{At: at, Actor: actor, Kind: kind, To: to})
}

// Flow is the requests flow on an engine.
type Flow struct {
	e    bot.Host
	cfg  Config
	reqs *bot.Collection[Request]
	cal  bot.Calendar
}

// index lists every request by when it was asked, until retention purges it.
const index = "requests"

// Register adds the requests flow to e.
func Register(e bot.Host, cfg Config) *Flow {
	cfg.defaults()
	f := &Flow{e: e, cfg: cfg}
	f.reqs = bot.NewCollection(e, bot.Kind[Request]{Prefix: "request/", Open: index,
		OpenFrom: func(now time.Time) float64 { return float64(now.AddDate(0, 0, -60).Unix()) },
		Ledger:   func(q *Request) *bot.Ledger { return &q.Fx },
		Index: func(q *Request) []bot.IndexOp {
			return []bot.IndexOp{{Index: index, Member: q.ID, Score: float64(q.Created.Unix())}}
		},
		Delivered: delivered,
		Effects:   f.effects})
	f.register()
	f.registerSubject()
	e.OnTimer("request.remind", f.onRemind)
	e.OnTimer("request.overdue", f.onOverdue)
	return f
}

func key(id string) string { return "request/" + id }

// delivered records, once per person, that the question reached them: the delivery worker's
// receipt, at the moment the platform took the message (bots get no read receipts; "opened" is
// the Answer button).
func delivered(q *Request, who string, at time.Time) bool {
	for _, ev := range q.Timeline {
		if ev.Kind == "delivered" && slices.Contains(ev.To, who) {
			return false
		}
	}
	q.log(at, "system", "delivered", who)
	return true
}

// Get returns the request with id.
func (f *Flow) Get(ctx context.Context, id string) (Request, error) { return f.reqs.Get(ctx, id) }

func (f *Flow) name(id string) string {
	if p := f.e.Directory().Person(id); p != nil {
		return p.Name
	}
	return id
}

// DueFor is when a request made at now is due: at 17:00 on the DueDays-th working day after
// today, or, urgent, at the end of the next working day.
func (f *Flow) DueFor(now time.Time, urgent bool) time.Time {
	days := f.cfg.DueDays
	if urgent {
		days = 1
	}
	d := time.Date(now.Year(), now.Month(), now.Day(), 17, 0, 0, 0, now.Location())
	for n := 0; n < days; {
		d = d.AddDate(0, 0, 1)
		if f.cal.WorkingDay(d) {
			n++
		}
	}
	return d
}

// recipients are who an institution's requests go to: the contact the coordinator set for
// requests (/institution ID requests NAME), or its designated contact, or its leaders.
func (f *Flow) recipients(inst string) []string {
	dir := f.e.Directory()
	in := dir.Institution(inst)
	if in == nil {
		return nil
	}
	if in.Requests != "" && dir.Person(in.Requests) != nil {
		return []string{in.Requests}
	}
	if in.DesignatedContact != "" && dir.Person(in.DesignatedContact) != nil {
		return []string{in.DesignatedContact}
	}
	var out []string
	for _, p := range dir.Select([]bot.Role{bot.RoleLeader}, inst, "") {
		out = append(out, p.ID)
	}
	return out
}

// heads are who hear of an overdue request: the institution's head and leaders.
func (f *Flow) heads(inst string) []string {
	dir := f.e.Directory()
	var out []string
	if in := dir.Institution(inst); in != nil && in.Head != "" && dir.Person(in.Head) != nil {
		out = append(out, in.Head)
	}
	for _, p := range dir.Select([]bot.Role{bot.RoleLeader}, inst, "") {
		if !slices.Contains(out, p.ID) {
			out = append(out, p.ID)
		}
	}
	return out
}

// Ask stores a new request from asker to institution inst (to person, when not "": someone
// who works there) and sends it on (its effects).
func (f *Flow) Ask(ctx context.Context, asker *bot.Person, caseCode, inst, person, question, basis string, urgent bool) (Request, error) {
	if !asker.HasAny(f.cfg.Askers...) {
		f.e.Refused(ctx, asker.ID, "command/request", "role")
		return Request{}, bot.ErrForbidden
	}
	if f.e.Directory().Institution(inst) == nil || inst == asker.Institution {
		return Request{}, bot.Tell("requests.bad_institution")
	}
	if !f.e.ValidCaseCode(caseCode) {
		return Request{}, bot.Tell("requests.bad_case")
	}
	question = strings.TrimSpace(question)
	if question == "" || len([]rune(question)) > f.cfg.QuestionMax || !slices.Contains(f.cfg.Bases, basis) {
		return Request{}, bot.Tell("requests.bad_question", "Max", f.cfg.QuestionMax)
	}
	to := f.recipients(inst)
	if person != "" {
		p := f.e.Directory().Person(person)
		if p == nil || p.Institution != inst {
			return Request{}, bot.Tell("requests.forward_outside")
		}
		to = []string{p.ID}
	}
	if len(to) == 0 {
		return Request{}, bot.Tell("requests.nobody", "Inst", f.e.Directory().Institution(inst).Name)
	}
	n, err := f.e.Number(ctx, "request")
	if err != nil {
		return Request{}, err
	}
	now := f.e.Now()
	q := Request{ID: "R" + strconv.FormatInt(n, 10), Case: caseCode, Asker: asker.ID, Institution: inst, To: to, Question: question,
		Basis: basis, Urgent: urgent, Created: now, Due: f.DueFor(now, urgent), State: Open}
	q.log(now, asker.ID, "asked", to...)
	// The case is made (when new) as an effect of the request, so that a fault never leaves a
	// case behind without it.
	c, err := f.e.Case(ctx, caseCode)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		return Request{}, err
	}
	for _, who := range to {
		if !c.Has(who) {
			q.Granted = append(q.Granted, who) // on the case while the request is open
		}
	}
	out, _, err := f.reqs.Create(ctx, q.ID, q)
	return out, err
}

var errUnchanged = errors.New("unchanged")

// change applies fn to request id as p by compare-and-set; its effects follow.
func (f *Flow) change(ctx context.Context, id string, fn func(q *Request) error) (Request, error) {
	q, err := f.reqs.Change(ctx, id, func(q *Request) error {
		if err := fn(q); err != nil {
			if errors.Is(err, errUnchanged) {
				return bot.ErrUnchanged
			}
			return err
		}
		return nil
	})
	return q, err
}

// holds reports whether p may act on q as its recipient.
func holds(q *Request, p *bot.Person) bool { return q.State == Open && slices.Contains(q.To, p.ID) }

// Answer answers q as p, its recipient.
func (f *Flow) Answer(ctx context.Context, p *bot.Person, id, text string) (Request, error) {
	return f.close(ctx, p, id, Answered, text)
}

// Decline declines q as p, its recipient, with reason.
func (f *Flow) Decline(ctx context.Context, p *bot.Person, id, reason string) (Request, error) {
	return f.close(ctx, p, id, Declined, reason)
}

// close closes q as p, its recipient: answered with text, or declined with text as the reason.
// The timeline's step is named as the state.
func (f *Flow) close(ctx context.Context, p *bot.Person, id, state, text string) (Request, error) {
	return f.change(ctx, id, func(q *Request) error {
		if !holds(q, p) {
			return bot.ErrForbidden
		}
		now := f.e.Now()
		q.State, q.ClosedBy, q.Closed = state, p.ID, now
		if state == Answered {
			q.Answer = text
		} else {
			q.Reason = text
		}
		q.log(now, p.ID, state, q.Asker)
		return nil
	})
}

// Forward hands q to colleague, who must work at the asked institution.
func (f *Flow) Forward(ctx context.Context, p *bot.Person, id, colleague string) (Request, error) {
	c := f.e.Directory().Person(colleague)
	cur, err := f.reqs.Get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	onCase := false
	if cs, err := f.e.Case(ctx, cur.Case); err == nil && c != nil {
		onCase = cs.Has(c.ID)
	}
	return f.change(ctx, id, func(q *Request) error {
		if !holds(q, p) {
			return bot.ErrForbidden
		}
		if c == nil || c.Institution != q.Institution || c.ID == p.ID {
			return bot.Tell("requests.forward_outside")
		}
		if slices.Contains(q.To, c.ID) {
			return errUnchanged
		}
		q.To = append(q.To, c.ID)
		if !onCase && !slices.Contains(q.Granted, c.ID) {
			q.Granted = append(q.Granted, c.ID)
		}
		q.log(f.e.Now(), p.ID, "forwarded", c.ID)
		return nil
	})
}

// Share sends q's answer, as its asker chooses, to the other people with a role in its case.
func (f *Flow) Share(ctx context.Context, p *bot.Person, id string) (Request, error) {
	q, err := f.reqs.Get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	c, err := f.e.Case(ctx, q.Case)
	if err != nil {
		return Request{}, err
	}
	if q.Asker != p.ID || q.State != Answered {
		return Request{}, bot.ErrForbidden
	}
	if !slices.ContainsFunc(c.People(), func(who string) bool {
		return who != q.Asker && who != q.ClosedBy && !slices.Contains(q.SharedWith, who)
	}) {
		return q, bot.ErrUnchanged
	}
	return f.change(ctx, id, func(q *Request) error {
		if q.Asker != p.ID || q.State != Answered {
			return bot.ErrForbidden
		}
		var to []string
		for _, who := range c.People() {
			if who != q.Asker && who != q.ClosedBy && !slices.Contains(q.SharedWith, who) {
				to = append(to, who)
			}
		}
		if len(to) == 0 {
			return errUnchanged
		}
		q.SharedWith = append(q.SharedWith, to...)
		q.log(f.e.Now(), p.ID, "shared", to...)
		return nil
	})
}

// Clarify asks the asker a clarifying question about q, as p, its recipient.
func (f *Flow) Clarify(ctx context.Context, p *bot.Person, id, question string) (Request, error) {
	return f.change(ctx, id, func(q *Request) error {
		if !holds(q, p) {
			return bot.ErrForbidden
		}
		q.Exchanges = append(q.Exchanges, Exchange{By: p.ID, Question: question})
		q.log(f.e.Now(), p.ID, "clarify", q.Asker)
		return nil
	})
}

// Clarified answers the open clarifying question, as the asker.
func (f *Flow) Clarified(ctx context.Context, p *bot.Person, id, answer string) (Request, error) {
	return f.change(ctx, id, func(q *Request) error {
		if q.State != Open || q.Asker != p.ID {
			return bot.ErrForbidden
		}
		i := len(q.Exchanges) - 1
		if i < 0 || q.Exchanges[i].Answer != "" {
			return bot.Tell("requests.no_question")
		}
		q.Exchanges[i].Answer, q.Exchanges[i].At = answer, f.e.Now()
		q.log(f.e.Now(), p.ID, "clarified", q.Exchanges[i].By)
		return nil
	})
}

func offKey(d time.Duration) string { return strings.TrimSuffix(d.String(), "0m0s") }

// reminderAt is when the reminder off before q's deadline comes: on a working day, at the
// deadline's clock time.
func (f *Flow) reminderAt(q *Request, off time.Duration) time.Time {
	return f.cal.PrevWorkingDay(q.Due.Add(-off))
}

func (f *Flow) onRemind(ctx context.Context, t bot.Timer) error {
	_, err := f.change(ctx, t.Ref, func(q *Request) error {
		if q.State != Open || slices.Contains(q.Reminded, t.Arg) {
			return errUnchanged
		}
		q.Reminded = append(q.Reminded, t.Arg)
		q.log(f.e.Now(), "system", "reminded", q.To...)
		return nil
	})
	if errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	return err
}

func (f *Flow) onOverdue(ctx context.Context, t bot.Timer) error {
	_, err := f.change(ctx, t.Ref, func(q *Request) error {
		if q.State != Open || q.Overdue {
			return errUnchanged
		}
		q.Overdue = true
		q.log(f.e.Now(), "system", "overdue", f.heads(q.Institution)...)
		return nil
	})
	if errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	return err
}

// MayAsk reports whether p may make requests.
func (f *Flow) MayAsk(p *bot.Person) bool { return p.HasAny(f.cfg.Askers...) }

// Bases are the purposes a request may give.
func (f *Flow) Bases() []string { return slices.Clone(f.cfg.Bases) }

// Recent returns the requests of the last 60 days, newest first, for the desk.
func (f *Flow) Recent(ctx context.Context) ([]Request, error) {
	all, err := f.reqs.Live(ctx, float64(f.e.Now().AddDate(0, 0, -60).Unix()), math.Inf(1))
	if err != nil {
		return nil, err
	}
	slices.Reverse(all)
	return all, nil
}

// Mine returns the requests of the last 60 days p asked or holds, newest first.
func (f *Flow) Mine(ctx context.Context, p *bot.Person) ([]Request, error) {
	open, err := f.reqs.Live(ctx, float64(f.e.Now().AddDate(0, 0, -60).Unix()), math.Inf(1))
	if err != nil {
		return nil, err
	}
	var out []Request
	for _, q := range open {
		if q.Asker == p.ID || slices.Contains(q.To, p.ID) {
			out = append(out, q)
		}
	}
	slices.SortFunc(out, func(a, b Request) int { return b.Created.Compare(a.Created) })
	return out, nil
}

// Stats are one institution's figures: requests received, answered in time, and the median time
// to an answer.
type Stats struct {
	Institution      string
	Received, InTime int
	Median           time.Duration
}

// Statistics sums up the requests of the last year per asked institution.
func (f *Flow) Statistics(ctx context.Context) ([]Stats, error) {
	all, err := f.reqs.Live(ctx, float64(f.e.Now().AddDate(-1, 0, 0).Unix()), math.Inf(1))
	if err != nil {
		return nil, err
	}
	by := map[string]*Stats{}
	times := map[string][]time.Duration{}
	for _, q := range all {
		s := by[q.Institution]
		if s == nil {
			s = &Stats{Institution: q.Institution}
			by[q.Institution] = s
		}
		s.Received++
		if q.State == Answered {
			if !q.Closed.After(q.Due) {
				s.InTime++
			}
			times[q.Institution] = append(times[q.Institution], q.Closed.Sub(q.Created))
		}
	}
	var out []Stats
	for inst, s := range by {
		if ts := times[inst]; len(ts) > 0 {
			slices.Sort(ts)
			s.Median = ts[len(ts)/2]
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Stats) int { return strings.Compare(a.Institution, b.Institution) })
	return out, nil
}

func (f *Flow) when(lang string, t time.Time) string { return f.e.Catalog().DateTime(lang, t) }

// hours writes d as hours and minutes.
func hours(d time.Duration) string {
	d = d.Round(time.Minute)
	return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
}
