package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/scheduler"
)

var (
	reID      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	kinds     = []string{"police", "social_services", "probation", "child_rights", "school", "municipality", "health", "ngo", "other"}
	urgencies = []string{"urgent", "today", "routine"}
)

// Validate checks the decoded config and returns every problem, each naming its path.
func (c *Config) Validate() []error {
	v := &validator{cfg: c}
	v.general(c)
	v.redis(c.Redis)
	v.http(c)
	v.platforms(c)
	v.storage(c)
	v.directory(c)
	v.alerts(c)
	v.meetings(c)
	v.visits(c)
	return v.errs
}

type validator struct {
	cfg    *Config
	errs   []error
	people map[string]*Person
	insts  map[string]*Institution
	groups map[string]bool
}

// entry names the i-th entry of a list by index and, when it has a usable one, its ID:
// "people[3] (jonas-n)", so that a long directory's problems are found without counting.
func entry(list string, i int, id string) string {
	if reID.MatchString(id) {
		return fmt.Sprintf("%s[%d] (%s)", list, i, id)
	}
	return fmt.Sprintf("%s[%d]", list, i)
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, problem(path, format, args...))
}

// general checks the time zone, language and the engine's durations.
func (v *validator) general(c *Config) {
	if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
		v.add("timezone", "unknown time zone %q", c.Timezone)
	}
	if !slices.Contains(bot.Languages, c.Language) {
		v.add("language", "unknown language %q (want one of %s)", c.Language, strings.Join(bot.Languages, ", "))
	}
	if c.Delivery.ClaimTimeout.D() < time.Second {
		v.add("delivery.claim_timeout", "must be at least 1s")
	}
	if c.Delivery.MaxAttempts < 1 {
		v.add("delivery.max_attempts", "must be at least 1")
	}
	if c.Reconcile.Interval.D() < time.Second {
		v.add("reconcile.interval", "must be at least 1s")
	}
	if c.Dialogs.IdleTimeout.D() < time.Minute {
		v.add("dialogs.idle_timeout", "must be at least 1m")
	}
	if c.Invites.TTL.D() < time.Hour {
		v.add("invites.ttl", "must be at least 1h")
	}
	if _, err := regexp.Compile(c.Cases.CodePattern); err != nil {
		v.add("cases.code_pattern", "not a regular expression: %v", err)
	} else if regexp.MustCompile(c.Cases.CodePattern).MatchString("Jonas Jonaitis") {
		v.add("cases.code_pattern", "matches a name; a case code must not look like one")
	} else if !strings.HasPrefix(c.Cases.CodePattern, "^") || !strings.HasSuffix(c.Cases.CodePattern, "$") {
		v.add("cases.code_pattern", "must match the whole code: start with ^ and end with $ (codes over %d characters are refused in any case)", bot.MaxCaseCode)
	}
	for i, h := range c.Calendar.SchoolHolidays {
		p := fmt.Sprintf("calendar.school_holidays[%d]", i)
		from, err1 := time.Parse("2006-01-02", h.From)
		to, err2 := time.Parse("2006-01-02", h.To)
		if err1 != nil {
			v.add(p+".from", "want YYYY-MM-DD, got %q", h.From)
		}
		if err2 != nil {
			v.add(p+".to", "want YYYY-MM-DD, got %q", h.To)
		}
		if err1 == nil && err2 == nil && to.Before(from) {
			v.add(p, "ends before it starts")
		}
	}
}

// redis checks where state lives.
func (v *validator) redis(r Redis) {
	switch {
	case len(r.Sentinel.Addrs) > 0 && len(r.Cluster.Addrs) > 0:
		v.add("redis", "give sentinel or cluster, not both")
	case len(r.Sentinel.Addrs) > 0 && r.Sentinel.Master == "":
		v.add("redis.sentinel.master", "required with sentinel addrs")
	case len(r.Sentinel.Addrs) == 0 && len(r.Cluster.Addrs) == 0:
		if u, err := url.Parse(r.URL); err != nil || !slices.Contains([]string{"redis", "rediss", "unix"}, u.Scheme) {
			v.add("redis.url", "want redis://host:port/db, rediss://… or unix://…, got %q", RedactURL(r.URL))
		}
	}
	if r.Prefix == "" || strings.ContainsAny(r.Prefix, "{} *?") {
		v.add("redis.prefix", "must be non-empty without spaces, braces or wildcards")
	}
}

// http checks the listeners and the public URL.
func (v *validator) http(c *Config) {
	if c.HTTP.Listen == "" || !strings.Contains(c.HTTP.Listen, ":") {
		v.add("http.listen", "want host:port or :port, got %q", c.HTTP.Listen)
	}
	if c.HTTP.MetricsListen != "" && !strings.Contains(c.HTTP.MetricsListen, ":") {
		v.add("http.metrics_listen", "want host:port or :port, got %q", c.HTTP.MetricsListen)
	}
	if c.HTTP.DeskListen != "" && (!strings.Contains(c.HTTP.DeskListen, ":") || c.HTTP.DeskListen == c.HTTP.Listen || c.HTTP.DeskListen == c.HTTP.MetricsListen) {
		v.add("http.desk_listen", "want host:port or :port of its own, got %q", c.HTTP.DeskListen)
	}
	if c.HTTP.PublicURL != "" {
		if u, err := url.Parse(c.HTTP.PublicURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			v.add("http.public_url", "want an absolute http(s) URL, got %q", c.HTTP.PublicURL)
		}
	}
	if c.HTTP.MaxBody <= 0 {
		v.add("http.max_body", "must be positive")
	}
}

// platforms checks what of the chat platforms' sections concerns Tiltas as a whole.
func (v *validator) platforms(c *Config) {
	// The adapters check their own sections (their token, mode and secrets: telegram.Config and
	// slack.Config Validate, passed in as checks); what concerns Tiltas as a whole is here.
	t, s := c.Telegram, c.Slack
	if t.Token != "" && t.Mode == "webhook" && c.HTTP.PublicURL == "" {
		v.add("http.public_url", "required for telegram webhook mode")
	}
	v.url("telegram.api_url", t.APIURL)
	v.limits("telegram.limits", t.Limits)
	if s.BotToken != "" && s.Mode == "http" && c.HTTP.PublicURL == "" {
		v.add("http.public_url", "required for slack http mode")
	}
	v.url("slack.api_url", s.APIURL)
	v.limits("slack.limits", s.Limits)
}

// storage checks the encryption keys and the retention periods.
func (v *validator) storage(c *Config) {
	ids := map[string]bool{}
	for i, k := range c.Encryption.Keys {
		p := fmt.Sprintf("encryption.keys[%d]", i)
		if !reID.MatchString(k.ID) {
			v.add(p+".id", "want a short id of a-z, 0-9, _ and -, got %q", k.ID)
		} else if ids[k.ID] {
			v.add(p+".id", "duplicate key id %q", k.ID)
		}
		ids[k.ID] = true
		unread := k.Key == "" && (k.KeyEnv != "" || k.KeyFile != "") // not resolved here (LoadNoSecrets), or its error is listed
		if b, err := base64.StdEncoding.DecodeString(k.Key); !unread && (k.Key == "" || err != nil || len(b) != 32) {
			v.add(p+".key", "want 32 bytes, base64-encoded (openssl rand -base64 32)")
		}
	}
	for _, r := range []struct {
		p string
		d Duration
	}{{"retention.alerts", c.Retention.Alerts}, {"retention.visits", c.Retention.Visits}, {"retention.meetings", c.Retention.Meetings}, {"retention.audit", c.Retention.Audit}} {
		if r.d.D() < 24*time.Hour {
			v.add(r.p, "must be at least 1d")
		}
	}
}

func (v *validator) url(path, s string) {
	if u, err := url.Parse(s); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.add(path, "want an absolute http(s) URL, got %q", RedactURL(s))
	}
}

func (v *validator) limits(path string, l Limits) {
	for _, r := range []struct {
		p string
		r Rate
	}{{".global", l.Global}, {".per_chat", l.PerChat}, {".per_group", l.PerGroup}} {
		if r.r.N < 0 || r.r.N > 0 && r.r.Window <= 0 {
			v.add(path+r.p, "want n >= 0 and a positive window")
		}
	}
}

func (v *validator) directory(c *Config) {
	v.people, v.insts, v.groups = map[string]*Person{}, map[string]*Institution{}, map[string]bool{}
	for i := range c.Institutions {
		in := &c.Institutions[i]
		p := entry("institutions", i, in.ID)
		if !reID.MatchString(in.ID) {
			v.add(p+".id", "want a short id of a-z, 0-9, _ and -, got %q", in.ID)
		} else if v.insts[in.ID] != nil {
			v.add(p+".id", "duplicate institution %q", in.ID)
		}
		v.insts[in.ID] = in
		if in.Name == "" {
			v.add(p+".name", "required")
		}
		if !slices.Contains(kinds, in.Kind) {
			v.add(p+".kind", "unknown kind %q (want one of %s)", in.Kind, strings.Join(kinds, ", "))
		}
	}
	for i := range c.People {
		pe := &c.People[i]
		p := entry("people", i, pe.ID)
		if !reID.MatchString(pe.ID) {
			v.add(p+".id", "want a short id of a-z, 0-9, _ and -, got %q", pe.ID)
		} else if v.people[pe.ID] != nil {
			v.add(p+".id", "duplicate person %q", pe.ID)
		}
		v.people[pe.ID] = pe
		if pe.Name == "" {
			v.add(p+".name", "required")
		}
		if v.insts[pe.Institution] == nil {
			v.add(p+".institution", "unknown institution %q", pe.Institution)
		}
		if len(pe.Roles) == 0 {
			v.add(p+".roles", "at least one role is required")
		}
		for j, r := range pe.Roles {
			if !bot.Role(r).Valid() {
				v.add(fmt.Sprintf("%s.roles[%d]", p, j), "unknown role %q", r)
			}
		}
		if !slices.Contains(bot.Languages, pe.Language) {
			v.add(p+".language", "unknown language %q", pe.Language)
		}
		if pe.QuietHours != "" {
			if _, err := bot.ParseQuietHours(pe.QuietHours); err != nil {
				v.add(p+".quiet_hours", "%v", err)
			}
		}
	}
	coordinator := false
	for _, pe := range c.People {
		coordinator = coordinator || slices.Contains(pe.Roles, string(bot.RoleCoordinator))
	}
	switch {
	case len(c.People) == 0:
		v.add("people", "at least one person is required")
	case !coordinator:
		v.add("people", "nobody has the coordinator role: escalation chains and undeliverable messages end with the coordinator")
	}
	for i, in := range c.Institutions {
		p := entry("institutions", i, in.ID)
		for _, f := range []struct{ name, id string }{{"designated_contact", in.DesignatedContact}, {"head", in.Head}} {
			if f.id == "" {
				if in.Kind == "school" {
					v.add(p+"."+f.name, "required for a school")
				}
				continue
			}
			if pe := v.people[f.id]; pe == nil {
				v.runtimePerson(p+"."+f.name, f.id)
			} else if pe.Institution != in.ID {
				v.add(p+"."+f.name, "%q works at %q, not here", f.id, pe.Institution)
			}
		}
	}
	for i, g := range c.Groups {
		p := entry("groups", i, g.ID)
		if !reID.MatchString(g.ID) {
			v.add(p+".id", "want a short id of a-z, 0-9, _ and -, got %q", g.ID)
		} else if v.groups[g.ID] {
			v.add(p+".id", "duplicate group %q", g.ID)
		}
		v.groups[g.ID] = true
		if !slices.Contains([]string{"telegram", "slack", "console"}, g.Platform) {
			v.add(p+".platform", "want telegram, slack or console, got %q", g.Platform)
		}
		if g.Chat == "" {
			v.add(p+".chat", "required")
		}
	}
	seen := map[string]bool{}
	tokens := map[string]int{}
	for i, in := range c.Integrations {
		p := fmt.Sprintf("integrations[%d]", i)
		if !reID.MatchString(in.ID) || seen[in.ID] {
			v.add(p+".id", "want a unique short id, got %q", in.ID)
		}
		seen[in.ID] = true
		if in.Token == "" && in.TokenEnv == "" && in.TokenFile == "" {
			v.add(p+".token", "required (token_env or token_file)")
		} else if in.Token != "" && len(in.Token) < 24 {
			v.add(p+".token", "too short: use at least 24 random characters")
		}
		if j, dup := tokens[in.Token]; dup && in.Token != "" {
			// One token, two integrations: the last would win and the first's reads answer 404.
			v.add(p+".token", "the same token as integrations[%d]: give each integration its own", j)
		} else if in.Token != "" {
			tokens[in.Token] = i
		}
		if v.insts[in.Institution] == nil {
			v.add(p+".institution", "unknown institution %q", in.Institution)
		}
	}
}

func (v *validator) roles(path string, rs []string) {
	for i, r := range rs {
		if !bot.Role(r).Valid() {
			v.add(fmt.Sprintf("%s[%d]", path, i), "unknown role %q", r)
		}
	}
}

func (v *validator) personIDs(path string, ids []string) {
	for i, id := range ids {
		if v.people[id] == nil {
			v.runtimePerson(fmt.Sprintf("%s[%d]", path, i), id)
		}
	}
}

// runtimePerson notes a person the config names but does not list: someone added in chat (the
// ID /people shows) or by tiltas people import. It is a warning, not an error, as the file
// cannot know; a mistyped ID reaches nobody, which doctor and check-config say.
func (v *validator) runtimePerson(path, id string) {
	if !reID.MatchString(id) {
		v.add(path, "want a person ID, got %q", id)
		return
	}
	v.cfg.Warnings = append(v.cfg.Warnings, fmt.Sprintf("%s: %q is not in people: it must be someone added in chat (/people shows their ID) or by tiltas people import, or it reaches nobody", path, id))
}

func (v *validator) audience(path string, a Audience) {
	v.personIDs(path+".people", a.People)
	v.roles(path+".roles", a.Roles)
	for i, id := range a.Institutions {
		if v.insts[id] == nil {
			v.add(fmt.Sprintf("%s.institutions[%d]", path, i), "unknown institution %q", id)
		}
	}
	if len(a.People)+len(a.Roles)+len(a.Institutions) == 0 {
		v.add(path, "names nobody")
	}
}

func (v *validator) alerts(c *Config) {
	a := c.Alerts
	for i, cat := range a.Categories {
		if !reID.MatchString(cat) {
			v.add(fmt.Sprintf("alerts.categories[%d]", i), "want a short id, got %q", cat)
		}
	}
	v.roles("desk.roles", v.cfg.Desk.Roles)
	v.roles("requests.askers", v.cfg.Requests.Askers)
	if v.cfg.Requests.DueDays < 0 || v.cfg.Requests.DueDays > 60 {
		v.add("requests.due_days", "want 1 to 60 working days, got %d", v.cfg.Requests.DueDays)
	}
	v.roles("alerts.senders", a.Senders)
	v.roles("alerts.notices.senders", a.Notices.Senders)
	if _, _, err := bot.ParseClock(a.Notices.Deadline); err != nil {
		v.add("alerts.notices.deadline", "want HH:MM, got %q", a.Notices.Deadline)
	}
	if a.DescriptionMax < 20 || a.DescriptionMax > 2000 {
		v.add("alerts.description_max", "want 20 to 2000")
	}
	if a.AckTimeout.D() < time.Minute {
		v.add("alerts.ack_timeout", "must be at least 1m")
	}
	if a.AckGrace.D() < time.Minute {
		v.add("alerts.ack_grace", "must be at least 1m")
	}
	if a.AckNight != "" {
		if _, err := bot.ParseQuietHours(a.AckNight); err != nil {
			v.add("alerts.ack_night", "%v", err)
		}
	}
	for i, r := range a.Rules {
		p := fmt.Sprintf("alerts.rules[%d]", i)
		for j, cat := range r.Categories {
			if !slices.Contains(a.Categories, cat) {
				v.add(fmt.Sprintf("%s.categories[%d]", p, j), "unknown category %q", cat)
			}
		}
		for j, u := range r.Urgency {
			if !slices.Contains(urgencies, u) {
				v.add(fmt.Sprintf("%s.urgency[%d]", p, j), "want urgent, today or routine, got %q", u)
			}
		}
		for j, id := range r.Institutions {
			if v.insts[id] == nil {
				v.add(fmt.Sprintf("%s.institutions[%d]", p, j), "unknown institution %q", id)
			}
		}
		if r.Repeat < 0 || r.Repeat > 10 {
			v.add(p+".repeat", "want 0 to 10")
		}
		if len(r.Steps) == 0 {
			v.add(p+".steps", "at least one step is required")
			continue
		}
		for j, s := range r.Steps {
			sp := fmt.Sprintf("%s.steps[%d]", p, j)
			if len(s.People)+len(s.Roles)+len(s.Groups) == 0 {
				v.add(sp, "notifies nobody: give people, roles or groups")
			}
			v.personIDs(sp+".people", s.People)
			v.roles(sp+".roles", s.Roles)
			if s.Institution != "" && v.insts[s.Institution] == nil {
				v.add(sp+".institution", "unknown institution %q", s.Institution)
			}
			for k, g := range s.Groups {
				if !v.groups[g] {
					v.add(fmt.Sprintf("%s.groups[%d]", sp, k), "unknown group %q", g)
				}
			}
			if s.Wait.D() < time.Minute {
				v.add(sp+".wait", "must be at least 1m")
			}
		}
		lastStep := r.Steps[len(r.Steps)-1]
		reaches := slices.Contains(lastStep.Roles, string(bot.RoleCoordinator))
		for _, id := range lastStep.People {
			if pe := v.people[id]; pe != nil && slices.Contains(pe.Roles, string(bot.RoleCoordinator)) {
				reaches = true
			}
		}
		if !reaches {
			v.add(fmt.Sprintf("%s.steps[%d]", p, len(r.Steps)-1), "the last step must reach the coordinator (roles: [coordinator])")
		}
	}
}

func (v *validator) schedule(path, rule, start string) {
	if _, err := time.Parse("2006-01-02 15:04", start); err != nil {
		v.add(path+".start", "want YYYY-MM-DD HH:MM (local time), got %q", start)
	}
	st, _ := time.Parse("2006-01-02 15:04", start)
	if _, err := scheduler.ParseRRule(rule, st); err != nil || rule == "" {
		v.add(path+".rrule", "not an RFC 5545 RRULE: %q", rule)
	}
}

func (v *validator) meetings(c *Config) {
	ids := map[string]bool{}
	for i, s := range c.Meetings {
		p := entry("meetings", i, s.ID)
		if !reID.MatchString(s.ID) || ids[s.ID] {
			v.add(p+".id", "want a unique short id, got %q", s.ID)
		}
		ids[s.ID] = true
		if s.Title == "" {
			v.add(p+".title", "required")
		}
		v.schedule(p, s.RRule, s.Start)
		// Occurrences are known by their date (answers and agenda stay with them when they
		// move), so a series meets at most once a day.
		if o, err := rrule.StrToROption(s.RRule); err == nil && o.Freq > rrule.DAILY {
			v.add(p+".rrule", "meet at most daily (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY), got %q", s.RRule)
		}
		if s.Duration.D() < time.Minute {
			v.add(p+".duration", "must be at least 1m")
		}
		v.audience(p+".invitees", s.Invitees)
		if len(s.Organizers) == 0 {
			v.add(p+".organizers", "at least one organizer is required")
		}
		v.personIDs(p+".organizers", s.Organizers)
		for j, r := range s.Reminders {
			if r.D() <= 0 {
				v.add(fmt.Sprintf("%s.reminders[%d]", p, j), "must be positive")
			}
		}
		if !slices.Contains([]string{"move", "skip", "ignore"}, s.Holidays) {
			v.add(p+".holidays", "want move, skip or ignore, got %q", s.Holidays)
		}
		if s.VideoURL != "" {
			v.url(p+".video_url", s.VideoURL)
		}
	}
}

func (v *validator) visits(c *Config) {
	for i, r := range c.Visits.Reminders {
		if r.D() <= 0 {
			v.add(fmt.Sprintf("visits.reminders[%d]", i), "must be positive")
		}
	}
	if d := c.Visits.Deadline.D(); d <= 0 || d > 30*24*time.Hour {
		v.add("visits.deadline", "want more than 0 and at most 30d")
	}
	if c.Visits.OutcomeNudge.D() < time.Hour {
		v.add("visits.outcome_nudge", "must be at least 1h")
	}
	if n := c.Visits.DescriptorMax; n < 20 || n > 2000 {
		v.add("visits.note_max", "want 20 to 2000")
	}
	areas := map[string]bool{}
	for _, in := range c.Institutions {
		for _, a := range in.Areas {
			areas[a] = true
		}
	}
	for _, p := range c.People {
		for _, a := range p.Areas {
			areas[a] = true
		}
	}
	ids := map[string]bool{}
	for i, s := range c.Visits.Series {
		p := fmt.Sprintf("visits.series[%d]", i)
		if !reID.MatchString(s.ID) || ids[s.ID] {
			v.add(p+".id", "want a unique short id, got %q", s.ID)
		}
		ids[s.ID] = true
		v.schedule(p, s.RRule, s.Start)
		if len(s.Required) == 0 {
			v.add(p+".required", "name the roles needed, e.g. {police: 1, social_worker: 1}")
		}
		for role, n := range s.Required {
			if !bot.Role(role).Valid() {
				v.add(p+".required."+role, "unknown role %q", role)
			} else if n < 1 || n > 10 {
				v.add(p+".required."+role, "want 1 to 10")
			}
		}
		v.audience(p+".invitees", s.Invitees)
		if v.people[s.Organizer] == nil {
			v.runtimePerson(p+".organizer", s.Organizer)
		}
		if !areas[s.Area] {
			v.add(p+".area", "unknown area %q (areas are named by institutions and people)", s.Area)
		}
		if d := s.Duration.D(); d < 30*time.Minute || d > 12*time.Hour {
			v.add(p+".duration", "want 30m to 12h")
		}
	}
}
