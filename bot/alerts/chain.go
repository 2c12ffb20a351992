package alerts

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

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

// enter moves the alert to step (round, step) of its chain: the step's people are resolved now
// (so that a directory reload applies) and put on the timeline, with who of them has no chat
// account, and the step's wait starts. What entering owes (their copies, the groups' notices)
// follows from the timeline.
func (f *Flow) enter(ctx context.Context, a *Alert, round, step int, now time.Time) {
	a.Round, a.Step = round, step
	s := a.Steps[step]
	people, unreached := f.stepPeople(ctx, a, s)
	for _, p := range people {
		if !slices.Contains(a.Reached, p) {
			a.Reached = append(a.Reached, p)
		}
	}
	at := pos(round, step)
	a.log(now, "system", "entered:"+at)
	reached := slices.DeleteFunc(slices.Clone(people), func(p string) bool { return slices.Contains(unreached, p) })
	if len(reached) > 0 {
		a.logArg(now, "system", "notified", at, reached...)
	}
	if len(unreached) > 0 {
		a.logArg(now, "system", "unreachable", at, unreached...)
	}
	a.StepDue = s.Until
	if a.StepDue.IsZero() {
		a.StepDue = now.Add(s.Wait)
	}
}

// resume restarts the wait of the step where the chain stopped, after an acknowledgement was
// undone or lapsed: the step's people are told it is open again (effects.go).
func (a *Alert) resume(now time.Time) {
	s := a.Steps[a.Step]
	a.StepDue = s.Until
	if a.StepDue.IsZero() || !a.StepDue.After(now) {
		a.StepDue = now.Add(max(s.Wait, 0))
	}
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

// escalateTimer moves an unacknowledged alert to the next step once a step's wait has passed, or
// marks the chain exhausted after its last step.
func (f *Flow) escalateTimer(ctx context.Context, t bot.Timer) error {
	round, step := parsePos(t.Arg)
	moved := false
	a, err := f.change(ctx, t.Ref, func(a *Alert) error {
		moved = false
		if a.State != Open || a.Round != round || a.Step != step || a.Exhausted {
			return errUnchanged // acknowledged meanwhile, or a replay of a step taken
		}
		now := f.e.Now()
		nr, ns, ok := a.next(round, step)
		if !ok {
			a.Exhausted = true
			a.log(now, "system", "exhausted")
			return nil
		}
		f.enter(ctx, a, nr, ns, now)
		moved = true
		return nil
	})
	// A timer that fires twice finds the step taken (errUnchanged) and counts nothing.
	if moved && err == nil {
		f.e.Count("escalation")
		if a.reachedNobody(pos(a.Round, a.Step)) {
			f.unreached(&a)
		}
	}
	return ignoreUnknown(err)
}
