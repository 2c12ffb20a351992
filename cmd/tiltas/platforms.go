package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tiltas/tiltas/adapters/httpapi"
	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/inbound"
)

// telegramWebhookPath is where Telegram posts updates in webhook mode (under http.public_url).
const telegramWebhookPath = "/telegram/webhook"

var errNotConnected = errors.New("not connected")

// startPlatforms builds and starts the configured chat platforms, mounting their webhook routes
// and registering their answerers and readiness checks. A platform that cannot reach its service
// at start keeps trying; /readyz says so meanwhile.
func startPlatforms(ctx context.Context, cfg *config.Config, e *bot.Engine, b *backend, srv *httpapi.Server, answer map[bot.Platform]inbound.Answerer,
	m *metricsHolder, owner string, log *slog.Logger, run func(string, func(context.Context) error)) ([]platform, error) {
	var out []platform
	if cfg.Telegram.Token != "" {
		tlog := log // the adapter scopes its own logger
		t, err := telegram.New(telegram.Config{
			Token: cfg.Telegram.Token, APIURL: cfg.Telegram.APIURL, BotUsername: cfg.Telegram.BotUsername, Mode: cfg.Telegram.Mode,
			WebhookURL: strings.TrimSuffix(cfg.HTTP.PublicURL, "/") + telegramWebhookPath, WebhookSecret: cfg.Telegram.WebhookSecret, MaxBody: cfg.HTTP.MaxBody,
		}, telegram.Deps{Inbox: b.inbox, Locker: b.locker, Records: b.store, Log: tlog, Owner: owner})
		if err != nil {
			return nil, err
		}
		var ready atomic.Bool
		run("telegram", func(ctx context.Context) error {
			defer t.Close()
			for {
				err := t.Start(ctx, telegram.EngineCommands(e))
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					return nil
				}
				tlog.Error("telegram start failed; retrying", "err", err)
				if !sleepCtx(ctx, 5*time.Second) {
					return nil
				}
			}
			ready.Store(true)
			if cfg.Telegram.Mode == telegram.ModeWebhook {
				<-ctx.Done()
				return nil
			}
			return t.RunPolling(ctx)
		})
		if cfg.Telegram.Mode == telegram.ModeWebhook {
			srv.Mux().Handle(telegramWebhookPath, t.WebhookHandler())
		}
		srv.AddCheck(httpapi.Check{Name: "telegram", Fn: func(context.Context) error {
			if !ready.Load() {
				return errNotConnected
			}
			return nil
		}})
		answer[bot.Telegram] = t
		out = append(out, platform{name: bot.Telegram, messenger: t})
	}
	if cfg.Slack.BotToken != "" {
		slog := log.With("adapter", "slack")
		sl, err := slack.New(slack.Config{BotToken: cfg.Slack.BotToken, AppToken: cfg.Slack.AppToken, SigningSecret: cfg.Slack.SigningSecret,
			APIURL: cfg.Slack.APIURL, Mode: cfg.Slack.Mode, MaxBody: cfg.HTTP.MaxBody}, slack.Deps{Inbox: b.inbox, Records: b.store, Log: slog})
		if err != nil {
			return nil, err
		}
		var up atomic.Bool
		if sl.Mode() == slack.ModeSocket {
			run("slack", func(ctx context.Context) error {
				for ctx.Err() == nil {
					up.Store(true)
					err := sl.Run(ctx)
					up.Store(false)
					if ctx.Err() != nil {
						return nil
					}
					slog.Error("slack socket mode stopped; reconnecting", "err", err)
					sleepCtx(ctx, 5*time.Second)
				}
				return nil
			})
		} else {
			up.Store(true)
			srv.Mux().Handle("/slack/", sl.Handler())
		}
		srv.AddCheck(httpapi.Check{Name: "slack", Fn: func(context.Context) error {
			if !up.Load() {
				return errNotConnected
			}
			return nil
		}})
		answer[bot.Slack] = sl
		out = append(out, platform{name: bot.Slack, messenger: sl})
	}
	return out, nil
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
