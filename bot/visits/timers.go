package visits

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// fired applies a timer's change to its visit; a visit gone, or a timer left over from before a
// change, is nothing to do.
func (f *Flow) fired(ctx context.Context, t bot.Timer, fn func(v *Visit) error) error {
	_, _, err := f.change(ctx, t.Ref, "system", fn)
	if errors.Is(err, errSame) || bot.IsProblem(err) {
		return nil
	}
	return err
}

// deadline fires at the confirmation deadline: without quorum, the organizer and the
// coordinators are alerted with who answered what, and can widen the pool, reschedule or cancel.
func (f *Flow) deadline(ctx context.Context, t bot.Timer) error {
	return f.fired(ctx, t, func(v *Visit) error {
		if !v.Active() || v.DeadlinePassed || unix(v.Deadline) != t.Arg {
			return errSame
		}
		v.DeadlinePassed = true
		v.Short = v.Status == Open
		return nil
	})
}

// remind reminds the confirmed participants, with the meeting point. Its Arg names the start it
// was set for, so that a timer left over from before a reschedule does nothing.
func (f *Flow) remind(ctx context.Context, t bot.Timer) error {
	d, start, _ := strings.Cut(t.Arg, "|")
	before, _ := strconv.ParseInt(d, 10, 64)
	return f.fired(ctx, t, func(v *Visit) error {
		if !v.Active() || unix(v.Start) != start {
			return errSame
		}
		for i := range v.Reminders {
			if r := &v.Reminders[i]; r.Before == time.Duration(before) && !r.Sent {
				r.Sent = true
				return nil
			}
		}
		return errSame
	})
}

// outcome fires after the window: one participant (the organizer if they took part) is asked
// for a report per case. A visit nobody confirmed is closed and its organizer told.
func (f *Flow) outcome(ctx context.Context, t bot.Timer) error {
	return f.fired(ctx, t, func(v *Visit) error {
		if unix(v.End) != t.Arg || !v.Active() {
			return errSame
		}
		team := v.Participants()
		switch {
		case len(team) == 0 || len(v.Cases) == 0:
			v.Status = Closed
		default:
			v.Status = Reporting
			v.Reporter = team[0]
			if v.state(v.Organizer) == Joined {
				v.Reporter = v.Organizer
			}
			v.AskedAt = f.e.Now()
		}
		return nil
	})
}

// nudge asks for a missing report again, every OutcomeNudge, until it is filed. After a long
// outage it asks once, not once for every nudge missed.
func (f *Flow) nudge(ctx context.Context, t bot.Timer) error {
	return f.fired(ctx, t, func(v *Visit) error {
		if v.Status != Reporting || strconv.Itoa(v.Nudges) != t.Arg {
			return errSame
		}
		v.Nudges++
		if f.cfg.OutcomeNudge > 0 {
			for !v.AskedAt.Add(time.Duration(v.Nudges+1) * f.cfg.OutcomeNudge).After(f.e.Now()) {
				v.Nudges++
			}
		}
		return nil
	})
}

// timed is what the changes timers and answers make owe: the deadline alert, reminders, the
// report requests, a suggested time passed on to the organizer, and the reports filed.
func (f *Flow) timed(old, v Visit) bot.Effects {
	var fx bot.Effects
	if v.Short && !old.Short {
		fx.Messages = append(fx.Messages, f.deadlineAlert(v)...)
	}
	for _, r := range v.Reminders {
		if r.Sent && !old.reminded(r.Before, v.Start) {
			fx.Messages = append(fx.Messages, f.reminder(v, r.Before)...)
		}
	}
	switch {
	case v.Status == Reporting && old.Status != Reporting:
		fx.Messages = append(fx.Messages, f.askReport(v, timerID(v.ID, "outcome")+":"+unix(v.End), false))
	case v.Status == Reporting && v.Nudges > old.Nudges:
		fx.Messages = append(fx.Messages, f.askReport(v, timerID(v.ID, "nudge")+":"+strconv.Itoa(v.Nudges), true))
	case v.Status == Closed && old.Active() && len(v.Participants()) == 0:
		fx.Messages = append(fx.Messages, bot.Notice{ID: timerID(v.ID, "outcome") + ":" + unix(v.End) + ":missed", To: v.Organizer, Record: key(v.ID),
			Build: func(lang string) bot.Message {
				return bot.Message{Title: f.T(lang, "visits.title", "Visit", v.No), Lines: []string{f.T(lang, "visits.told.missed",
					"When", f.e.Catalog().Span(lang, v.Start, v.End))}}
			}})
	}
	for p, r := range v.Replies {
		if r.State == Suggested && (old.Replies[p].State != Suggested || !old.Replies[p].Suggest.Equal(r.Suggest)) {
			fx.Messages = append(fx.Messages, f.suggestion(v, p, r.Suggest))
		}
	}
	reported := false
	for _, c := range v.Cases {
		if i := old.caseIndex(c.Code); c.Outcome != nil && (i < 0 || old.Cases[i].Outcome == nil) {
			fx.Messages = append(fx.Messages, f.reports(v, c.Code, *c.Outcome)...)
			reported = true
		}
	}
	if reported || v.Reporter != "" && len(v.Cases) != len(old.Cases) {
		fx.Edits = append(fx.Edits, bot.CopyEdit{Record: key(v.ID) + "/outcome", Version: v.Rev(),
			Build: func(_ *bot.Person, lang string) bot.Message { return f.reportRequest(v, lang) }})
	}
	return fx
}

// reminded reports whether v had sent its reminder before d for a visit starting at start.
func (v *Visit) reminded(d time.Duration, start time.Time) bool {
	if !v.Start.Equal(start) {
		return false
	}
	for _, r := range v.Reminders {
		if r.Before == d {
			return r.Sent
		}
	}
	return false
}

// deadlineAlert tells the organizer and the coordinators that the deadline passed without quorum,
// with who answered what.
func (f *Flow) deadlineAlert(v Visit) []bot.Notice {
	to := []string{v.Organizer}
	for _, c := range f.e.Directory().WithRole(bot.RoleCoordinator) {
		if c.ID != v.Organizer {
			to = append(to, c.ID)
		}
	}
	var out []bot.Notice
	for _, who := range to {
		out = append(out, bot.Notice{ID: timerID(v.ID, "deadline") + ":" + unix(v.Deadline) + ":" + who, To: who, Priority: bot.Urgent, Record: key(v.ID),
			Build: func(lang string) bot.Message {
				m := bot.Message{Title: f.T(lang, "visits.title", "Visit", v.No), Lines: []string{
					f.T(lang, "visits.alert.deadline", "Missing", f.needs(lang, v.Missing())),
					f.T(lang, "visits.card.when", "When", f.e.Catalog().Span(lang, v.Start, v.End)),
					f.T(lang, "visits.card.area", "Area", v.Area),
					f.T(lang, "visits.alert.answers"),
				}}
				m.Lines = append(m.Lines, f.answers(lang, v, true)...)
				m.Buttons = f.manageButtons(lang, v)
				return m
			}})
	}
	return out
}

// reminder reminds the confirmed participants d before the start, with the meeting point.
func (f *Flow) reminder(v Visit, d time.Duration) []bot.Notice {
	pr := bot.Routine
	if d <= 2*time.Hour {
		pr = bot.Urgent
	}
	var out []bot.Notice
	for _, p := range v.Participants() {
		out = append(out, bot.Notice{ID: timerID(v.ID, "remind:"+durID(d)) + ":" + unix(v.Start) + ":" + p, To: p, Priority: pr, Record: key(v.ID),
			Build: func(lang string) bot.Message {
				m := bot.Message{Title: f.T(lang, "visits.title", "Visit", v.No), Lines: []string{
					f.T(lang, "visits.remind.text", "When", f.e.Catalog().Span(lang, v.Start, v.End)),
				}}
				if v.MeetingPoint != "" {
					m.Lines = append(m.Lines, f.T(lang, "visits.brief.meet", "Place", v.MeetingPoint))
				}
				m.Lines = append(m.Lines, f.T(lang, "visits.card.team", "Team", f.team(lang, v)))
				if miss := v.Missing(); len(miss) > 0 {
					m.Lines = append(m.Lines, f.T(lang, "visits.remind.short", "Missing", f.needs(lang, miss)))
				}
				return m
			}})
	}
	return out
}

// suggestion passes an invitee's suggested time on to the organizer, who can take it in one tap.
func (f *Flow) suggestion(v Visit, who string, when time.Time) bot.Notice {
	name := f.name(who)
	return bot.Notice{ID: "visit:" + v.ID + ":suggest:" + who + ":" + unix(when), To: v.Organizer, Priority: f.prio(v), Record: key(v.ID),
		Build: func(lang string) bot.Message {
			return bot.Message{Title: f.T(lang, "visits.title", "Visit", v.No),
				Lines: []string{f.T(lang, "visits.told.suggested", "Name", name, "When", f.e.Catalog().DateTime(lang, when),
					"Was", f.e.Catalog().Span(lang, v.Start, v.End))},
				Buttons: [][]bot.Button{{bot.Btn(f.T(lang, "visits.btn.take_time"), "visits.reschedule", v.ID, unix(when))}}}
		}}
}

var results = []string{"visited", "nobody_home", "refused"}

func outcomeCopies(f *Flow, id string) *bot.Copies { return f.e.Copies(key(id) + "/outcome") }

// askReport asks the reporter for the reports still missing, one button per case.
func (f *Flow) askReport(v Visit, id string, again bool) bot.Notice {
	return bot.Notice{ID: id + ":" + v.Reporter, To: v.Reporter, Copy: key(v.ID) + "/outcome", Record: key(v.ID), Build: func(lang string) bot.Message {
		m := f.reportRequest(v, lang)
		if again {
			m.Lines = append([]string{f.e.Catalog().N(lang, "visits.report.again", len(v.pendingCases()))}, m.Lines...)
		}
		return m
	}}
}

func (f *Flow) reportRequest(v Visit, lang string) bot.Message {
	m := bot.Message{Title: f.T(lang, "visits.report.title", "Visit", v.No)}
	pending := v.pendingCases()
	if len(pending) == 0 {
		m.Lines = []string{f.T(lang, "visits.report.all_done")}
		return m
	}
	m.Lines = []string{f.T(lang, "visits.report.ask", "When", f.e.Catalog().Span(lang, v.Start, v.End))}
	for _, c := range pending {
		m.Buttons = append(m.Buttons, []bot.Button{bot.Btn(f.T(lang, "visits.btn.report", "Case", c), "visits.report", v.ID, c)})
	}
	return m
}

// report opens the report dialog for one case; any confirmed participant may file it.
func (f *Flow) report(ctx context.Context, r *bot.Request, a bot.Action) error {
	v, err := f.load(ctx, a.Ref)
	if err != nil {
		return f.refuse(ctx, r, a.Ref, err)
	}
	if err := f.reportable(&v, r.Person.ID, a.Arg); err != nil {
		return f.refuse(ctx, r, v.ID, err)
	}
	pre := f.prefill(v, "visits.report")
	pre["case"] = a.Arg
	return f.e.StartDialog(ctx, r, "visits.report", pre)
}

func (f *Flow) reportable(v *Visit, person, code string) error {
	if v.state(person) != Joined {
		return &refusal{"not_participant"}
	}
	i := v.caseIndex(code)
	switch {
	case i < 0:
		return &refusal{"not_in_visit"}
	case v.Cases[i].Outcome != nil:
		return bot.Tell("visits.report.already", "Case", code)
	case v.Status != Reporting:
		return bot.Tell("visits.report.not_now")
	}
	return nil
}

func (f *Flow) reportSummary(r *bot.Request, a bot.Answers) []string {
	out := []string{
		f.T(r.Lang, "visits.outcome.result", "Result", r.T("visits.result."+resultCode(a["result"]))),
		f.followUp(r.Lang, a["followup"] == "yes"),
	}
	if a["note"] != "" {
		out = append(out, f.T(r.Lang, "visits.outcome.note", "Note", a["note"]))
	}
	return out
}

func resultCode(c string) string {
	for _, r := range results {
		if r == c {
			return c
		}
	}
	return results[0]
}

func (f *Flow) followUp(lang string, yes bool) string {
	if yes {
		return f.T(lang, "visits.outcome.followup_yes")
	}
	return f.T(lang, "visits.outcome.followup_no")
}

// reported stores one case's report; it goes to the people assigned to the case (as the case
// has them now, who have a chat account), in direct messages, each send recorded as a share.
func (f *Flow) reported(ctx context.Context, r *bot.Request, a bot.Answers) error {
	me, code := r.Person.ID, a["case"]
	o := Outcome{Result: resultCode(a["result"]), FollowUp: a["followup"] == "yes", Note: a["note"], By: me, At: f.e.Now()}
	c, err := f.e.Case(ctx, code)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		return err
	}
	for _, p := range c.People() {
		if _, err := f.e.AddressOf(ctx, p); p != me && err == nil {
			o.To = append(o.To, p)
		}
	}
	_, _, err = f.change(ctx, a["visit"], me, func(v *Visit) error {
		if err := f.reportable(v, me, code); err != nil {
			return err
		}
		oc := o
		v.Cases[v.caseIndex(code)].Outcome = &oc
		if len(v.pendingCases()) == 0 {
			v.Status = Closed
		}
		return nil
	})
	if err != nil {
		return f.refuse(ctx, r, a["visit"], err)
	}
	if len(o.To) == 0 {
		return r.Say(ctx, "visits.said.report_nobody", "Case", code)
	}
	return r.Say(ctx, "visits.said.report_sent", "Case", code, "Sent", f.e.Catalog().N(r.Lang, "people", len(o.To)))
}

// reports sends case code's report to the case's people.
func (f *Flow) reports(v Visit, code string, o Outcome) []bot.Notice {
	pr := bot.Routine
	if o.FollowUp {
		pr = bot.Urgent
	}
	var out []bot.Notice
	for _, p := range o.To {
		out = append(out, bot.Notice{ID: "visit:" + v.ID + ":outcome:" + code + ":" + p, To: p, Priority: pr, Sender: o.By,
			Case: code, Record: key(v.ID), Reason: "visit_outcome", RefKey: reportRef(v.ID, code, p),
			Build: func(lang string) bot.Message { return f.outcomeMessage(v, code, o, lang) }})
	}
	return out
}

func (f *Flow) outcomeMessage(v Visit, code string, o Outcome, lang string) bot.Message {
	m := bot.Message{Title: f.T(lang, "visits.outcome.title", "Case", code), Lines: []string{
		f.T(lang, "visits.outcome.visit", "Visit", v.No, "When", f.e.Catalog().Span(lang, v.Start, v.End)),
		f.T(lang, "visits.outcome.result", "Result", f.T(lang, "visits.result."+o.Result)),
		f.followUp(lang, o.FollowUp),
	}}
	if o.Note != "" {
		m.Lines = append(m.Lines, f.T(lang, "visits.outcome.note", "Note", o.Note))
	}
	m.Lines = append(m.Lines, f.T(lang, "visits.outcome.by", "Name", f.name(o.By)))
	return m
}
