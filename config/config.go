// Package config loads Tiltas's one YAML file: defaults first, then a strict decode (unknown keys
// are errors), then secrets resolved, then Validate, which reports every problem at once with its
// path. Config is the source of truth for institutions, people, roles, areas, routing rules and
// configured meeting series.
package config

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Config is the whole file.
type Config struct {
	Timezone string `yaml:"timezone"`
	Language string `yaml:"language"`

	Redis     Redis     `yaml:"redis"`
	HTTP      HTTP      `yaml:"http"`
	Telegram  Telegram  `yaml:"telegram"`
	Slack     Slack     `yaml:"slack"`
	Delivery  Delivery  `yaml:"delivery"`
	Reconcile Reconcile `yaml:"reconcile"`

	Encryption Encryption `yaml:"encryption"`
	Dialogs    Dialogs    `yaml:"dialogs"`
	Invites    Invites    `yaml:"invites"`
	Staff      Staff      `yaml:"staff"`
	Desk       Desk       `yaml:"desk"`
	Cases      Cases      `yaml:"cases"`
	Retention  Retention  `yaml:"retention"`
	Calendar   Calendar   `yaml:"calendar"`

	Institutions []Institution `yaml:"institutions"`
	People       []Person      `yaml:"people"`
	Groups       []Group       `yaml:"groups"`
	Integrations []Integration `yaml:"integrations"`

	Alerts   Alerts   `yaml:"alerts"`
	Meetings []Series `yaml:"meetings"`

	// Warnings are what is allowed but unwise (a secret file others can read), for check-config
	// to print and serve to log; never secret values.
	Warnings []string `yaml:"-"`
	Visits   Visits   `yaml:"visits"`
	Requests Requests `yaml:"requests"`
}

// Redis says where state lives: one server (url), Sentinel, or Cluster.
type Redis struct {
	URL          string   `yaml:"url"`
	Password     string   `yaml:"password"`
	PasswordFile string   `yaml:"password_file"`
	PasswordEnv  string   `yaml:"password_env"`
	Prefix       string   `yaml:"prefix"`
	Sentinel     Sentinel `yaml:"sentinel"`
	Cluster      Cluster  `yaml:"cluster"`
}

// Sentinel names the master set and the sentinels.
type Sentinel struct {
	Master string   `yaml:"master"`
	Addrs  []string `yaml:"addrs"`
}

// Cluster lists seed nodes of a Redis Cluster.
type Cluster struct {
	Addrs []string `yaml:"addrs"`
}

// HTTP is the listener for health, metrics, webhooks, calendar feeds and the integration API.
type HTTP struct {
	Listen        string `yaml:"listen"`
	MetricsListen string `yaml:"metrics_listen"`
	// DeskListen, when set, serves the desk (/desk) on a listener of its own, for example one
	// only the municipality's network reaches; the desk's links still use public_url.
	DeskListen string `yaml:"desk_listen"`
	PublicURL  string `yaml:"public_url"`
	MaxBody    int64  `yaml:"max_body"`
}

// Telegram configures the Telegram adapter; it is on when a token is given.
type Telegram struct {
	Token             string `yaml:"token"`
	TokenFile         string `yaml:"token_file"`
	TokenEnv          string `yaml:"token_env"`
	APIURL            string `yaml:"api_url"`
	BotUsername       string `yaml:"bot_username"`
	Mode              string `yaml:"mode"` // polling or webhook
	WebhookSecret     string `yaml:"webhook_secret"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	WebhookSecretEnv  string `yaml:"webhook_secret_env"`
	Limits            Limits `yaml:"limits"`
}

// Slack configures the Slack adapter; it is on when a bot token is given.
type Slack struct {
	BotToken          string `yaml:"bot_token"`
	BotTokenFile      string `yaml:"bot_token_file"`
	BotTokenEnv       string `yaml:"bot_token_env"`
	AppToken          string `yaml:"app_token"`
	AppTokenFile      string `yaml:"app_token_file"`
	AppTokenEnv       string `yaml:"app_token_env"`
	SigningSecret     string `yaml:"signing_secret"`
	SigningSecretFile string `yaml:"signing_secret_file"`
	SigningSecretEnv  string `yaml:"signing_secret_env"`
	APIURL            string `yaml:"api_url"`
	Mode              string `yaml:"mode"` // socket or http
	Command           string `yaml:"command"`
	Limits            Limits `yaml:"limits"`
}

// Limits are a platform's send limits, as sliding windows.
type Limits struct {
	Global      Rate     `yaml:"global"`
	PerChat     Rate     `yaml:"per_chat"`
	PerGroup    Rate     `yaml:"per_group"`
	JitterGuard Duration `yaml:"jitter_guard"`
}

// Rate is N messages per window.
type Rate struct {
	N      int      `yaml:"n"`
	Window Duration `yaml:"window"`
}

// Delivery tunes the outbox workers.
type Delivery struct {
	ClaimTimeout Duration `yaml:"claim_timeout"`
	MaxAttempts  int      `yaml:"max_attempts"`
}

// Reconcile tunes the repair pass: every record whose effects (messages, timers, audit events)
// wait, and every live record's timers, are brought in line at start and every Interval.
type Reconcile struct {
	Interval Duration `yaml:"interval"`
}

// Encryption lists AES-256 keys, newest first: the first encrypts, all decrypt.
type Encryption struct {
	Keys []Key `yaml:"keys"`
	// Disabled says, explicitly, that case details may be stored unencrypted: serve refuses to
	// start without keys otherwise.
	Disabled bool `yaml:"disabled"`
}

// Key is one base64-encoded 32-byte key.
type Key struct {
	ID      string `yaml:"id"`
	Key     string `yaml:"key"`
	KeyFile string `yaml:"key_file"`
	KeyEnv  string `yaml:"key_env"`
}

// Dialogs tunes the dialog engine.
type Dialogs struct {
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// Invites tunes invite codes.
type Invites struct {
	TTL Duration `yaml:"ttl"`
}

// Staff says who manages the people besides the coordinators.
type Staff struct {
	// LeadersManage lets a leader of an institution (or a school's head) add, edit, deactivate
	// and invite the people of their own institution.
	LeadersManage bool `yaml:"leaders_manage"`
}

// Desk tunes the coordinator's web pages (served under http.public_url + "/desk").
type Desk struct {
	// Roles may sign in (default coordinator and leader).
	Roles []string `yaml:"roles"`
	// Idle ends a session after this long without a page (default 8h).
	Idle Duration `yaml:"idle"`
}

// Cases says what a case code looks like.
type Cases struct {
	CodePattern string `yaml:"code_pattern"`
	CodePrefix  string `yaml:"code_prefix"`
}

// Retention is how long records are kept after they close, per kind.
type Retention struct {
	Alerts   Duration `yaml:"alerts"`
	Visits   Duration `yaml:"visits"`
	Meetings Duration `yaml:"meetings"`
	Audit    Duration `yaml:"audit"`
}

// Calendar holds school holidays (public holidays are computed).
type Calendar struct {
	SchoolHolidays []DateRange `yaml:"school_holidays"`
}

// DateRange is an inclusive range of dates, YYYY-MM-DD.
type DateRange struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Institution is one institution of the municipality.
type Institution struct {
	ID                string   `yaml:"id"`
	Name              string   `yaml:"name"`
	Kind              string   `yaml:"kind"`
	Areas             []string `yaml:"areas"`
	DesignatedContact string   `yaml:"designated_contact"`
	Head              string   `yaml:"head"`
}

// Person is one member of staff.
type Person struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Institution string   `yaml:"institution"`
	Roles       []string `yaml:"roles"`
	Language    string   `yaml:"language"`
	Areas       []string `yaml:"areas"`
	QuietHours  string   `yaml:"quiet_hours"`
}

// Group is a group chat notices may go to.
type Group struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	Platform string `yaml:"platform"`
	Team     string `yaml:"team"`
	Chat     string `yaml:"chat"`
	Thread   string `yaml:"thread"`
}

// Integration is an outside system allowed to raise alerts through the API.
type Integration struct {
	ID          string `yaml:"id"`
	Token       string `yaml:"token"`
	TokenFile   string `yaml:"token_file"`
	TokenEnv    string `yaml:"token_env"`
	Institution string `yaml:"institution"`
}

// Alerts configures concerns and alerts.
type Alerts struct {
	Categories     []string   `yaml:"categories"`
	Senders        []string   `yaml:"senders"`
	DescriptionMax int        `yaml:"description_max"`
	AckTimeout     Duration   `yaml:"ack_timeout"`
	AckGrace       Duration   `yaml:"ack_grace"`
	AckNight       string     `yaml:"ack_night"`
	Rules          []Rule     `yaml:"rules"`
	Notices        NoticeConf `yaml:"notices"`
}

// Rule maps category and urgency (and optionally the sender's institution or area) to a chain.
type Rule struct {
	Name         string   `yaml:"name"`
	Categories   []string `yaml:"categories"`
	Urgency      []string `yaml:"urgency"`
	Institutions []string `yaml:"institutions"`
	Areas        []string `yaml:"areas"`
	Repeat       int      `yaml:"repeat"`
	Steps        []Step   `yaml:"steps"`
}

// Step is one escalation step: whom to notify, and how long to wait for an acknowledgement.
type Step struct {
	People      []string `yaml:"people"`
	Roles       []string `yaml:"roles"`
	Institution string   `yaml:"institution"`
	Groups      []string `yaml:"groups"`
	Wait        Duration `yaml:"wait"`
}

// NoticeConf configures notices to schools before the next school day.
type NoticeConf struct {
	Senders  []string `yaml:"senders"`
	Deadline string   `yaml:"deadline"`
}

// Series is a configured meeting series; a one-off meeting is a series of one (COUNT=1).
type Series struct {
	ID           string     `yaml:"id"`
	Title        string     `yaml:"title"`
	RRule        string     `yaml:"rrule"`
	Start        string     `yaml:"start"`
	Duration     Duration   `yaml:"duration"`
	Place        string     `yaml:"place"`
	VideoURL     string     `yaml:"video_url"`
	Invitees     Audience   `yaml:"invitees"`
	Organizers   []string   `yaml:"organizers"`
	Reminders    []Duration `yaml:"reminders"`
	RSVPDeadline Duration   `yaml:"rsvp_deadline"`
	AgendaCutoff Duration   `yaml:"agenda_cutoff"`
	Holidays     string     `yaml:"holidays"` // move, skip or ignore
}

// Audience names people directly, by role, or by institution (optionally by role within it).
type Audience struct {
	People       []string `yaml:"people"`
	Roles        []string `yaml:"roles"`
	Institutions []string `yaml:"institutions"`
}

// Requests configures information requests between institutions.
type Requests struct {
	// Askers are the roles that may ask (default child_rights, social_worker, case_manager,
	// coordinator, police).
	Askers []string `yaml:"askers"`
	// DueDays is how many working days a request has (default 5).
	DueDays int `yaml:"due_days"`
	// Reminders are how long before the deadline the asked are reminded (default 48h, 24h).
	Reminders []Duration `yaml:"reminders"`
	// Bases are the purposes a request may give.
	Bases []string `yaml:"bases"`
}

// Visits configures joint home visits.
type Visits struct {
	Reminders     []Duration    `yaml:"reminders"`
	Deadline      Duration      `yaml:"deadline"`
	OutcomeAfter  Duration      `yaml:"outcome_after"`
	OutcomeNudge  Duration      `yaml:"outcome_nudge"`
	Series        []VisitSeries `yaml:"series"`
	DescriptorMax int           `yaml:"note_max"`
}

// VisitSeries proposes visits on a schedule ("every second Friday evening").
type VisitSeries struct {
	ID            string         `yaml:"id"`
	RRule         string         `yaml:"rrule"`
	Start         string         `yaml:"start"`
	Duration      Duration       `yaml:"duration"`
	Area          string         `yaml:"area"`
	MeetingPoint  string         `yaml:"meeting_point"`
	Required      map[string]int `yaml:"required"`
	Invitees      Audience       `yaml:"invitees"`
	Organizer     string         `yaml:"organizer"`
	ProposeBefore Duration       `yaml:"propose_before"`
}

//go:embed example.yaml
var example []byte

// Example returns config/example.yaml, which the demo runs on.
func Example() []byte { return bytes.Clone(example) }

// Load reads, decodes, resolves and validates the file at path.
func Load(path string, checks ...Check) (*Config, error) { return load(path, nil, checks...) }

// LoadNoSecrets is Load reading none of the secrets, for what only describes the deployment
// (tiltas slack-manifest).
func LoadNoSecrets(path string, checks ...Check) (*Config, error) {
	return load(path, func(string) bool { return false }, checks...)
}

// LoadStorage is Load for the admin commands (invite, audit, export, erase, rekey): they use
// Redis and the encryption keys only, so the other secrets (platform tokens, integration
// tokens) are not read, and need not be set where the command runs.
func LoadStorage(path string, checks ...Check) (*Config, error) {
	return load(path, func(secret string) bool {
		return secret == "redis.password" || strings.HasPrefix(secret, "encryption.")
	}, checks...)
}

// load opens path and parses it, resolving the secrets only keeps (nil: all).
func load(path string, only func(secret string) bool, checks ...Check) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f, os.Getenv, only, checks...)
}

// Check validates a part of the config that another package owns (an adapter's section): cmd
// passes each adapter's own Validate, so that its rules are written once, in the adapter. Each
// problem names its path.
type Check func(c *Config) []error

// Parse decodes r strictly over the defaults, resolves secrets through getenv, and validates,
// with checks as well. The error lists every problem, one per line, each with its path.
func Parse(r io.Reader, getenv func(string) string, checks ...Check) (*Config, error) {
	return parse(r, getenv, nil, checks...)
}

// parse is Parse resolving only the secrets only keeps (nil: all).
func parse(r io.Reader, getenv func(string) string, only func(secret string) bool, checks ...Check) (*Config, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	c := Defaults()
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Errors{List: []error{err}} // not YAML at all: nothing else can be said
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		// A second document ("---") would be ignored without a word.
		return nil, &Errors{List: []error{errors.New("the file holds more than one YAML document (a line \"---\"): give one")}}
	}
	// Unknown keys are errors, listed with their paths alongside every other problem.
	errs := unknownKeys(&root, reflect.TypeOf(Config{}), "")
	if root.Kind != 0 {
		// Values of the wrong type are listed with their paths and left out, so that the rest
		// is decoded and checked in the same run.
		errs = append(errs, wrongTypes(&root, reflect.TypeOf(Config{}), "")...)
		if err := root.Decode(c); err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				for _, e := range te.Errors {
					errs = append(errs, errors.New(e))
				}
			} else {
				errs = append(errs, err)
			}
			return nil, &Errors{List: errs} // values of the wrong type: the rest cannot be checked
		}
	}
	c.applyDefaults()
	errs = append(errs, c.resolveSecrets(getenv, only)...)
	c.Warnings = append(c.Warnings, c.unservedGroups()...)
	errs = append(errs, c.Validate()...)
	for _, check := range checks {
		errs = append(errs, check(c)...)
	}
	if len(errs) > 0 {
		return c, &Errors{List: errs}
	}
	return c, nil
}

// unknownKeys lists the keys in n that type t has no field for, each with its path.
func unknownKeys(n *yaml.Node, t reflect.Type, path string) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(k string) string { return joinPath(path, k) }
	var errs []error
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			errs = append(errs, unknownKeys(c, t, path)...)
		}
	case yaml.MappingNode:
		switch t.Kind() {
		case reflect.Map:
			for i := 0; i+1 < len(n.Content); i += 2 {
				errs = append(errs, unknownKeys(n.Content[i+1], t.Elem(), join(n.Content[i].Value))...)
			}
		case reflect.Struct:
			fields := yamlFields(t)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				ft, ok := fields[k.Value]
				if !ok {
					errs = append(errs, fmt.Errorf("%s: unknown key (line %d)", join(k.Value), k.Line))
					continue
				}
				errs = append(errs, unknownKeys(n.Content[i+1], ft, join(k.Value))...)
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice {
			for i, c := range n.Content {
				errs = append(errs, unknownKeys(c, t.Elem(), entry(path, i, idOf(c)))...)
			}
		}
	}
	return errs
}

var (
	unmarshaler  = reflect.TypeFor[yaml.Unmarshaler]()
	reLinePrefix = regexp.MustCompile(`^line \d+: `)
)

// yamlFields maps a struct's YAML keys to their fields' types: what unknownKeys and wrongTypes
// walk the file by.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	return fields
}

// joinPath is path.k, or k at the top.
func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// wrongTypes lists the values in n that do not decode into the type t has for them, each with
// its path and line, and removes them from n (the defaults stand in for them).
func wrongTypes(n *yaml.Node, t reflect.Type, path string) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(k string) string { return joinPath(path, k) }
	// fits reports whether v decodes into a fresh value of type ft, and if not, why.
	fits := func(v *yaml.Node, ft reflect.Type, at string) error {
		if err := v.Decode(reflect.New(ft).Interface()); err != nil {
			msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  ")
			msg = reLinePrefix.ReplaceAllString(msg, "")
			return fmt.Errorf("%s: %s (line %d)", at, msg, v.Line)
		}
		return nil
	}
	// leaf: a type decoded as a whole (scalars, and types that decode themselves).
	leaf := func(ft reflect.Type) bool {
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if reflect.PointerTo(ft).Implements(unmarshaler) {
			return true
		}
		switch ft.Kind() {
		case reflect.Struct, reflect.Slice, reflect.Map:
			return false
		}
		return true
	}
	var errs []error
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			errs = append(errs, wrongTypes(c, t, path)...)
		}
	case leaf(t):
		// Checked by the caller, which can remove the node.
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if ft, ok := fields[k.Value]; ok {
				var err error
				if leaf(ft) || kindMismatch(v, ft) {
					err = fits(v, ft, join(k.Value))
				} else {
					errs = append(errs, wrongTypes(v, ft, join(k.Value))...)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
			}
			kept = append(kept, k, v)
		}
		n.Content = kept
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, wrongTypes(n.Content[i+1], t.Elem(), join(n.Content[i].Value))...)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		kept := n.Content[:0:0]
		for i, c := range n.Content {
			at := entry(path, i, idOf(c))
			if leaf(t.Elem()) || kindMismatch(c, t.Elem()) {
				if err := fits(c, t.Elem(), at); err != nil {
					errs = append(errs, err)
					continue
				}
			} else {
				errs = append(errs, wrongTypes(c, t.Elem(), at)...)
			}
			kept = append(kept, c)
		}
		n.Content = kept
	}
	return errs
}

// kindMismatch reports whether node v cannot hold a value of type ft at all (a scalar where a
// list or a section is wanted, or the other way round).
func kindMismatch(v *yaml.Node, ft reflect.Type) bool {
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	switch ft.Kind() {
	case reflect.Struct, reflect.Map:
		return v.Kind != yaml.MappingNode
	case reflect.Slice:
		return v.Kind != yaml.SequenceNode
	}
	return false
}

// idOf returns the id key's value of a mapping node, or "".
func idOf(n *yaml.Node) string {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "id" {
				return n.Content[i+1].Value
			}
		}
	}
	return ""
}

// Errors is every problem found in a file.
type Errors struct{ List []error }

func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, err := range e.List {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.Is sees each.
func (e *Errors) Unwrap() []error { return e.List }

func problem(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
}

// unservedGroups warns of groups on a platform that is not configured: their messages would wait
// in the outbox for ever (tiltas_outbox_oldest_seconds climbing).
func (c *Config) unservedGroups() []string {
	on := map[string]bool{"telegram": c.Telegram.Token != "", "slack": c.Slack.BotToken != "", "console": true}
	var out []string
	for i, g := range c.Groups {
		if known, ok := on[g.Platform]; ok && !known {
			out = append(out, fmt.Sprintf("%s.platform: %s is not configured here, so nothing reaches this group (messages to it would wait in the outbox)", entry("groups", i, g.ID), g.Platform))
		}
	}
	return out
}

var (
	exampleKeyOnce sync.Once
	exampleKey     string
)

// ExampleEnv is the environment for the built-in example when it runs where no key is set (the
// demo, in memory, and tests): os.Getenv, except that TILTAS_KEY_2026, when unset, is a key made
// for this process alone. A real deployment sets its own (tiltas keygen).
func ExampleEnv(name string) string {
	if v := os.Getenv(name); v != "" || name != "TILTAS_KEY_2026" {
		return v
	}
	exampleKeyOnce.Do(func() {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		exampleKey = base64.StdEncoding.EncodeToString(b)
	})
	return exampleKey
}
