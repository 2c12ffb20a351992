package meetings

import (
	"context"
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

// onRemind sends the reminder at one offset to everyone the occurrence concerns, each in their
// language with their own answer and buttons (occEffects). The last reminder carries the final
// agenda. A reminder whose meeting has started is skipped.
func (f *Flow) onRemind(ctx context.Context, t bot.Timer) error {
	return f.fire(ctx, t, "remind:"+t.Arg, func(o *occurrence, _ *seriesRec) bool { return !f.e.Now().Before(o.Start) })
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
	return f.fire(ctx, t, "nudge@"+t.Arg, func(o *occurrence, s *seriesRec) bool {
		return !f.e.Now().Before(f.deadline(s, o))
	})
}

func summaryRecord(occ string) string { return occKey(occ) + "/summary" }

// onSummary gives the organizers the attendance summary at the RSVP deadline. Their copies are
// edited as answers keep changing until the meeting.
func (f *Flow) onSummary(ctx context.Context, t bot.Timer) error {
	return f.fire(ctx, t, "summary@"+t.Arg, nil)
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
	return f.fire(ctx, t, "minutes@"+t.Arg, func(o *occurrence, _ *seriesRec) bool { return o.MinutesSeq > 0 })
}
