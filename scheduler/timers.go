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
	// MaxBackoff caps the wait between tries while claiming fails (Redis out of memory or away):
	// the wait starts at 50ms and doubles, and is back to none on the first claim that works
	// (5s).
	MaxBackoff time.Duration
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
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 5 * time.Second
	}
}

// outage follows a run of failed claims, so that it is logged once when it starts, once every
// ten minutes while it lasts, and once when it ends, never once per try.
type outage struct {
	since, logged time.Time
	tries         int
}

const outageReminder = 10 * time.Minute

// failed notes a failed claim and returns how long to wait before the next.
func (o *outage) failed(r *Runner, err error) time.Duration {
	now := time.Now()
	o.tries++
	switch {
	case o.tries == 1:
		o.since, o.logged = now, now
		r.Log.Error("timer claims failing; retrying with backoff", "err", err)
	case now.Sub(o.logged) >= outageReminder:
		o.logged = now
		r.Log.Error("timer claims still failing", "err", err, "tries", o.tries, "for", now.Sub(o.since).Round(time.Second).String())
	}
	return min(50*time.Millisecond<<min(o.tries-1, 16), r.MaxBackoff)
}

// worked ends the outage, if there was one.
func (o *outage) worked(r *Runner) {
	if o.tries > 0 {
		r.Log.Info("timer claims work again", "tries", o.tries, "for", time.Since(o.since).Round(time.Millisecond).String())
	}
	*o = outage{}
}

// Run fires timers until ctx ends. Timers that fell due while every replica was down fire at once.
func (r *Runner) Run(ctx context.Context) error {
	r.defaults()
	var down outage
	for ctx.Err() == nil {
		n, err := r.RunDue(ctx)
		var wait time.Duration
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			// Looking at the next due time may still work (a Redis out of memory reads): without
			// the backoff the loop would try every 5ms and log each try.
			wait = down.failed(r, err)
		case n >= r.Batch:
			down.worked(r)
			continue // more are due: no sleep
		default:
			down.worked(r)
			wait = r.Poll
			if next, ok, err := r.Queue.Next(ctx); err == nil && ok {
				if d := next.Sub(r.Clock.Now()); d < wait {
					wait = max(d, 5*time.Millisecond)
				}
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
	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		failed, unmarked  int
		fireErr, markErr  error
		firstID, firstKnd string
	)
	for _, t := range ts {
		sem <- struct{}{}
		wg.Add(1)
		go func(t bot.ClaimedTimer) {
			defer func() { <-sem; wg.Done() }()
			r.Late(r.Clock.Now().Sub(t.Due))
			if err := r.Fire(ctx, t.Timer); err != nil {
				// Not completed: the lease runs out and the timer fires again.
				mu.Lock()
				if failed++; failed == 1 {
					fireErr, firstID, firstKnd = err, t.ID, t.Kind
				}
				mu.Unlock()
				return
			}
			if err := r.Queue.Complete(ctx, t); err != nil {
				mu.Lock()
				if unmarked++; unmarked == 1 {
					markErr = err
				}
				mu.Unlock()
			}
		}(t)
	}
	wg.Wait()
	// One line per batch, not per timer: in an outage every timer of the batch fails alike.
	if failed > 0 {
		r.Log.Error("timers failed; they will fire again when their lease runs out", "failed", failed, "of", len(ts),
			"first", firstID, "kind", firstKnd, "err", fireErr)
	}
	if unmarked > 0 {
		r.Log.Error("timer completions failed; those timers may fire again (their handlers are idempotent)", "failed", unmarked, "err", markErr)
	}
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
