// Package visits runs joint home visits ("reidai", "bendri vizitai") of police and social workers
// to families at social risk. Someone proposes a visit, invitees confirm by chat until every
// required role is covered (first come first served, the rest on standby), only the confirmed
// team gets the cases and addresses, reminders go out, and after the window one participant
// reports the outcome to the people assigned to each case. Configured series propose their
// visits on their own.
package visits

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
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
	e   *bot.Engine
	cfg Config
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
func Register(e *bot.Engine, cfg Config) *Flow {
	cfg.defaults()
	f := &Flow{e: e, cfg: cfg}
	e.Command(bot.Command{Name: "visit", Aliases: []string{"reidas"}, Help: "visits.help.visit", Private: true,
		Roles: []bot.Role{bot.RoleCoordinator, bot.RoleSocialWorker, bot.RolePolice}, Run: f.propose})
	e.Command(bot.Command{Name: "visits", Aliases: []string{"reidai"}, Help: "visits.help.visits", Private: true, Run: f.overview})
	f.registerDialogs()
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
	v, _, err := bot.Load[Visit](ctx, f.e.Records, k)
	if errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := outcomeCopies(f, v.ID).Forget(ctx); err != nil {
		return err
	}
	for p, r := range v.Replies {
		if r.Order > 0 {
			if err := bot.Delete(ctx, f.e.Records, "ref/"+briefRef(v.ID, p, r.Order)); err != nil {
				return err
			}
		}
	}
	err = f.e.Records.Scan(ctx, "ref/"+key(v.ID)+"/report/", func(k string) error { return bot.Delete(ctx, f.e.Records, k) })
	if err != nil {
		return err
	}
	_, err = f.e.Records.Write(ctx, bot.Write{Key: "visits/purged/" + v.ID, Version: bot.Any, Index: []bot.IndexOp{{Index: openIndex, Member: v.ID, Remove: true}}})
	return err
}

func (f *Flow) load(ctx context.Context, id string) (Visit, error) {
	v, _, err := bot.Load[Visit](ctx, f.e.Records, key(id))
	return v, err
}

// change applies fn to the visit under compare-and-set and, once it is stored, brings every
// message and timer in line with the new state. fn may run more than once; returning errSame
// stores nothing. It returns the state before and after.
func (f *Flow) change(ctx context.Context, id, actor string, fn func(v *Visit) error) (Visit, Visit, error) {
	var before Visit
	v, err := bot.Update(ctx, f.e.Records, key(id), func(v *Visit, exists bool) ([]bot.IndexOp, error) {
		if !exists {
			return nil, bot.Tell("visits.gone")
		}
		before = v.clone()
		if err := fn(v); err != nil {
			return nil, err
		}
		v.Rev++
		return v.index(), nil
	})
	if err != nil {
		return before, before, err
	}
	f.after(ctx, actor, before, v)
	return before, v, nil
}

// after brings messages and timers in line with a change from old to v (old is zero when v was
// just created), and returns who could not be reached with an invitation. Failures are logged:
// the change itself is stored.
func (f *Flow) after(ctx context.Context, actor string, old, v Visit) []string {
	var to []string
	if old.ID == "" {
		to = append(to, v.Organizer)
	}
	for _, p := range v.Pool {
		if !old.invited(p) && !slices.Contains(to, p) {
			to = append(to, p)
		}
	}
	unreached, err := f.e.Copies(key(v.ID)).Send(ctx, "visit:"+v.ID+":card", to,
		bot.Notice{Priority: f.prio(v), Sender: v.Organizer}, f.card(v))
	f.logErr(err, "invitations not sent", v.ID)
	f.briefs(ctx, old, v)
	f.refresh(ctx, v, to)
	f.announce(ctx, actor, old, v)
	f.logErr(f.timers(ctx, old, v), "timers not set", v.ID)
	if (v.Status == Cancelled || v.Status == Closed) && old.Status != v.Status {
		f.logErr(f.e.Retain(ctx, key(v.ID), f.e.Now().Add(f.cfg.Retention)), "retention not set", v.ID)
	}
	return slices.DeleteFunc(unreached, func(p string) bool { return p == v.Organizer && !v.invited(p) })
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

func (f *Flow) logErr(err error, msg, id string) {
	if err != nil {
		f.e.Log.Error(msg, "flow", "visits", "visit", id, "err", err)
	}
}

// refresh edits every holder's copy to the visit's current state. It reads the state again after
// editing, and edits again if it moved meanwhile, so that when two changes race the edits queued
// last show the newer state. skip holds people whose copy was just sent from v.
func (f *Flow) refresh(ctx context.Context, v Visit, skip []string) {
	c := f.e.Copies(key(v.ID))
	last := int64(-1)
	for i := range 4 {
		cur, err := f.load(ctx, v.ID)
		if err != nil || cur.Rev == last {
			return
		}
		holders, err := c.Holders(ctx)
		if err != nil {
			f.logErr(err, "copies unknown", v.ID)
			return
		}
		build := f.card(cur)
		for _, who := range holders {
			if i == 0 && cur.Rev == v.Rev && slices.Contains(skip, who) {
				continue
			}
			f.logErr(c.EditOne(ctx, who, cur.Rev*8+int64(i), build), "copy not edited", v.ID)
		}
		last = cur.Rev
	}
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

// timers schedules, moves or cancels the visit's timers after a change.
func (f *Flow) timers(ctx context.Context, old, v Visit) error {
	ids := []string{timerID(v.ID, "deadline"), timerID(v.ID, "outcome"), timerID(v.ID, "nudge")}
	for _, d := range f.cfg.Reminders {
		ids = append(ids, timerID(v.ID, "remind:"+durID(d)))
	}
	switch {
	case v.Status == Cancelled || v.Status == Closed:
		if old.Status != v.Status {
			return f.e.Timers.Cancel(ctx, ids...)
		}
		return nil
	case !v.Active():
		return nil
	case old.ID != "" && old.Start.Equal(v.Start) && old.End.Equal(v.End) && old.Deadline.Equal(v.Deadline):
		return nil
	}
	now := f.e.Now()
	var ts []bot.Timer
	var gone []string
	for _, d := range f.cfg.Reminders {
		t := bot.Timer{ID: timerID(v.ID, "remind:"+durID(d)), Due: v.Start.Add(-d), Kind: kindRemind, Ref: v.ID, Arg: strconv.FormatInt(int64(d), 10) + "|" + unix(v.Start)}
		if t.Due.After(now) {
			ts = append(ts, t)
		} else {
			gone = append(gone, t.ID)
		}
	}
	ts = append(ts,
		bot.Timer{ID: timerID(v.ID, "deadline"), Due: v.Deadline, Kind: kindDeadline, Ref: v.ID, Arg: unix(v.Deadline)},
		bot.Timer{ID: timerID(v.ID, "outcome"), Due: v.End.Add(f.cfg.OutcomeAfter), Kind: kindOutcome, Ref: v.ID, Arg: unix(v.End)})
	if len(gone) > 0 {
		if err := f.e.Timers.Cancel(ctx, gone...); err != nil {
			return err
		}
	}
	return f.e.Timers.Schedule(ctx, ts...)
}

// news is what one person is told about one change: one message per person per change.
type news struct {
	lines  []func(lang string) string
	manage bool // the organizer's buttons
	urgent bool
}

// announce tells everyone involved, once, what a change means for them.
func (f *Flow) announce(ctx context.Context, actor string, old, v Visit) {
	if old.ID == "" {
		return
	}
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
					return f.T(lang, "visits.told.cancelled", "Visit", v.No, "When", f.e.Texts.Span(lang, v.Start, v.End), "By", by)
				})
			}
		}
		f.send(ctx, v, tell)
		return
	case !old.Start.Equal(v.Start) || !old.End.Equal(v.End):
		for _, p := range involved {
			if p == actor {
				continue
			}
			add(p, func(lang string) string {
				return f.T(lang, "visits.told.moved", "Visit", v.No, "When", f.e.Texts.Span(lang, v.Start, v.End),
					"Was", f.e.Texts.Span(lang, old.Start, old.End), "By", by)
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
			return f.T(lang, "visits.told.left", "Visit", v.No, "Names", f.e.Texts.Join(lang, names))
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
				return f.T(lang, "visits.told.left", "Visit", v.No, "Names", f.e.Texts.Join(lang, parts))
			})
		}
		if len(promoted) > 0 {
			pn := f.names(promoted)
			add(v.Organizer, func(lang string) string {
				return f.T(lang, "visits.told.promoted_org", "Names", f.e.Texts.Join(lang, pn))
			})
		}
	}
	for _, p := range promoted {
		add(p, func(lang string) string {
			return f.T(lang, "visits.told.promoted", "Visit", v.No, "When", f.e.Texts.Span(lang, v.Start, v.End))
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
	f.send(ctx, v, tell)
}

// send delivers the news, one message per person, keyed by the change.
func (f *Flow) send(ctx context.Context, v Visit, tell map[string]*news) {
	for _, who := range slices.Sorted(maps.Keys(tell)) { // a stable order: people read it the same way every time
		n := tell[who]
		pr := f.prio(v)
		if n.urgent {
			pr = bot.Urgent
		}
		err := f.e.Notify(ctx, bot.Notice{ID: "visit:" + v.ID + ":r" + strconv.FormatInt(v.Rev, 10) + ":" + who, To: who, Priority: pr, Record: key(v.ID),
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
		if err != nil && !errors.Is(err, bot.ErrNotLinked) && !errors.Is(err, bot.ErrNotFound) {
			f.logErr(err, "news not sent", v.ID)
		}
	}
}

// T localizes catalog message id. It is named T so that the catalog test, which scans the sources
// for IDs passed to T, checks every message this flow uses.
func (f *Flow) T(lang, id string, kv ...any) string { return f.e.Texts.T(lang, id, kv...) }

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
		parts = append(parts, f.e.Texts.N(lang, "visits.need."+string(n.Role), n.Count))
	}
	return f.e.Texts.Join(lang, parts)
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
	return f.e.Texts.Join(lang, out)
}
