package redis

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/bot"
)

// writeScript is a compare-and-set of a record (a hash: v version, d data) with its index changes.
// KEYS: the record, then one index per op. ARGV: expected version (-1: any), "1" to set or "0" to
// delete, data, TTL in ms (0: none), then per op: "1" to remove or "0" to add, score, member.
// It returns the new version (0 after a delete) or -1 when the version does not match.
var writeScript = script("records write", goredis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local want = tonumber(ARGV[1])
if want ~= -1 and want ~= cur then
  return -1
end
local ver = 0
if ARGV[2] == '1' then
  ver = cur + 1
  redis.call('HSET', KEYS[1], 'v', ver, 'd', ARGV[3])
  if ARGV[4] ~= '0' then
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
  else
    redis.call('PERSIST', KEYS[1])
  end
else
  redis.call('DEL', KEYS[1])
end
for i = 2, #KEYS do
  local j = 5 + (i - 2) * 3
  if ARGV[j] == '1' then
    redis.call('ZREM', KEYS[i], ARGV[j + 2])
  else
    redis.call('ZADD', KEYS[i], ARGV[j + 1], ARGV[j + 2])
  end
end
return ver
`))

// Get opens the stored data with the Sealer.
func (s *Store) Get(ctx context.Context, key string) ([]byte, int64, error) {
	vals, err := s.c.HMGet(ctx, s.k.record(key), "v", "d").Result()
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", key, err)
	}
	v, ok1 := vals[0].(string)
	d, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return nil, 0, fmt.Errorf("get %s: %w", key, bot.ErrNotFound)
	}
	ver, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: version %q: %w", key, v, err)
	}
	data, err := s.open([]byte(d))
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: open: %w", key, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, ver, nil
}

// Write runs the version check, the change, the TTL and the index changes as one script.
func (s *Store) Write(ctx context.Context, w bot.Write) (int64, error) {
	if w.Key == "" {
		return 0, fmt.Errorf("write: empty key: %w", bot.ErrInvalid)
	}
	keys := make([]string, 0, 1+len(w.Index))
	keys = append(keys, s.k.record(w.Key))
	args := make([]any, 0, 4+3*len(w.Index))
	var data []byte
	set := "0"
	if w.Data != nil {
		sealed, err := s.seal(w.Data)
		if err != nil {
			return 0, fmt.Errorf("write %s: seal: %w", w.Key, err)
		}
		data, set = sealed, "1"
	}
	var ttl int64
	if w.TTL > 0 {
		ttl = max(w.TTL.Milliseconds(), 1)
	}
	args = append(args, w.Version, set, data, ttl)
	for _, op := range w.Index {
		if math.IsNaN(op.Score) {
			return 0, fmt.Errorf("write %s: index %s: NaN score: %w", w.Key, op.Index, bot.ErrInvalid)
		}
		keys = append(keys, s.k.index(op.Index))
		remove := "0"
		if op.Remove {
			remove = "1"
		}
		args = append(args, remove, score(op.Score), op.Member)
	}
	ver, err := writeScript.Run(ctx, s.c, keys, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", w.Key, err)
	}
	if ver < 0 {
		return 0, fmt.Errorf("write %s: %w", w.Key, bot.ErrConflict)
	}
	return ver, nil
}

// score formats a score or bound the way ZADD and ZRANGE read it, infinities included.
func score(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Range orders equal scores by member, as sorted sets do.
func (s *Store) Range(ctx context.Context, index string, min, max float64, limit int) ([]string, error) {
	by := &goredis.ZRangeBy{Min: score(min), Max: score(max)}
	if limit > 0 {
		by.Count = int64(limit)
	}
	got, err := s.c.ZRangeByScore(ctx, s.k.index(index), by).Result()
	if err != nil {
		return nil, fmt.Errorf("range %s: %w", index, err)
	}
	return got, nil
}

// Scan collects the matching keys from every master first, then calls fn in key order: SCAN may
// return a key twice and fn may write, and neither may confuse the other.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(key string) error) error {
	base := s.k.recordPrefix()
	match := globEscape(base+prefix) + "*"
	var mu sync.Mutex
	seen := map[string]bool{}
	err := forEachMaster(ctx, s.base, func(ctx context.Context, c goredis.UniversalClient) error {
		var cursor uint64
		for {
			ks, next, err := c.Scan(ctx, cursor, match, 1000).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			for _, k := range ks {
				seen[strings.TrimPrefix(k, base)] = true
			}
			mu.Unlock()
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	})
	if err != nil {
		return fmt.Errorf("scan %s: %w", prefix, err)
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// globEscape quotes the characters SCAN's MATCH treats as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// countScript increments a mark and starts its expiry on the first increment only.
// KEYS: the mark. ARGV: TTL in ms (0: none).
var countScript = script("marks count", goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 and ARGV[1] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`))

// Mark is SET NX, with PX when ttl is set.
func (s *Store) Mark(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := s.c.SetNX(ctx, s.k.mark(key), 1, ttlArg(ttl)).Result()
	if err != nil {
		return false, fmt.Errorf("mark %s: %w", key, err)
	}
	return ok, nil
}

// Count keeps the expiry set by the first increment, so that a limit counts over a fixed period.
func (s *Store) Count(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	n, err := countScript.Run(ctx, s.c, []string{s.k.mark(key)}, ttlArg(ttl).Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", key, err)
	}
	return n, nil
}

// Unmark removes key; a missing key is not an error.
func (s *Store) Unmark(ctx context.Context, key string) error {
	if err := s.c.Del(ctx, s.k.mark(key)).Err(); err != nil {
		return fmt.Errorf("unmark %s: %w", key, err)
	}
	return nil
}

// ttlArg rounds a positive TTL up to Redis's millisecond, so that it never becomes "none".
func ttlArg(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	return max(ttl, time.Millisecond)
}
