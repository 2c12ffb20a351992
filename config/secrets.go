package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// secret resolves one secret that may come from exactly one of an inline value, a _file twin or
// an _env variable. A secret given but empty or blank is an error naming its path: an empty token
// file would otherwise turn a platform off without a word. A file that others may read or write
// is a warning.
func secret(path string, inline, file, env *string, getenv func(string) string) (warning string, err error) {
	n := 0
	for _, s := range []*string{inline, file, env} {
		if *s != "" {
			n++
		}
	}
	if n > 1 {
		return "", problem(path, "give at most one of %s, %s_file and %s_env", last(path), last(path), last(path))
	}
	switch {
	case *env != "":
		v, ok := lookup(getenv, *env)
		if !ok {
			return "", problem(path+"_env", "environment variable %s is not set", *env)
		}
		if strings.TrimSpace(v) == "" {
			return "", problem(path+"_env", "environment variable %s is empty", *env)
		}
		*inline = strings.TrimSpace(v)
	case *file != "":
		b, err := os.ReadFile(*file)
		if err != nil {
			return "", problem(path+"_file", "cannot read %s: %v", *file, unwrapPath(err))
		}
		*inline = strings.TrimSpace(string(b))
		if *inline == "" {
			return "", problem(path+"_file", "%s is empty", *file)
		}
		if fi, err := os.Stat(*file); err == nil && fi.Mode().Perm()&0o007 != 0 {
			warning = fmt.Sprintf("%s_file: %s can be read or written by other users (mode %v); chmod o= it", path, *file, fi.Mode().Perm())
		}
	case *inline != "" && strings.TrimSpace(*inline) == "":
		return "", problem(path, "is blank")
	}
	return warning, nil
}

// lookup reads an environment variable through getenv, telling unset from empty when getenv is
// os.Getenv.
func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	if v != "" {
		return v, true
	}
	if _, set := os.LookupEnv(name); set {
		return "", true
	}
	return "", false
}

func last(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// secretRef is one secret of the config: its path, and its three possible sources (inline, a
// _file twin, an _env variable), of which at most one may be given.
type secretRef struct {
	path             string
	value, file, env *string
}

// resolve fills the secret from its source; trouble is an error naming its path.
func (r secretRef) resolve(getenv func(string) string) (string, error) {
	return secret(r.path, r.value, r.file, r.env, getenv)
}

// redact hides the secret's value.
func (r secretRef) redact() {
	if *r.value != "" {
		*r.value = "REDACTED"
	}
}

// secrets lists every secret of c, once: resolving and redacting both walk this list.
func (c *Config) secrets() []secretRef {
	refs := []secretRef{
		{"redis.password", &c.Redis.Password, &c.Redis.PasswordFile, &c.Redis.PasswordEnv},
		{"telegram.token", &c.Telegram.Token, &c.Telegram.TokenFile, &c.Telegram.TokenEnv},
		{"telegram.webhook_secret", &c.Telegram.WebhookSecret, &c.Telegram.WebhookSecretFile, &c.Telegram.WebhookSecretEnv},
		{"slack.bot_token", &c.Slack.BotToken, &c.Slack.BotTokenFile, &c.Slack.BotTokenEnv},
		{"slack.app_token", &c.Slack.AppToken, &c.Slack.AppTokenFile, &c.Slack.AppTokenEnv},
		{"slack.signing_secret", &c.Slack.SigningSecret, &c.Slack.SigningSecretFile, &c.Slack.SigningSecretEnv},
	}
	for i := range c.Integrations {
		in := &c.Integrations[i]
		refs = append(refs, secretRef{fmt.Sprintf("integrations[%d].token", i), &in.Token, &in.TokenFile, &in.TokenEnv})
	}
	for i := range c.Encryption.Keys {
		k := &c.Encryption.Keys[i]
		refs = append(refs, secretRef{fmt.Sprintf("encryption.keys[%d].key", i), &k.Key, &k.KeyFile, &k.KeyEnv})
	}
	return refs
}

// resolveSecrets fills every secret from its source and reports each problem; warnings go to
// c.Warnings.
func (c *Config) resolveSecrets(getenv func(string) string, only func(string) bool) []error {
	var errs []error
	for _, r := range c.secrets() {
		if only != nil && !only(r.path) {
			continue
		}
		w, err := r.resolve(getenv)
		if err != nil {
			errs = append(errs, err)
		}
		if w != "" {
			c.Warnings = append(c.Warnings, w)
		}
	}
	return errs
}

// Redacted returns a copy with every secret replaced, safe to print or log.
func (c *Config) Redacted() Config {
	r := *c
	r.Integrations = append([]Integration(nil), c.Integrations...)
	r.Encryption.Keys = append([]Key(nil), c.Encryption.Keys...)
	for _, s := range r.secrets() {
		s.redact()
	}
	return r
}

// RedactURL returns s with the password of its user info replaced by "xxxxx", for errors and
// logs; a value that is not a URL at all loses everything between "://" and the last "@".
func RedactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		return s[:i+3] + "xxxxx" + s[i+3+at:]
	}
	return s
}
