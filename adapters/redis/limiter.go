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

// reserveScript reserves the earliest moment t no window forbids: t = max(now, blocked-until,
// and for each window of N sends in W, its N-th latest reservation + W). Any N+1 reservations
// in a window then span at least W, even when one lands between earlier ones. It adds t to every
// window, prunes reservations older than now-W and sets expiries.
// Nothing is recorded when t is more than max wait away.
// KEYS: blocked-until, then the windows. ARGV: member, max wait (µs), then N and W (µs) per window.
// Returns {now, t, recorded} in µs.
var reserveScript = goredis.NewScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local t = now
local blocked = redis.call('GET', KEYS[1])
if blocked then
  t = math.max(t, tonumber(blocked))
end
for i = 2, #KEYS do
  local n = tonumber(ARGV[2 * i - 1])
  local w = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', string.format('(%.0f', now - w))
  local nth = redis.call('ZREVRANGE', KEYS[i], n - 1, n - 1, 'WITHSCORES')
  if nth[2] then
    t = math.max(t, tonumber(nth[2]) + w)
  end
end
if t - now > tonumber(ARGV[2]) then
  return {now, t, 0}
end
for i = 2, #KEYS do
  local w = tonumber(ARGV[2 * i])
  redis.call('ZADD', KEYS[i], string.format('%.0f', t), ARGV[1])
  local last = redis.call('ZREVRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  redis.call('PEXPIRE', KEYS[i], math.ceil((tonumber(last[2]) - now + w) / 1000) + 1000)
end
return {now, t, 1}
`)

// blockScript moves a conversation's blocked-until later (never earlier).
// KEYS: blocked-until. ARGV: duration µs.
var blockScript = goredis.NewScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local d = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < now + d then
  redis.call('SET', KEYS[1], string.format('%.0f', now + d), 'PX', math.ceil(d / 1000) + 1000)
end
return 1
`)

// Reserve returns how long to wait before sending to the conversation, recording the send only
// when that is at most maxWait.
func (l *Limiter) Reserve(ctx context.Context, to bot.Address, maxWait time.Duration) (time.Duration, bool, error) {
	now, t, ok, err := l.reserve(ctx, to, maxWait)
	if err != nil {
		return 0, false, err
	}
	return t.Sub(now), ok, nil
}

// reserve returns the server's now, the earliest allowed moment and whether it was recorded.
func (l *Limiter) reserve(ctx context.Context, to bot.Address, maxWait time.Duration) (time.Time, time.Time, bool, error) {
	pl := l.cfg.Platforms[to.Platform]
	conv := to.Key()
	keys := []string{l.k.limitBlock(conv)}
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

// Block keeps sends to the conversation back for d from now (the platform's "retry after").
func (l *Limiter) Block(ctx context.Context, to bot.Address, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := blockScript.Run(ctx, l.c, []string{l.k.limitBlock(to.Key())}, d.Microseconds()).Err(); err != nil {
		return fmt.Errorf("block sends to %s: %w", to.Key(), err)
	}
	return nil
}
