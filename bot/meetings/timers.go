package meetings

import (
	"context"
	"errors"
	"time"

	"github.com/tiltas/tiltas/bot"
)

func (f *Flow) registerTimers() {
	f.e.OnTimer("meetings.plan", f.onPlan)
	f.e.OnTimer("meetings.remind", f.onRemind)
	f.e.OnTimer("meetings.nudge", f.onNudge)
	f.e.OnTimer("meetings.summary", f.onSummary)
	f.e.OnTimer("meetings.minutes", f.onMinutesPrompt)
}

// current loads the occurrence a timer is for and reports whether the timer still applies: the
// occurrence exists, is not cancelled, and starts when the timer was set for. A timer left over
// from before a move (its claim raced the reschedule) does nothing.
func (f *Flow) current(ctx context.Context, t bot.Timer) (occurrence, *seriesRec, bool, error) {
	_, at := parseArg(t.Arg)
	o, s, err := f.load(ctx, t.Ref)
	if errors.Is(err, bot.ErrNotFound) {
		return o, s, false, nil
	}
	if err != nil {
		return o, s, false, err
	}
	return o, s, !o.Cancelled && unix(o.Start) == at, nil
}

// onRemind sends the reminder at one offset to everyone the occurrence concerns, each in their
// language with their own answer and buttons. The last reminder carries the final agenda. The
// effect is marked done on the occurrence and the notices are keyed by the timer, so a timer
// fired twice reminds once.
func (f *Flow) onRemind(ctx context.Context, t bot.Timer) error {
	o, s, ok, err := f.current(ctx, t)
	if err != nil || !ok || !f.e.Now().Before(o.Start) {
		return err
	}
	key := "remind:" + t.Arg
	if o.Done[key] {
		return nil
	}
	off, _ := parseArg(t.Arg)
	final := off == offKey(lastReminder(s))
	unreached, err := f.e.Copies(occKey(o.ID)).Send(ctx, t.ID+"@"+unix(o.Start), f.audience(s, &o), bot.Notice{},
		func(p *bot.Person, lang string) bot.Message {
			return f.card(s, &o, p, lang, f.inText(lang, o.Start), final)
		})
	if err != nil {
		return err
	}
	_, err = f.markDone(ctx, o.ID, key, unreached)
	return err
}

// inText says how soon the meeting is: "Primename: posėdis po 7 dienų."
func (f *Flow) inText(lang string, start time.Time) string {
	t := f.tr(lang)
	d := start.Sub(f.e.Now()).Round(time.Minute)
	switch {
	case d >= 24*time.Hour:
		days := int((d + 12*time.Hour) / (24 * time.Hour))
		return t.N("meetings.head.in_days", days)
	case d >= time.Hour:
		return t.N("meetings.head.in_hours", int((d+30*time.Minute)/time.Hour))
	}
	return t.N("meetings.head.in_minutes", max(int(d/time.Minute), 1))
}

// onNudge asks, once, the invitees who have not answered yet to answer before the deadline.
func (f *Flow) onNudge(ctx context.Context, t bot.Timer) error {
	o, s, ok, err := f.current(ctx, t)
	if err != nil || !ok {
		return err
	}
	deadline := Before(o.Start, s.RSVPDeadline)
	key := "nudge@" + unix(o.Start)
	if o.Done[key] || !f.e.Now().Before(deadline) {
		return nil
	}
	var to []string
	for _, id := range f.invitees(s) {
		if _, answered := o.RSVP[id]; !answered {
			to = append(to, id)
		}
	}
	unreached, err := f.e.Copies(occKey(o.ID)).Send(ctx, t.ID+"@"+unix(o.Start), to, bot.Notice{},
		func(p *bot.Person, lang string) bot.Message {
			head := f.tr(lang).T("meetings.head.nudge", "Deadline", f.e.Texts.DateTime(lang, deadline))
			return f.card(s, &o, p, lang, head, false)
		})
	if err != nil {
		return err
	}
	_, err = f.markDone(ctx, o.ID, key, unreached)
	return err
}

func summaryRecord(occ string) string { return occKey(occ) + "/summary" }

// onSummary gives the organizers the attendance summary at the RSVP deadline. Their copies are
// edited as answers keep changing until the meeting.
func (f *Flow) onSummary(ctx context.Context, t bot.Timer) error {
	o, s, ok, err := f.current(ctx, t)
	if err != nil || !ok {
		return err
	}
	key := "summary@" + unix(o.Start)
	if o.Done[key] {
		return nil
	}
	if _, err := f.e.Copies(summaryRecord(o.ID)).Send(ctx, t.ID+"@"+unix(o.Start), f.organizers(s), bot.Notice{},
		func(p *bot.Person, lang string) bot.Message { return f.summary(s, &o, p, lang) }); err != nil {
		return err
	}
	_, err = f.markDone(ctx, o.ID, key, nil)
	return err
}

// organizers returns s's organizers who are still in the directory.
func (f *Flow) organizers(s *seriesRec) []string {
	var out []string
	for _, id := range s.Organizers {
		if f.e.Directory().Person(id) != nil {
			out = append(out, id)
		}
	}
	return out
}

// onMinutesPrompt asks the organizers, after the meeting, to post its decisions.
func (f *Flow) onMinutesPrompt(ctx context.Context, t bot.Timer) error {
	o, s, ok, err := f.current(ctx, t)
	if err != nil || !ok {
		return err
	}
	key := "minutes@" + unix(o.Start)
	if o.Done[key] || o.MinutesSeq > 0 {
		return nil
	}
	for _, who := range f.organizers(s) {
		err := f.e.Notify(ctx, bot.Notice{ID: t.ID + "@" + unix(o.Start) + ":" + who, To: who, Record: occKey(o.ID),
			Build: func(lang string) bot.Message {
				tt := f.tr(lang)
				return bot.Message{Title: s.Title, Lines: []string{tt.T("meetings.minutes.ask", "When", f.e.Texts.DateTime(lang, o.Start))},
					Buttons: [][]bot.Button{{bot.Btn(tt.T("meetings.btn.minutes"), "meetings.minutes", o.ID, "")}}}
			}})
		if err != nil && !errors.Is(err, bot.ErrNotLinked) {
			return err
		}
	}
	_, err = f.markDone(ctx, o.ID, key, nil)
	return err
}
