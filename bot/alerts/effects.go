package alerts

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/tiltas/tiltas/bot"
)

// effects is what an alert wants of the world: the timer of the step it waits on or of its
// acknowledgement, and what every timeline entry added since was owes: copies and group notices
// when a step is entered, word to the sender, reminders, audit events. Every ID derives from the
// alert and the entry's place on the timeline.
func (f *Flow) effects(_ context.Context, was, a *Alert) (bot.Effects, error) {
	var fx bot.Effects
	fx.Timers = f.wantedTimers(a)
	if was == a {
		return fx, nil
	}
	from := 0
	if was != nil {
		from = len(was.Timeline)
	}
	for i := from; i < len(a.Timeline); i++ {
		fx.Add(f.owed(a, i))
	}
	if was != nil && shown(was) != shown(a) {
		fx.Add(f.refresh(a))
	}
	return fx, nil
}

// wantedTimers: an open alert waits for its step to pass; an acknowledged concern for its
// acknowledger's check, then for the check's answer.
func (f *Flow) wantedTimers(a *Alert) []bot.Timer {
	switch {
	case a.State == Open && !a.Exhausted:
		return []bot.Timer{{ID: escTimer(a.ID), Due: a.StepDue, Kind: "alert.escalate", Ref: a.ID, Arg: pos(a.Round, a.Step)}}
	case a.State == Acknowledged && a.Kind == Concern && !a.Reminded:
		return []bot.Timer{{ID: ackTimer(a.ID), Due: a.AckDue, Kind: "alert.ackcheck", Ref: a.ID, Arg: strconv.Itoa(a.AckSeq)}}
	case a.State == Acknowledged && a.Kind == Concern:
		return []bot.Timer{{ID: expireTimer(a.ID), Due: a.ExpireDue, Kind: "alert.ackexpire", Ref: a.ID, Arg: strconv.Itoa(a.AckSeq)}}
	}
	return nil
}

// shown is the part of an alert its copies show: when it changes, every copy is edited. An
// exhausted chain is told to the coordinators, not edited into every copy: that would be one edit
// per holder of every unanswered concern, behind the platforms' rate limits.
func shown(a *Alert) string {
	return a.State + "|" + a.AckBy + "|" + strconv.FormatBool(a.Claimed) + "|" + a.ResolvedBy + "|" + a.Outcome
}

// owed is what timeline entry i owes.
func (f *Flow) owed(a *Alert, i int) bot.Effects {
	var fx bot.Effects
	ev := a.Timeline[i]
	id := bot.FactID(key(a.ID), i)
	audit := func(kind, to, reason string) {
		fx.Audit = append(fx.Audit, bot.AuditEvent{ID: id + ":" + kind + ":" + to, At: ev.At, Actor: ev.Actor, Kind: kind, Record: key(a.ID), Case: a.Case, To: to, Reason: reason})
	}
	kind, _, _ := strings.Cut(ev.Kind, ":")
	switch kind {
	case "created":
		audit("alert.created", "", a.Kind+"."+a.Urgency)
		fx.Do = append(fx.Do, func(ctx context.Context) error {
			_, _, err := f.e.EnsureCase(ctx, a.Case, ev.Actor)
			return err
		})
	case "entered":
		round, step := parsePos(ev.Kind[len("entered:"):])
		if round > 0 || step > 0 {
			audit("alert.escalated", "", "step_"+pos(round, step))
			// The reporter hears where it went: the institution or roles, never the names of
			// other institutions' staff who have not acted.
			s := a.Steps[step]
			fx.Messages = append(fx.Messages, f.toSenderFn(a, id, func(lang string) string {
				return f.e.Catalog().T(lang, "alert.sender.escalated", "ID", a.ID, "Case", a.Case, "Step", f.stepNumber(a, round, step), "To", f.stepTo(lang, s))
			})...)
		}
		for _, g := range a.Steps[step].Groups {
			if f.e.Directory().Group(g) == nil {
				continue
			}
			fx.Messages = append(fx.Messages, bot.Notice{ID: "alert:" + a.ID + ":enter:" + pos(round, step) + ":g:" + g, Group: g,
				RefKey: groupRef(a.ID, g), Priority: f.priority(a), Build: func(string) bot.Message { return f.groupView(a, g) }})
		}
	case "notified":
		for _, p := range ev.To {
			audit("alert.notified", p, "")
			who := f.e.Directory().Person(p)
			if who == nil {
				continue
			}
			fx.Messages = append(fx.Messages, bot.Notice{ID: "alert:" + a.ID + ":enter:" + ev.Arg + ":" + p, To: p, Copy: key(a.ID),
				Priority: f.priority(a), Case: a.Case, Sender: a.Sender, Record: key(a.ID),
				Build: func(lang string) bot.Message { return f.view(a, who, lang) }})
		}
	case "unreachable":
		for _, p := range ev.To {
			audit("delivery.unreachable", p, "not_linked")
		}
		if a.reachedNobody(ev.Arg) {
			// Never silent: the coordinators hear at once that this step reached nobody, and
			// who lacks an account.
			var names []string
			for _, p := range ev.To {
				names = append(names, f.name(p))
			}
			for _, n := range f.toCoordinators(a, id+":unreached", "alert.unreached") {
				build := n.Build
				n.Build = func(lang string) bot.Message {
					m := build(lang)
					m.Lines = append(m.Lines, f.e.Catalog().T(lang, "alert.unreached.who", "Names", f.e.Catalog().Join(lang, names)))
					return m
				}
				fx.Messages = append(fx.Messages, n)
			}
		}
	case "acknowledged", "received":
		audit("alert.acknowledged", "", "")
		if a.CaseCreated {
			fx.Do = append(fx.Do, f.assign(a.Case, ev.Actor))
		}
		fx.Messages = append(fx.Messages, f.toSender(a, id, "alert.sender.acked", "Name", f.name(ev.Actor), "Institution", f.institutionOf(ev.Actor))...)
	case "claimed":
		audit("alert.claimed", "", "")
		fx.Do = append(fx.Do, f.assign(a.Case, ev.Actor))
	case "ack_undone":
		audit("alert.ack_undone", "", "")
		fx.Messages = append(fx.Messages, f.toSender(a, id, "alert.sender.reopened")...)
		fx.Messages = append(fx.Messages, f.reopened(a, id, "alert.reopened")...)
		fx.Messages = append(fx.Messages, f.coordinatorsOnReopen(a, id)...)
	case "ack_expired":
		audit("alert.ack_expired", first(ev.To), "")
		fx.Messages = append(fx.Messages, f.closeReminder(a, id, first(ev.To)))
		fx.Messages = append(fx.Messages, f.toSender(a, id, "alert.sender.reopened")...)
		fx.Messages = append(fx.Messages, f.reopened(a, id, "alert.reopened_timeout")...)
		fx.Messages = append(fx.Messages, f.coordinatorsOnReopen(a, id)...)
	case "ack_reminded":
		fx.Messages = append(fx.Messages, f.reminder(a, first(ev.To), ev.Arg))
	case "ack_confirmed":
		fx.Messages = append(fx.Messages, bot.Notice{ID: id + ":still", To: ev.Actor, RefKey: reminderRef(a.ID), Edit: true, Priority: bot.Urgent, Record: key(a.ID),
			Build: func(lang string) bot.Message {
				return bot.Message{Lines: []string{f.e.Catalog().T(lang, "alert.still_confirmed", "ID", a.ID)}}
			}})
	case "resolved":
		audit("alert.resolved", "", "")
		until := ev.At.Add(f.cfg.Retention)
		fx.Do = append(fx.Do, func(ctx context.Context) error { return f.e.Retain(ctx, key(a.ID), until) })
		if wasReminded(a, i) {
			fx.Messages = append(fx.Messages, f.closeReminder(a, id, a.AckBy))
		}
		fx.Messages = append(fx.Messages, f.toSender(a, id, "alert.sender.resolved", "Name", f.name(ev.Actor))...)
	case "resolve_undone":
		audit("alert.resolve_undone", "", "")
		fx.Do = append(fx.Do, func(ctx context.Context) error { return f.e.Unretain(ctx, key(a.ID)) })
		if a.State == Open && a.AckBy == "" {
			fx.Messages = append(fx.Messages, f.reopened(a, id, "alert.reopened")...)
		}
	case "exhausted":
		audit("alert.exhausted", "", "")
		fx.Messages = append(fx.Messages, f.toCoordinators(a, "alert:"+a.ID+":exhausted", "alert.exhausted")...)
		fx.Messages = append(fx.Messages, f.toSender(a, id, "alert.sender.exhausted")...)
	}
	return fx
}

func first(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// wasReminded reports whether, when timeline entry i was made, the acknowledger had been asked
// whether they were still on it and had not answered: their reminder then loses its buttons.
func wasReminded(a *Alert, i int) bool {
	for j := i - 1; j >= 0; j-- {
		switch a.Timeline[j].Kind {
		case "ack_reminded":
			return true
		case "ack_confirmed", "acknowledged", "ack_undone", "ack_expired", "resolve_undone":
			return false
		}
	}
	return false
}

func (f *Flow) priority(a *Alert) bot.Priority {
	if a.Urgency == "urgent" {
		return bot.Urgent
	}
	return bot.Routine
}

// assign puts person on the alert's case (with the role they most likely act in).
func (f *Flow) assign(code, person string) func(context.Context) error {
	return func(ctx context.Context) error {
		p := f.e.Directory().Person(person)
		if p == nil {
			return nil
		}
		err := f.e.Assign(ctx, code, p.ID, primaryRole(p), p.ID)
		if errors.Is(err, bot.ErrNotFound) {
			return nil
		}
		return err
	}
}

// refresh edits every copy of the alert, people's and groups', to show its state now.
func (f *Flow) refresh(a *Alert) bot.Effects {
	fx := bot.Effects{Edits: []bot.CopyEdit{{Record: key(a.ID), Version: a.Fx.Rev,
		Build: func(p *bot.Person, lang string) bot.Message { return f.view(a, p, lang) }}}}
	var groups []string
	for _, s := range a.Steps[:a.Step+1] {
		groups = append(groups, s.Groups...)
	}
	if a.Round > 0 {
		groups = groups[:0]
		for _, s := range a.Steps {
			groups = append(groups, s.Groups...)
		}
	}
	for i, g := range groups {
		if slices.Contains(groups[:i], g) || f.e.Directory().Group(g) == nil {
			continue
		}
		fx.Messages = append(fx.Messages, bot.Notice{ID: "alert:" + a.ID + ":r" + strconv.FormatInt(a.Fx.Rev, 10) + ":g:" + g, Group: g, Edit: true,
			RefKey: groupRef(a.ID, g), Build: func(string) bot.Message { return f.groupView(a, g) }})
	}
	return fx
}

// toSender tells the person who raised the alert (integrations ask the API instead).
func (f *Flow) toSender(a *Alert, id, msg string, kv ...any) []bot.Notice {
	kv = append(kv, "ID", a.ID, "Case", a.Case)
	return f.toSenderFn(a, id, func(lang string) string { return f.e.Catalog().T(lang, msg, kv...) })
}

// toSenderFn is toSender with the line made per language by text.
func (f *Flow) toSenderFn(a *Alert, id string, text func(lang string) string) []bot.Notice {
	if a.Sender == "" {
		return nil
	}
	return []bot.Notice{{ID: id + ":sender", To: a.Sender, Priority: bot.Urgent, Record: key(a.ID), Build: func(lang string) bot.Message {
		return bot.Message{Lines: []string{text(lang)}, Buttons: [][]bot.Button{{bot.Btn(f.e.Catalog().T(lang, "alert.btn.view"), "alert.view", a.ID, "")}}}
	}}}
}

// stepNumber is the step's number counted through every round (1 for the first), as the
// timeline shows it.
func (f *Flow) stepNumber(a *Alert, round, step int) int { return round*len(a.Steps) + step + 1 }

// stepTo says in lang to whom a step goes: its institutions, or else its roles, and its groups;
// people named in the step are said by role, not by name.
func (f *Flow) stepTo(lang string, s Step) string {
	var parts []string
	for _, id := range s.Audience.Institutions {
		if in := f.e.Directory().Institution(id); in != nil {
			parts = append(parts, in.Name)
		}
	}
	if len(parts) == 0 {
		for _, r := range s.Audience.Roles {
			parts = append(parts, f.label(lang, "role.", string(r)))
		}
	}
	for _, g := range s.Groups {
		if gr := f.e.Directory().Group(g); gr != nil {
			parts = append(parts, "„"+gr.Name+"“")
		}
	}
	if len(parts) == 0 {
		return f.e.Catalog().T(lang, "alert.step.named")
	}
	return strings.Join(parts, ", ")
}

// toCoordinators sends every coordinator a short line about the alert (case code only).
func (f *Flow) toCoordinators(a *Alert, id, msg string) []bot.Notice {
	var out []bot.Notice
	for _, c := range f.e.Directory().WithRole(bot.RoleCoordinator) {
		out = append(out, bot.Notice{ID: id + ":" + c.ID, To: c.ID, Priority: bot.Urgent, Record: key(a.ID), Build: func(lang string) bot.Message {
			return bot.Message{Lines: []string{f.e.Catalog().T(lang, msg, "ID", a.ID, "Case", a.Case)}, Buttons: [][]bot.Button{{bot.Btn(f.e.Catalog().T(lang, "alert.btn.view"), "alert.view", a.ID, "")}}}
		}})
	}
	return out
}

// coordinatorsOnReopen tells the coordinators that a concern is open again, those of them the
// step's own reopen message reaches excepted.
func (f *Flow) coordinatorsOnReopen(a *Alert, id string) []bot.Notice {
	step := f.e.Directory().Resolve(a.Steps[a.Step].Audience)
	var out []bot.Notice
	for _, n := range f.toCoordinators(a, id+":coord-reopen", "alert.coord.reopened") {
		if !slices.Contains(step, n.To) && n.To != a.Sender {
			out = append(out, n)
		}
	}
	return out
}

// reopened tells the people of the step where the chain stopped that the alert is open again.
func (f *Flow) reopened(a *Alert, id, why string) []bot.Notice {
	var out []bot.Notice
	for _, p := range f.e.Directory().Resolve(a.Steps[a.Step].Audience) {
		if p == a.Sender {
			continue
		}
		out = append(out, bot.Notice{ID: id + ":reopen:" + p, To: p, Priority: bot.Urgent, Record: key(a.ID), Build: func(lang string) bot.Message {
			return bot.Message{Lines: []string{f.e.Catalog().T(lang, why, "ID", a.ID, "Case", a.Case)}}
		}})
	}
	return out
}

// reminder asks the acknowledger whether they are still on the alert.
func (f *Flow) reminder(a *Alert, who, seq string) bot.Notice {
	return bot.Notice{ID: "alert:" + a.ID + ":remind:" + seq, To: who, Priority: bot.Urgent, Record: key(a.ID), RefKey: reminderRef(a.ID), Build: func(lang string) bot.Message {
		return bot.Message{Lines: []string{f.e.Catalog().T(lang, "alert.ack_reminder", "ID", a.ID, "Case", a.Case, "Minutes", int(f.cfg.AckGrace.Minutes()))},
			Buttons: [][]bot.Button{{bot.Btn(f.e.Catalog().T(lang, "alert.btn.still"), "alert.still", a.ID, seq), bot.Btn(f.e.Catalog().T(lang, "alert.btn.resolve"), "alert.resolve", a.ID, "")}}}
	}}
}

// closeReminder takes the buttons off the acknowledgement reminder once it no longer applies.
func (f *Flow) closeReminder(a *Alert, id, who string) bot.Notice {
	return bot.Notice{ID: id + ":reminder-closed", To: who, RefKey: reminderRef(a.ID), Edit: true, Record: key(a.ID),
		Build: func(lang string) bot.Message {
			return bot.Message{Lines: []string{f.e.Catalog().T(lang, "alert.reminder_closed", "ID", a.ID, "Case", a.Case)}}
		}}
}
