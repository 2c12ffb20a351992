package config_test

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/scheduler"
)

// fuzzEnv is the environment the fuzzed files see: one variable set, the rest unset.
func fuzzEnv(name string) string {
	if name == "TILTAS_FUZZ_SECRET" {
		return "fuzz-secret-value-0123456789abcdef"
	}
	return ""
}

// namesAFile reports whether any string in the YAML document data contains "_file": a secret's
// _file twin would make Parse read whatever path the fuzzer wrote (/dev/zero never ends), which is
// the file system's business, not the parser's.
func namesAFile(data []byte) bool {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return false // Parse stops at the YAML error, before any file is read
	}
	var walk func(n *yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		if strings.Contains(n.Value, "_file") || strings.Contains(n.Anchor, "_file") {
			return true
		}
		for _, c := range n.Content {
			if walk(c) {
				return true
			}
		}
		return false
	}
	return walk(&root)
}

// FuzzConfigParse feeds arbitrary files to config.Parse. It never panics; every error is a
// *config.Errors with at least one problem, each a line of text; an accepted file gives a config
// whose durations are none negative, from which everything cmd/tiltas builds (directory,
// settings, flows' settings, summary, redacted copy) can be built.
func FuzzConfigParse(f *testing.F) {
	f.Add(config.Example())
	f.Add([]byte(directory))
	f.Fuzz(func(t *testing.T, data []byte) {
		if namesAFile(data) {
			t.Skip("names a secret file")
		}
		c, err := config.Parse(bytes.NewReader(data), fuzzEnv)
		if err != nil {
			var errs *config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not a *config.Errors: %v", err, err)
			}
			if len(errs.List) == 0 {
				t.Fatal("a *config.Errors listing no problem")
			}
			for i, e := range errs.List {
				if e == nil || strings.TrimSpace(e.Error()) == "" {
					t.Fatalf("problem %d of %d is empty: %#v", i, len(errs.List), e)
				}
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("the error prints as nothing")
			}
			return
		}
		if c == nil {
			t.Fatal("no error and no config")
		}
		checkDurations(t, reflect.ValueOf(c).Elem(), "")
		d := c.Directory()
		if d == nil || d.Location == nil || len(d.People) != len(c.People) || len(d.Institutions) != len(c.Institutions) || len(d.Groups) != len(c.Groups) {
			t.Fatalf("directory %+v from %d people, %d institutions, %d groups", d, len(c.People), len(c.Institutions), len(c.Groups))
		}
		for _, p := range c.People {
			if d.Person(p.ID) == nil {
				t.Fatalf("person %q not in the directory", p.ID)
			}
		}
		s := c.Settings()
		if s.CaseCode == nil || s.CaseCode.MatchString("Jonas Jonaitis") {
			t.Fatalf("case code pattern %v", s.CaseCode)
		}
		_ = c.AlertsFlow()
		_ = c.MeetingsFlow(scheduler.ParseRRule)
		_ = c.VisitsFlow(scheduler.ParseRRule)
		_ = c.WorkCalendar()
		if c.Summary() == "" {
			t.Fatal("empty summary")
		}
		before := secretValues(c)
		r := c.Redacted()
		if after := secretValues(c); !reflect.DeepEqual(after, before) {
			t.Fatalf("Redacted changed the config's own secrets: %q, was %q", after, before)
		}
		for i, v := range secretValues(&r) {
			if v != "" && v != "REDACTED" {
				t.Fatalf("secret %d kept in the redacted copy", i)
			}
		}
	})
}

// secretValues lists c's secrets (after Parse resolved them).
func secretValues(c *config.Config) []string {
	out := []string{c.Redis.Password, c.Telegram.Token, c.Telegram.WebhookSecret, c.Slack.BotToken, c.Slack.AppToken, c.Slack.SigningSecret}
	for _, in := range c.Integrations {
		out = append(out, in.Token)
	}
	for _, k := range c.Encryption.Keys {
		out = append(out, k.Key)
	}
	return out
}

// checkDurations fails on any negative config.Duration in v.
func checkDurations(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.Type() == reflect.TypeFor[config.Duration]() {
		if d := time.Duration(v.Int()); d < 0 {
			t.Fatalf("%s: accepted a negative duration %v", path, d)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				checkDurations(t, v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			checkDurations(t, v.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			checkDurations(t, it.Value(), path+"."+it.Key().String())
		}
	case reflect.Pointer:
		if !v.IsNil() {
			checkDurations(t, v.Elem(), path)
		}
	}
}

// FuzzParseDuration checks the reading of every duration in the file ("90m", "72h", "365d"):
// what is accepted is not negative, reads back the same from its own String(), and a whole
// number of days is exactly that many days.
func FuzzParseDuration(f *testing.F) {
	f.Add("72h")
	f.Add("d")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := config.ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		if back, err := config.ParseDuration(d.String()); err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, which reads back as %v (%v)", s, d, back, err)
		}
		if days, ok := strings.CutSuffix(strings.TrimSpace(s), "d"); ok {
			n, err := strconv.Atoi(days)
			if err != nil || d%(24*time.Hour) != 0 || int64(d/(24*time.Hour)) != int64(n) {
				t.Fatalf("ParseDuration(%q) = %v (%d days and %v), want %s days", s, d, d/(24*time.Hour), d%(24*time.Hour), days)
			}
		}
	})
}
