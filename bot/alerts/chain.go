package alerts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tiltas/tiltas/bot"
)

func pos(round, step int) string { return strconv.Itoa(round) + ":" + strconv.Itoa(step) }

func parsePos(s string) (int, int) {
	a, b, _ := strings.Cut(s, ":")
	r, _ := strconv.Atoi(a)
	st, _ := strconv.Atoi(b)
	return r, st
}

func escTimer(id string) string { return "alert:" + id + ":esc" }

// enter notifies step (round, step) of the alert's chain and starts its wait. It is idempotent:
// entering a step twice sends nothing twice (the message IDs name the step), so a timer replayed
// after a crash repeats nothing.
func (f *Flow) enter(ctx context.Context, id string, round, step int) (Alert, error) {
	var people, unreached []string
	a, err := bot.Update(ctx, f.e.Records, key(id), func(a *Alert, exists bool) ([]bot.IndexOp, error) {
		if !exists {
			return nil, bot.ErrNotFound
		}
		if a.State != Open || a.Round != round || a.Step != step {
			return nil, errNotOpen
		}
		people, unreached = f.stepPeople(ctx, a, a.Steps[step])
		added := false
		for _, p := range people {
			if !slices.Contains(a.Reached, p) {
				a.Reached = append(a.Reached, p)
				added = true
			}
		}
		entered := "entered:" + pos(round, step)
		if !slices.ContainsFunc(a.Timeline, func(e Event) bool { return e.Kind == entered }) {
			now := f.e.Clock.Now()
			a.log(now, "system", entered)
			reached := slices.DeleteFunc(slices.Clone(people), func(p string) bool { return slices.Contains(unreached, p) })
			if len(reached) > 0 {
				a.log(now, "system", "notified", reached...)
			}
			if len(unreached) > 0 {
				a.log(now, "system", "unreachable", unreached...)
			}
			added = true
		}
		if !added {
			return nil, errUnchanged
		}
		return nil, nil
	})
	if errors.Is(err, errNotOpen) || errors.Is(err, bot.ErrNotFound) {
		return a, nil
	}
	if err != nil && !errors.Is(err, errUnchanged) {
		return a, err
	}
	if err != nil { // unchanged: reload to emit the effects again
		if a, err = f.Get(ctx, id); err != nil {
			return a, err
		}
		people, _ = f.stepPeople(ctx, &a, a.Steps[step])
	}
	s := a.Steps[step]
	msgID := "alert:" + id + ":enter:" + pos(round, step)
	pr := bot.Routine
	if a.Urgency == "urgent" {
		pr = bot.Urgent
	}
	if _, err := f.e.Copies(key(id)).Send(ctx, msgID, people, bot.Notice{Priority: pr, Case: a.Case, Sender: a.Sender, Record: key(id)},
		func(p *bot.Person, lang string) bot.Message { return f.view(&a, p, lang) }); err != nil {
		return a, err
	}
	for _, g := range s.Groups {
		if f.e.Directory().Group(g) == nil {
			continue
		}
		if err := f.e.NotifyGroup(ctx, msgID+":g:"+g, g, f.groupView(&a, g), groupRef(id, g), pr); err != nil {
			return a, err
		}
	}
	if round > 0 || step > 0 {
		f.e.Observe("escalation")
		f.e.Record(ctx, bot.AuditEvent{Actor: "system", Kind: "alert.escalated", Record: key(id), Reason: "step_" + pos(round, step)})
	}
	for _, p := range people {
		f.e.Record(ctx, bot.AuditEvent{Actor: "system", Kind: "alert.notified", Record: key(id), To: p})
	}
	due := s.Until
	if due.IsZero() {
		due = f.e.Clock.Now().Add(s.Wait)
	}
	return a, f.e.Timers.Schedule(ctx, bot.Timer{ID: escTimer(id), Due: due, Kind: "alert.escalate", Ref: id, Arg: pos(round, step)})
}

var errUnchanged = errors.New("unchanged")

// stepPeople resolves a step's audience now (so a directory reload applies), without the sender,
// and says who of them has no chat account.
func (f *Flow) stepPeople(ctx context.Context, a *Alert, s Step) (people, unreached []string) {
	for _, p := range f.e.Directory().Resolve(s.Audience) {
		if p == a.Sender {
			continue
		}
		people = append(people, p)
		if _, err := f.e.AddressOf(ctx, p); err != nil {
			unreached = append(unreached, p)
		}
	}
	return people, unreached
}

func groupRef(id, group string) string { return key(id) + "/group/" + group }

// next returns the position after (round, step), or ok false when the chain is done.
func (a *Alert) next(round, step int) (int, int, bool) {
	if step+1 < len(a.Steps) {
		return round, step + 1, true
	}
	if round < a.Repeat {
		return round + 1, 0, true
	}
	return round, step, false
}

// escalateTimer moves an unacknowledged alert to the next step once a step's wait has passed.
func (f *Flow) escalateTimer(ctx context.Context, t bot.Timer) error {
	round, step := parsePos(t.Arg)
	exhausted := false
	a, err := bot.Update(ctx, f.e.Records, key(t.Ref), func(a *Alert, exists bool) ([]bot.IndexOp, error) {
		if !exists || a.State != Open {
			return nil, errNotOpen
		}
		if a.Round != round || a.Step != step {
			return nil, errUnchanged // already moved on (a replay): only re-emit below
		}
		nr, ns, ok := a.next(round, step)
		if !ok {
			if a.Exhausted {
				return nil, errUnchanged
			}
			a.Exhausted = true
			exhausted = true
			a.log(f.e.Clock.Now(), "system", "exhausted")
			a.Seq++
			return nil, nil
		}
		a.Round, a.Step = nr, ns
		a.Seq++
		return nil, nil
	})
	if errors.Is(err, errNotOpen) {
		return nil
	}
	if err != nil && !errors.Is(err, errUnchanged) {
		return err
	}
	if err != nil {
		if a, err = f.Get(ctx, t.Ref); err != nil {
			return err
		}
	}
	if a.Exhausted {
		if exhausted {
			f.e.Record(ctx, bot.AuditEvent{Actor: "system", Kind: "alert.exhausted", Record: key(a.ID)})
		}
		return f.tellCoordinators(ctx, &a, "alert:"+a.ID+":exhausted", "alert.exhausted")
	}
	if nr, ns, ok := a.next(round, step); ok && a.Round == nr && a.Step == ns {
		_, err = f.enter(ctx, a.ID, nr, ns)
	}
	return err
}

// tellCoordinators sends every coordinator a short line about the alert (case code only).
func (f *Flow) tellCoordinators(ctx context.Context, a *Alert, id, msg string) error {
	for _, c := range f.e.Directory().WithRole(bot.RoleCoordinator) {
		err := f.e.Notify(ctx, bot.Notice{ID: id + ":" + c.ID, To: c.ID, Priority: bot.Urgent, Record: key(a.ID), Build: func(lang string) bot.Message {
			return bot.Message{Lines: []string{f.e.Texts.T(lang, msg, "ID", a.ID, "Case", a.Case)}, Buttons: [][]bot.Button{{bot.Btn(f.e.Texts.T(lang, "alert.btn.view"), "alert.view", a.ID, "")}}}
		}})
		if err != nil && !errors.Is(err, bot.ErrNotLinked) {
			return err
		}
	}
	return nil
}

// resume restarts an alert's chain at the step where it stopped, after its acknowledgement was
// undone or timed out: the step's people are told it is open again and its wait starts anew.
func (f *Flow) resume(ctx context.Context, a *Alert, why string) error {
	s := a.Steps[a.Step]
	people, _ := f.stepPeople(ctx, a, s)
	for _, p := range people {
		err := f.e.Notify(ctx, bot.Notice{ID: fmt.Sprintf("alert:%s:reopen:%d:%s", a.ID, a.Seq, p), To: p, Priority: bot.Urgent, Record: key(a.ID), Build: func(lang string) bot.Message {
			return bot.Message{Lines: []string{f.e.Texts.T(lang, why, "ID", a.ID, "Case", a.Case)}}
		}})
		if err != nil && !errors.Is(err, bot.ErrNotLinked) {
			return err
		}
	}
	due := s.Until
	if due.IsZero() || !due.After(f.e.Clock.Now()) {
		due = f.e.Clock.Now().Add(max(s.Wait, 0))
	}
	return f.e.Timers.Schedule(ctx, bot.Timer{ID: escTimer(a.ID), Due: due, Kind: "alert.escalate", Ref: a.ID, Arg: pos(a.Round, a.Step)})
}
