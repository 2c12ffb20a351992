// Package bot is the domain of Tiltas: the people and institutions that look after children and
// families at risk, the cases they share, and the work they do together over chat (alerts,
// meetings, joint visits). It declares the small interfaces it needs from the outside world
// (storage, delivery, timers, audit) and imports no SDK, no Redis client and no adapter.
package bot

import (
	"errors"
	"time"
)

// Domain errors. Adapters translate their own failures into these where a caller must react.
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("changed concurrently")
	ErrForbidden = errors.New("forbidden")
	ErrExpired   = errors.New("expired")
	ErrInvalid   = errors.New("invalid")
)

// Clock tells the time. It is injected everywhere so that tests and the console demo can move
// it; production uses SystemClock.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now returns f().
func (f ClockFunc) Now() time.Time { return f() }

// SystemClock is the wall clock.
var SystemClock Clock = ClockFunc(time.Now)
