package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	once         sync.Once

	mu          sync.Mutex
	lastReclaim time.Time
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
	return &Inbox{c: pipelined(o.Client), stream: o.Prefix + ":{in}:s", seenPrefix: o.Prefix + ":{in}:seen:", sealer: o.Sealer,
		claimTimeout: o.ClaimTimeout, seenTTL: o.SeenTTL, consumer: "c-" + bot.NewID()}
}

// pushScript queues an update unless its ID was seen. KEYS: seen, stream. ARGV: body, ttl ms.
var pushScript = goredis.NewScript(`
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) == false then
  return 0
end
redis.call('XADD', KEYS[2], '*', 'b', ARGV[1])
return 1
`)

// Push queues in unless its ID was pushed before.
func (b *Inbox) Push(ctx context.Context, in bot.Incoming) (bool, error) {
	keys, data, err := b.entry(in)
	if err != nil {
		return false, err
	}
	n, err := pushScript.Run(ctx, b.c, keys, data, b.seenTTL.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("inbox push: %w", err)
	}
	return n == 1, nil
}

// PushAll queues ins in one round trip (a pipeline of the same script, run in order).
func (b *Inbox) PushAll(ctx context.Context, ins []bot.Incoming) error {
	if len(ins) == 0 {
		return nil
	}
	// Load the script once, so that the pipeline's EVALSHAs find it.
	if err := pushScript.Load(ctx, b.c).Err(); err != nil {
		return fmt.Errorf("inbox push: %w", err)
	}
	_, err := b.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, in := range ins {
			keys, data, err := b.entry(in)
			if err != nil {
				return err
			}
			pushScript.EvalSha(ctx, p, keys, data, b.seenTTL.Milliseconds())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("inbox push: %w", err)
	}
	return nil
}

// entry returns an update's keys (seen marker, stream) and its sealed body.
func (b *Inbox) entry(in bot.Incoming) ([]string, []byte, error) {
	data, err := json.Marshal(in)
	if err != nil {
		return nil, nil, err
	}
	if b.sealer != nil {
		if data, err = b.sealer.Seal(data); err != nil {
			return nil, nil, err
		}
	}
	id := in.ID
	if id == "" {
		id = bot.NewID()
	}
	return []string{b.seenPrefix + string(in.From.Platform) + ":" + id, b.stream}, data, nil
}

func (b *Inbox) ensureGroup(ctx context.Context) {
	b.once.Do(func() {
		err := b.c.XGroupCreateMkStream(ctx, b.stream, group, "0").Err()
		if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			b.once = sync.Once{} // try again next time
		}
	})
}

// Pull returns updates a dead processor left unfinished, then new ones, oldest first.
func (b *Inbox) Pull(ctx context.Context, max int, block time.Duration) ([]bot.Inbound, error) {
	b.ensureGroup(ctx)
	var msgs []goredis.XMessage
	// A dead processor's updates wait at least the claim timeout anyway: looking for them a few
	// times per timeout, not at every pull, saves a round trip per pull.
	b.mu.Lock()
	reclaim := time.Since(b.lastReclaim) >= b.claimTimeout/4
	if reclaim {
		b.lastReclaim = time.Now()
	}
	b.mu.Unlock()
	if reclaim {
		var err error
		msgs, _, err = b.c.XAutoClaim(ctx, &goredis.XAutoClaimArgs{Stream: b.stream, Group: group, Consumer: b.consumer, MinIdle: b.claimTimeout, Start: "0-0", Count: int64(max)}).Result()
		if err != nil && !isNil(err) {
			if strings.Contains(err.Error(), "NOGROUP") {
				b.once = sync.Once{}
			}
			return nil, fmt.Errorf("inbox reclaim: %w", err)
		}
		if len(msgs) == max {
			b.mu.Lock()
			b.lastReclaim = time.Time{} // more may be waiting
			b.mu.Unlock()
		}
	}
	if len(msgs) == 0 {
		args := &goredis.XReadGroupArgs{Group: group, Consumer: b.consumer, Streams: []string{b.stream, ">"}, Count: int64(max), Block: -1}
		if block > 0 {
			args.Block = block
		}
		res, err := b.c.XReadGroup(ctx, args).Result()
		if err != nil {
			if isNil(err) || errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return nil, nil
			}
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

// Done acknowledges and deletes a handled update, so its text does not linger.
func (b *Inbox) Done(ctx context.Context, in bot.Inbound) error {
	if err := inboxDoneScript.Run(ctx, b.c, []string{b.stream}, group, in.Handle).Err(); err != nil {
		return fmt.Errorf("inbox done: %w", err)
	}
	return nil
}

// inboxDoneScript acknowledges and deletes an entry in one step. KEYS: stream. ARGV: group, ID.
var inboxDoneScript = goredis.NewScript(`
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
`)

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

var lockScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

var unlockScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

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
