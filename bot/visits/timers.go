package visits

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// loadFor reads the visit a timer is about; a visit gone is nothing to do.
func (f *Flow) loadFor(ctx context.Context, t bot.Timer) (Visit, bool, error) {
	v, err := f.load(ctx, t.Ref)
	if errors.Is(err, bot.ErrNotFound) {
		return v, false, nil
	}
	return v, err == nil, err
}

// notify sends n and treats a person without an account as reached nobody, not as a failure.
func (f *Flow) notify(ctx context.Context, n bot.Notice) error {
	err := f.e.Notify(ctx, n)
	if errors.Is(err, bot.ErrNotLinked) || errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	return err
}

// deadline fires at the confirmation deadline: without quorum, the organizer and the
// coordinators are alerted with who answered what, and can widen the pool, reschedule or cancel.
func (f *Flow) deadline(ctx context.Context, t bot.Timer) error {
	v, ok, err := f.loadFor(ctx, t)
	if !ok || v.Status != Open || unix(v.Deadline) != t.Arg {
		return err
	}
	_, cur, err := f.change(ctx, v.ID, "system", func(v *Visit) error {
		if v.Status != Open || unix(v.Deadline) != t.Arg || v.Short {
			return errSame
		}
		v.Short = true
		return nil
	})
	switch {
	case errors.Is(err, errSame):
		if cur, err = f.load(ctx, v.ID); err != nil {
			return err
		}
		if cur.Status != Open || unix(cur.Deadline) != t.Arg {
			return nil
		}
	case err != nil:
		return err
	}
	v = cur
	to := []string{v.Organizer}
	for _, c := range f.e.Directory().WithRole(bot.RoleCoordinator) {
		if c.ID != v.Organizer {
			to = append(to, c.ID)
		}
	}
	var errs []error
	for _, who := range to {
		errs = append(errs, f.notify(ctx, bot.Notice{ID: t.ID + ":" + t.Arg + ":" + who, To: who, Priority: bot.Urgent, Record: key(v.ID),
			Build: func(lang string) bot.Message {
				m := bot.Message{Title: f.T(lang, "visits.title", "Visit", v.No), Lines: []string{
					f.T(lang, "visits.alert.deadline", "Missing", f.needs(lang, v.Missing())),
					f.T(lang, "visits.card.when", "When", f.e.Texts.Span(lang, v.Start, v.End)),
					f.T(lang, "visits.card.area", "Area", v.Area),
					f.T(lang, "visits.alert.answers"),
				}}
				m.Lines = append(m.Lines, f.answers(lang, v, true)...)
				m.Buttons = f.manageButtons(lang, v)
				return m
			}}))
	}
	return errors.Join(errs...)
}

// remind reminds the confirmed participants, with the meeting point. Its Arg names the start it
// was set for, so that a timer left over from before a reschedule does nothing.
func (f *Flow) remind(ctx context.Context, t bot.Timer) error {
	d, start, _ := strings.Cut(t.Arg, "|")
	before, _ := strconv.ParseInt(d, 10, 64)
	v, ok, err := f.loadFor(ctx, t)
	if !ok || !v.Active() || unix(v.Start) != start {
		return err
	}
	pr := bot.Routine
	if time.Duration(before) <= 2*time.Hour {
		pr = bot.Urgent
	}
	var errs []error
	for _, p := range v.Participants() {
		errs = append(errs, f.notify(ctx, bot.Notice{ID: t.ID + ":" + start + ":" + p, To: p, Priority: pr, Record: key(v.ID),
			Build: func(lang string) bot.Message {
				m := bot.Message{Title: f.T(lang, "visits.title", "Visit", v.No), Lines: []string{
					f.T(lang, "visits.remind.text", "When", f.e.Texts.Span(lang, v.Start, v.End)),
				}}
				if v.MeetingPoint != "" {
					m.Lines = append(m.Lines, f.T(lang, "visits.brief.meet", "Place", v.MeetingPoint))
				}
				m.Lines = append(m.Lines, f.T(lang, "visits.card.team", "Team", f.team(lang, v)))
				if miss := v.Missing(); len(miss) > 0 {
					m.Lines = append(m.Lines, f.T(lang, "visits.remind.short", "Missing", f.needs(lang, miss)))
				}
				return m
			}}))
	}
	return errors.Join(errs...)
}

// outcome fires after the window: one participant (the organizer if they took part) is asked
// for a report per case. A visit nobody confirmed is closed and its organizer told.
func (f *Flow) outcome(ctx context.Context, t bot.Timer) error {
	v, ok, err := f.loadFor(ctx, t)
	if !ok || unix(v.End) != t.Arg || v.Status == Cancelled || v.Status == Closed {
		return err
	}
	_, cur, err := f.change(ctx, v.ID, "system", func(v *Visit) error {
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
		}
		return nil
	})
	if errors.Is(err, errSame) {
		cur, err = f.load(ctx, v.ID)
	}
	if err != nil {
		return err
	}
	v = cur
	switch {
	case v.Status == Reporting:
		if err := f.askReport(ctx, v, t.ID+":"+t.Arg, false); err != nil {
			return err
		}
		return f.e.Timers.Schedule(ctx, bot.Timer{ID: timerID(v.ID, "nudge"), Due: f.e.Now().Add(f.cfg.OutcomeNudge), Kind: kindNudge, Ref: v.ID})
	case v.Status == Closed && len(v.Participants()) == 0:
		return f.notify(ctx, bot.Notice{ID: t.ID + ":" + t.Arg + ":missed", To: v.Organizer, Record: key(v.ID),
			Build: func(lang string) bot.Message {
				return bot.Message{Title: f.T(lang, "visits.title", "Visit", v.No), Lines: []string{f.T(lang, "visits.told.missed",
					"When", f.e.Texts.Span(lang, v.Start, v.End))}}
			}})
	}
	return nil
}

// nudge asks for a missing report again, every OutcomeNudge, until it is filed.
func (f *Flow) nudge(ctx context.Context, t bot.Timer) error {
	v, ok, err := f.loadFor(ctx, t)
	if !ok || v.Status != Reporting {
		return err
	}
	if err := f.askReport(ctx, v, t.ID+":"+unix(t.Due), true); err != nil {
		return err
	}
	next := t.Due.Add(f.cfg.OutcomeNudge)
	for !next.After(f.e.Now()) {
		next = next.Add(f.cfg.OutcomeNudge)
	}
	return f.e.Timers.Schedule(ctx, bot.Timer{ID: t.ID, Due: next, Kind: kindNudge, Ref: v.ID})
}

var results = []string{"visited", "nobody_home", "refused"}

func outcomeCopies(f *Flow, id string) *bot.Copies { return f.e.Copies(key(id) + "/outcome") }

// askReport asks the reporter for the reports still missing, one button per case.
func (f *Flow) askReport(ctx context.Context, v Visit, id string, again bool) error {
	_, err := outcomeCopies(f, v.ID).Send(ctx, id, []string{v.Reporter}, bot.Notice{Record: key(v.ID)}, func(_ *bot.Person, lang string) bot.Message {
		m := f.reportRequest(v, lang)
		if again {
			m.Lines = append([]string{f.e.Texts.N(lang, "visits.report.again", len(v.pendingCases()))}, m.Lines...)
		}
		return m
	})
	if errors.Is(err, bot.ErrNotLinked) {
		return nil
	}
	return err
}

func (f *Flow) reportRequest(v Visit, lang string) bot.Message {
	m := bot.Message{Title: f.T(lang, "visits.report.title", "Visit", v.No)}
	pending := v.pendingCases()
	if len(pending) == 0 {
		m.Lines = []string{f.T(lang, "visits.report.all_done")}
		return m
	}
	m.Lines = []string{f.T(lang, "visits.report.ask", "When", f.e.Texts.Span(lang, v.Start, v.End))}
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

// reported stores one case's report and sends it to the people assigned to the case, in direct
// messages, each send recorded as a share; the event goes into the audit trail.
func (f *Flow) reported(ctx context.Context, r *bot.Request, a bot.Answers) error {
	me, code := r.Person.ID, a["case"]
	o := Outcome{Result: resultCode(a["result"]), FollowUp: a["followup"] == "yes", Note: a["note"], By: me, At: f.e.Now()}
	_, v, err := f.change(ctx, a["visit"], me, func(v *Visit) error {
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
	f.e.Record(ctx, bot.AuditEvent{Actor: me, Kind: "visit.outcome", Record: key(v.ID), Case: code, Reason: o.Result})
	var to []string
	if c, err := f.e.Case(ctx, code); err == nil {
		to = c.People()
	} else if !errors.Is(err, bot.ErrNotFound) {
		return err
	}
	sent := 0
	for _, p := range to {
		if p == me {
			continue
		}
		pr := bot.Routine
		if o.FollowUp {
			pr = bot.Urgent
		}
		err := f.e.Notify(ctx, bot.Notice{ID: "visit:" + v.ID + ":outcome:" + code + ":" + p, To: p, Priority: pr, Sender: me,
			Case: code, Record: key(v.ID), Reason: "visit_outcome", RefKey: reportRef(v.ID, code, p),
			Build: func(lang string) bot.Message { return f.outcomeMessage(v, code, o, lang) }})
		switch {
		case err == nil:
			sent++
		case !errors.Is(err, bot.ErrNotLinked) && !errors.Is(err, bot.ErrNotFound):
			f.logErr(err, "outcome not sent", v.ID)
		}
	}
	f.logErr(outcomeCopies(f, v.ID).Edit(ctx, v.Rev, func(_ *bot.Person, lang string) bot.Message { return f.reportRequest(v, lang) }),
		"report request not edited", v.ID)
	if sent == 0 {
		return r.Say(ctx, "visits.said.report_nobody", "Case", code)
	}
	return r.Say(ctx, "visits.said.report_sent", "Case", code, "Sent", f.e.Texts.N(r.Lang, "people", sent))
}

func (f *Flow) outcomeMessage(v Visit, code string, o Outcome, lang string) bot.Message {
	m := bot.Message{Title: f.T(lang, "visits.outcome.title", "Case", code), Lines: []string{
		f.T(lang, "visits.outcome.visit", "Visit", v.No, "When", f.e.Texts.Span(lang, v.Start, v.End)),
		f.T(lang, "visits.outcome.result", "Result", f.T(lang, "visits.result."+o.Result)),
		f.followUp(lang, o.FollowUp),
	}}
	if o.Note != "" {
		m.Lines = append(m.Lines, f.T(lang, "visits.outcome.note", "Note", o.Note))
	}
	m.Lines = append(m.Lines, f.T(lang, "visits.outcome.by", "Name", f.name(o.By)))
	return m
}
