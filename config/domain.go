package config

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Location returns the configured time zone (validated by Load).
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Directory builds the immutable directory from a validated config.
func (c *Config) Directory() *bot.Directory {
	d := &bot.Directory{Location: c.Location(), Language: c.Language}
	for _, in := range c.Institutions {
		d.Institutions = append(d.Institutions, &bot.Institution{
			ID: in.ID, Name: in.Name, Kind: in.Kind, Areas: in.Areas,
			DesignatedContact: in.DesignatedContact, Head: in.Head,
		})
	}
	for _, p := range c.People {
		bp := &bot.Person{ID: p.ID, Name: p.Name, Institution: p.Institution, Language: p.Language, Areas: p.Areas}
		for _, r := range p.Roles {
			bp.Roles = append(bp.Roles, bot.Role(r))
		}
		if p.QuietHours != "" {
			bp.Quiet, _ = bot.ParseQuietHours(p.QuietHours)
		}
		d.People = append(d.People, bp)
	}
	for _, g := range c.Groups {
		d.Groups = append(d.Groups, &bot.Group{ID: g.ID, Name: g.Name, Address: bot.Address{
			Platform: bot.Platform(g.Platform), Team: g.Team, Chat: g.Chat, Thread: g.Thread, Group: true,
		}})
	}
	return d.Index()
}

// Settings returns the engine's settings.
func (c *Config) Settings() bot.Settings {
	return bot.Settings{
		DialogIdle:  c.Dialogs.IdleTimeout.D(),
		InviteTTL:   c.Invites.TTL.D(),
		CaseCode:    regexp.MustCompile(c.Cases.CodePattern),
		CasePrefix:  c.Cases.CodePrefix,
		BotUsername: strings.TrimPrefix(c.Telegram.BotUsername, "@"), // "@name" is how people write it

		AuditRetention: c.Retention.Audit.D(),
	}
}

// Summary is the one line check-config prints for a valid file.
func (c *Config) Summary() string {
	platforms := ""
	if c.Telegram.Token != "" {
		platforms += " telegram (" + c.Telegram.Mode + ")"
	}
	if c.Slack.BotToken != "" {
		platforms += " slack (" + c.Slack.Mode + ")"
	}
	if platforms == "" {
		platforms = " no chat platform"
	}
	return plural(len(c.People), "person", "people") + " in " + plural(len(c.Institutions), "institution", "institutions") +
		", " + plural(len(c.Groups), "group", "groups") + ", " + plural(len(c.Alerts.Rules), "alert rule", "alert rules") +
		", " + plural(len(c.Meetings), "meeting series", "meeting series") + ", " + plural(len(c.Visits.Series), "visit series", "visit series") +
		";" + platforms
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
