package alerts

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tiltas/tiltas/bot"
)

func ackTimer(id string) string    { return "alert:" + id + ":ackcheck" }
func expireTimer(id string) string { return "alert:" + id + ":ackexpire" }

func (f *Flow) registerActions() {
	f.e.Action("alert.ack", func(ctx context.Context, r *bot.Request, a bot.Action) error {
		return f.acknowledge(ctx, r, a.Ref, false)
	})
	f.e.Action("alert.claim", func(ctx context.Context, r *bot.Request, a bot.Action) error {
		return f.acknowledge(ctx, r, a.Ref, true)
	})
	f.e.Action("alert.unack", f.undoAck)
	f.e.Action("alert.resolve", func(ctx context.Context, r *bot.Request, a bot.Action) error {
		al, err := f.Get(ctx, a.Ref)
		if err != nil {
			return bot.Tell("alert.unknown", "ID", a.Ref)
		}
		if !f.mayResolve(&al, r.Person) {
			f.e.Refused(ctx, r.Person.ID, key(al.ID), "not_resolver")
			return bot.Tell("alert.not_resolver")
		}
		if al.State == Resolved {
			return bot.Tell("alert.already_resolved", "ID", al.ID)
		}
		return f.e.StartDialog(ctx, r, "alert.resolve", bot.Answers{"alert": al.ID})
	})
	f.e.Action("alert.unresolve", f.undoResolve)
	f.e.Action("alert.still", f.stillOnIt)
	f.e.Action("alert.view", func(ctx context.Context, r *bot.Request, a bot.Action) error { return f.show(ctx, r, a.Ref) })
}

// acknowledge is the personal acknowledgement (or claim: "I'll take it") of an alert, from a
// direct message or a group notice.
func (f *Flow) acknowledge(ctx context.Context, r *bot.Request, id string, claim bool) error {
	p := r.Person
	var already bool
	a, err := f.change(ctx, id, func(a *Alert) (func(context.Context, *Alert) error, error) {
		if !f.mayAct(a, p) {
			f.e.Refused(ctx, p.ID, key(a.ID), "not_in_chain")
			return nil, bot.Tell("alert.not_in_chain", "ID", a.ID)
		}
		switch {
		case a.State == Resolved:
			return nil, bot.Tell("alert.already_resolved", "ID", a.ID)
		case a.State == Acknowledged && a.AckBy != p.ID:
			return nil, bot.Tell("alert.already_acked", "ID", a.ID, "Name", f.name(a.AckBy))
		case a.State == Acknowledged && (a.Claimed || !claim):
			already = true
			return nil, nil
		}
		now := f.e.Clock.Now()
		if a.State == Open {
			a.State, a.AckBy, a.AckAt, a.Reminded = Acknowledged, p.ID, now, false
			a.AckSeq++
			kind := "acknowledged"
			if a.Kind == Notice {
				kind = "received"
			}
			a.log(now, p.ID, kind)
		}
		if claim {
			a.Claimed = true
			a.log(now, p.ID, "claimed")
		}
		return f.afterAck(r, claim), nil
	})
	if err != nil {
		return err
	}
	if already {
		r.Toast(r.T("alert.you_acked", "ID", a.ID))
		return nil
	}
	r.Toast(r.T("alert.acked_toast", "ID", a.ID))
	return nil
}

// afterAck are the effects of an acknowledgement: the chain stops, the acknowledger is assigned
// to a case the alert created (or claimed), the sender is told, every copy shows who has it.
func (f *Flow) afterAck(r *bot.Request, claim bool) func(context.Context, *Alert) error {
	return func(ctx context.Context, a *Alert) error {
		if err := f.e.Timers.Cancel(ctx, escTimer(a.ID)); err != nil {
			return err
		}
		if a.Kind == Concern {
			if err := f.e.Timers.Schedule(ctx, bot.Timer{ID: ackTimer(a.ID), Due: f.e.Clock.Now().Add(f.cfg.AckTimeout), Kind: "alert.ackcheck", Ref: a.ID, Arg: strconv.Itoa(a.AckSeq)}); err != nil {
				return err
			}
		}
		if a.CaseCreated || claim {
			if err := f.e.Assign(ctx, a.Case, r.Person.ID, primaryRole(r.Person), r.Person.ID); err != nil && !errors.Is(err, bot.ErrNotFound) {
				return err
			}
		}
		kind := "alert.acknowledged"
		if claim {
			kind = "alert.claimed"
		}
		f.e.Record(ctx, bot.AuditEvent{Actor: r.Person.ID, Kind: kind, Record: key(a.ID), Case: a.Case})
		if err := f.tellSender(ctx, a, "alert.sender.acked", "Name", f.name(a.AckBy), "Institution", f.institutionOf(a.AckBy)); err != nil {
			return err
		}
		return f.refresh(ctx, a)
	}
}

func primaryRole(p *bot.Person) bot.Role {
	for _, r := range []bot.Role{bot.RoleCaseManager, bot.RoleSocialWorker, bot.RoleChildRights, bot.RolePolice, bot.RoleProbation, bot.RoleSchool} {
		if p.Has(r) {
			return r
		}
	}
	if len(p.Roles) > 0 {
		return p.Roles[0]
	}
	return bot.RoleCoordinator
}

func (f *Flow) institutionOf(person string) string {
	if p := f.e.Directory().Person(person); p != nil {
		if i := f.e.Directory().Institution(p.Institution); i != nil {
			return i.Name
		}
	}
	return ""
}

// tellSender tells the person who raised the alert (integrations ask the API instead).
func (f *Flow) tellSender(ctx context.Context, a *Alert, msg string, kv ...any) error {
	if a.Sender == "" {
		return nil
	}
	kv = append(kv, "ID", a.ID, "Case", a.Case)
	err := f.e.Notify(ctx, bot.Notice{ID: fmt.Sprintf("alert:%s:%d:sender", a.ID, a.Seq), To: a.Sender, Priority: bot.Urgent, Record: key(a.ID), Build: func(lang string) bot.Message {
		return bot.Message{Lines: []string{f.e.Texts.T(lang, msg, kv...)}, Buttons: [][]bot.Button{{bot.Btn(f.e.Texts.T(lang, "alert.btn.view"), "alert.view", a.ID, "")}}}
	}})
	if errors.Is(err, bot.ErrNotLinked) {
		return nil
	}
	return err
}

// refresh edits every copy of the alert (people and groups) to show its state now.
func (f *Flow) refresh(ctx context.Context, a *Alert) error {
	if err := f.e.Copies(key(a.ID)).Edit(ctx, int64(a.Seq), func(p *bot.Person, lang string) bot.Message { return f.view(a, p, lang) }); err != nil {
		return err
	}
	for _, s := range a.Steps[:a.Step+1] {
		for _, g := range s.Groups {
			if f.e.Directory().Group(g) == nil {
				continue
			}
			if err := f.e.EditGroup(ctx, fmt.Sprintf("alert:%s:%d:g:%s", a.ID, a.Seq, g), g, groupRef(a.ID, g), f.groupView(a, g)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *Flow) undoAck(ctx context.Context, r *bot.Request, act bot.Action) error {
	_, err := f.change(ctx, act.Ref, func(a *Alert) (func(context.Context, *Alert) error, error) {
		if a.State != Acknowledged {
			return nil, bot.Tell("core.stale")
		}
		if a.AckBy != r.Person.ID {
			f.e.Refused(ctx, r.Person.ID, key(a.ID), "not_acknowledger")
			return nil, bot.Tell("core.stale")
		}
		now := f.e.Clock.Now()
		a.State, a.AckBy, a.AckAt, a.Claimed, a.Reminded = Open, "", time.Time{}, false, false
		a.log(now, r.Person.ID, "ack_undone")
		return func(ctx context.Context, a *Alert) error {
			f.e.Record(ctx, bot.AuditEvent{Actor: r.Person.ID, Kind: "alert.ack_undone", Record: key(a.ID)})
			if err := f.e.Timers.Cancel(ctx, ackTimer(a.ID), expireTimer(a.ID)); err != nil {
				return err
			}
			if err := f.refresh(ctx, a); err != nil {
				return err
			}
			if err := f.tellSender(ctx, a, "alert.sender.reopened"); err != nil {
				return err
			}
			return f.resume(ctx, a, "alert.reopened")
		}, nil
	})
	if err == nil {
		r.Toast(r.T("alert.undone"))
	}
	return err
}

func (f *Flow) undoResolve(ctx context.Context, r *bot.Request, act bot.Action) error {
	_, err := f.change(ctx, act.Ref, func(a *Alert) (func(context.Context, *Alert) error, error) {
		if a.State != Resolved {
			return nil, bot.Tell("core.stale")
		}
		if a.ResolvedBy != r.Person.ID && !r.Person.Has(bot.RoleCoordinator) {
			f.e.Refused(ctx, r.Person.ID, key(a.ID), "not_resolver")
			return nil, bot.Tell("core.stale")
		}
		now := f.e.Clock.Now()
		a.ResolvedBy, a.Outcome, a.ResolvedAt = "", "", time.Time{}
		a.State = Open
		if a.AckBy != "" {
			a.State = Acknowledged
			a.AckSeq++
			a.Reminded = false
		}
		a.log(now, r.Person.ID, "resolve_undone")
		return func(ctx context.Context, a *Alert) error {
			f.e.Record(ctx, bot.AuditEvent{Actor: r.Person.ID, Kind: "alert.resolve_undone", Record: key(a.ID)})
			if err := f.e.Unretain(ctx, key(a.ID)); err != nil {
				return err
			}
			if err := f.refresh(ctx, a); err != nil {
				return err
			}
			if a.State == Open {
				return f.resume(ctx, a, "alert.reopened")
			}
			if a.Kind == Concern {
				return f.e.Timers.Schedule(ctx, bot.Timer{ID: ackTimer(a.ID), Due: f.e.Clock.Now().Add(f.cfg.AckTimeout), Kind: "alert.ackcheck", Ref: a.ID, Arg: strconv.Itoa(a.AckSeq)})
			}
			return nil
		}, nil
	})
	if err == nil {
		r.Toast(r.T("alert.undone"))
	}
	return err
}

// Resolve closes the alert with a short outcome note.
func (f *Flow) Resolve(ctx context.Context, p *bot.Person, id, outcome string) (Alert, error) {
	return f.change(ctx, id, func(a *Alert) (func(context.Context, *Alert) error, error) {
		if !f.mayResolve(a, p) {
			f.e.Refused(ctx, p.ID, key(a.ID), "not_resolver")
			return nil, bot.Tell("alert.not_resolver")
		}
		if a.State == Resolved {
			return nil, bot.Tell("alert.already_resolved", "ID", a.ID)
		}
		now := f.e.Clock.Now()
		a.State, a.ResolvedBy, a.ResolvedAt, a.Outcome = Resolved, p.ID, now, outcome
		a.log(now, p.ID, "resolved")
		return func(ctx context.Context, a *Alert) error {
			f.e.Record(ctx, bot.AuditEvent{Actor: p.ID, Kind: "alert.resolved", Record: key(a.ID), Case: a.Case})
			if err := f.e.Timers.Cancel(ctx, escTimer(a.ID), ackTimer(a.ID), expireTimer(a.ID)); err != nil {
				return err
			}
			if a.Reminded && a.AckBy != "" {
				if err := f.closeReminder(ctx, a, a.AckBy); err != nil {
					return err
				}
			}
			if err := f.e.Retain(ctx, key(a.ID), now.Add(f.cfg.Retention)); err != nil {
				return err
			}
			if err := f.tellSender(ctx, a, "alert.sender.resolved", "Name", f.name(p.ID)); err != nil {
				return err
			}
			return f.refresh(ctx, a)
		}, nil
	})
}

func reminderRef(id string) string { return key(id) + "/reminder" }

// closeReminder takes the buttons off the acknowledgement reminder once it no longer applies.
func (f *Flow) closeReminder(ctx context.Context, a *Alert, who string) error {
	err := f.e.Notify(ctx, bot.Notice{ID: fmt.Sprintf("alert:%s:%d:reminder-closed", a.ID, a.Seq), To: who, RefKey: reminderRef(a.ID), Edit: true, Record: key(a.ID),
		Build: func(lang string) bot.Message {
			return bot.Message{Lines: []string{f.e.Texts.T(lang, "alert.reminder_closed", "ID", a.ID, "Case", a.Case)}}
		}})
	if errors.Is(err, bot.ErrNotLinked) {
		return nil
	}
	return err
}

// ackCheckTimer reminds the acknowledger of an alert still unresolved after the ack timeout.
func (f *Flow) ackCheckTimer(ctx context.Context, t bot.Timer) error {
	seq, _ := strconv.Atoi(t.Arg)
	a, err := f.change(ctx, t.Ref, func(a *Alert) (func(context.Context, *Alert) error, error) {
		if a.State != Acknowledged || a.AckSeq != seq || a.Reminded {
			return nil, nil
		}
		a.Reminded = true
		a.log(f.e.Clock.Now(), "system", "ack_reminded", a.AckBy)
		return func(context.Context, *Alert) error { return nil }, nil
	})
	if err != nil || a.State != Acknowledged || a.AckSeq != seq || !a.Reminded {
		return ignoreUnknown(err)
	}
	// Idempotent effects: the reminder's ID names the acknowledgement.
	err = f.e.Notify(ctx, bot.Notice{ID: fmt.Sprintf("alert:%s:remind:%d", a.ID, seq), To: a.AckBy, Priority: bot.Urgent, Record: key(a.ID), RefKey: reminderRef(a.ID), Build: func(lang string) bot.Message {
		return bot.Message{Lines: []string{f.e.Texts.T(lang, "alert.ack_reminder", "ID", a.ID, "Case", a.Case, "Minutes", int(f.cfg.AckGrace.Minutes()))},
			Buttons: [][]bot.Button{{bot.Btn(f.e.Texts.T(lang, "alert.btn.still"), "alert.still", a.ID, strconv.Itoa(seq)), bot.Btn(f.e.Texts.T(lang, "alert.btn.resolve"), "alert.resolve", a.ID, "")}}}
	}})
	if err != nil && !errors.Is(err, bot.ErrNotLinked) {
		return err
	}
	return f.e.Timers.Schedule(ctx, bot.Timer{ID: expireTimer(a.ID), Due: f.e.Clock.Now().Add(f.cfg.AckGrace), Kind: "alert.ackexpire", Ref: a.ID, Arg: t.Arg})
}

// stillOnIt confirms the reminder: the acknowledgement holds for another ack timeout.
func (f *Flow) stillOnIt(ctx context.Context, r *bot.Request, act bot.Action) error {
	_, err := f.change(ctx, act.Ref, func(a *Alert) (func(context.Context, *Alert) error, error) {
		if a.State == Acknowledged && a.AckBy != r.Person.ID {
			f.e.Refused(ctx, r.Person.ID, key(a.ID), "not_acknowledger")
			return nil, bot.Tell("core.stale")
		}
		if a.State != Acknowledged || strconv.Itoa(a.AckSeq) != act.Arg {
			return nil, bot.Tell("core.stale")
		}
		a.AckSeq++
		a.Reminded = false
		a.log(f.e.Clock.Now(), r.Person.ID, "ack_confirmed")
		return func(ctx context.Context, a *Alert) error {
			if err := f.e.Timers.Cancel(ctx, expireTimer(a.ID)); err != nil {
				return err
			}
			if err := r.Edit(ctx, bot.Message{Lines: []string{r.T("alert.still_confirmed", "ID", a.ID)}}); err != nil {
				return err
			}
			return f.e.Timers.Schedule(ctx, bot.Timer{ID: ackTimer(a.ID), Due: f.e.Clock.Now().Add(f.cfg.AckTimeout), Kind: "alert.ackcheck", Ref: a.ID, Arg: strconv.Itoa(a.AckSeq)})
		}, nil
	})
	return err
}

// ackExpireTimer returns an alert to open when its acknowledger did not confirm the reminder,
// and resumes the chain at the step where it stopped.
func (f *Flow) ackExpireTimer(ctx context.Context, t bot.Timer) error {
	seq, _ := strconv.Atoi(t.Arg)
	var was string
	_, err := f.change(ctx, t.Ref, func(a *Alert) (func(context.Context, *Alert) error, error) {
		if a.State != Acknowledged || a.AckSeq != seq || !a.Reminded {
			return nil, nil
		}
		was = a.AckBy
		a.State, a.AckBy, a.Claimed, a.Reminded = Open, "", false, false
		a.log(f.e.Clock.Now(), "system", "ack_expired", was)
		return func(ctx context.Context, a *Alert) error {
			f.e.Record(ctx, bot.AuditEvent{Actor: "system", Kind: "alert.ack_expired", Record: key(a.ID), To: was})
			if err := f.closeReminder(ctx, a, was); err != nil {
				return err
			}
			if err := f.refresh(ctx, a); err != nil {
				return err
			}
			if err := f.tellSender(ctx, a, "alert.sender.reopened"); err != nil {
				return err
			}
			return f.resume(ctx, a, "alert.reopened_timeout")
		}, nil
	})
	return ignoreUnknown(err)
}

func ignoreUnknown(err error) error {
	if bot.IsProblem(err) {
		return nil // the alert is gone (purged)
	}
	return err
}
