package main

import (
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/scheduler"
)

// visitsConfig turns the visits section of a validated config into the flow's settings. Series
// starts are local times in the configured zone; their rules are read by scheduler.ParseRRule, so
// that bot/visits needs no RRULE library.
func visitsConfig(c *config.Config) visits.Config {
	v := c.Visits
	out := visits.Config{
		Deadline:     v.Deadline.D(),
		OutcomeAfter: v.OutcomeAfter.D(),
		OutcomeNudge: v.OutcomeNudge.D(),
		NoteMax:      v.DescriptorMax,
		Retention:    c.Retention.Visits.D(),
		Recurrence:   scheduler.ParseRRule,
		Reminders:    []time.Duration{},
	}
	for _, r := range v.Reminders {
		out.Reminders = append(out.Reminders, r.D())
	}
	for _, s := range v.Series {
		start, _ := time.ParseInLocation("2006-01-02 15:04", s.Start, c.Location()) // checked by Validate
		vs := visits.Series{
			ID: s.ID, Rule: s.RRule, Start: start, Duration: s.Duration.D(), Area: s.Area,
			MeetingPoint: s.MeetingPoint, Organizer: s.Organizer, ProposeBefore: s.ProposeBefore.D(),
			Invitees: bot.Audience{People: s.Invitees.People, Institutions: s.Invitees.Institutions},
		}
		for _, r := range s.Invitees.Roles {
			vs.Invitees.Roles = append(vs.Invitees.Roles, bot.Role(r))
		}
		// Needs in the directory's role order, so that every replica words them alike.
		for _, r := range bot.Roles {
			if n := s.Required[string(r)]; n > 0 {
				vs.Needs = append(vs.Needs, visits.Need{Role: r, Count: n})
			}
		}
		out.Series = append(out.Series, vs)
	}
	return out
}
