// Package redis keeps Tiltas's state in Redis (standalone, Sentinel or Cluster) so that replicas
// share it: versioned records with their indexes, marks, the outbox, durable timers, the rate
// limiter and the audit stream. Every key starts with a prefix, and every group of keys that one
// script or transaction touches shares a hash tag ({rec}, {out}, {tm}, {rl}, {audit}), so that in
// a Cluster it lives in one slot. Record data and queued messages pass through the Sealer, the one
// place where data at rest is encrypted. Commands go through go-redis's autopipeliner, so that
// many conversations handled at once share round trips.
package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/keyring"
)

// Defaults for Options.
const (
	DefaultPrefix       = "tiltas"
	DefaultClaimTimeout = 30 * time.Second
	DefaultSentTTL      = 7 * 24 * time.Hour
)

// Options configure a Store. Only Client is required.
type Options struct {
	Client goredis.UniversalClient
	// Prefix starts every key, so that several deployments (or tests) can share a server.
	Prefix string
	// Sealer encrypts record data and queued messages; nil stores them as they are.
	Sealer bot.Sealer
	// Clock decides when retried and held-back messages are due and how old the queue is. TTLs,
	// claim timeouts and rate limits run on the Redis server's clock.
	Clock bot.Clock
	// ClaimTimeout is how long a taken delivery stays with its worker before another may take it.
	ClaimTimeout time.Duration
	// SentTTL is how long a delivered message's ref is kept, making a re-enqueue a no-op.
	SentTTL time.Duration
}

var (
	_ bot.Records       = (*Store)(nil)
	_ bot.Marks         = (*Store)(nil)
	_ bot.DeliveryQueue = (*Store)(nil)
	_ bot.TimerQueue    = (*Store)(nil)
	_ bot.Audit         = (*Audit)(nil)
)

// Store implements the stores bot needs on one Redis deployment. The audit log is a separate
// value (Store.Audit) only because its Range would collide with Records.Range. Each Store is one
// consumer of the outbox streams: run one per replica.
type Store struct {
	c            goredis.UniversalClient // commands, autopipelined
	base         goredis.UniversalClient // the client as given, for walking a Cluster's masters
	k            keys
	sealer       bot.Sealer
	clock        bot.Clock
	claimTimeout time.Duration
	sentTTL      time.Duration
	consumer     string
	audit        *Audit
	sweeps       sweeps
	reclaims     pacer
	groups       groupsMade
	trims        trims
	legacy       pacer // looks at the streams earlier versions queued on
	due          dueTimes
	// Messages queued at once go in one script call, messages finished at once in one
	// transaction.
	enqueues batcher[enqueued]
	dones    batcher[finished]
}

// New returns a Store on o.Client. It makes no network call.
func New(o Options) (*Store, error) {
	if o.Client == nil {
		return nil, fmt.Errorf("redis store: no client: %w", bot.ErrInvalid)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Clock == nil {
		o.Clock = bot.SystemClock
	}
	if o.ClaimTimeout <= 0 {
		o.ClaimTimeout = DefaultClaimTimeout
	}
	if o.SentTTL <= 0 {
		o.SentTTL = DefaultSentTTL
	}
	k := keys{o.Prefix}
	c := pipelined(o.Client)
	s := &Store{
		c:            c,
		base:         o.Client,
		k:            k,
		sealer:       o.Sealer,
		clock:        o.Clock,
		claimTimeout: o.ClaimTimeout,
		sentTTL:      o.SentTTL,
		consumer:     "c-" + rand.Text(),
		audit:        &Audit{c: c, key: k.audit(), idPrefix: k.auditID(""), refusals: k.refusals(), clock: o.Clock},
	}
	s.enqueues.run, s.dones.run = s.enqueueAll, s.doneAll
	return s, nil
}

// Audit returns the store's audit log.
func (s *Store) Audit() *Audit { return s.audit }

// keys names every key the store uses.
type keys struct{ p string }

func (k keys) record(key string) string      { return k.p + ":{rec}:r:" + key }
func (k keys) recordPrefix() string          { return k.p + ":{rec}:r:" }
func (k keys) index(name string) string      { return k.p + ":{rec}:i:" + name }
func (k keys) mark(key string) string        { return k.p + ":m:" + key }
func (k keys) body(id string) string         { return k.p + ":{out}:b:" + id }
func (k keys) bodyPrefix() string            { return k.p + ":{out}:b:" }
func (k keys) sent(id string) string         { return k.p + ":{out}:sent:" + id }
func (k keys) queued() string                { return k.p + ":{out}:queued" }
func (k keys) delayed(p bot.Platform) string { return k.p + ":{out}:delayed:" + string(p) }
func (k keys) streamPrefix() string          { return k.p + ":{out}:m:" }

// stream is where a platform's messages of one priority wait, their bodies in the entries.
func (k keys) stream(p bot.Platform, pr bot.Priority) string {
	if pr == bot.Urgent {
		return k.p + ":{out}:m:" + string(p) + ":urgent"
	}
	return k.p + ":{out}:m:" + string(p) + ":routine"
}

// legacyStream is where versions before 2026-12-06 queued messages, the entries naming the
// bodies' hashes; they are still read, so that a rolling upgrade loses nothing.
func (k keys) legacyStream(p bot.Platform, pr bot.Priority) string {
	if pr == bot.Urgent {
		return k.p + ":{out}:s:" + string(p) + ":urgent"
	}
	return k.p + ":{out}:s:" + string(p) + ":routine"
}
func (k keys) timerDue() string                  { return k.p + ":{tm}:due" }
func (k keys) timerData() string                 { return k.p + ":{tm}:data" }
func (k keys) timerLease() string                { return k.p + ":{tm}:lease" }
func (k keys) limitGlobal(p bot.Platform) string { return k.p + ":{rl}:g:" + string(p) }
func (k keys) limitConv(conv string) string      { return k.p + ":{rl}:c:" + conv }
func (k keys) limitBlock(conv string) string     { return k.p + ":{rl}:b:" + conv }
func (k keys) limitPause(p bot.Platform, scope string) string {
	if scope == "" {
		return k.p + ":{rl}:p:none" // never set: nothing pauses more than the conversation
	}
	return k.p + ":{rl}:p:" + string(p) + ":" + scope
}
func (k keys) audit() string            { return k.p + ":{audit}:stream" }
func (k keys) auditID(id string) string { return k.p + ":{audit}:id:" + id }
func (k keys) refusals() string         { return k.p + ":{audit}:refusals" }

func (s *Store) seal(plain []byte) ([]byte, error) {
	if s.sealer == nil {
		return plain, nil
	}
	return s.sealer.Seal(plain)
}

func (s *Store) open(sealed []byte) ([]byte, error) {
	return openWith(s.sealer, sealed)
}

// ErrNoKey means a value is encrypted but no encryption key is configured.
var ErrNoKey = errors.New("the value is encrypted, but encryption.keys is empty: configure the keys it was sealed with")

func openWith(sealer bot.Sealer, v []byte) ([]byte, error) {
	if sealer == nil {
		if keyring.Sealed(v) {
			return nil, ErrNoKey
		}
		return v, nil
	}
	return sealer.Open(v)
}

// ms is t in Unix milliseconds, rounded up so that nothing is due before its time.
func ms(t time.Time) int64 {
	n := t.UnixNano()
	m := n / 1e6
	if n%1e6 > 0 {
		m++
	}
	return m
}

// isNil reports Redis's "no such key" reply.
func isNil(err error) bool { return errors.Is(err, goredis.Nil) }

// pacer spaces out looking for entries a dead consumer left behind, for each queue on its own
// (the inbox; each platform's outbox streams): they wait at least the claim timeout anyway, so
// looking a few times per timeout, rather than at every read, finds them nearly as soon and spares
// the server a scan of the pending entries at every read.
type pacer struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether a quarter of the claim timeout has passed since queue was last looked at,
// and if so counts this as a look.
func (p *pacer) due(queue string, claimTimeout time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last[queue]) < claimTimeout/4 {
		return false
	}
	if p.last == nil {
		p.last = map[string]time.Time{}
	}
	p.last[queue] = time.Now()
	return true
}

// again makes queue's next look due at once: the last one found as many as it could take, and
// more may wait.
func (p *pacer) again(queue string) {
	p.mu.Lock()
	delete(p.last, queue)
	p.mu.Unlock()
}

// pipelined returns c's autopipeliner (go-redis's blocking face): commands that goroutines send
// while others are on the wire go out together in one pipeline, one write and one read for
// many, and each caller still waits for its own reply. Replicas handle many conversations at
// once, each a few commands after another; batching them saves most of the system calls, on
// both sides, that a command each would cost. Blocking reads are sent on a connection of their
// own. Should the client offer none, c itself is used.
func pipelined(c goredis.UniversalClient) goredis.UniversalClient {
	if ap, err := c.AutoPipeline(); err == nil {
		return ap
	}
	return c
}

// forEachMaster calls fn with every node that holds data: the masters of a Cluster, or the one
// server otherwise. Calls may run concurrently.
func forEachMaster(ctx context.Context, c goredis.UniversalClient, fn func(ctx context.Context, c goredis.UniversalClient) error) error {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			return fn(ctx, node)
		})
	}
	return fn(ctx, c)
}
