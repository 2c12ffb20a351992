package redis

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/bot"
)

// Timers live in three keys: a sorted set of IDs by the ms they may next be claimed (due time, or
// end of lease), a hash of ID → timer JSON, and a hash of ID → current lease token.

// scheduleScript upserts timers and drops their leases, so that a holder of the old schedule
// cannot complete the new one. KEYS: due, data, lease. ARGV: ID, due ms, JSON per timer.
var scheduleScript = script("timers schedule", goredis.NewScript(`
for i = 1, #ARGV, 3 do
  redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
return 1
`))

// claimScript takes up to max timers due by now, pushes each to now+lease and gives it a fresh
// token. KEYS: due, data, lease. ARGV: now ms, max, lease ms, token base.
// Returns {ID, JSON, token} per timer.
var claimScript = script("timers claim", goredis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local held = tonumber(ARGV[1]) + tonumber(ARGV[3])
local out = {}
for i, id in ipairs(ids) do
  local data = redis.call('HGET', KEYS[2], id)
  if data then
    local token = ARGV[4] .. ':' .. i
    redis.call('ZADD', KEYS[1], held, id)
    redis.call('HSET', KEYS[3], id, token)
    table.insert(out, {id, data, token})
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return out
`))

// completeScript removes a timer only while the caller's lease is current.
// KEYS: due, data, lease. ARGV: ID, token.
var completeScript = script("timers complete", goredis.NewScript(`
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
`))

func (s *Store) timerKeys() []string {
	return []string{s.k.timerDue(), s.k.timerData(), s.k.timerLease()}
}

// Schedule upserts all of ts in one script.
func (s *Store) Schedule(ctx context.Context, ts ...bot.Timer) error {
	if len(ts) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(ts))
	for _, t := range ts {
		data, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("schedule %s: %w", t.ID, err)
		}
		args = append(args, t.ID, ms(t.Due), data)
	}
	if err := scheduleScript.Run(ctx, s.c, s.timerKeys(), args...).Err(); err != nil {
		return fmt.Errorf("schedule %d timers: %w", len(ts), err)
	}
	return nil
}

// Cancel removes timers, claimed or not, in one transaction; unknown IDs are ignored.
func (s *Store) Cancel(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZRem(ctx, s.k.timerDue(), members...)
		p.HDel(ctx, s.k.timerData(), ids...)
		p.HDel(ctx, s.k.timerLease(), ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cancel %d timers: %w", len(ids), err)
	}
	return nil
}

// Claim is one script, so that concurrent claimers on any number of replicas never get the same
// timer within a lease.
func (s *Store) Claim(ctx context.Context, now time.Time, n int, lease time.Duration) ([]bot.ClaimedTimer, error) {
	if n <= 0 {
		return nil, nil
	}
	res, err := claimScript.Run(ctx, s.c, s.timerKeys(), now.UnixMilli(), n, max(lease.Milliseconds(), 1), rand.Text()).Slice()
	if err != nil {
		return nil, fmt.Errorf("claim timers: %w", err)
	}
	out := make([]bot.ClaimedTimer, 0, len(res))
	for _, r := range res {
		row, ok := r.([]any)
		if !ok || len(row) != 3 {
			return nil, fmt.Errorf("claim timers: unexpected reply %T", r)
		}
		id, _ := row[0].(string)
		data, _ := row[1].(string)
		token, _ := row[2].(string)
		var c bot.ClaimedTimer
		if err := json.Unmarshal([]byte(data), &c.Timer); err != nil {
			return nil, fmt.Errorf("claim timer %s: %w", id, err)
		}
		c.Lease = token
		out = append(out, c)
	}
	return out, nil
}

// Complete removes the timer only while c's lease is still the current one: after a reschedule
// or a lease that ran out and went to another claimer, it does nothing.
func (s *Store) Complete(ctx context.Context, c bot.ClaimedTimer) error {
	if c.Lease == "" {
		return nil
	}
	if err := completeScript.Run(ctx, s.c, s.timerKeys(), c.ID, c.Lease).Err(); err != nil {
		return fmt.Errorf("complete timer %s: %w", c.ID, err)
	}
	return nil
}

// Scheduled reads the timers' data in one HMGET; a claimed timer is still there.
func (s *Store) Scheduled(ctx context.Context, ids ...string) (map[string]bot.Timer, error) {
	out := make(map[string]bot.Timer, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	vals, err := s.c.HMGet(ctx, s.k.timerData(), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("scheduled timers: %w", err)
	}
	for i, v := range vals {
		data, ok := v.(string)
		if !ok {
			continue
		}
		var t bot.Timer
		if err := json.Unmarshal([]byte(data), &t); err != nil {
			return nil, fmt.Errorf("scheduled timer %s: %w", ids[i], err)
		}
		out[ids[i]] = t
	}
	return out, nil
}

// Next reports when the earliest timer may be claimed, to the millisecond; a claimed timer
// counts at its lease end.
func (s *Store) Next(ctx context.Context) (time.Time, bool, error) {
	first, err := s.c.ZRangeWithScores(ctx, s.k.timerDue(), 0, 0).Result()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next timer: %w", err)
	}
	if len(first) == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(int64(first[0].Score)), true, nil
}
