// Package memory keeps Tiltas's state in the process, for the console demo and for flow tests
// that need real store behaviour (versions, TTLs, leases, redelivery) without a Redis server.
// Nothing survives a restart and nothing is shared between replicas. Every time it keeps is read
// from the injected clock, so a test that moves the clock expires records and redelivers messages.
package memory

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// ClaimTimeout is how long a taken delivery is kept from other workers before it is handed out
// again, as if its worker had died.
const ClaimTimeout = 30 * time.Second

// SentTTL is how long a delivered message's ref is remembered, so that enqueueing its ID again
// stays a no-op for that long.
const SentTTL = 7 * 24 * time.Hour

var (
	_ bot.Records       = (*Store)(nil)
	_ bot.Marks         = (*Store)(nil)
	_ bot.DeliveryQueue = (*Store)(nil)
	_ bot.TimerQueue    = (*Store)(nil)
	_ bot.Audit         = (*Audit)(nil)
)

// Store is every store bot needs but the audit log, in one struct behind one mutex: the demo and
// tests are small, and one lock makes each operation trivially atomic. The audit log is a
// separate value (Store.Audit) only because its Range would collide with Records.Range.
type Store struct {
	clock bot.Clock

	mu      sync.Mutex
	records map[string]record
	indexes map[string]map[string]float64
	marks   map[string]mark
	out     outbox
	timers  map[string]*timer
	audit   *Audit
}

type record struct {
	data    []byte
	version int64
	expires time.Time // zero: never
}

type mark struct {
	n       int64
	expires time.Time
}

// New returns an empty Store that reads the time from clock.
func New(clock bot.Clock) *Store {
	if clock == nil {
		clock = bot.SystemClock
	}
	return &Store{
		clock:   clock,
		records: map[string]record{},
		indexes: map[string]map[string]float64{},
		marks:   map[string]mark{},
		out:     newOutbox(),
		timers:  map[string]*timer{},
		audit:   &Audit{clock: clock},
	}
}

// Audit returns the store's audit log.
func (s *Store) Audit() *Audit { return s.audit }

func expired(expires, now time.Time) bool {
	return !expires.IsZero() && !now.Before(expires)
}

func expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

// live returns the record at key unless it is missing or expired; the caller holds mu.
func (s *Store) live(key string, now time.Time) (record, bool) {
	r, ok := s.records[key]
	if ok && expired(r.expires, now) {
		delete(s.records, key)
		return record{}, false
	}
	return r, ok
}

// Get returns a copy of the record's data, so that callers cannot change the stored bytes.
func (s *Store) Get(ctx context.Context, key string) ([]byte, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.live(key, s.clock.Now())
	if !ok {
		return nil, 0, fmt.Errorf("get %s: %w", key, bot.ErrNotFound)
	}
	return slices.Clone(r.data), r.version, nil
}

// Write applies w and its index changes together, or neither when the version does not match.
func (s *Store) Write(ctx context.Context, w bot.Write) (int64, error) {
	if w.Key == "" {
		return 0, fmt.Errorf("write: empty key: %w", bot.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	cur, _ := s.live(w.Key, now)
	if w.Version != bot.Any && w.Version != cur.version {
		return 0, fmt.Errorf("write %s: %w", w.Key, bot.ErrConflict)
	}
	var version int64
	if w.Data == nil {
		delete(s.records, w.Key)
	} else {
		version = cur.version + 1
		data := slices.Clone(w.Data)
		if data == nil {
			data = []byte{}
		}
		s.records[w.Key] = record{data: data, version: version, expires: expiry(now, w.TTL)}
	}
	for _, op := range w.Index {
		idx := s.indexes[op.Index]
		if op.Remove {
			delete(idx, op.Member)
			if len(idx) == 0 {
				delete(s.indexes, op.Index)
			}
			continue
		}
		if idx == nil {
			idx = map[string]float64{}
			s.indexes[op.Index] = idx
		}
		idx[op.Member] = op.Score
	}
	return version, nil
}

// Range orders equal scores by member, as Redis sorted sets do, so both stores agree.
func (s *Store) Range(ctx context.Context, index string, min, max float64, limit int) ([]string, error) {
	s.mu.Lock()
	type entry struct {
		member string
		score  float64
	}
	var found []entry
	for m, sc := range s.indexes[index] {
		if sc >= min && sc <= max {
			found = append(found, entry{m, sc})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(found, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.score, b.score), strings.Compare(a.member, b.member))
	})
	if limit > 0 && len(found) > limit {
		found = found[:limit]
	}
	var out []string
	for _, e := range found {
		out = append(out, e.member)
	}
	return out, nil
}

// Scan snapshots the matching keys first, so that fn may write to the store.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(key string) error) error {
	s.mu.Lock()
	now := s.clock.Now()
	var keys []string
	for k := range s.records {
		if _, ok := s.live(k, now); ok && strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
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

// Mark sets key unless a live mark is there.
func (s *Store) Mark(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if m, ok := s.marks[key]; ok && !expired(m.expires, now) {
		return false, nil
	}
	s.marks[key] = mark{n: 1, expires: expiry(now, ttl)}
	return true, nil
}

// Count keeps the expiry set by the first increment, so that a limit counts over a fixed period.
func (s *Store) Count(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	m, ok := s.marks[key]
	if !ok || expired(m.expires, now) {
		m = mark{expires: expiry(now, ttl)}
	}
	m.n++
	s.marks[key] = m
	return m.n, nil
}

// Unmark removes key; a missing key is not an error.
func (s *Store) Unmark(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.marks, key)
	return nil
}

// Audit is the in-memory audit log.
type Audit struct {
	clock    bot.Clock
	mu       sync.Mutex
	events   []bot.AuditEvent
	ids      map[string]time.Time // event ID → when it was recorded
	refusals []bot.RefusalEntry
}

// Append stamps events without a time with the clock's, and drops an event whose ID it recorded
// within bot.AuditIDTTL.
func (a *Audit) Append(ctx context.Context, e bot.AuditEvent) error {
	if e.At.IsZero() {
		e.At = a.clock.Now()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e.ID != "" {
		now := a.clock.Now()
		if at, ok := a.ids[e.ID]; ok && now.Sub(at) < bot.AuditIDTTL {
			return nil
		}
		if a.ids == nil {
			a.ids = map[string]time.Time{}
		}
		a.ids[e.ID] = now
	}
	a.events = append(a.events, e)
	return nil
}

// RefusalsKept is how many refusal entries the memory log keeps.
const RefusalsKept = 10_000

var _ bot.RefusalLog = (*Audit)(nil)

// AppendRefusals keeps the entries, dropping the oldest beyond RefusalsKept.
func (a *Audit) AppendRefusals(_ context.Context, entries ...bot.RefusalEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refusals = append(a.refusals, entries...)
	if n := len(a.refusals) - RefusalsKept; n > 0 {
		a.refusals = slices.Delete(a.refusals, 0, n)
	}
	return nil
}

// RangeRefusals calls fn with every entry kept, oldest first.
func (a *Audit) RangeRefusals(_ context.Context, fn func(bot.RefusalEntry) error) error {
	a.mu.Lock()
	rs := slices.Clone(a.refusals)
	a.mu.Unlock()
	for _, e := range rs {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Trim drops events before before.
func (a *Audit) Trim(ctx context.Context, before time.Time) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	kept := a.events[:0]
	for _, e := range a.events {
		if !e.At.Before(before) {
			kept = append(kept, e)
		}
	}
	n := int64(len(a.events) - len(kept))
	a.events = kept
	return n, nil
}

// Range calls fn in append order, which is time order when events are stamped as they happen.
// It reads a snapshot, so fn may append.
func (a *Audit) Range(ctx context.Context, since, until time.Time, fn func(bot.AuditEvent) error) error {
	a.mu.Lock()
	events := slices.Clone(a.events)
	a.mu.Unlock()
	for _, e := range events {
		if e.At.Before(since) || !e.At.Before(until) {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func token() string {
	return rand.Text()
}
