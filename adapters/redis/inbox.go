package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/bot"
)

var (
	_ bot.Inbox  = (*Inbox)(nil)
	_ bot.Locker = (*Locker)(nil)
)

// Inbox is the durable queue of incoming updates: one stream read by one consumer group, each
// entry a sealed bot.Incoming. Push refuses an ID seen within SeenTTL, so a platform's redelivery
// is handled once; an entry taken and not finished within the claim timeout is taken again.
type Inbox struct {
	c            goredis.UniversalClient
	stream       string
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
	b := &Inbox{c: pipelined(o.Client), stream: o.Prefix + ":{in}:s", seenPrefix: o.Prefix + ":{in}:seen:", sealer: o.Sealer,
		claimTimeout: o.ClaimTimeout, seenTTL: o.SeenTTL, consumer: "c-" + bot.NewID()}
	b.dones.run = b.doneAll
	return b
}

// pushScript queues each update unless its ID was seen, and returns 1 or 0 for each.
// KEYS: stream, then one seen marker per update. ARGV: ttl ms, then one body per update.
var pushScript = script("inbox push", goredis.NewScript(`
local out = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ARGV[1]) then
    redis.call('XADD', KEYS[1], '*', 'b', ARGV[i])
    out[i - 1] = 1
  else
    out[i - 1] = 0
  end
end
return out
`))

// Push queues in unless its ID was pushed before.
func (b *Inbox) Push(ctx context.Context, in bot.Incoming) (bool, error) {
	pushed, err := b.push(ctx, []bot.Incoming{in})
	if err != nil {
		return false, err
	}
	return pushed[0] == 1, nil
}

// PushAll queues ins, those not pushed before, in order and in one script.
func (b *Inbox) PushAll(ctx context.Context, ins []bot.Incoming) error {
	if len(ins) == 0 {
		return nil
	}
	_, err := b.push(ctx, ins)
	return err
}

func (b *Inbox) push(ctx context.Context, ins []bot.Incoming) ([]int64, error) {
	keys := make([]string, 0, 1+len(ins))
	args := make([]any, 0, 1+len(ins))
	keys = append(keys, b.stream)
	args = append(args, b.seenTTL.Milliseconds())
	for _, in := range ins {
		seen, data, err := b.entry(in)
		if err != nil {
			return nil, err
		}
		keys = append(keys, seen)
		args = append(args, data)
	}
	pushed, err := pushScript.Run(ctx, b.c, keys, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("inbox push: %w", err)
	}
	if len(pushed) != len(ins) {
		return nil, fmt.Errorf("inbox push: %d answers for %d updates", len(pushed), len(ins))
	}
	return pushed, nil
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
	id := in.ID
	if id == "" {
		id = bot.NewID()
	}
	return b.seenPrefix + string(in.From.Platform) + ":" + id, data, nil
}

// Pull returns updates a dead processor left unfinished, then new ones, oldest first.
func (b *Inbox) Pull(ctx context.Context, max int, block time.Duration) ([]bot.Inbound, error) {
	if err := b.groups.ensure(ctx, b.c, b.stream); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	b.trims.trim(ctx, b.c, false, b.stream)
	if w := b.trims.wait(b.stream); w >= 0 && block > 0 {
		// Updates were handled since the last trim: wait no longer than until it is due, so
		// that their text goes soon even when nothing else comes.
		block = min(block, w+time.Millisecond)
	}
	var msgs []goredis.XMessage
	// A dead processor's updates wait at least the claim timeout anyway: looking for them a few
	// times per timeout, not at every pull, saves a round trip per pull.
	if b.reclaims.due("in", b.claimTimeout) {
		var err error
		msgs, _, err = b.c.XAutoClaim(ctx, &goredis.XAutoClaimArgs{Stream: b.stream, Group: group, Consumer: b.consumer, MinIdle: b.claimTimeout, Start: "0-0", Count: int64(max)}).Result()
		if err != nil && !isNil(err) {
			b.groups.forget(err, b.stream)
			return nil, fmt.Errorf("inbox reclaim: %w", err)
		}
		if len(msgs) == max {
			b.reclaims.again("in") // more may be waiting
		}
	}
	if len(msgs) == 0 {
		args := &goredis.XReadGroupArgs{Group: group, Consumer: b.consumer, Streams: []string{b.stream, ">"}, Count: int64(max), Block: -1}
		if block > 0 {
			args.Block = block
		}
		res, err := b.c.XReadGroup(ctx, args).Result()
		if err != nil {
			if isNil(err) {
				// Idle: what was handled goes now.
				b.trims.trim(ctx, b.c, true, b.stream)
				return nil, nil
			}
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return nil, nil
			}
			b.groups.forget(err, b.stream)
			return nil, fmt.Errorf("inbox read: %w", err)
		}
		for _, s := range res {
			msgs = append(msgs, s.Messages...)
		}
	}
	out := make([]bot.Inbound, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["b"].(string)
		data, err := openWith(b.sealer, []byte(raw))
		if err != nil {
			return out, fmt.Errorf("inbox open %s: %w", m.ID, err)
		}
		var in bot.Incoming
		if err := json.Unmarshal(data, &in); err != nil {
			// Unreadable: drop it rather than block the queue forever.
			_ = b.Done(ctx, bot.Inbound{Handle: m.ID})
			continue
		}
		out = append(out, bot.Inbound{Incoming: in, Handle: m.ID})
	}
	return out, nil
}

// Done acknowledges a handled update, whose entry (its text) is trimmed from the stream soon
// after; with in.Forget its seen mark goes too. Updates finished at once share one call.
func (b *Inbox) Done(ctx context.Context, in bot.Inbound) error {
	if err := b.dones.do(ctx, in); err != nil {
		return fmt.Errorf("inbox done: %w", err)
	}
	return nil
}

// doneAll acknowledges every update finished at once in one command, or, when seen marks are to
// go too, in one transaction with their deletion; every key under the inbox's hash tag.
func (b *Inbox) doneAll(ctx context.Context, ins []bot.Inbound) error {
	ids := make([]string, 0, len(ins))
	var seen []string
	for _, in := range ins {
		ids = append(ids, in.Handle)
		if in.Forget && in.ID != "" {
			seen = append(seen, b.seenPrefix+string(in.From.Platform)+":"+in.ID)
		}
	}
	var err error
	if len(seen) == 0 {
		err = b.c.XAck(ctx, b.stream, group, ids...).Err()
	} else {
		_, err = b.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.XAck(ctx, b.stream, group, ids...)
			p.Del(ctx, seen...)
			return nil
		})
	}
	if err != nil {
		return err
	}
	b.trims.finished(b.stream)
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
