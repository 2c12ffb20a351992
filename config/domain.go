package config

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
	"gopkg.in/yaml.v3"
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
	var deskRoles []bot.Role
	for _, r := range c.Desk.Roles {
		deskRoles = append(deskRoles, bot.Role(r))
	}
	deskURL := ""
	if c.HTTP.PublicURL != "" {
		deskURL = strings.TrimSuffix(c.HTTP.PublicURL, "/") + "/desk"
	}
	return bot.Settings{
		DeskRoles:   deskRoles,
		DeskURL:     deskURL,
		DialogIdle:  c.Dialogs.IdleTimeout.D(),
		InviteTTL:   c.Invites.TTL.D(),
		CaseCode:    regexp.MustCompile(c.Cases.CodePattern),
		CasePrefix:  c.Cases.CodePrefix,
		BotUsername: strings.TrimPrefix(c.Telegram.BotUsername, "@"), // "@name" is how people write it

		LeadersManagePeople: c.Staff.LeadersManage,
		DeskIdle:            c.Desk.Idle.D(),

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

// PeopleFile is a file of people in the config's people: shape (tiltas people export and import).
type PeopleFile struct {
	People []Person `yaml:"people"`
}

// ReadPeople decodes a people file strictly: an unknown key is an error with its line.
func ReadPeople(r io.Reader) ([]Person, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f PeopleFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("people file: %w", err)
	}
	return f.People, nil
}

// Member is p as the engine stores people.
func (p Person) Member() bot.Member {
	m := bot.Member{ID: p.ID, Name: p.Name, Institution: p.Institution, Language: p.Language, Areas: p.Areas, Quiet: p.QuietHours}
	for _, r := range p.Roles {
		m.Roles = append(m.Roles, bot.Role(r))
	}
	return m
}

// PersonOf is a stored person in the config's shape.
func PersonOf(m *bot.Member) Person {
	p := Person{ID: m.ID, Name: m.Name, Institution: m.Institution, Language: m.Language, Areas: m.Areas, QuietHours: m.Quiet}
	for _, r := range m.Roles {
		p.Roles = append(p.Roles, string(r))
	}
	return p
}
