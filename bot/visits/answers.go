package visits

import (
	"context"
	"errors"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// refusal is an authorization failure found inside a compare-and-set function, which must stay
// free of side effects; it is audited once the update gave up.
type refusal struct{ reason string }

func (r *refusal) Error() string { return "refused: " + r.reason }

// refuse audits a refusal and turns it into words for the person; other errors pass through.
func (f *Flow) refuse(ctx context.Context, r *bot.Request, id string, err error) error {
	var rf *refusal
	if errors.As(err, &rf) {
		f.e.Refused(ctx, r.Person.ID, key(id), rf.reason)
		return bot.Tell("visits.not_allowed")
	}
	if errors.Is(err, bot.ErrNotFound) {
		return bot.Tell("visits.gone")
	}
	return err
}

// answerable: only invitees answer, and only while the visit is ahead.
func (f *Flow) answerable(v *Visit, person string) error {
	if !v.invited(person) {
		return &refusal{"not_invited"}
	}
	if !v.Active() || !f.e.Now().Before(v.Start) {
		return bot.Tell("visits.closed")
	}
	return nil
}

// manageable: only the organizer or a coordinator reschedules, cancels, widens or adds cases.
func (f *Flow) manageable(v *Visit, p *bot.Person) error {
	if p.ID != v.Organizer && !p.Has(bot.RoleCoordinator) {
		return &refusal{"not_organizer"}
	}
	if !v.Active() {
		return bot.Tell("visits.closed")
	}
	return nil
}

func (f *Flow) mayAnswer(_ context.Context, r *bot.Request, v *Visit) error {
	if err := f.answerable(v, r.Person.ID); err != nil {
		return err
	}
	if s := v.state(r.Person.ID); s == Joined || s == Standby {
		return bot.Tell("visits.use_withdraw")
	}
	return nil
}

func (f *Flow) mayWithdraw(_ context.Context, r *bot.Request, v *Visit) error {
	if err := f.answerable(v, r.Person.ID); err != nil {
		return err
	}
	if s := v.state(r.Person.ID); s != Joined && s != Standby {
		return bot.Tell("visits.not_in")
	}
	return nil
}

func (f *Flow) mayManage(_ context.Context, r *bot.Request, v *Visit) error {
	return f.manageable(v, r.Person)
}

// startFor is a button that opens a dialog about the visit, once the presser may.
func (f *Flow) startFor(dialog string, may func(context.Context, *bot.Request, *Visit) error) bot.ActionFunc {
	return bot.DialogAbout[Visit]{Dialog: dialog, Gone: "visits.gone", Load: f.load,
		Guard: func(ctx context.Context, r *bot.Request, v *Visit) error {
			if err := may(ctx, r, v); err != nil {
				return f.refuse(ctx, r, v.ID, err)
			}
			return nil
		},
		Prefill: func(_ *bot.Request, v *Visit) bot.Answers { return f.prefill(*v, dialog) }}.Action(f.e)
}

// confirm is an invitee's one tap: a free place of a required role they hold, else standby. The
// compare-and-set makes simultaneous confirmations take places one after the other, so that a
// role is never overfilled.
func (f *Flow) confirm(ctx context.Context, r *bot.Request, a bot.Action) error {
	me := r.Person.ID
	state := ""
	_, _, err := f.change(ctx, a.Ref, me, func(v *Visit) error {
		if err := f.answerable(v, me); err != nil {
			return err
		}
		if s := v.state(me); s == Joined || s == Standby {
			state = s
			return errSame
		}
		state = v.join(r.Person, f.e.Now())
		return nil
	})
	if errors.Is(err, errSame) {
		r.Toast(r.T("visits.toast.already"))
		return nil
	}
	if err != nil {
		return f.refuse(ctx, r, a.Ref, err)
	}
	if state == Standby {
		r.Toast(r.T("visits.toast.standby"))
	} else {
		r.Toast(r.T("visits.toast.joined"))
	}
	return nil
}

func (f *Flow) declined(ctx context.Context, r *bot.Request, a bot.Answers) error {
	me := r.Person.ID
	_, _, err := f.change(ctx, a["visit"], me, func(v *Visit) error {
		if err := f.mayAnswer(ctx, r, v); err != nil {
			return err
		}
		v.Replies = ensure(v.Replies)
		v.Replies[me] = Reply{State: Declined, At: f.e.Now(), Reason: a["reason"], Note: a["note"]}
		return nil
	})
	if err != nil {
		return f.refuse(ctx, r, a["visit"], err)
	}
	return r.Say(ctx, "visits.said.declined")
}

func (f *Flow) suggested(ctx context.Context, r *bot.Request, a bot.Answers) error {
	me := r.Person.ID
	when := a.Time("when", f.e.Directory().Location)
	_, _, err := f.change(ctx, a["visit"], me, func(v *Visit) error {
		if err := f.mayAnswer(ctx, r, v); err != nil {
			return err
		}
		v.Replies = ensure(v.Replies)
		v.Replies[me] = Reply{State: Suggested, At: f.e.Now(), Suggest: when}
		return nil
	})
	if err != nil {
		return f.refuse(ctx, r, a["visit"], err)
	}
	return r.Say(ctx, "visits.said.suggested")
}

func (f *Flow) withdrew(ctx context.Context, r *bot.Request, a bot.Answers) error {
	me := r.Person.ID
	_, v, err := f.change(ctx, a["visit"], me, func(v *Visit) error {
		if err := f.mayWithdraw(ctx, r, v); err != nil {
			return err
		}
		v.leave(me, f.e.Now(), a["note"], f.e.Directory())
		return nil
	})
	if err != nil {
		return f.refuse(ctx, r, a["visit"], err)
	}
	return r.Say(ctx, "visits.said.withdrawn", "Visit", v.No)
}

// future checks that a dialog's time lies ahead.
func (f *Flow) future(_ context.Context, _ *bot.Request, v string, _ bot.Answers) (string, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil || !t.After(f.e.Now()) {
		return "", bot.Tell("visits.plan.past")
	}
	if t.After(f.e.Now().AddDate(1, 0, 0)) {
		return "", bot.Tell("visits.plan.far")
	}
	return v, nil
}
