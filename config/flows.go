package config

import (
	"net/url"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/bot/requests"
	"github.com/tiltas/tiltas/bot/visits"
)

// The flows' settings, from a validated config. serve, the demo and every test that runs a flow
// build them here, so that they all run the flows as configured.

// AlertsFlow returns the alerts flow's settings.
func (c *Config) AlertsFlow() alerts.Config {
	a := c.Alerts
	out := alerts.Config{
		Categories:     a.Categories,
		Senders:        roles(a.Senders),
		DescriptionMax: a.DescriptionMax,
		AckTimeout:     a.AckTimeout.D(),
		AckGrace:       a.AckGrace.D(),
		AckNight:       night(a.AckNight),
		NoticeSenders:  roles(a.Notices.Senders),
		Calendar:       c.WorkCalendar(),
		Retention:      c.Retention.Alerts.D(),
		Integrations:   map[string]string{},
	}
	out.NoticeHour, out.NoticeMinute, _ = bot.ParseClock(a.Notices.Deadline)
	for _, in := range c.Integrations {
		out.Integrations[in.ID] = in.Institution
	}
	for _, r := range a.Rules {
		rule := alerts.Rule{Name: r.Name, Categories: r.Categories, Urgency: r.Urgency, Institutions: r.Institutions, Areas: r.Areas, Repeat: r.Repeat}
		for _, s := range r.Steps {
			aud := bot.Audience{People: s.People, Roles: roles(s.Roles)}
			if s.Institution != "" {
				aud.Institutions = []string{s.Institution}
			}
			rule.Steps = append(rule.Steps, alerts.Step{Audience: aud, Groups: s.Groups, Wait: s.Wait.D()})
		}
		out.Rules = append(out.Rules, rule)
	}
	return out
}

// MeetingsFlow returns the meetings flow's settings; parse reads the series' RRULEs (cmd passes
// scheduler.ParseRRule, so that bot needs no RRULE library). Calendar feeds are served under
// http.public_url + "/calendar/<token>.ics", and iCalendar UIDs end with that URL's host.
func (c *Config) MeetingsFlow(parse bot.RecurrenceParser) meetings.Config {
	out := meetings.Config{Parse: parse, Retention: c.Retention.Meetings.D()}
	if c.HTTP.PublicURL != "" {
		out.FeedURL = strings.TrimSuffix(c.HTTP.PublicURL, "/") + "/calendar"
		if u, err := url.Parse(c.HTTP.PublicURL); err == nil && u.Hostname() != "" {
			out.UIDDomain = u.Hostname()
		}
	}
	for _, s := range c.Meetings {
		ms := meetings.Series{
			ID: s.ID, Title: s.Title, RRule: s.RRule, Start: c.localTime(s.Start), Duration: s.Duration.D(),
			Place: s.Place, VideoURL: s.VideoURL, Organizers: s.Organizers,
			Invitees:     s.Invitees.audience(),
			RSVPDeadline: s.RSVPDeadline.D(), AgendaCutoff: s.AgendaCutoff.D(),
			Holidays: meetings.Holidays(s.Holidays),
		}
		for _, r := range s.Reminders {
			ms.Reminders = append(ms.Reminders, r.D())
		}
		out.Series = append(out.Series, ms)
	}
	return out
}

// VisitsFlow returns the visits flow's settings; parse reads the series' RRULEs.
func (c *Config) VisitsFlow(parse bot.RecurrenceParser) visits.Config {
	v := c.Visits
	out := visits.Config{
		Deadline:     v.Deadline.D(),
		OutcomeAfter: v.OutcomeAfter.D(),
		OutcomeNudge: v.OutcomeNudge.D(),
		NoteMax:      v.DescriptorMax,
		Retention:    c.Retention.Visits.D(),
		Recurrence:   parse,
		Reminders:    []time.Duration{},
	}
	for _, r := range v.Reminders {
		out.Reminders = append(out.Reminders, r.D())
	}
	for _, s := range v.Series {
		vs := visits.Series{
			ID: s.ID, Rule: s.RRule, Start: c.localTime(s.Start), Duration: s.Duration.D(), Area: s.Area,
			MeetingPoint: s.MeetingPoint, Organizer: s.Organizer, ProposeBefore: s.ProposeBefore.D(),
			Invitees: s.Invitees.audience(),
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

// WorkCalendar returns the working-day calendar with the configured school holidays.
func (c *Config) WorkCalendar() *bot.Calendar {
	cal := &bot.Calendar{}
	for _, h := range c.Calendar.SchoolHolidays {
		from, _ := time.ParseInLocation("2006-01-02", h.From, c.Location())
		to, _ := time.ParseInLocation("2006-01-02", h.To, c.Location())
		cal.SchoolHolidays = append(cal.SchoolHolidays, bot.DateRange{From: from, To: to})
	}
	return cal
}

// localTime reads a validated "YYYY-MM-DD HH:MM" in the configured zone.
func (c *Config) localTime(s string) time.Time {
	t, _ := time.ParseInLocation("2006-01-02 15:04", s, c.Location())
	return t
}

func (a Audience) audience() bot.Audience {
	return bot.Audience{People: a.People, Roles: roles(a.Roles), Institutions: a.Institutions}
}

func roles(rs []string) []bot.Role {
	out := make([]bot.Role, len(rs))
	for i, r := range rs {
		out[i] = bot.Role(r)
	}
	return out
}

// night reads quiet hours checked by Validate; "" is none.
func night(s string) *bot.QuietHours {
	q, err := bot.ParseQuietHours(s)
	if s == "" || err != nil {
		return nil
	}
	return q
}

// RequestsFlow returns the information requests flow's settings.
func (c *Config) RequestsFlow() requests.Config {
	out := requests.Config{Askers: roles(c.Requests.Askers), DueDays: c.Requests.DueDays, Bases: c.Requests.Bases, Retention: c.Retention.Alerts.D()}
	for _, d := range c.Requests.Reminders {
		out.Reminders = append(out.Reminders, d.D())
	}
	return out
}
