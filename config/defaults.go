package config

import "time"

// Defaults returns a config with every default filled in; the file overrides what it names.
func Defaults() *Config {
	return &Config{
		Timezone:  "Europe/Vilnius",
		Language:  "lt",
		Redis:     Redis{URL: "redis://127.0.0.1:6379/0", Prefix: "tiltas"},
		HTTP:      HTTP{Listen: ":8080", MaxBody: 1 << 20},
		Telegram:  Telegram{APIURL: "https://api.telegram.org", Mode: "polling"},
		Slack:     Slack{APIURL: "https://slack.com/api/", Mode: "socket"},
		Delivery:  Delivery{ClaimTimeout: Duration(30 * time.Second), MaxAttempts: 30},
		Reconcile: Reconcile{Interval: Duration(time.Minute)},
		Dialogs:   Dialogs{IdleTimeout: Duration(30 * time.Minute)},
		Invites:   Invites{TTL: Duration(72 * time.Hour)},
		Cases:     Cases{CodePattern: `^K-\d{4}-\d{3,}$`, CodePrefix: "K"},
		Retention: Retention{
			Alerts:   Duration(365 * 24 * time.Hour),
			Visits:   Duration(365 * 24 * time.Hour),
			Meetings: Duration(2 * 365 * 24 * time.Hour),
			Audit:    Duration(5 * 365 * 24 * time.Hour),
		},
		Alerts: Alerts{
			DescriptionMax: 500,
			AckTimeout:     Duration(4 * time.Hour),
			AckGrace:       Duration(time.Hour),
			AckNight:       "22:00-07:00",
			Notices:        NoticeConf{Deadline: "08:00"},
		},
		Visits: Visits{
			Deadline:      Duration(24 * time.Hour),
			OutcomeAfter:  Duration(30 * time.Minute),
			OutcomeNudge:  Duration(24 * time.Hour),
			DescriptorMax: 500,
		},
	}
}

// applyDefaults fills what needs the decoded file to be known (lists whose default depends on
// nothing but must not be merged with what the file gives).
func (c *Config) applyDefaults() {
	if len(c.Alerts.Categories) == 0 {
		c.Alerts.Categories = []string{"absence", "neglect", "violence", "behaviour", "family_crisis", "other"}
	}
	if len(c.Alerts.Senders) == 0 {
		c.Alerts.Senders = []string{"school", "police", "social_worker", "probation", "child_rights"}
	}
	if len(c.Alerts.Notices.Senders) == 0 {
		c.Alerts.Notices.Senders = []string{"police"}
	}
	if len(c.Visits.Reminders) == 0 {
		c.Visits.Reminders = []Duration{Duration(24 * time.Hour), Duration(time.Hour)}
	}
	defLimits(&c.Telegram.Limits, Rate{30, Duration(time.Second)}, Rate{1, Duration(time.Second)}, Rate{20, Duration(time.Minute)})
	defLimits(&c.Slack.Limits, Rate{}, Rate{1, Duration(time.Second)}, Rate{1, Duration(time.Second)})
	for i := range c.Meetings {
		s := &c.Meetings[i]
		if len(s.Reminders) == 0 {
			s.Reminders = []Duration{Duration(7 * 24 * time.Hour), Duration(24 * time.Hour), Duration(time.Hour)}
		}
		if s.Duration == 0 {
			s.Duration = Duration(90 * time.Minute)
		}
		if s.RSVPDeadline == 0 {
			s.RSVPDeadline = Duration(48 * time.Hour)
		}
		if s.AgendaCutoff == 0 {
			s.AgendaCutoff = Duration(24 * time.Hour)
		}
		if s.Holidays == "" {
			s.Holidays = "move"
		}
	}
	for i := range c.Visits.Series {
		s := &c.Visits.Series[i]
		if s.Duration == 0 {
			s.Duration = Duration(3 * time.Hour)
		}
		if s.ProposeBefore == 0 {
			s.ProposeBefore = Duration(7 * 24 * time.Hour)
		}
	}
	for i := range c.People {
		if c.People[i].Language == "" {
			c.People[i].Language = c.Language
		}
	}
}

func defLimits(l *Limits, global, chat, group Rate) {
	if l.Global.N == 0 && l.Global.Window == 0 {
		l.Global = global
	}
	if l.PerChat.N == 0 && l.PerChat.Window == 0 {
		l.PerChat = chat
	}
	if l.PerGroup.N == 0 && l.PerGroup.Window == 0 {
		l.PerGroup = group
	}
	if l.JitterGuard == 0 {
		// bot.DefaultMargin: what held on two cores under load (the README's load run).
		l.JitterGuard = Duration(100 * time.Millisecond)
	}
}
