package memory

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/tiltas/tiltas/bot"
)

type outbox struct {
	msgs  map[string]*queued // by Outgoing.ID, from Enqueue until Done or Fail
	sent  map[string]sent
	seq   uint64 // orders messages first come, first taken
	takes uint64 // names each take, for Delivery.Handle
	dones uint64 // paces the purge of expired sent refs
	// wake is closed (and replaced) when a message becomes takeable, to end blocking Takes.
	wake chan struct{}
}

type queued struct {
	// body is the message as JSON: stored and handed out as a copy, as the Redis store does,
	// so that callers never share slices with the queue.
	body     []byte
	platform bot.Platform
	priority bot.Priority
	queued   time.Time
	attempt  int
	seq      uint64
	ready    time.Time // when it may be taken: enqueue, retry due, or end of the current claim
}

type sent struct {
	ref     bot.MessageRef
	expires time.Time
}

func newOutbox() outbox {
	return outbox{msgs: map[string]*queued{}, sent: map[string]sent{}, wake: make(chan struct{})}
}

// wakeLocked ends every blocking Take so that they look again; the caller holds mu.
func (s *Store) wakeLocked() {
	close(s.out.wake)
	s.out.wake = make(chan struct{})
}

// Enqueue skips IDs that are queued or were delivered within SentTTL. A message with NotBefore
// waits in the queue until then, so that quiet hours cost no delivery attempt.
func (s *Store) Enqueue(ctx context.Context, msgs ...bot.Outgoing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for _, m := range msgs {
		if _, ok := s.out.msgs[m.ID]; ok {
			continue
		}
		if x, ok := s.out.sent[m.ID]; ok && !expired(x.expires, now) {
			continue
		}
		if m.Queued.IsZero() {
			m.Queued = now
		}
		body, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("enqueue %s: %w", m.ID, err)
		}
		s.out.seq++
		s.out.msgs[m.ID] = &queued{
			body: body, platform: m.To.Platform, priority: m.Priority, queued: m.Queued,
			seq: s.out.seq, ready: latest(now, m.NotBefore),
		}
	}
	s.wakeLocked()
	return nil
}

// Discard drops the queued messages match picks, taken ones too (their Done, Retry and Fail then
// find nothing to do). match runs without the store's lock, so that it may read records.
func (s *Store) Discard(ctx context.Context, match func(bot.Outgoing) bool) ([]bot.Outgoing, error) {
	s.mu.Lock()
	bodies := make(map[string][]byte, len(s.out.msgs))
	for id, q := range s.out.msgs {
		bodies[id] = q.body
	}
	s.mu.Unlock()
	var out []bot.Outgoing
	for id, body := range bodies {
		var o bot.Outgoing
		if err := json.Unmarshal(body, &o); err != nil || !match(o) {
			continue // unreadable ones are not ours to judge
		}
		s.mu.Lock()
		// The same message, not one queued again under its ID meanwhile.
		if q, ok := s.out.msgs[id]; ok && &q.body[0] == &body[0] {
			delete(s.out.msgs, id)
			out = append(out, o)
		}
		s.mu.Unlock()
	}
	return out, nil
}

// Take hands out messages that are due, urgent first and then in the order they were queued,
// and holds each for ClaimTimeout. Blocking waits in real time, whatever the clock says.
func (s *Store) Take(ctx context.Context, platform bot.Platform, n int, block time.Duration) ([]bot.Delivery, error) {
	if n <= 0 {
		return nil, fmt.Errorf("take %d: %w", n, bot.ErrInvalid)
	}
	deadline := time.Now().Add(block)
	for {
		s.mu.Lock()
		ds, next, err := s.takeLocked(platform, n)
		wake := s.out.wake
		s.mu.Unlock()
		if err != nil || len(ds) > 0 {
			return ds, err
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, nil
		}
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(s.clock.Now()), time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-wake:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		}
		timer.Stop()
	}
}

// takeLocked returns the deliveries it took, or when the next message for platform becomes
// takeable; the caller holds mu.
func (s *Store) takeLocked(platform bot.Platform, n int) ([]bot.Delivery, time.Time, error) {
	now := s.clock.Now()
	type cand struct {
		id string
		q  *queued
	}
	var ready []cand
	var next time.Time
	for id, q := range s.out.msgs {
		switch {
		case q.platform != platform:
		case !q.ready.After(now):
			ready = append(ready, cand{id, q})
		case next.IsZero() || q.ready.Before(next):
			next = q.ready
		}
	}
	slices.SortFunc(ready, func(a, b cand) int {
		return cmp.Or(cmp.Compare(b.q.priority, a.q.priority), cmp.Compare(a.q.seq, b.q.seq))
	})
	var ds []bot.Delivery
	for _, c := range ready[:min(n, len(ready))] {
		var d bot.Delivery
		if err := json.Unmarshal(c.q.body, &d.Outgoing); err != nil {
			return ds, time.Time{}, fmt.Errorf("take %s: %w", c.id, err)
		}
		s.out.takes++
		d.Attempt = c.q.attempt
		d.Handle = strconv.FormatUint(s.out.takes, 10)
		c.q.ready = now.Add(ClaimTimeout)
		ds = append(ds, d)
	}
	return ds, next, nil
}

// Done remembers the ref for SentTTL, whoever holds the message now: it was sent.
func (s *Store) Done(ctx context.Context, d bot.Delivery, ref bot.MessageRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	delete(s.out.msgs, d.ID)
	s.out.sent[d.ID] = sent{ref: ref, expires: now.Add(SentTTL)}
	if s.out.dones++; s.out.dones%1024 == 0 {
		maps.DeleteFunc(s.out.sent, func(_ string, x sent) bool { return expired(x.expires, now) })
	}
	return nil
}

// Retry puts the message at the back of its queue from at on. A message already finished by
// another worker stays finished.
func (s *Store) Retry(ctx context.Context, d bot.Delivery, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.out.msgs[d.ID]
	if !ok {
		return nil
	}
	s.out.seq++
	q.seq = s.out.seq
	q.attempt = d.Attempt + 1
	q.ready = at
	s.wakeLocked()
	return nil
}

// Fail drops the message.
func (s *Store) Fail(ctx context.Context, d bot.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.out.msgs, d.ID)
	return nil
}

// Sent reports refs remembered by Done.
func (s *Store) Sent(ctx context.Context, id string) (bot.MessageRef, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.out.sent[id]
	if !ok || expired(x.expires, s.clock.Now()) {
		delete(s.out.sent, id)
		return bot.MessageRef{}, false, nil
	}
	return x.ref, true, nil
}

// Stats counts every message not yet done or failed: waiting, taken or waiting to be retried.
func (s *Store) Stats(ctx context.Context) (int64, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest time.Time
	for _, q := range s.out.msgs {
		if oldest.IsZero() || q.queued.Before(oldest) {
			oldest = q.queued
		}
	}
	if oldest.IsZero() {
		return 0, 0, nil
	}
	return int64(len(s.out.msgs)), max(s.clock.Now().Sub(oldest), 0), nil
}
