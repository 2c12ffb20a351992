package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/bot"
)

// The outbox puts each message due now on a stream, its sealed Outgoing JSON in the entry (id,
// b): one stream per platform and priority, read by one consumer group in which every Store is a
// consumer. Retried and held-back messages keep their body in a hash of their own (b, a: attempt)
// and wait in a per-platform sorted set (member "u:<id>" or "r:<id>", score due ms) until Take
// moves them back onto their stream, in an entry naming the hash (id).
// The queued set (score Outgoing.Queued ms) counts and dates every message not yet done or failed.
// A sent marker (ID → MessageRef JSON) outlives the body by SentTTL. Done deletes the body and
// acknowledges the entry; finished entries are trimmed from the stream together (trims).

// sweepScript removes the consumers of group ARGV[1] on stream KEYS[1], other than ARGV[2], that
// hold nothing and have been idle longer than ARGV[3] ms. A stream or group not there yet is not
// an error (XINFO CONSUMERS would answer one).
var sweepScript = script("outbox sweep", goredis.NewScript(groupInfoLua+`
if not group_info(KEYS[1], ARGV[1]) then return 0 end
local n = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['name'] ~= ARGV[2] and f['pending'] == 0 and f['idle'] > tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    n = n + 1
  end
end
return n
`))

// enqueueScript adds each message unless its ID is queued or was sent: the messages of every
// Enqueue made at once, in the order they were made. A message due now goes onto its stream with
// its body; one held back waits in the delayed set, its body in a hash.
// KEYS: queued, then per message: body, sent, stream, delayed. ARGV, per message: sealed body,
// ID, queued ms, due ms ("" for now), delayed member.
var enqueueScript = script("outbox enqueue", goredis.NewScript(`
local queued = {}
local seen = {}
for i = 0, (#KEYS - 1) / 4 - 1 do
  local k, a = 2 + i * 4, 1 + i * 5
  local id = ARGV[a + 1]
  if not seen[id] and not redis.call('ZSCORE', KEYS[1], id) and redis.call('EXISTS', KEYS[k + 1]) == 0 then
    seen[id] = true
    queued[#queued + 1] = ARGV[a + 2]
    queued[#queued + 1] = id
    if ARGV[a + 3] ~= '' then
      redis.call('HSET', KEYS[k], 'b', ARGV[a], 'a', 0)
      redis.call('ZADD', KEYS[k + 3], ARGV[a + 3], ARGV[a + 4])
    else
      redis.call('XADD', KEYS[k + 2], '*', 'id', id, 'b', ARGV[a])
    end
  end
end
if #queued > 0 then
  redis.call('ZADD', KEYS[1], unpack(queued))
end
return 1
`))

// takeScript moves due delayed messages back onto their streams (an entry naming the body's
// hash), then reclaims entries pending longer than the claim timeout and reads new ones, urgent
// stream first, up to max in all. An entry holds its message's body, or names the hash that does;
// one whose hash is gone (done, failed or discarded meanwhile) is dropped on the way. The streams'
// consumer group must be there (groupsMade.ensure).
// KEYS: delayed, urgent stream, routine stream. ARGV: now ms, max, group, consumer, claim
// timeout ms, body key prefix, "1" to reclaim. Returns {stream index (1 urgent, 2 routine), entry ID, body,
// attempt} per message.
var takeScript = script("outbox take", goredis.NewScript(`
local max = tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  local s = KEYS[3]
  if string.sub(m, 1, 1) == 'u' then s = KEYS[2] end
  redis.call('XADD', s, '*', 'id', string.sub(m, 3))
end
local out = {}
local function add(i, entries)
  for _, e in ipairs(entries) do
    local body = false
    if e[2] and e[2][3] == 'b' then
      body = {e[2][4], 0}
    elseif e[2] then
      body = redis.call('HMGET', ARGV[6] .. e[2][2], 'b', 'a')
    end
    if body and body[1] then
      table.insert(out, {i, e[1], body[1], body[2]})
    else
      redis.call('XACK', KEYS[i + 1], ARGV[3], e[1])
      redis.call('XDEL', KEYS[i + 1], e[1])
    end
  end
end
for i = 1, 2 do
  local s = KEYS[i + 1]
  if ARGV[7] == '1' and #out < max then
    local r = redis.call('XAUTOCLAIM', s, ARGV[3], ARGV[4], ARGV[5], '0-0', 'COUNT', max - #out)
    add(i, r[2])
  end
  if #out < max then
    local r = redis.call('XREADGROUP', 'GROUP', ARGV[3], ARGV[4], 'COUNT', max - #out, 'STREAMS', s, '>')
    if r then add(i, r[1][2]) end
  end
end
return out
`))

// retryScript moves a message from its stream to the delayed set, its body to its hash, unless
// it was finished meanwhile. KEYS: body, stream, delayed, queued. ARGV: entry ID, group, attempt,
// due ms, member, ID, sealed body.
var retryScript = script("outbox retry", goredis.NewScript(`
redis.call('XACK', KEYS[2], ARGV[2], ARGV[1])
redis.call('XDEL', KEYS[2], ARGV[1])
if not redis.call('ZSCORE', KEYS[4], ARGV[6]) then
  return 0
end
redis.call('HSET', KEYS[1], 'b', ARGV[7], 'a', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
return 1
`))

// failScript removes a message. KEYS: body, stream, queued. ARGV: entry ID, group, ID.
var failScript = script("outbox fail", goredis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('XACK', KEYS[2], ARGV[2], ARGV[1])
redis.call('XDEL', KEYS[2], ARGV[1])
return 1
`))

// luaBool is how the scripts take a flag.
func luaBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func member(pr bot.Priority, id string) string {
	if pr == bot.Urgent {
		return "u:" + id
	}
	return "r:" + id
}

// Enqueue seals each message and adds it unless its ID is queued or was sent within SentTTL. A
// message with NotBefore in the future waits in the delayed set, so quiet hours cost no attempt.
// Enqueues made at once share one script call.
func (s *Store) Enqueue(ctx context.Context, msgs ...bot.Outgoing) error {
	now := s.clock.Now()
	for _, m := range msgs {
		if m.Queued.IsZero() {
			m.Queued = now
		}
		body, err := s.sealOutgoing(m)
		if err != nil {
			return fmt.Errorf("enqueue %s: %w", m.ID, err)
		}
		due := ""
		if m.NotBefore.After(now) {
			due = strconv.FormatInt(m.NotBefore.UnixMilli(), 10)
		}
		if err := s.enqueues.do(ctx, enqueued{m, body, due}); err != nil {
			return fmt.Errorf("enqueue %s: %w", m.ID, err)
		}
		if due != "" {
			s.due.note(m.To.Platform, m.NotBefore)
		}
	}
	return nil
}

// sealOutgoing is m's body as the outbox keeps it: JSON, sealed.
func (s *Store) sealOutgoing(m bot.Outgoing) ([]byte, error) {
	plain, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	body, err := s.seal(plain)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return body, nil
}

// enqueued is one message as Enqueue hands it to the batch.
type enqueued struct {
	m    bot.Outgoing
	body []byte
	due  string
}

func (s *Store) enqueueAll(ctx context.Context, items []enqueued) error {
	keys := make([]string, 0, 1+4*len(items))
	args := make([]any, 0, 5*len(items))
	keys = append(keys, s.k.queued())
	for _, it := range items {
		m := it.m
		keys = append(keys, s.k.body(m.ID), s.k.sent(m.ID), s.k.stream(m.To.Platform, m.Priority), s.k.delayed(m.To.Platform))
		args = append(args, it.body, m.ID, m.Queued.UnixMilli(), it.due, member(m.Priority, m.ID))
	}
	return enqueueScript.Run(ctx, s.c, keys, args...).Err()
}

// Take hands out what is ready: new entries by plain reads, urgent first; when claims are to be
// looked at or a delayed message is due, by the take script, which also brings those back. When
// nothing is ready, it blocks on both streams for new entries, waking early when a delayed
// message falls due or a claim may have expired.
func (s *Store) Take(ctx context.Context, platform bot.Platform, n int, block time.Duration) ([]bot.Delivery, error) {
	if n <= 0 {
		return nil, fmt.Errorf("take %d: %w", n, bot.ErrInvalid)
	}
	s.sweepConsumers(ctx, platform)
	urgent, routine := s.k.stream(platform, bot.Urgent), s.k.stream(platform, bot.Routine)
	if err := s.groups.ensure(ctx, s.c, urgent, routine); err != nil {
		return nil, fmt.Errorf("take %s: %w", platform, err)
	}
	s.trims.trim(ctx, s.c, false, urgent, routine)
	if s.legacy.due(string(platform), s.claimTimeout) {
		if ds, err := s.takeLegacy(ctx, platform, n); err != nil || len(ds) > 0 {
			return ds, err
		}
	}
	deadline := time.Now().Add(block)
	for {
		// Each platform's streams are looked at on their own: a busy platform must not use up
		// the looks of a quiet one. A look also brings the delayed messages that fell due
		// back, those other replicas delayed included.
		reclaim := s.reclaims.due(string(platform), s.claimTimeout)
		var ds []bot.Delivery
		var err error
		if !reclaim && !s.due.now(platform, s.clock.Now()) {
			// Nothing but new entries to take: plain reads, no script.
			ds, err = s.readNew(ctx, urgent, routine, n)
		} else {
			var full bool
			ds, full, err = s.runTake(ctx, platform, urgent, routine, s.clock.Now().UnixMilli(), n, reclaim)
			if reclaim && full {
				s.reclaims.again(string(platform))
			}
			s.readDue(ctx, platform)
		}
		if err != nil || len(ds) > 0 {
			return ds, err
		}
		// Idle: what was finished goes now.
		s.trims.trim(ctx, s.c, true, urgent, routine)
		wait := time.Until(deadline)
		if wait < time.Millisecond {
			return nil, nil
		}
		wait = min(wait, s.claimTimeout)
		if next := s.readDue(ctx, platform); !next.IsZero() {
			wait = max(min(wait, next.Sub(s.clock.Now())), time.Millisecond)
		}
		ds, err = s.readBlocking(ctx, urgent, routine, n, wait)
		if err != nil || len(ds) > 0 {
			return ds, err
		}
	}
}

// readBlocking waits for new entries on both streams and loads the bodies they name.
func (s *Store) readBlocking(ctx context.Context, urgent, routine string, n int, wait time.Duration) ([]bot.Delivery, error) {
	streams, err := s.c.XReadGroup(ctx, &goredis.XReadGroupArgs{
		Group:    group,
		Consumer: s.consumer,
		Streams:  []string{urgent, routine, ">", ">"},
		Count:    int64(n),
		Block:    wait,
	}).Result()
	if err := s.readFailed(ctx, err, urgent, routine); err != nil || len(streams) == 0 {
		return nil, err
	}
	// The entries were delivered to this consumer just before the read returned.
	return s.load(ctx, streams, urgent, s.sendBy(time.Now()))
}

// readNew takes up to n new entries without a script, urgent ones first: the usual take, when
// no claim is to be looked at and no delayed message is due.
func (s *Store) readNew(ctx context.Context, urgent, routine string, n int) ([]bot.Delivery, error) {
	until := s.sendBy(time.Now())
	read := func(stream string, n int) ([]bot.Delivery, error) {
		streams, err := s.c.XReadGroup(ctx, &goredis.XReadGroupArgs{
			Group: group, Consumer: s.consumer, Streams: []string{stream, ">"}, Count: int64(n), Block: -1,
		}).Result()
		if err := s.readFailed(ctx, err, urgent, routine); err != nil || len(streams) == 0 {
			return nil, err
		}
		return s.load(ctx, streams, urgent, until)
	}
	ds, err := read(urgent, n)
	if err != nil || len(ds) == n {
		return ds, err
	}
	more, err := read(routine, n-len(ds))
	if err != nil && len(ds) > 0 {
		// The urgent ones are this consumer's now: they go out, and the error comes again
		// with the next take if it lasts.
		return ds, nil
	}
	return append(ds, more...), err
}

// readFailed turns a read's error into Take's: none for nothing read, and a consumer group found
// gone forgotten, so that the next take makes it again.
func (s *Store) readFailed(ctx context.Context, err error, urgent, routine string) error {
	switch {
	case err == nil || isNil(err):
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	s.groups.forget(err, urgent, routine)
	return fmt.Errorf("take: read: %w", err)
}

// load turns the entries read into deliveries claimed until until: a body in its entry as it is,
// those the entries name read in one round trip; an entry whose body's hash is gone (finished
// while it waited on the stream) is dropped.
func (s *Store) load(ctx context.Context, streams []goredis.XStream, urgent string, until time.Time) ([]bot.Delivery, error) {
	type entry struct {
		stream string
		idx    int64
		id     string
		body   *goredis.SliceCmd
	}
	var entries []entry
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, st := range streams {
			idx := int64(2)
			if st.Stream == urgent {
				idx = 1
			}
			for _, m := range st.Messages {
				if b, ok := m.Values["b"].(string); ok {
					entries = append(entries, entry{st.Stream, idx, m.ID, goredis.NewSliceResult([]any{b, int64(0)}, nil)})
					continue
				}
				id, _ := m.Values["id"].(string)
				entries = append(entries, entry{st.Stream, idx, m.ID, p.HMGet(ctx, s.k.body(id), "b", "a")})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("take: read bodies: %w", err)
	}
	var res []any
	for _, e := range entries {
		vals := e.body.Val()
		b, ok := vals[0].(string)
		if !ok {
			s.c.XAck(ctx, e.stream, group, e.id)
			s.c.XDel(ctx, e.stream, e.id)
			continue
		}
		res = append(res, []any{e.idx, e.id, b, vals[1]})
	}
	return s.deliveries(res, until)
}

// dueTimes is, per platform, when the earliest delayed message falls due as this Store last saw
// it (zero: none): a take runs the script that brings delayed messages back only when one is
// due, or when it looks at the claims anyway (a few times per claim timeout), which is when it
// sees those that other replicas delayed.
type dueTimes struct {
	mu    sync.Mutex
	next  map[bot.Platform]time.Time
	notes uint64 // notes made, so that a read begun before one does not undo it
}

// note records that a message of platform's falls due at t.
func (d *dueTimes) note(p bot.Platform, t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.next == nil {
		d.next = map[bot.Platform]time.Time{}
	}
	d.notes++
	if cur := d.next[p]; cur.IsZero() || t.Before(cur) {
		d.next[p] = t
	}
}

// seen returns the count of notes made, for set.
func (d *dueTimes) seen() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.notes
}

// set records what the delayed set held first (zero: nothing) when it was read, after seen
// returned notes: a note made since may be newer than the read, and is kept if it is earlier.
func (d *dueTimes) set(p bot.Platform, t time.Time, notes uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.next == nil {
		d.next = map[bot.Platform]time.Time{}
	}
	if cur := d.next[p]; d.notes != notes && !cur.IsZero() && (t.IsZero() || cur.Before(t)) {
		return
	}
	d.next[p] = t
}

// now reports whether a delayed message of platform's is due at now.
func (d *dueTimes) now(p bot.Platform, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.next[p]
	return !t.IsZero() && !t.After(now)
}

// readDue reads when platform's earliest delayed message falls due (zero: none) and remembers
// it; on an error it returns zero and remembers nothing new.
func (s *Store) readDue(ctx context.Context, platform bot.Platform) time.Time {
	notes := s.due.seen()
	first, err := s.c.ZRangeWithScores(ctx, s.k.delayed(platform), 0, 0).Result()
	if err != nil {
		return time.Time{}
	}
	var t time.Time
	if len(first) > 0 {
		t = time.UnixMilli(int64(first[0].Score))
	}
	s.due.set(platform, t, notes)
	return t
}

// takeLegacy takes what versions before this one left on their streams (entries naming the
// bodies' hashes): what they queued during a rolling upgrade and did not send themselves, and
// what their replicas held when they stopped. Take looks a few times per claim timeout, until
// the streams are empty and go.
func (s *Store) takeLegacy(ctx context.Context, platform bot.Platform, n int) ([]bot.Delivery, error) {
	urgent, routine := s.k.legacyStream(platform, bot.Urgent), s.k.legacyStream(platform, bot.Routine)
	if there, err := s.c.Exists(ctx, urgent, routine).Result(); err != nil || there == 0 {
		return nil, err
	}
	if err := s.groups.ensure(ctx, s.c, urgent, routine); err != nil {
		return nil, fmt.Errorf("take %s: %w", platform, err)
	}
	s.trims.trim(ctx, s.c, false, urgent, routine)
	// "Now" is 0: due delayed messages go onto this version's streams, not these.
	ds, _, err := s.runTake(ctx, platform, urgent, routine, 0, n, true)
	if err == nil && len(ds) == 0 {
		// Drained: once finished entries are trimmed, the streams go.
		s.groups.dropEmpty(ctx, s.c, urgent, routine)
	}
	for i := range ds {
		ds[i].Handle = legacyHandle + ds[i].Handle
	}
	return ds, err
}

// runTake runs the take script on platform's delayed set and the streams urgent and routine,
// moving the delayed messages due at nowMs (Unix ms) back first; full reports whether it took
// as many as it could.
func (s *Store) runTake(ctx context.Context, platform bot.Platform, urgent, routine string, nowMs int64, n int, reclaim bool) (ds []bot.Delivery, full bool, err error) {
	// The claim runs on the server's clock from the moment the script takes the entries.
	until := s.sendBy(time.Now())
	res, err := takeScript.Run(ctx, s.c, []string{s.k.delayed(platform), urgent, routine}, nowMs, n, group, s.consumer,
		s.claimTimeout.Milliseconds(), s.k.bodyPrefix(), luaBool(reclaim)).Slice()
	if err != nil {
		s.groups.forget(err, urgent, routine)
		return nil, false, fmt.Errorf("take %s: %w", platform, err)
	}
	ds, err = s.deliveries(res, until)
	return ds, len(res) >= n, err
}

// entryOf is the stream and entry ID of a delivery.
func (s *Store) entryOf(d bot.Delivery) (stream, id string) {
	if id, ok := strings.CutPrefix(d.Handle, legacyHandle); ok {
		return s.k.legacyStream(d.To.Platform, d.Priority), id
	}
	return s.k.stream(d.To.Platform, d.Priority), d.Handle
}

// sendBy is Delivery.Until for entries claimed at t: a quarter of the claim timeout before it
// runs out, which leaves a send started at the last moment time to finish and be marked done.
func (s *Store) sendBy(t time.Time) time.Time {
	return t.Add(s.claimTimeout - s.claimTimeout/4)
}

// deliveries decodes takeScript's rows (and readBlocking's, which have the same shape), claimed
// until until.
func (s *Store) deliveries(rows []any, until time.Time) ([]bot.Delivery, error) {
	var ds []bot.Delivery
	for _, r := range rows {
		row, ok := r.([]any)
		if !ok || len(row) != 4 {
			return nil, fmt.Errorf("take: unexpected reply %T", r)
		}
		handle, _ := row[1].(string)
		body, _ := row[2].(string)
		attempt, _ := strconv.Atoi(fmt.Sprint(row[3]))
		plain, err := s.open([]byte(body))
		if err != nil {
			return nil, fmt.Errorf("take %s: open: %w", handle, err)
		}
		d := bot.Delivery{Attempt: attempt, Handle: handle, Until: until}
		if err := json.Unmarshal(plain, &d.Outgoing); err != nil {
			return nil, fmt.Errorf("take %s: decode: %w", handle, err)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// Done records the ref for SentTTL, deletes the body, so that the message's text does not
// linger in Redis, and acknowledges the stream entry (an ID; trimmed soon after). Dones made at
// once share one transaction.
func (s *Store) Done(ctx context.Context, d bot.Delivery, ref bot.MessageRef) error {
	refJSON, err := json.Marshal(ref)
	if err != nil {
		return fmt.Errorf("done %s: %w", d.ID, err)
	}
	if err := s.dones.do(ctx, finished{d, refJSON}); err != nil {
		return fmt.Errorf("done %s: %w", d.ID, err)
	}
	return nil
}

// finished is one message as Done hands it to the batch.
type finished struct {
	d   bot.Delivery
	ref []byte
}

// doneAll records each message's ref and removes the message, for every Done made at once: one
// transaction of plain commands (no script: nothing in it depends on what Redis holds), every
// key under the outbox's hash tag.
func (s *Store) doneAll(ctx context.Context, items []finished) error {
	bodies := make([]string, 0, len(items))
	ids := make([]any, 0, len(items))
	entries := map[string][]string{}
	var streams []string
	for _, it := range items {
		d := it.d
		bodies = append(bodies, s.k.body(d.ID))
		ids = append(ids, d.ID)
		st, entry := s.entryOf(d)
		if _, ok := entries[st]; !ok {
			streams = append(streams, st)
		}
		entries[st] = append(entries[st], entry)
	}
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for _, it := range items {
			p.Set(ctx, s.k.sent(it.d.ID), it.ref, s.sentTTL)
		}
		p.Del(ctx, bodies...)
		p.ZRem(ctx, s.k.queued(), ids...)
		for _, st := range streams {
			p.XAck(ctx, st, group, entries[st]...)
		}
		return nil
	})
	if err == nil {
		s.trims.finished(streams...)
	}
	return err
}

// Retry moves the message to the delayed set with its attempt counted.
func (s *Store) Retry(ctx context.Context, d bot.Delivery, at time.Time) error {
	body, err := s.sealOutgoing(d.Outgoing)
	if err != nil {
		return fmt.Errorf("retry %s: %w", d.ID, err)
	}
	stream, entry := s.entryOf(d)
	keys := []string{s.k.body(d.ID), stream, s.k.delayed(d.To.Platform), s.k.queued()}
	// Truncated like Take's now, so that a retry "now" is takeable at once (a message may go
	// out up to a millisecond early, which no one can tell).
	err = retryScript.Run(ctx, s.c, keys, entry, group, d.Attempt+1, at.UnixMilli(), member(d.Priority, d.ID), d.ID, body).Err()
	if err != nil {
		return fmt.Errorf("retry %s: %w", d.ID, err)
	}
	s.due.note(d.To.Platform, at)
	return nil
}

// Fail deletes the message and its stream entry.
func (s *Store) Fail(ctx context.Context, d bot.Delivery) error {
	stream, entry := s.entryOf(d)
	keys := []string{s.k.body(d.ID), stream, s.k.queued()}
	if err := failScript.Run(ctx, s.c, keys, entry, group, d.ID).Err(); err != nil {
		return fmt.Errorf("fail %s: %w", d.ID, err)
	}
	return nil
}

// discardScript drops a queued message whose body is in its hash: the body (so that a stream
// entry naming it is dropped when taken), its place in the queued set and in the delayed set.
// KEYS: body, queued, delayed. ARGV: ID, delayed member. Returns 1 if the message was still there.
var discardScript = script("outbox discard", goredis.NewScript(`
local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[2])
return n
`))

// discardEntryScript drops a queued message whose body is in its stream entry, if the entry is
// still there: the entry, its place in the queued set, and the hash and delayed member a retry
// meanwhile may have given it. KEYS: stream, queued, body, delayed. ARGV: entry ID, ID, delayed
// member. Returns 1 if the message was dropped, 0 if the entry was gone (taken back by a retry,
// put back by a rekey, or finished).
var discardEntryScript = script("outbox discard", goredis.NewScript(`
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local n = redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[3])
return n
`))

// Discard reads every message not yet done (the queued set): the bodies in hashes, a page per
// round trip, then those on the streams; it drops those match picks. A message that moved
// meanwhile (a retry took it from its stream to its hash, a rekey put it back on its stream) is
// looked for again. It is meant for erasures, not for every message. A body it cannot open or
// decode is skipped.
func (s *Store) Discard(ctx context.Context, match func(bot.Outgoing) bool) ([]bot.Outgoing, error) {
	ids, err := s.c.ZRange(ctx, s.k.queued(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("discard: %w", err)
	}
	var out []bot.Outgoing
	// Three looks: a message moves at most once or twice while an erasure runs; one found
	// nowhere (a stream deleted by hand) is not looked for for ever.
	for round := 0; round < 3 && len(ids) > 0; round++ {
		onStream, err := s.discardHeld(ctx, ids, match, &out)
		if err != nil {
			return out, err
		}
		if len(onStream) == 0 {
			break
		}
		moved, err := s.discardOnStreams(ctx, onStream, match, &out)
		if err != nil {
			return out, err
		}
		// Those still queued are looked for again.
		ids = ids[:0]
		for id := range moved {
			if _, err := s.c.ZScore(ctx, s.k.queued(), id).Result(); err == nil {
				ids = append(ids, id)
			} else if !isNil(err) {
				return out, fmt.Errorf("discard: %w", err)
			}
		}
	}
	return out, nil
}

// discardHeld drops the messages among ids whose body is in a hash that match picks, adding them
// to out, and returns the ids whose body is not in one.
func (s *Store) discardHeld(ctx context.Context, ids []string, match func(bot.Outgoing) bool, out *[]bot.Outgoing) (map[string]bool, error) {
	onStream := map[string]bool{}
	for page := range slices.Chunk(ids, 200) {
		bodies := make([]*goredis.SliceCmd, len(page))
		if _, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, id := range page {
				bodies[i] = p.HMGet(ctx, s.k.body(id), "b")
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("discard: %w", err)
		}
		for i, id := range page {
			b, ok := bodies[i].Val()[0].(string)
			if !ok {
				onStream[id] = true
				continue
			}
			o, ok := s.outgoing(b)
			if !ok || !match(o) {
				continue
			}
			keys := []string{s.k.body(id), s.k.queued(), s.k.delayed(o.To.Platform)}
			dropped, err := discardScript.Run(ctx, s.c, keys, id, member(o.Priority, id)).Int()
			if err != nil {
				return nil, fmt.Errorf("discard %s: %w", id, err)
			}
			if dropped == 1 {
				*out = append(*out, o)
			}
		}
	}
	return onStream, nil
}

// discardOnStreams drops the messages among ids whose body is in a stream entry that match picks,
// adding them to out, and returns those it did not find or whose entry went meanwhile.
func (s *Store) discardOnStreams(ctx context.Context, ids map[string]bool, match func(bot.Outgoing) bool, out *[]bot.Outgoing) (map[string]bool, error) {
	missed := maps.Clone(ids)
	err := s.eachEntry(ctx, func(stream string, e goredis.XMessage) error {
		id, _ := e.Values["id"].(string)
		b, ok := e.Values["b"].(string)
		if !ok || !ids[id] {
			return nil
		}
		delete(missed, id)
		o, ok := s.outgoing(b)
		if !ok || !match(o) {
			return nil
		}
		keys := []string{stream, s.k.queued(), s.k.body(id), s.k.delayed(o.To.Platform)}
		dropped, err := discardEntryScript.Run(ctx, s.c, keys, e.ID, id, member(o.Priority, id)).Int()
		if err != nil {
			return fmt.Errorf("discard %s: %w", id, err)
		}
		if dropped == 1 {
			*out = append(*out, o)
		} else {
			missed[id] = true
		}
		return nil
	})
	return missed, err
}

// outgoing opens and decodes a stored body; ok is false when it cannot (sealed with a key no
// longer configured: not ours to judge).
func (s *Store) outgoing(body string) (bot.Outgoing, bool) {
	var o bot.Outgoing
	plain, err := s.open([]byte(body))
	if err != nil || json.Unmarshal(plain, &o) != nil {
		return o, false
	}
	return o, true
}

// eachEntry calls fn with every entry of every outbox stream, a page per round trip.
func (s *Store) eachEntry(ctx context.Context, fn func(stream string, e goredis.XMessage) error) error {
	streams, err := s.keysWith(ctx, s.k.streamPrefix())
	if err != nil {
		return err
	}
	for stream := range streams {
		from := "-"
		for {
			page, err := s.c.XRangeN(ctx, stream, from, "+", 500).Result()
			if err != nil {
				return fmt.Errorf("read %s: %w", stream, err)
			}
			for _, e := range page {
				if err := fn(stream, e); err != nil {
					return err
				}
			}
			if len(page) < 500 {
				break
			}
			from = "(" + page[len(page)-1].ID
		}
	}
	return nil
}

// Sent reads the marker Done left.
func (s *Store) Sent(ctx context.Context, id string) (bot.MessageRef, bool, error) {
	data, err := s.c.Get(ctx, s.k.sent(id)).Bytes()
	if isNil(err) {
		return bot.MessageRef{}, false, nil
	}
	if err != nil {
		return bot.MessageRef{}, false, fmt.Errorf("sent %s: %w", id, err)
	}
	var ref bot.MessageRef
	if err := json.Unmarshal(data, &ref); err != nil {
		return bot.MessageRef{}, false, fmt.Errorf("sent %s: %w", id, err)
	}
	return ref, true, nil
}

// Stats counts every message not yet done or failed (waiting, taken or delayed, on every
// platform) and dates the oldest by its Queued time.
func (s *Store) Stats(ctx context.Context) (int64, time.Duration, error) {
	var depth *goredis.IntCmd
	var first *goredis.ZSliceCmd
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		depth = p.ZCard(ctx, s.k.queued())
		first = p.ZRangeWithScores(ctx, s.k.queued(), 0, 0)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("outbox stats: %w", err)
	}
	if len(first.Val()) == 0 {
		return 0, 0, nil
	}
	oldest := time.UnixMilli(int64(first.Val()[0].Score))
	return depth.Val(), max(s.clock.Now().Sub(oldest), 0), nil
}

// sweeps paces the removal of consumers left behind by replicas that are gone.
type sweeps struct {
	mu   sync.Mutex
	last map[bot.Platform]time.Time
}

// consumerIdle is how long a consumer with nothing pending may be silent before it is removed.
const consumerIdle = time.Hour

// sweepConsumers removes, at most every ten minutes per platform, the consumers of other Stores
// that hold nothing and have been idle for an hour: every restart makes a new consumer, and the
// group would otherwise grow for ever. Failures are left for the next sweep.
func (s *Store) sweepConsumers(ctx context.Context, platform bot.Platform) {
	s.sweeps.mu.Lock()
	if s.sweeps.last == nil {
		s.sweeps.last = map[bot.Platform]time.Time{}
	}
	due := time.Since(s.sweeps.last[platform]) > 10*time.Minute
	if due {
		s.sweeps.last[platform] = time.Now()
	}
	s.sweeps.mu.Unlock()
	if !due {
		return
	}
	for _, pr := range []bot.Priority{bot.Urgent, bot.Routine} {
		stream := s.k.stream(platform, pr)
		if err := sweepScript.Run(ctx, s.c, []string{stream}, group, s.consumer, consumerIdle.Milliseconds()).Err(); err != nil {
			return // try next time
		}
	}
}
