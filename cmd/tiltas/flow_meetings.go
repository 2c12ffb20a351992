package main

import (
	"net/url"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/scheduler"
)

// meetingsConfig turns the meetings section of a validated config into the flow's settings.
// Calendar feeds are served under http.public_url + "/calendar/<token>.ics", and iCalendar UIDs
// end with that URL's host, so that they are unique to the municipality.
func meetingsConfig(c *config.Config) meetings.Config {
	loc := c.Location()
	out := meetings.Config{Parse: scheduler.ParseRRule, Retention: c.Retention.Meetings.D()}
	if c.HTTP.PublicURL != "" {
		out.FeedURL = strings.TrimSuffix(c.HTTP.PublicURL, "/") + "/calendar"
		if u, err := url.Parse(c.HTTP.PublicURL); err == nil && u.Hostname() != "" {
			out.UIDDomain = u.Hostname()
		}
	}
	for _, s := range c.Meetings {
		start, _ := time.ParseInLocation("2006-01-02 15:04", s.Start, loc) // checked by Validate
		ms := meetings.Series{
			ID: s.ID, Title: s.Title, RRule: s.RRule, Start: start, Duration: s.Duration.D(),
			Place: s.Place, VideoURL: s.VideoURL, Organizers: s.Organizers,
			Invitees:     meetingAudience(s.Invitees),
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

// meetingAudience converts a configured audience.
func meetingAudience(a config.Audience) bot.Audience {
	out := bot.Audience{People: a.People, Institutions: a.Institutions}
	for _, r := range a.Roles {
		out.Roles = append(out.Roles, bot.Role(r))
	}
	return out
}
