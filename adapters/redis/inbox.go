package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/bot"
)

var (
	_ bot.Inbox  = (*Inbox)(nil)
	_ bot.Locker = (*Locker)(nil)
)

// Inbox is the durable queue of incoming updates: one stream read by one consumer group, each
// entry a sealed bot.Incoming. An update is handled once however often the platform delivers
// it: the first entry of its ID to be taken sets the ID's seen mark (SET NX GET, the mark holding
// the entry's ID, kept SeenTTL) and is handed out; a later entry of the same ID finds the mark and
// is dropped, so the first delivery keeps its place in the chat's order. Pushing adds plain
// entries (PushAll, a poll's batch: no script; Lua's cost per call and per byte was most of what
// pushing cost); Push also refuses an ID already marked. An entry taken and not finished within
// the claim timeout is taken again, its own mark letting it through.
type Inbox struct {
	c            goredis.UniversalClient
	stream       string
	legacy       string // where versions before this one queued (marks "1", set when pushed)
	seenPrefix   string
	sealer       bot.Sealer
	claimTimeout time.Duration
	seenTTL      time.Duration
	consumer     string
	groups       groupsMade
	reclaims     pacer
	dones        batcher[bot.Inbound] // updates finished at once: one call
	trims        trims
}

// InboxOptions configure an Inbox; only Client is required.
type InboxOptions struct {
	Client       goredis.UniversalClient
	Prefix       string
	Sealer       bot.Sealer
	ClaimTimeout time.Duration // default 30s
	SeenTTL      time.Duration // how long an update ID is remembered (default 7 days)
}

// NewInbox returns an Inbox; it makes no network call.
func NewInbox(o InboxOptions) *Inbox {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.ClaimTimeout <= 0 {
		o.ClaimTimeout = DefaultClaimTimeout
	}
	if o.SeenTTL <= 0 {
		o.SeenTTL = 7 * 24 * time.Hour
	}
	b := &Inbox{c: pipelined(o.Client), stream: o.Prefix + ":{in}:u", legacy: o.Prefix + ":{in}:s", seenPrefix: o.Prefix + ":{in}:seen:",
		sealer: o.Sealer, claimTimeout: o.ClaimTimeout, seenTTL: o.SeenTTL, consumer: "c-" + bot.NewID()}
	b.dones.run = b.doneAll
	return b
}

// pushScript queues an update unless its ID has a seen mark (it was taken before).
// KEYS: stream, seen mark. ARGV: body. Returns 1 if queued, 0 if a known repeat.
var pushScript = script("inbox push", goredis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('XADD', KEYS[1], '*', 'b', ARGV[1])
return 1
`))

// Push queues in unless its ID is known to have been taken before, and reports whether it
// queued it. A repeat of an update not yet taken is queued, and dropped when taken.
func (b *Inbox) Push(ctx context.Context, in bot.Incoming) (bool, error) {
	seen, data, err := b.entry(in)
	if err != nil {
		return false, fmt.Errorf("inbox push: %w", err)
	}
	n, err := pushScript.Run(ctx, b.c, []string{b.stream, seen}, data).Int()
	if err != nil {
		return false, fmt.Errorf("inbox push: %w", err)
	}
	return n == 1, nil
}

// PushAll queues ins in order, in one round trip of plain XADDs; an update among them seen
// before is dropped when taken, so it is still handled once.
func (b *Inbox) PushAll(ctx context.Context, ins []bot.Incoming) error {
	if len(ins) == 0 {
		return nil
	}
	bodies := make([][]byte, len(ins))
	for i, in := range ins {
		_, data, err := b.entry(in)
		if err != nil {
			return fmt.Errorf("inbox push: %w", err)
		}
		bodies[i] = data
	}
	_, err := b.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, data := range bodies {
			p.XAdd(ctx, &goredis.XAddArgs{Stream: b.stream, Values: []any{"b", data}})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("inbox push: %w", err)
	}
	return nil
}

// entry returns an update's seen marker and its sealed body.
func (b *Inbox) entry(in bot.Incoming) (string, []byte, error) {
	data, err := json.Marshal(in)
	if err != nil {
		return "", nil, err
	}
	if b.sealer != nil {
		if data, err = b.sealer.Seal(data); err != nil {
			return "", nil, err
		}
	}
	return b.seen(in), data, nil
}

// seen is the key of in's seen mark (a new one each time for an update without an ID: never a
// repeat).
func (b *Inbox) seen(in bot.Incoming) string {
	if in.ID == "" {
		return b.seenPrefix + string(in.From.Platform) + ":" + bot.NewID()
	}
	return b.seenPrefix + string(in.From.Platform) + ":" + in.ID
}

// Pull returns updates a dead processor left unfinished, then new ones, oldest first, each
// update once: repeats are dropped as they are taken.
func (b *Inbox) Pull(ctx context.Context, max int, block time.Duration) ([]bot.Inbound, error) {
	if err := b.groups.ensure(ctx, b.c, b.stream); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	b.trims.trim(ctx, b.c, false, b.stream, b.legacy)
	if b.reclaims.due("legacy", b.claimTimeout) {
		if ins, err := b.pullLegacy(ctx, max); err != nil || len(ins) > 0 {
			return ins, err
		}
	}
	if w := b.trims.wait(b.stream); w >= 0 && block > 0 {
		// Updates were handled since the last trim: wait no longer than until it is due, so
		// that their text goes soon even when nothing else comes.
		block = min(block, w+time.Millisecond)
	}
	for {
		msgs, err := b.read(ctx, max, block)
		if err != nil || len(msgs) == 0 {
			return nil, err
		}
		ins, err := b.decode(ctx, msgs, "")
		if err == nil {
			ins, err = b.once(ctx, ins)
		}
		if err != nil || len(ins) > 0 {
			return ins, err
		}
		// All were repeats (or unreadable): look again at once.
		block = 0
	}
}

// read takes up to max entries: those a dead processor left, a few times per claim timeout,
// else new ones, waiting up to block for them.
func (b *Inbox) read(ctx context.Context, max int, block time.Duration) ([]goredis.XMessage, error) {
	// A dead processor's updates wait at least the claim timeout anyway: looking for them a few
	// times per timeout, not at every pull, saves a round trip per pull.
	if b.reclaims.due("in", b.claimTimeout) {
		msgs, err := b.reclaim(ctx, b.stream, max)
		if err != nil || len(msgs) > 0 {
			if len(msgs) == max {
				b.reclaims.again("in") // more may be waiting
			}
			return msgs, err
		}
	}
	msgs, err := b.readNew(ctx, b.stream, max, block)
	if err == nil && len(msgs) == 0 && ctx.Err() == nil {
		// Idle: what was handled goes now.
		b.trims.trim(ctx, b.c, true, b.stream, b.legacy)
	}
	return msgs, err
}

// readNew takes up to max of stream's new entries, waiting up to block for them (none: not at
// all); shutting down is not an error.
func (b *Inbox) readNew(ctx context.Context, stream string, max int, block time.Duration) ([]goredis.XMessage, error) {
	args := &goredis.XReadGroupArgs{Group: group, Consumer: b.consumer, Streams: []string{stream, ">"}, Count: int64(max), Block: -1}
	if block > 0 {
		args.Block = block
	}
	res, err := b.c.XReadGroup(ctx, args).Result()
	if err != nil {
		if isNil(err) || errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil, nil
		}
		b.groups.forget(err, stream)
		return nil, fmt.Errorf("inbox read: %w", err)
	}
	var msgs []goredis.XMessage
	for _, s := range res {
		msgs = append(msgs, s.Messages...)
	}
	return msgs, nil
}

// reclaim takes over up to max of stream's entries pending longer than the claim timeout.
func (b *Inbox) reclaim(ctx context.Context, stream string, max int) ([]goredis.XMessage, error) {
	msgs, _, err := b.c.XAutoClaim(ctx, &goredis.XAutoClaimArgs{Stream: stream, Group: group, Consumer: b.consumer, MinIdle: b.claimTimeout, Start: "0-0", Count: int64(max)}).Result()
	if err != nil && !isNil(err) {
		b.groups.forget(err, stream)
		return nil, fmt.Errorf("inbox reclaim: %w", err)
	}
	return msgs, nil
}

// decode opens the entries taken. An entry that cannot be opened (sealed with a key this replica
// lacks) is an error, and stays pending for a replica that has the key; one that opens but does
// not decode is dropped rather than block the queue for ever. handle starts each handle.
func (b *Inbox) decode(ctx context.Context, msgs []goredis.XMessage, handle string) ([]bot.Inbound, error) {
	out := make([]bot.Inbound, 0, len(msgs))
	var drop []bot.Inbound
	for _, m := range msgs {
		raw, _ := m.Values["b"].(string)
		data, err := openWith(b.sealer, []byte(raw))
		if err != nil {
			return nil, fmt.Errorf("inbox open %s: %w", m.ID, err)
		}
		var in bot.Incoming
		if err := json.Unmarshal(data, &in); err != nil {
			drop = append(drop, bot.Inbound{Handle: handle + m.ID})
			continue
		}
		out = append(out, bot.Inbound{Incoming: in, Handle: handle + m.ID})
	}
	if len(drop) > 0 {
		_ = b.doneAll(ctx, drop)
	}
	return out, nil
}

// once sets the seen mark of each update taken from the stream to its entry, in one round trip,
// and returns those whose mark is theirs (new, or set by an earlier take of the same entry); a
// repeat (the mark names another entry, or is an earlier version's "1") is acknowledged and
// dropped. On an error the entries stay pending and come back after the claim timeout.
func (b *Inbox) once(ctx context.Context, ins []bot.Inbound) ([]bot.Inbound, error) {
	marks := make([]*goredis.StatusCmd, len(ins))
	_, err := b.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, in := range ins {
			if in.ID != "" {
				marks[i] = p.SetArgs(ctx, b.seen(in.Incoming), in.Handle, goredis.SetArgs{Mode: "NX", Get: true, TTL: b.seenTTL})
			}
		}
		return nil
	})
	if err != nil && !isNil(err) {
		return nil, fmt.Errorf("inbox mark: %w", err)
	}
	out := ins[:0]
	var repeats []bot.Inbound
	for i, in := range ins {
		if marks[i] != nil {
			was, err := marks[i].Result()
			if err != nil && !isNil(err) {
				return nil, fmt.Errorf("inbox mark: %w", err)
			}
			if err == nil && was != in.Handle {
				repeats = append(repeats, bot.Inbound{Handle: in.Handle})
				continue
			}
		}
		out = append(out, in)
	}
	if len(repeats) > 0 {
		// Acknowledged together; one that fails comes back and is dropped again.
		_ = b.doneAll(ctx, repeats)
	}
	return out, nil
}

// pullLegacy takes what versions before this one queued on their stream and did not handle
// themselves (they marked each update when they pushed it): a few looks per claim timeout, at
// every pull while it finds some, until the stream is empty and goes.
func (b *Inbox) pullLegacy(ctx context.Context, max int) ([]bot.Inbound, error) {
	if n, err := b.c.Exists(ctx, b.legacy).Result(); err != nil || n == 0 {
		return nil, err
	}
	if err := b.groups.ensure(ctx, b.c, b.legacy); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	msgs, err := b.reclaim(ctx, b.legacy, max)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		if msgs, err = b.readNew(ctx, b.legacy, max, 0); err != nil {
			return nil, err
		}
	}
	if len(msgs) == 0 {
		// Drained: once finished entries are trimmed, the stream goes.
		b.groups.dropEmpty(ctx, b.c, b.legacy)
		return nil, nil
	}
	// Earlier replicas may still be queueing there (a rolling upgrade): look again next pull.
	b.reclaims.again("legacy")
	return b.decode(ctx, msgs, legacyHandle)
}

// Done acknowledges a handled update, whose entry (its text) is trimmed from the stream soon
// after; with in.Forget its seen mark goes after the claim timeout, not a week (long enough for
// a repeat already queued to be dropped). Updates finished at once share one call.
func (b *Inbox) Done(ctx context.Context, in bot.Inbound) error {
	if err := b.dones.do(ctx, in); err != nil {
		return fmt.Errorf("inbox done: %w", err)
	}
	return nil
}

// doneAll acknowledges every update finished at once in one command per stream, or, when seen
// marks are to go too, in one transaction with their shortening; every key under the inbox's
// hash tag.
func (b *Inbox) doneAll(ctx context.Context, ins []bot.Inbound) error {
	var ids, legacy []string
	var seen []string
	for _, in := range ins {
		if id, ok := strings.CutPrefix(in.Handle, legacyHandle); ok {
			legacy = append(legacy, id)
		} else {
			ids = append(ids, in.Handle)
		}
		if in.Forget && in.ID != "" {
			seen = append(seen, b.seen(in.Incoming))
		}
	}
	ack := func(p goredis.Pipeliner) {
		if len(ids) > 0 {
			p.XAck(ctx, b.stream, group, ids...)
		}
		if len(legacy) > 0 {
			p.XAck(ctx, b.legacy, group, legacy...)
		}
	}
	var err error
	switch {
	case len(seen) == 0 && len(legacy) == 0:
		err = b.c.XAck(ctx, b.stream, group, ids...).Err()
	case len(seen) == 0:
		_, err = b.c.Pipelined(ctx, func(p goredis.Pipeliner) error { ack(p); return nil })
	default:
		_, err = b.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			ack(p)
			for _, k := range seen {
				p.PExpire(ctx, k, b.claimTimeout)
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	b.trims.finished(b.stream)
	if len(legacy) > 0 {
		b.trims.finished(b.legacy)
	}
	return nil
}

// Locker holds named leases in Redis.
type Locker struct {
	c      goredis.UniversalClient
	prefix string
}

// NewLocker returns a Locker whose keys start with prefix.
func NewLocker(c goredis.UniversalClient, prefix string) *Locker {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Locker{c: c, prefix: prefix + ":lock:"}
}

var lockScript = script("leases", goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`))

var unlockScript = script("leases", goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`))

// Lock takes or renews the lease name for owner.
func (l *Locker) Lock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	n, err := lockScript.Run(ctx, l.c, []string{l.prefix + name}, owner, max(ttl.Milliseconds(), 1)).Int()
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", name, err)
	}
	return n == 1, nil
}

// Unlock releases the lease if owner holds it.
func (l *Locker) Unlock(ctx context.Context, name, owner string) error {
	return unlockScript.Run(ctx, l.c, []string{l.prefix + name}, owner).Err()
}
