package redis

import (
	"context"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// ReserveAt is Reserve returning the server's now and the reserved moment, so that tests can
// check reservations against the windows exactly.
func (l *Limiter) ReserveAt(ctx context.Context, to bot.Address) (now, at time.Time, err error) {
	now, at, _, err = l.reserve(ctx, to, bot.OpSend, time.Hour)
	return now, at, err
}

// BlockWhich is Block returning 1 when the conversation alone was blocked, 2 when the platform's
// sends were paused.
func (l *Limiter) BlockWhich(ctx context.Context, to bot.Address, op bot.Op, d time.Duration) (int64, error) {
	return l.block(ctx, to, op, d, "")
}
