package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tiltas/tiltas/adapters/httpapi"
	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
)

// telegramWebhookPath is where Telegram posts updates in webhook mode (under http.public_url).
const telegramWebhookPath = "/telegram/webhook"

var errNotConnected = errors.New("not connected")

// platform is a chat platform that is up: its name, what delivers to it, what answers presses.
type platform struct {
	name      bot.Platform
	messenger bot.Messenger
	answerer  bot.Answerer
}

// platformEnv is what building a platform needs from serve.
type platformEnv struct {
	cfg   *config.Config
	e     *bot.Engine
	b     *backend
	srv   *httpapi.Server
	owner string
	log   *slog.Logger // scoped to the platform
	run   func(name string, fn func(context.Context) error)
	gate  bot.Gate
}

// platformEntry builds one configured platform: it starts what runs the platform (a poller, a
// socket), mounts its routes and adds its readiness check.
type platformEntry struct {
	name       bot.Platform
	configured func(cfg *config.Config) bool
	build      func(env platformEnv) (platform, error)
}

// platforms is every chat platform Tiltas speaks, one entry each (Alertmanager's receivers).
var platforms = []platformEntry{
	{bot.Telegram, func(c *config.Config) bool { return c.Telegram.Token != "" }, buildTelegram},
	{bot.Slack, func(c *config.Config) bool { return c.Slack.BotToken != "" }, buildSlack},
}

// startPlatforms builds every configured platform; what cannot be built is reported all at once.
// A platform that cannot reach its service at start keeps trying; /readyz says so meanwhile.
func startPlatforms(env platformEnv) ([]platform, error) {
	var out []platform
	var errs []error
	log := env.log
	for _, p := range platforms {
		if !p.configured(env.cfg) {
			continue
		}
		env.log = log.With("adapter", string(p.name))
		pl, err := p.build(env)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
			continue
		}
		out = append(out, pl)
	}
	return out, errors.Join(errs...)
}

// telegramConfig is the Telegram adapter's configuration from Tiltas's.
func telegramConfig(cfg *config.Config) telegram.Config {
	return telegram.Config{
		Token: cfg.Telegram.Token, APIURL: cfg.Telegram.APIURL, BotUsername: cfg.Telegram.BotUsername, Mode: cfg.Telegram.Mode,
		WebhookURL: strings.TrimSuffix(cfg.HTTP.PublicURL, "/") + telegramWebhookPath, WebhookSecret: cfg.Telegram.WebhookSecret, MaxBody: cfg.HTTP.MaxBody,
	}
}

// slackConfig is the Slack adapter's configuration from Tiltas's.
func slackConfig(cfg *config.Config) slack.Config {
	return slack.Config{BotToken: cfg.Slack.BotToken, AppToken: cfg.Slack.AppToken, SigningSecret: cfg.Slack.SigningSecret,
		APIURL: cfg.Slack.APIURL, Mode: cfg.Slack.Mode, MaxBody: cfg.HTTP.MaxBody, Command: cfg.Slack.Command}
}

// platformChecks are the configured platforms' own checks of their config sections.
func platformChecks(cfg *config.Config) []error {
	var errs []error
	if cfg.Telegram.Token != "" {
		errs = append(errs, telegramConfig(cfg).Validate()...)
	}
	if cfg.Slack.BotToken != "" {
		errs = append(errs, slackConfig(cfg).Validate()...)
	}
	return errs
}

// loadConfig loads a config file, its platform sections checked by the platforms themselves.
func loadConfig(path string) (*config.Config, error) { return config.Load(path, platformChecks) }

// loadStorageConfig loads a config for an admin command: only Redis's password and the
// encryption keys are read of its secrets.
func loadStorageConfig(path string) (*config.Config, error) {
	return config.LoadStorage(path, platformChecks)
}

func buildTelegram(env platformEnv) (platform, error) {
	cfg := env.cfg
	t, err := telegram.New(telegramConfig(cfg), telegram.Deps{Inbox: env.b.inbox, Locker: env.b.locker, Records: env.b.store, Log: env.log, Owner: env.owner, Gate: env.gate})
	if err != nil {
		return platform{}, err
	}
	var ready atomic.Bool
	env.run("telegram", func(ctx context.Context) error {
		defer t.Close()
		for {
			err := t.Start(ctx, telegram.EngineCommands(env.e))
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			env.log.Error("telegram start failed; retrying", "err", err)
			if !sleepCtx(ctx, 5*time.Second) {
				return nil
			}
		}
		if err := t.SetProfile(ctx, telegram.EngineProfile(env.e)); err != nil {
			env.log.Warn("telegram description not set", "err", err)
		}
		ready.Store(true)
		if cfg.Telegram.Mode == telegram.ModeWebhook {
			<-ctx.Done()
			return nil
		}
		return t.RunPolling(ctx)
	})
	if cfg.Telegram.Mode == telegram.ModeWebhook {
		env.srv.Mux().Handle(telegramWebhookPath, t.WebhookHandler())
	}
	env.srv.AddCheck(httpapi.Check{Name: "telegram", Fn: readiness(&ready)})
	return platform{name: bot.Telegram, messenger: t, answerer: t}, nil
}

func buildSlack(env platformEnv) (platform, error) {
	cfg := env.cfg
	sc := slackConfig(cfg)
	sc.Commands = commandWords(env.e)
	sl, err := slack.New(sc, slack.Deps{Inbox: env.b.inbox, Records: env.b.store, Log: env.log, Gate: env.gate})
	if err != nil {
		return platform{}, err
	}
	var up atomic.Bool
	if sl.Mode() == slack.ModeSocket {
		env.run("slack", func(ctx context.Context) error {
			for ctx.Err() == nil {
				up.Store(true)
				err := sl.Run(ctx)
				up.Store(false)
				if ctx.Err() != nil {
					return nil
				}
				env.log.Error("slack socket mode stopped; reconnecting", "err", err)
				sleepCtx(ctx, 5*time.Second)
			}
			return nil
		})
	} else {
		up.Store(true)
		env.srv.Mux().Handle("/slack/", sl.Handler())
	}
	env.srv.AddCheck(httpapi.Check{Name: "slack", Fn: readiness(&up)})
	return platform{name: bot.Slack, messenger: sl, answerer: sl}, nil
}

// readiness is a check that passes once up is set.
func readiness(up *atomic.Bool) func(context.Context) error {
	return func(context.Context) error {
		if !up.Load() {
			return errNotConnected
		}
		return nil
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// commandWords are the engine's command names and aliases.
func commandWords(e *bot.Engine) []string {
	var out []string
	for _, c := range e.Commands() {
		out = append(out, c.Name)
		out = append(out, c.Aliases...)
	}
	return out
}
