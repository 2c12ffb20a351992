package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/config"
)

func noEnv(string) string { return "" }

// directory is the smallest valid directory: one coordinator.
const directory = `
institutions: [{id: savivaldybe, name: Savivaldybė, kind: municipality}]
people: [{id: jurate, name: Jūratė, institution: savivaldybe, roles: [coordinator]}]
`

func TestExampleIsValid(t *testing.T) {
	t.Setenv("TILTAS_KEY_2026", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=") // as its comment asks
	c, err := config.Load("example.yaml")
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	d := c.Directory()
	if d.Location.String() != "Europe/Vilnius" || d.Language != "lt" {
		t.Errorf("defaults: zone %s, language %s", d.Location, d.Language)
	}
	for _, kind := range []string{"police", "social_services", "probation", "child_rights", "school", "municipality"} {
		found := false
		for _, in := range d.Institutions {
			found = found || in.Kind == kind
		}
		if !found {
			t.Errorf("example models no %s institution", kind)
		}
	}
	if len(d.WithRole("coordinator")) == 0 {
		t.Error("example has no coordinator")
	}
	if got := c.Meetings[0].RRule; got != "FREQ=MONTHLY;BYDAY=1TH" {
		t.Errorf("heads' meeting rule = %q", got)
	}
}

func TestEveryProblemListedWithItsPath(t *testing.T) {
	in := `
timezone: Europe/Atlantis
language: lt
http: {listen: "8080"}
institutions:
  - {id: policija, name: Policija, kind: police}
  - {id: mokykla, name: Mokykla, kind: school, designated_contact: nobody}
people:
  - {id: ona, name: Ona, institution: policija, roles: [police]}
  - {id: ona, name: Ona 2, institution: policija, roles: [police]}
  - {id: jonas, name: Jonas, institution: policija, roles: [wizard]}
  - {id: rasa, name: Rasa, institution: vtas, roles: [child_rights], quiet_hours: "late"}
alerts:
  rules:
    - steps:
        - {roles: [police], wait: 10m}
meetings:
  - {id: m, title: M, rrule: "FREQ=SOMETIMES", start: "first of May", invitees: {roles: [leader]}, organizers: [ghost]}
`
	_, err := config.Parse(strings.NewReader(in), noEnv)
	var errs *config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want config.Errors, got %v", err)
	}
	want := []string{
		`timezone: unknown time zone "Europe/Atlantis"`,
		`http.listen: want host:port`,
		`institutions[1] (mokykla).head: required for a school`,
		`people[1] (ona).id: duplicate person "ona"`,
		`people[2] (jonas).roles[0]: unknown role "wizard"`,
		`people[3] (rasa).institution: unknown institution "vtas"`,
		`people[3] (rasa).quiet_hours: want HH:MM-HH:MM`,
		`alerts.rules[0].steps[0]: the last step must reach the coordinator`,
		`people: nobody has the coordinator role`,
		`meetings[0] (m).rrule: not an RFC 5545 RRULE`,
		`meetings[0] (m).start: want YYYY-MM-DD HH:MM`,
	}
	text := err.Error()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("missing problem %q in:\n%s", w, text)
		}
	}
	if len(errs.List) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(errs.List), len(want), text)
	}
}

func TestUnknownKeysAreErrors(t *testing.T) {
	_, err := config.Parse(strings.NewReader("redis:\n  urll: redis://x\npeople:\n  - {id: a, nmae: A}\n"), noEnv)
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, w := range []string{"redis.urll: unknown key (line 2)", "people[0] (a).nmae: unknown key (line 4)", `people[0] (a).institution: unknown institution ""`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}

func TestSecretsComeFromExactlyOneSource(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("123:from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n\t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		switch k {
		case "TG":
			return "123:from-env"
		case "BLANK":
			return "  \n"
		}
		return ""
	}
	tests := []struct {
		name    string
		yaml    string
		want    string
		problem string
	}{
		{"env", "telegram: {token_env: TG}", "123:from-env", ""},
		{"file", "telegram: {token_file: " + file + "}", "123:from-file", ""},
		{"inline", "telegram: {token: '123:inline'}", "123:inline", ""},
		{"two sources", "telegram: {token: x, token_env: TG}", "", "telegram.token: give at most one of token, token_file and token_env"},
		{"unset variable", "telegram: {token_env: MISSING}", "", "telegram.token_env: environment variable MISSING is not set"},
		{"missing file", "telegram: {token_file: /nonexistent/t}", "", "telegram.token_file: cannot read /nonexistent/t"},
		// Given but empty turns the platform off silently unless it is an error.
		{"blank variable", "telegram: {token_env: BLANK}", "", "telegram.token_env: environment variable BLANK is empty"},
		{"blank file", "slack: {bot_token_file: " + empty + "}", "", "slack.bot_token_file: " + empty + " is empty"},
		{"blank inline", "telegram: {token: '  '}", "", "telegram.token: is blank"},
		{"blank integration token", "integrations: [{id: mokykla, institution: savivaldybe, token_file: " + empty + "}]", "", "integrations[0].token_file: " + empty + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse(strings.NewReader(tt.yaml+directory), env)
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("want %q, got %v", tt.problem, err)
				}
				if strings.Contains(err.Error(), "from-env") {
					t.Error("error message reveals the secret")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Telegram.Token != tt.want {
				t.Errorf("token = %q, want %q", c.Telegram.Token, tt.want)
			}
			if r := c.Redacted(); r.Telegram.Token == tt.want {
				t.Error("Redacted kept the token")
			}
		})
	}
}

func TestDurationsInDays(t *testing.T) {
	c, err := config.Parse(strings.NewReader("retention: {alerts: 30d}\ndialogs: {idle_timeout: 45m}\n"+directory), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Retention.Alerts.D() != 30*24*time.Hour || c.Dialogs.IdleTimeout.D() != 45*time.Minute {
		t.Errorf("durations: %v %v", c.Retention.Alerts.D(), c.Dialogs.IdleTimeout.D())
	}
}

func TestAnEmptyFileIsNotAMunicipality(t *testing.T) {
	_, err := config.Parse(strings.NewReader(""), noEnv)
	if err == nil || !strings.Contains(err.Error(), "people: at least one person is required") {
		t.Fatalf("empty file: %v", err)
	}
}

func TestSecretFilesOthersCanReadAreWarnedOf(t *testing.T) {
	dir := t.TempDir()
	private, shared := filepath.Join(dir, "private"), filepath.Join(dir, "shared")
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{private, 0o640}, {shared, 0o644}} {
		if err := os.WriteFile(f.path, []byte("123:token\n"), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f.path, f.mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	c, err := config.Parse(strings.NewReader("telegram: {token_file: "+private+"}"+directory), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("a file only its owner and group can read: warnings %q", c.Warnings)
	}
	c, err = config.Parse(strings.NewReader("telegram: {token_file: "+shared+"}"+directory), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], "telegram.token_file: "+shared+" can be read or written by other users") {
		t.Errorf("a file everyone can read: warnings %q", c.Warnings)
	}
	if strings.Contains(strings.Join(c.Warnings, ""), "123:token") {
		t.Error("the warning reveals the secret")
	}
}

func TestTwoIntegrationsCannotShareAToken(t *testing.T) {
	yaml := `integrations:
  - {id: mokykla, institution: savivaldybe, token: abcdefghijklmnopqrstuvwxyz012345}
  - {id: policija, institution: savivaldybe, token: abcdefghijklmnopqrstuvwxyz012345}
` + directory
	_, err := config.Parse(strings.NewReader(yaml), noEnv)
	if err == nil || !strings.Contains(err.Error(), "integrations[1].token: the same token as integrations[0]") {
		t.Fatalf("want the shared token refused, got %v", err)
	}
	if strings.Contains(err.Error(), "abcdefghij") {
		t.Error("the error reveals the token")
	}
}

func TestURLsInErrorsHaveNoPassword(t *testing.T) {
	for _, raw := range []string{"http://tiltas:s3cret@redis:6379/0", "redis://tiltas:s3cret@redis:%zz/0"} {
		_, err := config.Parse(strings.NewReader("redis: {url: '"+raw+"'}"+directory), noEnv)
		if err == nil || !strings.Contains(err.Error(), "redis.url") {
			t.Fatalf("%s: want a redis.url problem, got %v", raw, err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error reveals the password: %v", err)
		}
	}
	if got := config.RedactURL("redis://tiltas:s3cret@redis:6379/0"); got != "redis://tiltas:xxxxx@redis:6379/0" {
		t.Errorf("RedactURL = %q", got)
	}
}

func TestCaseCodesAreWholeAndShort(t *testing.T) {
	_, err := config.Parse(strings.NewReader("cases: {code_pattern: 'K-[0-9]+'}"+directory), noEnv)
	if err == nil || !strings.Contains(err.Error(), "cases.code_pattern: must match the whole code") {
		t.Fatalf("want an unanchored pattern refused, got %v", err)
	}
	c, err := config.Parse(strings.NewReader(directory), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Settings()
	if !s.ValidCaseCode("K-2026-" + strings.Repeat("1", 57)) { // 64 characters
		t.Error("a 64-character code refused")
	}
	if s.ValidCaseCode("K-2026-" + strings.Repeat("1", 58)) {
		t.Error("a 65-character code taken")
	}
}

func TestASecondYAMLDocumentIsAnError(t *testing.T) {
	_, err := config.Parse(strings.NewReader(directory+"---\nalerts: {ack_timeout: 1m}\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "more than one YAML document") {
		t.Fatalf("want the second document refused, got %v", err)
	}
}

// A value of the wrong type is one problem among the others, with its path, in one run.
func TestWrongTypesAreListedWithTheRest(t *testing.T) {
	in := `
alerts:
  ack_timeout: 4 hours
  description_max: many
http: {listen: "8080"}
people:
  - {id: jonas, name: Jonas, institution: savivaldybe, roles: coordinator}
  - {id: ona, name: Ona, institution: nowhere, roles: [coordinator]}
institutions: [{id: savivaldybe, name: Savivaldybė, kind: municipality}]
`
	_, err := config.Parse(strings.NewReader(in), noEnv)
	var errs *config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want config.Errors, got %v", err)
	}
	for _, w := range []string{
		`alerts.ack_timeout: invalid duration "4 hours" (want e.g. 30m, 72h, 7d) (line 3)`,
		"alerts.description_max: cannot unmarshal !!str `many` into int (line 4)",
		"people[0] (jonas).roles: cannot unmarshal !!str",
		`http.listen: want host:port`,
		`people[1] (ona).institution: unknown institution "nowhere"`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing problem %q in:\n%v", w, err)
		}
	}
}

// A person the config names but does not list may be someone added in chat: a warning that
// says so, not an error; something that cannot be an ID is still an error.
func TestPeopleAddedInChatMayBeNamed(t *testing.T) {
	in := directory + `meetings:
  - {id: m, title: M, rrule: "FREQ=MONTHLY;BYDAY=1TH", start: "2026-01-01 10:00", invitees: {roles: [leader]}, organizers: [jonas-naujas]}
`
	c, err := config.Parse(strings.NewReader(in), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], `meetings[0] (m).organizers[0]: "jonas-naujas" is not in people: it must be someone added in chat`) {
		t.Errorf("warnings %q", c.Warnings)
	}
	_, err = config.Parse(strings.NewReader(strings.Replace(in, "organizers: [jonas-naujas]", `organizers: ["Jonas Naujas"]`, 1)), noEnv)
	if err == nil || !strings.Contains(err.Error(), `meetings[0] (m).organizers[0]: want a person ID, got "Jonas Naujas"`) {
		t.Errorf("a name for an ID: %v", err)
	}
}

// A group on a platform that is not configured would hold its messages in the outbox for ever:
// check-config warns.
func TestGroupsOnAPlatformNotConfiguredAreWarnedOf(t *testing.T) {
	c, err := config.Parse(strings.NewReader(directory+"groups: [{id: vtas, name: VTAS, platform: telegram, chat: \"-100123\"}]\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], "groups[0] (vtas).platform: telegram is not configured here") {
		t.Errorf("warnings %q", c.Warnings)
	}
	c, err = config.Parse(strings.NewReader(directory+"telegram: {token: '123:abc'}\ngroups: [{id: vtas, name: VTAS, platform: telegram, chat: \"-100123\"}]\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("Telegram is configured: warnings %q", c.Warnings)
	}
}

// A bot username written with its "@" still makes a working deep link.
func TestBotUsernameWithAnAt(t *testing.T) {
	c, err := config.Parse(strings.NewReader(directory+"telegram: {bot_username: \"@tiltas_rajonas_bot\"}\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Settings().BotUsername; got != "tiltas_rajonas_bot" {
		t.Errorf("BotUsername = %q", got)
	}
}
