package redis

import (
	"context"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// ReserveAt is Reserve returning the server's now and the reserved moment, so that tests can
// check reservations against the windows exactly.
func (l *Limiter) ReserveAt(ctx context.Context, to bot.Address) (now, at time.Time, err error) {
	now, at, _, err = l.reserve(ctx, to, time.Hour)
	return now, at, err
}
