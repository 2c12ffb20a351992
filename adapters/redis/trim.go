package redis

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Finished stream entries (the inbox's handled updates, the outbox's sent messages) are not
// deleted one by one: an XDEL per entry was the largest part of each Done. They are acknowledged,
// and trimmed from the stream together, at most every trimEvery while the stream is busy and as
// soon as it is idle: an entry outlives its handling by at most about trimEvery, or by as long as
// an entry before it is still being handled.
const trimEvery = 100 * time.Millisecond

// trimScript removes the entries of stream KEYS[1] that consumer group ARGV[1] has finished:
// those before the oldest entry still pending, or, with none pending, every entry up to the last
// one delivered. Entries not yet delivered and entries still being handled stay. A stream or
// group not there is not an error. Returns how many entries went.
var trimScript = script("stream trim", goredis.NewScript(groupInfoLua+`
local g = group_info(KEYS[1], ARGV[1])
if not g then return 0 end
local below
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])
if pending[1] > 0 then
  below = pending[2]
else
  local last = g['last-delivered-id']
  local dash = string.find(last, '-', 1, true)
  below = string.sub(last, 1, dash) .. string.format('%.0f', tonumber(string.sub(last, dash + 1)) + 1)
end
return redis.call('XTRIM', KEYS[1], 'MINID', below)
`))

// trims tracks, per stream, whether entries were finished since the last trim and when that was.
type trims struct {
	mu    sync.Mutex
	dirty map[string]bool
	last  map[string]time.Time
}

// finished notes that entries of stream were acknowledged.
func (t *trims) finished(streams ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dirty == nil {
		t.dirty = map[string]bool{}
	}
	for _, s := range streams {
		t.dirty[s] = true
	}
}

// wait is how long until stream is due for a trim: -1 when nothing was finished since the last.
func (t *trims) wait(stream string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dirty[stream] {
		return -1
	}
	return max(trimEvery-time.Since(t.last[stream]), 0)
}

// trim removes the finished entries of each stream that had some finished since its last trim,
// when trimEvery has passed, or at once when idle. A failed trim is left for the next one.
func (t *trims) trim(ctx context.Context, c goredis.UniversalClient, idle bool, streams ...string) {
	for _, stream := range streams {
		t.mu.Lock()
		due := t.dirty[stream] && (idle || time.Since(t.last[stream]) >= trimEvery)
		if due {
			if t.last == nil {
				t.last = map[string]time.Time{}
			}
			t.dirty[stream], t.last[stream] = false, time.Now()
		}
		t.mu.Unlock()
		if !due {
			continue
		}
		if err := trimScript.Run(ctx, c, []string{stream}, group).Err(); err != nil {
			t.finished(stream)
		}
	}
}
