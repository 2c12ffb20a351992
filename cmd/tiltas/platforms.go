package main

import (
	"context"
	"log/slog"

	"github.com/tiltas/tiltas/adapters/httpapi"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/inbound"
)

// startPlatforms builds and starts the configured chat platforms, mounting their webhook routes
// and registering their answerers and readiness checks.
func startPlatforms(ctx context.Context, cfg *config.Config, e *bot.Engine, b *backend, srv *httpapi.Server, answer map[bot.Platform]inbound.Answerer,
	m *metricsHolder, owner string, log *slog.Logger, run func(string, func(context.Context) error)) ([]platform, error) {
	var out []platform
	return out, nil
}
