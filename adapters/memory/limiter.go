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
	paused   map[string]time.Time // platform/scope → until when its sends wait
	reserves int
}

type conv struct {
	lim *rate.Limiter // nil: no limit per conversation
	// at is the latest reserved send. Reservations start no earlier, so that the bucket's time
	// only moves forward (a token bucket cannot take a reservation in its past).
	at      time.Time
	full    bool      // the latest reserved send waited longer for this conversation than for the platform
	blocked time.Time // the platform's "retry after"
	window  time.Duration
}

// NewLimiter returns a Limiter with cfg's limits.
func NewLimiter(cfg LimitConfig) *Limiter {
	return &Limiter{cfg: cfg, now: time.Now, global: map[bot.Platform]*rate.Limiter{}, convs: map[string]*conv{}, paused: map[string]time.Time{}}
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
func (l *Limiter) Reserve(ctx context.Context, to bot.Address, op bot.Op, maxWait time.Duration) (time.Duration, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	t := now
	if scope := bot.PausedTogether(to.Platform, op); scope != "" {
		t = latest(t, l.paused[string(to.Platform)+"/"+scope])
	}
	var rs []*rate.Reservation
	var globalWait time.Duration
	if g := l.globalFor(to.Platform); g != nil {
		// After a pause every send reserves at its end, so they leave it spaced, not at once.
		r := g.ReserveN(t, 1)
		rs = append(rs, r)
		globalWait = r.DelayFrom(t)
		t = t.Add(globalWait)
	}
	c := l.conv(to)
	t = latest(t, c.at, c.blocked)
	full := false
	if c.lim != nil {
		r := c.lim.ReserveN(t, 1)
		rs = append(rs, r)
		full = r.DelayFrom(t) > globalWait
		t = t.Add(r.DelayFrom(t))
	}
	if t.Sub(now) > maxWait {
		for _, r := range rs {
			r.CancelAt(now)
		}
		return t.Sub(now), false, nil
	}
	c.at, c.full = t, full
	if l.reserves++; l.reserves%256 == 0 {
		l.sweep(now)
	}
	return t.Sub(now), true, nil
}

// Block holds back, until d from now, the sends the platform's "retry after" concerns
// (bot.PausedTogether): all of a platform's, a method's, or the conversation's alone when its
// latest send had waited for the conversation's own window and not for the platform's, or the
// platform pauses nothing more.
func (l *Limiter) Block(ctx context.Context, to bot.Address, op bot.Op, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	c := l.conv(to)
	scope := bot.PausedTogether(to.Platform, op)
	if scope == "" || scope == "all" && c.full && c.at.After(now.Add(-c.window)) {
		c.blocked = latest(c.blocked, now.Add(d))
		return nil
	}
	k := string(to.Platform) + "/" + scope
	l.paused[k] = latest(l.paused[k], now.Add(d))
	return nil
}

// Hold keeps the conversation's next send back by its interval from now (bot.Limiter), where
// the conversation allows one send per window.
func (l *Limiter) Hold(ctx context.Context, to bot.Address, op bot.Op) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	pl := l.cfg.Platforms[to.Platform]
	r := l.convRate(to)
	if r.N != 1 || r.Window <= 0 {
		return nil // a window of many (a group's 20 a minute) is not kept by a pause after one
	}
	c := l.conv(to)
	c.blocked = latest(c.blocked, l.now().Add(r.Window+pl.Margin))
	return nil
}

// Held is how long the conversation's block or the platform's pause still holds op back.
func (l *Limiter) Held(ctx context.Context, to bot.Address, op bot.Op) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	until := l.paused[string(to.Platform)+"/"+bot.PausedTogether(to.Platform, op)]
	if c, ok := l.convs[to.Key()]; ok {
		until = latest(until, c.blocked)
	}
	return max(until.Sub(now), 0), nil
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
		r := l.convRate(to)
		c = &conv{lim: every(r, pl.Margin), window: r.Window + pl.Margin}
		l.convs[key] = c
	}
	return c
}

// convRate is the conversation's own limit: a group's or a chat's.
func (l *Limiter) convRate(to bot.Address) Rate {
	if to.Group {
		return l.cfg.Platforms[to.Platform].PerGroup
	}
	return l.cfg.Platforms[to.Platform].PerChat
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
