package memory

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

type timer struct {
	t     bot.Timer
	at    time.Time // when it may be claimed: its due time, or the end of its current lease
	lease string    // the current claim's token; empty when unclaimed
}

// Schedule upserts by ID. Rescheduling a claimed timer drops the claim, so that the old holder's
// Complete does not remove the new schedule.
func (s *Store) Schedule(ctx context.Context, ts ...bot.Timer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range ts {
		s.timers[t.ID] = &timer{t: t, at: t.Due}
	}
	return nil
}

// Cancel removes timers, claimed or not; unknown IDs are ignored.
func (s *Store) Cancel(ctx context.Context, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.timers, id)
	}
	return nil
}

// Scheduled returns those of ids that are scheduled, claimed or not.
func (s *Store) Scheduled(ctx context.Context, ids ...string) (map[string]bot.Timer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bot.Timer, len(ids))
	for _, id := range ids {
		if t, ok := s.timers[id]; ok {
			out[id] = t.t
		}
	}
	return out, nil
}

// Claim takes the earliest due timers and holds each until now+lease under a fresh token.
func (s *Store) Claim(ctx context.Context, now time.Time, n int, lease time.Duration) ([]bot.ClaimedTimer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*timer
	for _, t := range s.timers {
		if !t.at.After(now) {
			due = append(due, t)
		}
	}
	slices.SortFunc(due, func(a, b *timer) int {
		return cmp.Or(a.at.Compare(b.at), strings.Compare(a.t.ID, b.t.ID))
	})
	var out []bot.ClaimedTimer
	for _, t := range due[:min(max(n, 0), len(due))] {
		t.at = now.Add(lease)
		t.lease = token()
		out = append(out, bot.ClaimedTimer{Timer: t.t, Lease: t.lease})
	}
	return out, nil
}

// Complete removes the timer only while c's lease is still the current one.
func (s *Store) Complete(ctx context.Context, c bot.ClaimedTimer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.timers[c.ID]; ok && c.Lease != "" && t.lease == c.Lease {
		delete(s.timers, c.ID)
	}
	return nil
}

// Next reports when the earliest timer may be claimed; a claimed timer counts at its lease end.
func (s *Store) Next(ctx context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	found := false
	for _, t := range s.timers {
		if !found || t.at.Before(next) {
			next, found = t.at, true
		}
	}
	return next, found, nil
}
