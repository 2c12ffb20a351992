package redis

import (
	"context"
	"fmt"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// group is the consumer group that reads every stream of the inbox and the outbox: each Store
// and Inbox is one consumer in it.
const group = "tiltas"

// groupInfoLua defines group_info(stream, group): the group's XINFO GROUPS fields by name
// (name, pending, last-delivered-id, ...), or nil when the stream or the group is not there.
const groupInfoLua = `
local function group_info(s, g)
  if redis.call('EXISTS', s) == 0 then return nil end
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', s)) do
    local f = {}
    for i = 1, #info, 2 do f[info[i]] = info[i + 1] end
    if f['name'] == g then return f end
  end
  return nil
end
`

// ensureGroupScript creates the consumer group ARGV[1] on stream KEYS[1] (and the stream) unless
// it is there: XGROUP CREATE alone raises BUSYGROUP on every call after the first, and an error a
// script ignores is still one in Redis's error stats.
var ensureGroupScript = script("stream group", goredis.NewScript(groupInfoLua+`
if not group_info(KEYS[1], ARGV[1]) then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
end
return 1
`))

// legacyHandle starts the handle of an update or a message taken from a stream an earlier
// version queued on, so that finishing it acknowledges it there.
const legacyHandle = "s/"

// dropEmptyScript deletes each stream in KEYS that holds no entry: nothing waiting and nothing
// being handled (finished entries are trimmed up to the oldest pending one). It is how an
// earlier version's stream goes once drained, so that it costs no more looks; a stream written
// meanwhile is kept, the check and the delete being one step. Returns how many went.
var dropEmptyScript = script("stream drop", goredis.NewScript(`
local n = 0
for _, k in ipairs(KEYS) do
  if redis.call('EXISTS', k) == 1 and redis.call('XLEN', k) == 0 then
    n = n + redis.call('DEL', k)
  end
end
return n
`))

// dropEmpty deletes those of streams (all under one hash tag) that hold no entry, and forgets
// their consumer groups.
func (g *groupsMade) dropEmpty(ctx context.Context, c goredis.UniversalClient, streams ...string) {
	if n, err := dropEmptyScript.Run(ctx, c, streams).Int(); err == nil && n > 0 {
		for _, st := range streams {
			g.made.Delete(st)
		}
	}
}

// groupsMade remembers the streams whose consumer group a Store or an Inbox has made sure of:
// the scripts and reads that take entries assume it, and looking for it at every take would cost
// a script call each.
type groupsMade struct{ made sync.Map }

// ensure makes sure, once per stream, that the streams' consumer group is there.
func (g *groupsMade) ensure(ctx context.Context, c goredis.UniversalClient, streams ...string) error {
	for _, st := range streams {
		if _, ok := g.made.Load(st); ok {
			continue
		}
		if err := ensureGroupScript.Run(ctx, c, []string{st}, group).Err(); err != nil {
			return fmt.Errorf("consumer group on %s: %w", st, err)
		}
		g.made.Store(st, true)
	}
	return nil
}

// forget forgets the streams when err says a stream or its group is gone (deleted by hand), so
// that the next take makes them again.
func (g *groupsMade) forget(err error, streams ...string) {
	if noGroup(err) {
		for _, st := range streams {
			g.made.Delete(st)
		}
	}
}

// noGroup reports whether err is Redis saying the stream or its consumer group is not there.
func noGroup(err error) bool { return err != nil && strings.Contains(err.Error(), "NOGROUP") }
