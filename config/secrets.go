package config

import (
	"fmt"
	"os"
	"strings"
)

// secret resolves one secret that may come from exactly one of an inline value, a _file twin or
// an _env variable. It returns the value and, on trouble, an error naming path.
func secret(path string, inline, file, env *string, getenv func(string) string) error {
	n := 0
	for _, s := range []*string{inline, file, env} {
		if *s != "" {
			n++
		}
	}
	if n > 1 {
		return problem(path, "give at most one of %s, %s_file and %s_env", last(path), last(path), last(path))
	}
	switch {
	case *env != "":
		v := getenv(*env)
		if v == "" {
			return problem(path+"_env", "environment variable %s is not set", *env)
		}
		*inline = v
	case *file != "":
		b, err := os.ReadFile(*file)
		if err != nil {
			return problem(path+"_file", "cannot read %s: %v", *file, unwrapPath(err))
		}
		*inline = strings.TrimSpace(string(b))
	}
	return nil
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

// resolveSecrets fills every secret from its source and reports each problem.
func (c *Config) resolveSecrets(getenv func(string) string) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(secret("redis.password", &c.Redis.Password, &c.Redis.PasswordFile, &c.Redis.PasswordEnv, getenv))
	add(secret("telegram.token", &c.Telegram.Token, &c.Telegram.TokenFile, &c.Telegram.TokenEnv, getenv))
	add(secret("telegram.webhook_secret", &c.Telegram.WebhookSecret, &c.Telegram.WebhookSecretFile, &c.Telegram.WebhookSecretEnv, getenv))
	add(secret("slack.bot_token", &c.Slack.BotToken, &c.Slack.BotTokenFile, &c.Slack.BotTokenEnv, getenv))
	add(secret("slack.app_token", &c.Slack.AppToken, &c.Slack.AppTokenFile, &c.Slack.AppTokenEnv, getenv))
	add(secret("slack.signing_secret", &c.Slack.SigningSecret, &c.Slack.SigningSecretFile, &c.Slack.SigningSecretEnv, getenv))
	for i := range c.Integrations {
		in := &c.Integrations[i]
		add(secret(fmt.Sprintf("integrations[%d].token", i), &in.Token, &in.TokenFile, &in.TokenEnv, getenv))
	}
	for i := range c.Encryption.Keys {
		k := &c.Encryption.Keys[i]
		add(secret(fmt.Sprintf("encryption.keys[%d].key", i), &k.Key, &k.KeyFile, &k.KeyEnv, getenv))
	}
	return errs
}

// Redacted returns a copy with every secret replaced, safe to print or log.
func (c *Config) Redacted() Config {
	r := *c
	hide := func(s *string) {
		if *s != "" {
			*s = "REDACTED"
		}
	}
	hide(&r.Redis.Password)
	hide(&r.Telegram.Token)
	hide(&r.Telegram.WebhookSecret)
	hide(&r.Slack.BotToken)
	hide(&r.Slack.AppToken)
	hide(&r.Slack.SigningSecret)
	r.Integrations = append([]Integration(nil), c.Integrations...)
	for i := range r.Integrations {
		hide(&r.Integrations[i].Token)
	}
	r.Encryption.Keys = append([]Key(nil), c.Encryption.Keys...)
	for i := range r.Encryption.Keys {
		hide(&r.Encryption.Keys[i].Key)
	}
	return r
}
