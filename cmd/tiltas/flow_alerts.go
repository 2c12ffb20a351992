package main

import (
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/config"
)

// alertsConfig turns the alerts section of a validated config into the flow's settings.
func alertsConfig(c *config.Config) alerts.Config {
	a := c.Alerts
	out := alerts.Config{
		Categories:     a.Categories,
		Senders:        roles(a.Senders),
		DescriptionMax: a.DescriptionMax,
		AckTimeout:     a.AckTimeout.D(),
		AckGrace:       a.AckGrace.D(),
		NoticeSenders:  roles(a.Notices.Senders),
		Calendar:       calendar(c),
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

func roles(rs []string) []bot.Role {
	out := make([]bot.Role, len(rs))
	for i, r := range rs {
		out[i] = bot.Role(r)
	}
	return out
}

// calendar builds the working-day calendar from config's school holidays.
func calendar(c *config.Config) *bot.Calendar {
	cal := &bot.Calendar{}
	for _, h := range c.Calendar.SchoolHolidays {
		from, _ := time.ParseInLocation("2006-01-02", h.From, c.Location())
		to, _ := time.ParseInLocation("2006-01-02", h.To, c.Location())
		cal.SchoolHolidays = append(cal.SchoolHolidays, bot.DateRange{From: from, To: to})
	}
	return cal
}
