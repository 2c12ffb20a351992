// Package visits runs joint home visits ("reidai", "bendri vizitai") of police and social workers
// to families at social risk. Someone proposes a visit, invitees confirm by chat until every
// required role is covered (first come first served, the rest on standby), only the confirmed
// team gets the cases and addresses, reminders go out, and after the window one participant
// reports the outcome to the people assigned to each case. Configured series propose their
// visits on their own.
package visits

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Config is the flow's settings, built by cmd/tiltas from config.Visits.
type Config struct {
	// Reminders go to confirmed participants this long before the start (24h and 1h).
	Reminders []time.Duration
	// Deadline is how long before the start invitees should have confirmed, unless the organizer
	// picks another.
	Deadline time.Duration
	// OutcomeAfter is how long after the window the report is asked for; OutcomeNudge how often
	// a missing report is asked for again.
	OutcomeAfter time.Duration
	OutcomeNudge time.Duration
	// NoteMax bounds free text: addresses, notes and reasons.
	NoteMax int
	// Retention is how long a visit is kept once closed or cancelled (365 days).
	Retention time.Duration
	// Series propose their visits on their own.
	Series []Series
	// Recurrence reads a series' RRULE; cmd passes scheduler.ParseRRule, so that bot needs no
	// RRULE library.
	Recurrence bot.RecurrenceParser
}

// Series is a planned run of visits ("every second Friday evening") from config.
type Series struct {
	ID   string
	Rule string
	// Start is the first occurrence's local start; later ones keep its wall-clock time.
	Start         time.Time
	Duration      time.Duration
	Area          string
	MeetingPoint  string
	Needs         []Need
	Invitees      bot.Audience
	Organizer     string
	ProposeBefore time.Duration
}

func (c *Config) defaults() {
	if c.Reminders == nil {
		c.Reminders = []time.Duration{24 * time.Hour, time.Hour}
	}
	if c.Deadline <= 0 {
		c.Deadline = 24 * time.Hour
	}
	if c.OutcomeAfter < 0 {
		c.OutcomeAfter = 0
	}
	if c.OutcomeNudge <= 0 {
		c.OutcomeNudge = 24 * time.Hour
	}
	if c.NoteMax <= 0 {
		c.NoteMax = 500
	}
	if c.Retention <= 0 {
		c.Retention = 365 * 24 * time.Hour
	}
	for i := range c.Series {
		s := &c.Series[i]
		if s.Duration <= 0 {
			s.Duration = 3 * time.Hour
		}
		if s.ProposeBefore <= 0 {
			s.ProposeBefore = 7 * 24 * time.Hour
		}
	}
}

// Flow holds the engine and the settings; its methods are the commands, dialogs, buttons and
// timers of joint visits.
type Flow struct {
	e      bot.Host
	cfg    Config
	visits *bot.Collection[Visit]
}

// Timer kinds.
const (
	kindDeadline = "visits.deadline"
	kindRemind   = "visits.remind"
	kindOutcome  = "visits.outcome"
	kindNudge    = "visits.nudge"
	kindSeries   = "visits.series"
)

// Register adds the commands (/visit, /visits), dialogs, buttons and timers of joint visits to e.
// cmd calls Plan once at start and then daily, so that series propose their visits.
func Register(e bot.Host, cfg Config) *Flow {
	cfg.defaults()
	f := &Flow{e: e, cfg: cfg}
	f.visits = bot.NewCollection(e, bot.Kind[Visit]{Prefix: "visit/", Open: openIndex,
		Ledger: func(v *Visit) *bot.Ledger { return &v.Fx }, Index: (*Visit).index, Effects: f.effects})
	e.Command(bot.Command{Name: "visit", Aliases: []string{"reidas"}, Help: "visits.help.visit", Private: true,
		Roles: []bot.Role{bot.RoleCoordinator, bot.RoleSocialWorker, bot.RolePolice}, Run: f.propose})
	e.Command(bot.Command{Name: "visits", Aliases: []string{"reidai"}, Help: "visits.help.visits", Private: true, Run: f.overview})
	f.registerDialogs()
	e.OnAssignments(f.assignments)
	e.Action("visits.confirm", f.confirm)
	e.Action("visits.decline", f.startFor("visits.decline", f.mayAnswer))
	e.Action("visits.suggest", f.startFor("visits.suggest", f.mayAnswer))
	e.Action("visits.withdraw", f.startFor("visits.withdraw", f.mayWithdraw))
	e.Action("visits.reschedule", f.reschedule)
	e.Action("visits.cancel", f.startFor("visits.cancel", f.mayManage))
	e.Action("visits.widen", f.startFor("visits.widen", f.mayWiden))
	e.Action("visits.addcase", f.startFor("visits.addcase", f.mayManage))
	e.Action("visits.report", f.report)
	e.Action("visits.open", f.open)
	e.OnTimer(kindDeadline, f.deadline)
	e.OnTimer(kindRemind, f.remind)
	e.OnTimer(kindOutcome, f.outcome)
	e.OnTimer(kindNudge, f.nudge)
	e.OnTimer(kindSeries, f.seriesTimer)
	e.OnPurge("visit/", f.purge)
	f.registerSubject()
	return f
}

// purge removes what a visit leaves besides its record and its copies, once its retention has
// passed: the index entry, the outcome request's copies and the refs of the participants' details
// and of the reports sent to the cases' people.
func (f *Flow) purge(ctx context.Context, k string) error {
	v, err := f.load(ctx, strings.TrimPrefix(k, "visit/"))
	if errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := outcomeCopies(f, v.ID).Forget(ctx); err != nil {
		return err
	}
	refs := f.e.Refs()
	for p, r := range v.Replies {
		if r.Order > 0 {
			if err := refs.Forget(ctx, briefRef(v.ID, p, r.Order)); err != nil {
				return err
			}
		}
	}
	err = refs.Each(ctx, key(v.ID)+"/report/", func(k string) error { return refs.Forget(ctx, k) })
	if err != nil {
		return err
	}
	return f.visits.Delete(ctx, v.ID)
}

func (f *Flow) load(ctx context.Context, id string) (Visit, error) {
	return f.visits.Get(ctx, id)
}

// change applies fn to the visit under compare-and-set, actor being who makes the change; what
// the change owes (invitations, details, news, timers) follows from the state (effects). fn may
// run more than once; returning errSame stores nothing. It returns the state before and after.
func (f *Flow) change(ctx context.Context, id, actor string, fn func(v *Visit) error) (Visit, Visit, error) {
	var before Visit
	v, err := f.visits.Change(ctx, id, func(v *Visit) error {
		before = v.clone()
		if err := fn(v); err != nil {
			if errors.Is(err, errSame) {
				return bot.ErrUnchanged
			}
			return err
		}
		v.By = actor
		return nil
	})
	switch {
	case errors.Is(err, bot.ErrNotFound):
		return before, before, bot.Tell("visits.gone")
	case err != nil:
		return before, before, err
	case v.Fx.Rev == before.Fx.Rev:
		return before, v, errSame
	}
	return before, v, nil
}

// effects is what a visit wants of the world: its timers, and what the change from was (nil: just
// created) owes: invitations to new invitees, the details to the confirmed team, every copy
// brought up to date, news to everyone involved, reminders, reports and audit events.
func (f *Flow) effects(_ context.Context, was, v *Visit) (bot.Effects, error) {
	var fx bot.Effects
	fx.Timers = f.wantedTimers(v)
	if was == v {
		return fx, nil
	}
	old := Visit{}
	if was != nil {
		old = *was
	}
	var to []string
	if was == nil {
		to = append(to, v.Organizer)
	}
	for _, p := range v.Pool {
		if !old.invited(p) && !slices.Contains(to, p) {
			to = append(to, p)
		}
	}
	card := f.card(*v)
	for _, p := range to {
		who := f.e.Directory().Person(p)
		if who == nil {
			continue
		}
		fx.Messages = append(fx.Messages, bot.Notice{ID: "visit:" + v.ID + ":card:" + p, To: p, Copy: key(v.ID), Priority: f.prio(*v), Sender: v.Organizer,
			Build: func(lang string) bot.Message { return card(who, lang) }})
	}
	if was != nil && carded(was) != carded(v) {
		fx.Edits = append(fx.Edits, bot.CopyEdit{Record: key(v.ID), Version: v.Rev(), Skip: to, Build: card})
	}
	fx.Add(f.briefs(old, *v))
	fx.Add(f.announce(old, *v))
	fx.Add(f.audit(was, v))
	fx.Add(f.timed(old, *v))
	for _, c := range v.Cases {
		if old.caseIndex(c.Code) < 0 {
			fx.Do = append(fx.Do, f.addCase(v.By, c.Code))
		}
	}
	if (v.Status == Cancelled || v.Status == Closed) && old.Status != v.Status {
		until := f.e.Now().Add(f.cfg.Retention)
		fx.Do = append(fx.Do, func(ctx context.Context) error { return f.e.Retain(ctx, key(v.ID), until) })
	}
	return fx, nil
}

// carded is what a visit's cards show: a change to anything else (a reminder sent, a report
// asked for again) edits no card.
func carded(v *Visit) string {
	c := v.clone()
	c.Reminders, c.Nudges, c.AskedAt, c.DeadlinePassed, c.By, c.Fx = nil, 0, time.Time{}, false, "", bot.Ledger{}
	b, _ := json.Marshal(c)
	return string(b)
}

// audit is the audit events of a change: IDs derive from the visit's Rev.
func (f *Flow) audit(was, v *Visit) bot.Effects {
	var fx bot.Effects
	rec := key(v.ID)
	add := func(actor, kind, c, reason string) {
		fx.Audit = append(fx.Audit, bot.AuditEvent{ID: bot.FactID(rec, int(v.Rev())) + ":" + kind + ":" + actor + ":" + c,
			Actor: actor, Kind: kind, Record: rec, Case: c, Reason: reason})
	}
	by := cmp.Or(v.By, "system")
	if was == nil {
		reason := ""
		if v.Series != "" {
			reason = "series"
		}
		add(by, "visit.created", "", reason)
		was = &Visit{}
	}
	if r := v.Replies[by]; r.State != was.Replies[by].State {
		switch r.State {
		case Joined:
			add(by, "visit.confirmed", "", "")
		case Standby, Suggested, Withdrawn:
			add(by, "visit."+r.State, "", "")
		case Declined:
			add(by, "visit.declined", "", reasonCode(r.Reason))
		}
	}
	switch {
	case v.Status == Cancelled && was.Status != Cancelled:
		add(by, "visit.cancelled", "", "")
	case was.ID != "" && (!v.Start.Equal(was.Start) || !v.End.Equal(was.End)):
		add(by, "visit.rescheduled", "", "")
	}
	if was.ID != "" && len(v.Pool) > len(was.Pool) {
		add(by, "visit.widened", "", "")
	}
	for _, c := range v.Cases {
		i := was.caseIndex(c.Code)
		if i < 0 {
			add(by, "visit.case", c.Code, "")
		}
		if c.Outcome != nil && (i < 0 || was.Cases[i].Outcome == nil) {
			add(c.Outcome.By, "visit.outcome", c.Code, c.Outcome.Result)
		}
	}
	return fx
}

// addCase creates a case the visit goes to that does not exist yet, and assigns the person who
// added it when they hold a case role.
func (f *Flow) addCase(by, code string) func(context.Context) error {
	return func(ctx context.Context) error {
		c, created, err := f.e.EnsureCase(ctx, code, by)
		if err != nil {
			return err
		}
		p := f.e.Directory().Person(by)
		if p == nil || !created && len(c.People()) > 0 {
			return nil
		}
		for _, role := range caseRoles {
			if p.Has(role) {
				return f.e.Assign(ctx, code, p.ID, role, p.ID)
			}
		}
		return nil
	}
}

// unreached are the invitees who have no chat account.
func (f *Flow) unreached(ctx context.Context, v Visit) []string {
	var out []string
	for _, p := range v.Pool {
		if p == v.Organizer {
			continue
		}
		if _, err := f.e.AddressOf(ctx, p); errors.Is(err, bot.ErrNotFound) {
			out = append(out, p)
		}
	}
	return out
}

// uniq drops repeated IDs, keeping the first of each.
func uniq(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// prio lets routine messages about far-off visits wait out quiet hours.
func (f *Flow) prio(v Visit) bot.Priority {
	if v.Start.Sub(f.e.Now()) < 12*time.Hour {
		return bot.Urgent
	}
	return bot.Routine
}

func timerID(id, what string) string { return "visit:" + id + ":" + what }

func durID(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/time.Minute)) + "m"
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// reminders are the reminders of a visit starting at start, planned at now: those still ahead.
func (f *Flow) reminders(start, now time.Time) []Reminder {
	var out []Reminder
	for _, d := range f.cfg.Reminders {
		if due := start.Add(-d); due.After(now) {
			out = append(out, Reminder{Before: d, Due: due})
		}
	}
	return out
}

// wantedTimers: an active visit waits for its deadline, its reminders and its end; one whose
// report is missing for the next time to ask again.
func (f *Flow) wantedTimers(v *Visit) []bot.Timer {
	var ts []bot.Timer
	switch {
	case v.Active():
		for _, r := range v.Reminders {
			if !r.Sent {
				ts = append(ts, bot.Timer{ID: timerID(v.ID, "remind:"+durID(r.Before)), Due: r.Due, Kind: kindRemind, Ref: v.ID,
					Arg: strconv.FormatInt(int64(r.Before), 10) + "|" + unix(v.Start)})
			}
		}
		if !v.DeadlinePassed {
			ts = append(ts, bot.Timer{ID: timerID(v.ID, "deadline"), Due: v.Deadline, Kind: kindDeadline, Ref: v.ID, Arg: unix(v.Deadline)})
		}
		ts = append(ts, bot.Timer{ID: timerID(v.ID, "outcome"), Due: v.End.Add(f.cfg.OutcomeAfter), Kind: kindOutcome, Ref: v.ID, Arg: unix(v.End)})
	case v.Status == Reporting:
		due := v.AskedAt.Add(time.Duration(v.Nudges+1) * f.cfg.OutcomeNudge)
		ts = append(ts, bot.Timer{ID: timerID(v.ID, "nudge"), Due: due, Kind: kindNudge, Ref: v.ID, Arg: strconv.Itoa(v.Nudges)})
	}
	return ts
}

// news is what one person is told about one change: one message per person per change.
type news struct {
	lines  []func(lang string) string
	manage bool // the organizer's buttons
	urgent bool
}

// announce tells everyone involved, once, what a change means for them.
func (f *Flow) announce(old, v Visit) bot.Effects {
	if old.ID == "" {
		return bot.Effects{}
	}
	actor := v.By
	tell := map[string]*news{}
	add := func(who string, line func(lang string) string) *news {
		n := tell[who]
		if n == nil {
			n = &news{}
			tell[who] = n
		}
		n.lines = append(n.lines, line)
		return n
	}
	by := f.name(actor)
	involved := uniq(append([]string{v.Organizer}, v.Pool...))
	was, now := old.Participants(), v.Participants()
	switch {
	case old.Status != Cancelled && v.Status == Cancelled:
		for _, p := range involved {
			if p != actor && v.state(p) != Declined {
				add(p, func(lang string) string {
					return f.T(lang, "visits.told.cancelled", "Visit", v.No, "When", f.e.Catalog().Span(lang, v.Start, v.End), "By", by)
				})
			}
		}
		return f.send(v, tell)
	case !old.Start.Equal(v.Start) || !old.End.Equal(v.End):
		for _, p := range involved {
			if p == actor {
				continue
			}
			add(p, func(lang string) string {
				return f.T(lang, "visits.told.moved", "Visit", v.No, "When", f.e.Catalog().Span(lang, v.Start, v.End),
					"Was", f.e.Catalog().Span(lang, old.Start, old.End), "By", by)
			})
			switch v.state(p) {
			case Joined, Standby:
				add(p, func(lang string) string { return f.T(lang, "visits.told.moved_still") })
			case "":
				if v.invited(p) {
					add(p, func(lang string) string { return f.T(lang, "visits.told.moved_answer") })
				}
			}
		}
	}
	if old.Status != Confirmed && v.Status == Confirmed {
		for _, p := range involved {
			switch s := v.state(p); {
			case s == Joined:
				add(p, func(lang string) string {
					return f.T(lang, "visits.told.confirmed_in", "Visit", v.No, "Team", f.team(lang, v))
				})
			case p == v.Organizer:
				add(p, func(lang string) string {
					return f.T(lang, "visits.told.confirmed", "Visit", v.No, "Team", f.team(lang, v))
				})
			case s == Standby:
				add(p, func(lang string) string { return f.T(lang, "visits.told.confirmed_standby", "Visit", v.No) })
			case s == "" || s == Suggested:
				add(p, func(lang string) string { return f.T(lang, "visits.told.full", "Visit", v.No) })
			}
		}
	}
	var left []string
	for _, p := range was {
		if !slices.Contains(now, p) {
			left = append(left, p)
		}
	}
	var promoted []string
	for _, p := range now {
		if old.state(p) == Standby {
			promoted = append(promoted, p)
		}
	}
	if len(left) > 0 {
		names := f.names(left)
		line := func(lang string) string {
			return f.T(lang, "visits.told.left", "Visit", v.No, "Names", f.e.Catalog().Join(lang, names))
		}
		for _, p := range uniq(append([]string{v.Organizer}, now...)) {
			if slices.Contains(left, p) || p == actor || slices.Contains(promoted, p) {
				continue
			}
			if p != v.Organizer {
				add(p, line)
				continue
			}
			// The organizer also reads the reasons people gave.
			add(p, func(lang string) string {
				var parts []string
				for _, q := range left {
					if note := v.Replies[q].Note; note != "" {
						parts = append(parts, f.T(lang, "visits.told.left_note", "Name", f.name(q), "Note", note))
					} else {
						parts = append(parts, f.name(q))
					}
				}
				return f.T(lang, "visits.told.left", "Visit", v.No, "Names", f.e.Catalog().Join(lang, parts))
			})
		}
		if len(promoted) > 0 {
			pn := f.names(promoted)
			add(v.Organizer, func(lang string) string {
				return f.T(lang, "visits.told.promoted_org", "Names", f.e.Catalog().Join(lang, pn))
			})
		}
	}
	for _, p := range promoted {
		add(p, func(lang string) string {
			return f.T(lang, "visits.told.promoted", "Visit", v.No, "When", f.e.Catalog().Span(lang, v.Start, v.End))
		})
	}
	if old.Status == Confirmed && v.Status == Open {
		miss := v.Missing()
		n := add(v.Organizer, func(lang string) string { return f.T(lang, "visits.told.short_org", "Missing", f.needs(lang, miss)) })
		n.manage, n.urgent = true, true
		for _, p := range v.Pool {
			if s := v.state(p); p != actor && p != v.Organizer && (s == "" || s == Suggested || s == Joined) {
				add(p, func(lang string) string {
					return f.T(lang, "visits.told.short", "Visit", v.No, "Missing", f.needs(lang, miss))
				})
			}
		}
	}
	return f.send(v, tell)
}

// send delivers the news, one message per person, keyed by the change.
func (f *Flow) send(v Visit, tell map[string]*news) bot.Effects {
	var fx bot.Effects
	for _, who := range slices.Sorted(maps.Keys(tell)) { // a stable order: people read it the same way every time
		n := tell[who]
		pr := f.prio(v)
		if n.urgent {
			pr = bot.Urgent
		}
		fx.Messages = append(fx.Messages, bot.Notice{ID: "visit:" + v.ID + ":r" + strconv.FormatInt(v.Rev(), 10) + ":" + who, To: who, Priority: pr, Record: key(v.ID),
			Build: func(lang string) bot.Message {
				m := bot.Message{Title: f.T(lang, "visits.title", "Visit", v.No)}
				for _, l := range n.lines {
					m.Lines = append(m.Lines, l(lang))
				}
				if n.manage && v.Active() {
					m.Buttons = f.manageButtons(lang, v)
				}
				return m
			}})
	}
	return fx
}

// T localizes catalog message id. It is named T so that the catalog test, which scans the sources
// for IDs passed to T, checks every message this flow uses.
func (f *Flow) T(lang, id string, kv ...any) string { return f.e.Catalog().T(lang, id, kv...) }

func (f *Flow) name(id string) string {
	if p := f.e.Directory().Person(id); p != nil {
		return p.Name
	}
	if id == "system" || id == "" {
		return "Tiltas"
	}
	return id
}

func (f *Flow) names(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = f.name(id)
	}
	return out
}

// needs writes "1 policijos pareigūnas ir 2 socialiniai darbuotojai".
func (f *Flow) needs(lang string, ns []Need) string {
	var parts []string
	for _, n := range ns {
		parts = append(parts, f.e.Catalog().N(lang, "visits.need."+string(n.Role), n.Count))
	}
	return f.e.Catalog().Join(lang, parts)
}

// team writes the participants with the role each fills.
func (f *Flow) team(lang string, v Visit) string {
	var out []string
	for _, p := range v.Participants() {
		if r := v.Replies[p].Role; r != "" {
			out = append(out, fmt.Sprintf("%s (%s)", f.name(p), f.T(lang, "role."+string(r))))
		} else {
			out = append(out, f.name(p))
		}
	}
	return f.e.Catalog().Join(lang, out)
}
