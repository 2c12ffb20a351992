package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// LogTo routes go-redis's own log lines (a connection pool that cannot dial, a cluster that
// changes its slots) into l, as warnings with component "go-redis", so that the log stays one
// JSON object per line. It sets go-redis's logger for the whole process.
func LogTo(l *slog.Logger) {
	goredis.SetLogger(slogPrintf{l.With("component", "go-redis")})
}

type slogPrintf struct{ l *slog.Logger }

func (s slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	s.l.WarnContext(ctx, fmt.Sprintf(format, v...))
}
