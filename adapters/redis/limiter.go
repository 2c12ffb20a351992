package redis

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

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

// Limiter is a sliding-window log shared by every replica: each window key is a sorted set of
// reserved send times (µs, on the Redis server's clock, since rate limits are real time).
type Limiter struct {
	c   goredis.UniversalClient
	k   keys
	cfg LimitConfig
}

// NewLimiter returns a Limiter whose keys start with prefix ("" for DefaultPrefix). It makes no
// network call.
func NewLimiter(c goredis.UniversalClient, prefix string, cfg LimitConfig) *Limiter {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Limiter{c: pipelined(c), k: keys{prefix}, cfg: cfg}
}

// reserveScript reserves the earliest moment t no window forbids: t = max(now, the conversation's
// blocked-until, the platform's paused-until for this kind of send, and for each window of N sends
// in W, its N-th latest reservation + W). Any N+1 reservations in a window then span at least W,
// even when one lands between earlier ones. It adds t to every window, prunes reservations older
// than now-W and sets expiries. Nothing is recorded when t is more than max wait away.
// KEYS: blocked-until, paused-until, then the windows. ARGV: member, max wait (µs), then N and W
// (µs) per window. Returns {now, t, recorded} in µs.
var reserveScript = script("limiter", goredis.NewScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local t = now
for i = 1, 2 do
  local blocked = redis.call('GET', KEYS[i])
  if blocked then
    t = math.max(t, tonumber(blocked))
  end
end
for i = 3, #KEYS do
  local n = tonumber(ARGV[2 * i - 3])
  local w = tonumber(ARGV[2 * i - 2])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', string.format('(%.0f', now - w))
  local nth = redis.call('ZREVRANGE', KEYS[i], n - 1, n - 1, 'WITHSCORES')
  if nth[2] then
    t = math.max(t, tonumber(nth[2]) + w)
  end
end
if t - now > tonumber(ARGV[2]) then
  return {now, t, 0}
end
for i = 3, #KEYS do
  local w = tonumber(ARGV[2 * i - 2])
  redis.call('ZADD', KEYS[i], string.format('%.0f', t), ARGV[1])
  local last = redis.call('ZREVRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  redis.call('PEXPIRE', KEYS[i], math.ceil((tonumber(last[2]) - now + w) / 1000) + 1000)
end
return {now, t, 1}
`))

// blockScript moves blocked-until later (never earlier): the platform's pause (KEYS[2]) when
// ARGV[4] is "pause", or when it is "pause-unless-full" and the 429 could be the overall limit's;
// else the conversation's alone (KEYS[1]). It is the conversation's only when the conversation's
// window (KEYS[3], N sends in W) was full as its latest send went out (N sends in the W before it)
// and the platform's (KEYS[4], N2 in W2) was not: when both were, either could be the one hit,
// and pausing everything is the safe answer. All keys are real (Redis Cluster checks that every
// key is in one slot).
// ARGV: duration µs, N, W µs, mode ("conv", "pause", "pause-unless-full"), N2 (0: no overall
// window), W2 µs. Returns 1 when the conversation was blocked, 2 when the platform was paused.
var blockScript = script("limiter", goredis.NewScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local d = tonumber(ARGV[1])
local function full(key, n, w)
  local past = redis.call('ZREVRANGEBYSCORE', key, now, '-inf', 'WITHSCORES', 'LIMIT', 0, n + 1)
  return #past == 2 * (n + 1) and tonumber(past[2]) - tonumber(past[2 * n + 2]) <= w
end
local key, which = KEYS[1], 1
if ARGV[4] == 'pause' then
  key, which = KEYS[2], 2
elseif ARGV[4] == 'pause-unless-full' then
  local n2 = tonumber(ARGV[5])
  local mine = full(KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]))
  if not mine or (n2 > 0 and full(KEYS[4], n2, tonumber(ARGV[6]))) then
    key, which = KEYS[2], 2
  end
end
local cur = tonumber(redis.call('GET', key) or '0')
if cur < now + d then
  redis.call('SET', key, string.format('%.0f', now + d), 'PX', math.ceil(d / 1000) + 1000)
end
return which
`))

// heldScript returns how many µs the later of KEYS (blocked-until, paused-until) is from now.
var heldScript = script("limiter", goredis.NewScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local t = now
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then
    t = math.max(t, tonumber(v))
  end
end
return string.format('%.0f', t - now)
`))

// Held is how long the conversation's block or the platform's pause still holds op back.
func (l *Limiter) Held(ctx context.Context, to bot.Address, op bot.Op) (time.Duration, error) {
	keys := []string{l.k.limitBlock(to.Key()), l.k.limitPause(to.Platform, bot.PausedTogether(to.Platform, op))}
	us, err := heldScript.Run(ctx, l.c, keys).Int64()
	if err != nil {
		return 0, fmt.Errorf("read the hold on %s: %w", to.Key(), err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// Reserve returns how long to wait before sending to the conversation, recording the send only
// when that is at most maxWait.
func (l *Limiter) Reserve(ctx context.Context, to bot.Address, op bot.Op, maxWait time.Duration) (time.Duration, bool, error) {
	now, t, ok, err := l.reserve(ctx, to, op, maxWait)
	if err != nil {
		return 0, false, err
	}
	return t.Sub(now), ok, nil
}

// reserve returns the server's now, the earliest allowed moment and whether it was recorded.
func (l *Limiter) reserve(ctx context.Context, to bot.Address, op bot.Op, maxWait time.Duration) (time.Time, time.Time, bool, error) {
	pl := l.cfg.Platforms[to.Platform]
	conv := to.Key()
	keys := []string{l.k.limitBlock(conv), l.k.limitPause(to.Platform, bot.PausedTogether(to.Platform, op))}
	args := []any{rand.Text(), maxWait.Microseconds()}
	window := func(key string, r Rate) {
		if r.N > 0 && r.Window > 0 {
			keys = append(keys, key)
			args = append(args, r.N, (r.Window + pl.Margin).Microseconds())
		}
	}
	window(l.k.limitGlobal(to.Platform), pl.Global)
	if to.Group {
		window(l.k.limitConv(conv), pl.PerGroup)
	} else {
		window(l.k.limitConv(conv), pl.PerChat)
	}
	res, err := reserveScript.Run(ctx, l.c, keys, args...).Int64Slice()
	if err != nil {
		return time.Time{}, time.Time{}, false, fmt.Errorf("reserve send to %s: %w", conv, err)
	}
	if len(res) != 3 {
		return time.Time{}, time.Time{}, false, fmt.Errorf("reserve send to %s: unexpected reply", conv)
	}
	return time.UnixMicro(res[0]), time.UnixMicro(res[1]), res[2] == 1, nil
}

// Block keeps back for d from now (the platform's "retry after") the sends bot.PausedTogether
// names with this one: Telegram's all, unless this conversation's own window was full and the
// overall one was not; Slack's of the same method.
func (l *Limiter) Block(ctx context.Context, to bot.Address, op bot.Op, d time.Duration) error {
	_, err := l.block(ctx, to, op, d, "")
	return err
}

// Hold keeps the conversation's next send back by its interval from now (bot.Limiter): the
// conversation alone, never the platform, and only where it allows one send per window.
func (l *Limiter) Hold(ctx context.Context, to bot.Address, op bot.Op) error {
	pl := l.cfg.Platforms[to.Platform]
	r := l.convRate(to)
	if r.N != 1 || r.Window <= 0 {
		return nil // a window of many (a group's 20 a minute) is not kept by a pause after one
	}
	_, err := l.block(ctx, to, op, r.Window+pl.Margin, "conv")
	return err
}

// convRate is the conversation's own limit: a group's or a chat's.
func (l *Limiter) convRate(to bot.Address) Rate {
	if to.Group {
		return l.cfg.Platforms[to.Platform].PerGroup
	}
	return l.cfg.Platforms[to.Platform].PerChat
}

// block returns 1 when the conversation alone was blocked, 2 when the platform's sends were paused.
// mode "" picks what a platform's "retry after" holds back (Block).
func (l *Limiter) block(ctx context.Context, to bot.Address, op bot.Op, d time.Duration, mode string) (int64, error) {
	if d <= 0 {
		return 0, nil
	}
	pl := l.cfg.Platforms[to.Platform]
	conv := to.Key()
	r := l.convRate(to)
	scope := bot.PausedTogether(to.Platform, op)
	if mode == "" {
		mode = "conv"
		switch {
		case scope == "all" && r.N > 0 && r.Window > 0:
			mode = "pause-unless-full"
		case scope != "":
			mode = "pause"
		}
	}
	keys := []string{l.k.limitBlock(conv), l.k.limitPause(to.Platform, scope), l.k.limitConv(conv), l.k.limitGlobal(to.Platform)}
	g := pl.Global
	if g.Window <= 0 {
		g.N = 0
	}
	which, err := blockScript.Run(ctx, l.c, keys, d.Microseconds(), max(r.N, 1), (r.Window + 2*pl.Margin).Microseconds(), mode,
		max(g.N, 0), (g.Window + 2*pl.Margin).Microseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("block sends to %s: %w", conv, err)
	}
	return which, nil
}
