// Package scheduler keeps time for Tiltas: it fires durable one-off timers (reminders,
// escalation steps, deadlines) exactly once across replicas, runs recurring jobs on robfig/cron
// with one replica acting per run, and turns RFC 5545 recurrence rules into occurrences.
package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Runner fires due timers. Every replica runs one; a timer is claimed under a lease, so a replica
// that dies mid-way leaves it to another once the lease passes, and handlers are idempotent per
// timer ID, so each timer takes effect once.
type Runner struct {
	Queue bot.TimerQueue
	Fire  func(ctx context.Context, t bot.Timer) error
	Clock bot.Clock
	Log   *slog.Logger
	// Lease is how long a claimed timer is held before another replica may take it (30s).
	Lease time.Duration
	// Batch is how many timers one claim takes (256); Parallel how many fire at once (32).
	Batch, Parallel int
	// Poll is the longest the runner sleeps between looks at the queue (250ms).
	Poll time.Duration
	// Late hears how late each timer fired, for metrics.
	Late func(d time.Duration)
}

func (r *Runner) defaults() {
	if r.Lease <= 0 {
		r.Lease = 30 * time.Second
	}
	if r.Batch <= 0 {
		r.Batch = 256
	}
	if r.Parallel <= 0 {
		r.Parallel = 32
	}
	if r.Poll <= 0 {
		r.Poll = 250 * time.Millisecond
	}
	if r.Clock == nil {
		r.Clock = bot.SystemClock
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.Late == nil {
		r.Late = func(time.Duration) {}
	}
}

// Run fires timers until ctx ends. Timers that fell due while every replica was down fire at once.
func (r *Runner) Run(ctx context.Context) error {
	r.defaults()
	for ctx.Err() == nil {
		n, err := r.RunDue(ctx)
		if err != nil {
			r.Log.Error("timer claim failed", "err", err)
		}
		if n >= r.Batch {
			continue // more are due: no sleep
		}
		wait := r.Poll
		if next, ok, err := r.Queue.Next(ctx); err == nil && ok {
			if d := next.Sub(r.Clock.Now()); d < wait {
				wait = max(d, 5*time.Millisecond)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}

// RunDue claims and fires the timers due now (one batch) and returns how many it claimed.
func (r *Runner) RunDue(ctx context.Context) (int, error) {
	r.defaults()
	now := r.Clock.Now()
	ts, err := r.Queue.Claim(ctx, now, r.Batch, r.Lease)
	if err != nil || len(ts) == 0 {
		return 0, err
	}
	sem := make(chan struct{}, r.Parallel)
	var wg sync.WaitGroup
	for _, t := range ts {
		sem <- struct{}{}
		wg.Add(1)
		go func(t bot.ClaimedTimer) {
			defer func() { <-sem; wg.Done() }()
			r.Late(r.Clock.Now().Sub(t.Due))
			if err := r.Fire(ctx, t.Timer); err != nil {
				// Not completed: the lease runs out and the timer fires again.
				r.Log.Error("timer failed; it will fire again", "timer", t.ID, "kind", t.Kind, "err", err)
				return
			}
			if err := r.Queue.Complete(ctx, t); err != nil {
				r.Log.Error("timer completion failed", "timer", t.ID, "err", err)
			}
		}(t)
	}
	wg.Wait()
	return len(ts), nil
}

// RunAllDue fires timers until none is due now, including timers the fired ones schedule for
// now or earlier. The console demo uses it after moving the clock.
func (r *Runner) RunAllDue(ctx context.Context) error {
	for i := 0; i < 1000; i++ {
		n, err := r.RunDue(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
	return nil
}
