package alerts

import (
	"context"
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
// direct message or a group notice. The chain stops, the acknowledger is assigned to a case the
// alert created (or claimed), the sender is told, every copy shows who has it (effects.go).
func (f *Flow) acknowledge(ctx context.Context, r *bot.Request, id string, claim bool) error {
	p := r.Person
	var already bool
	a, err := f.change(ctx, id, func(a *Alert) error {
		already = false
		if !f.mayAct(a, p) {
			f.e.Refused(ctx, p.ID, key(a.ID), "not_in_chain")
			return bot.Tell("alert.not_in_chain", "ID", a.ID)
		}
		switch {
		case a.State == Resolved:
			return bot.Tell("alert.already_resolved", "ID", a.ID)
		case a.State == Acknowledged && a.AckBy != p.ID:
			return bot.Tell("alert.already_acked", "ID", a.ID, "Name", f.name(a.AckBy))
		case a.State == Acknowledged && (a.Claimed || !claim):
			already = true
			return errUnchanged
		}
		now := f.e.Now()
		if a.State == Open {
			a.State, a.AckBy, a.AckAt, a.Reminded = Acknowledged, p.ID, now, false
			a.AckSeq++
			a.AckDue = f.ackDue(a, now)
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
		return nil
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

func (f *Flow) undoAck(ctx context.Context, r *bot.Request, act bot.Action) error {
	_, err := f.change(ctx, act.Ref, func(a *Alert) error {
		if a.State != Acknowledged {
			return bot.Tell("core.stale")
		}
		if a.AckBy != r.Person.ID {
			f.e.Refused(ctx, r.Person.ID, key(a.ID), "not_acknowledger")
			return bot.Tell("core.stale")
		}
		now := f.e.Now()
		a.State, a.AckBy, a.AckAt, a.Claimed, a.Reminded = Open, "", time.Time{}, false, false
		a.log(now, r.Person.ID, "ack_undone")
		a.resume(now)
		return nil
	})
	if err == nil {
		r.Toast(r.T("alert.undone"))
	}
	return err
}

func (f *Flow) undoResolve(ctx context.Context, r *bot.Request, act bot.Action) error {
	_, err := f.change(ctx, act.Ref, func(a *Alert) error {
		if a.State != Resolved {
			return bot.Tell("core.stale")
		}
		if a.ResolvedBy != r.Person.ID && !r.Person.Has(bot.RoleCoordinator) {
			f.e.Refused(ctx, r.Person.ID, key(a.ID), "not_resolver")
			return bot.Tell("core.stale")
		}
		now := f.e.Now()
		a.ResolvedBy, a.Outcome, a.ResolvedAt = "", "", time.Time{}
		a.State = Open
		if a.AckBy != "" {
			a.State = Acknowledged
			a.AckSeq++
			a.Reminded = false
			a.AckDue = f.ackDue(a, now)
		} else {
			a.resume(now)
		}
		a.log(now, r.Person.ID, "resolve_undone")
		return nil
	})
	if err == nil {
		r.Toast(r.T("alert.undone"))
	}
	return err
}

// Resolve closes the alert with a short outcome note.
func (f *Flow) Resolve(ctx context.Context, p *bot.Person, id, outcome string) (Alert, error) {
	return f.change(ctx, id, func(a *Alert) error {
		if !f.mayResolve(a, p) {
			f.e.Refused(ctx, p.ID, key(a.ID), "not_resolver")
			return bot.Tell("alert.not_resolver")
		}
		if a.State == Resolved {
			return bot.Tell("alert.already_resolved", "ID", a.ID)
		}
		now := f.e.Now()
		a.State, a.ResolvedBy, a.ResolvedAt, a.Outcome = Resolved, p.ID, now, outcome
		a.log(now, p.ID, "resolved")
		return nil
	})
}

func reminderRef(id string) string { return key(id) + "/reminder" }

// ackCheckTimer asks the acknowledger of an alert still unresolved after the ack timeout whether
// they are still on it.
func (f *Flow) ackCheckTimer(ctx context.Context, t bot.Timer) error {
	seq, _ := strconv.Atoi(t.Arg)
	_, err := f.change(ctx, t.Ref, func(a *Alert) error {
		if a.State != Acknowledged || a.AckSeq != seq || a.Reminded {
			return errUnchanged
		}
		now := f.e.Now()
		a.Reminded = true
		a.ExpireDue = now.Add(f.cfg.AckGrace)
		a.logArg(now, "system", "ack_reminded", t.Arg, a.AckBy)
		return nil
	})
	return ignoreUnknown(err)
}

// stillOnIt confirms the reminder: the acknowledgement holds for another ack timeout.
func (f *Flow) stillOnIt(ctx context.Context, r *bot.Request, act bot.Action) error {
	_, err := f.change(ctx, act.Ref, func(a *Alert) error {
		if a.State == Acknowledged && a.AckBy != r.Person.ID {
			f.e.Refused(ctx, r.Person.ID, key(a.ID), "not_acknowledger")
			return bot.Tell("core.stale")
		}
		if a.State != Acknowledged || strconv.Itoa(a.AckSeq) != act.Arg {
			return bot.Tell("core.stale")
		}
		now := f.e.Now()
		a.AckSeq++
		a.Reminded = false
		a.AckDue = f.ackDue(a, now)
		a.log(now, r.Person.ID, "ack_confirmed")
		return nil
	})
	return err
}

// ackExpireTimer returns an alert to open when its acknowledger did not confirm the reminder,
// and resumes the chain at the step where it stopped.
func (f *Flow) ackExpireTimer(ctx context.Context, t bot.Timer) error {
	seq, _ := strconv.Atoi(t.Arg)
	_, err := f.change(ctx, t.Ref, func(a *Alert) error {
		if a.State != Acknowledged || a.AckSeq != seq || !a.Reminded {
			return errUnchanged
		}
		now := f.e.Now()
		was := a.AckBy
		a.State, a.AckBy, a.Claimed, a.Reminded = Open, "", false, false
		a.log(now, "system", "ack_expired", was)
		a.resume(now)
		return nil
	})
	return ignoreUnknown(err)
}

func ignoreUnknown(err error) error {
	if bot.IsProblem(err) {
		return nil // the alert is gone (purged)
	}
	return err
}

// ackDue is when the acknowledger of a is asked whether they are still on it: the ack timeout
// from now, except that for today's and routine concerns a check falling in the acknowledger's
// quiet hours (or, without their own, the configured night) waits for their end. Urgent ones
// are checked at any hour.
func (f *Flow) ackDue(a *Alert, now time.Time) time.Time {
	due := now.Add(f.cfg.AckTimeout)
	if a.Kind != Concern || a.Urgency == "urgent" {
		return due
	}
	night := f.cfg.AckNight
	if p := f.e.Directory().Person(a.AckBy); p != nil && p.Quiet != nil {
		night = p.Quiet
	}
	if night == nil {
		return due
	}
	return night.After(due.In(f.e.Directory().Location))
}
