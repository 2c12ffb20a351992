package memory

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tiltas/tiltas/bot"
)

// LimitConfig, Limits and Rate are the platforms' limits, as bot declares them.
type (
	LimitConfig = bot.RateLimits
	Limits      = bot.PlatformLimits
	Rate        = bot.Rate
)

// DefaultLimitConfig returns the limits the platforms publish (bot.DefaultRateLimits).
func DefaultLimitConfig() LimitConfig { return bot.DefaultRateLimits() }

var _ bot.Limiter = (*Limiter)(nil)

// Limiter spaces sends within one process with token buckets of burst 1: N per window becomes
// one send per window/N, which never puts more than N into any window. Sends to one conversation
// are spaced in the order they are reserved. A send that its conversation holds back still takes
// its global slot at once, so the global spacing is approximate when conversations are busy;
// replicas share nothing. Production uses the Redis limiter, which is exact and shared.
// Limits are real time: the injected clock of the stores plays no part.
type Limiter struct {
	cfg LimitConfig
	now func() time.Time

	mu       sync.Mutex
	global   map[bot.Platform]*rate.Limiter
	convs    map[string]*conv
	reserves int
}

type conv struct {
	lim *rate.Limiter // nil: no limit per conversation
	// at is the latest reserved send. Reservations start no earlier, so that the bucket's time
	// only moves forward (a token bucket cannot take a reservation in its past).
	at      time.Time
	blocked time.Time // the platform's "retry after"
	window  time.Duration
}

// NewLimiter returns a Limiter with cfg's limits.
func NewLimiter(cfg LimitConfig) *Limiter {
	return &Limiter{cfg: cfg, now: time.Now, global: map[bot.Platform]*rate.Limiter{}, convs: map[string]*conv{}}
}

func every(r Rate, margin time.Duration) *rate.Limiter {
	n, window := r.N, r.Window
	if n <= 0 || window <= 0 {
		return nil
	}
	// A microsecond more per send absorbs the nanoseconds that integer division and the bucket's
	// float arithmetic lose, which would otherwise fit N+1 sends into a window by a hair.
	return rate.NewLimiter(rate.Every((window+margin)/time.Duration(n)+time.Microsecond), 1)
}

// Reserve takes the platform's global slot, then the conversation's first slot after it (and
// after any block), and returns the wait until the later of the two. Beyond maxWait both
// reservations are cancelled and nothing is kept.
func (l *Limiter) Reserve(ctx context.Context, to bot.Address, maxWait time.Duration) (time.Duration, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	t := now
	var rs []*rate.Reservation
	if g := l.globalFor(to.Platform); g != nil {
		r := g.ReserveN(now, 1)
		rs = append(rs, r)
		t = now.Add(r.DelayFrom(now))
	}
	c := l.conv(to)
	t = latest(t, c.at, c.blocked)
	if c.lim != nil {
		r := c.lim.ReserveN(t, 1)
		rs = append(rs, r)
		t = t.Add(r.DelayFrom(t))
	}
	if t.Sub(now) > maxWait {
		for _, r := range rs {
			r.CancelAt(now)
		}
		return t.Sub(now), false, nil
	}
	c.at = t
	if l.reserves++; l.reserves%256 == 0 {
		l.sweep(now)
	}
	return t.Sub(now), true, nil
}

// Block holds sends to the conversation back until d from now, on top of the usual spacing.
func (l *Limiter) Block(ctx context.Context, to bot.Address, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.conv(to)
	c.blocked = latest(c.blocked, l.now().Add(d))
	return nil
}

func (l *Limiter) globalFor(p bot.Platform) *rate.Limiter {
	g, ok := l.global[p]
	if !ok {
		pl := l.cfg.Platforms[p]
		g = every(pl.Global, pl.Margin)
		l.global[p] = g
	}
	return g
}

func (l *Limiter) conv(to bot.Address) *conv {
	key := to.Key()
	c, ok := l.convs[key]
	if !ok {
		pl := l.cfg.Platforms[to.Platform]
		r := pl.PerChat
		if to.Group {
			r = pl.PerGroup
		}
		c = &conv{lim: every(r, pl.Margin), window: r.Window + pl.Margin}
		l.convs[key] = c
	}
	return c
}

// sweep forgets conversations whose bucket is full again and whose block has passed: a fresh
// conv behaves the same.
func (l *Limiter) sweep(now time.Time) {
	for k, c := range l.convs {
		if latest(c.at.Add(c.window), c.blocked).Before(now) {
			delete(l.convs, k)
		}
	}
}

func latest(t time.Time, ts ...time.Time) time.Time {
	for _, u := range ts {
		if u.After(t) {
			t = u
		}
	}
	return t
}
