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
		`institutions[1].designated_contact: unknown person "nobody"`,
		`institutions[1].head: required for a school`,
		`people[1].id: duplicate person "ona"`,
		`people[2].roles[0]: unknown role "wizard"`,
		`people[3].institution: unknown institution "vtas"`,
		`people[3].quiet_hours: want HH:MM-HH:MM`,
		`alerts.rules[0].steps[0]: the last step must reach the coordinator`,
		`people: nobody has the coordinator role`,
		`meetings[0].rrule: not an RFC 5545 RRULE`,
		`meetings[0].start: want YYYY-MM-DD HH:MM`,
		`meetings[0].organizers[0]: unknown person "ghost"`,
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
	for _, w := range []string{"redis.urll: unknown key (line 2)", "people[0].nmae: unknown key (line 4)", `people[0].institution: unknown institution ""`} {
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
	env := func(k string) string {
		if k == "TG" {
			return "123:from-env"
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
