// Package delivery takes queued messages from the outbox and hands them to a platform's
// Messenger: within the platform's rate limits, with retries and exponential backoff, obeying
// "retry after", stopping on permanent failures, and keeping each sent message's reference so that
// flows can edit it later. One Worker serves one platform; every flow's messages go through it.
package delivery

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/lanes"
)

// Worker delivers one platform's messages.
type Worker struct {
	Platform  bot.Platform
	Queue     bot.DeliveryQueue
	Messenger bot.Messenger
	Limiter   bot.Limiter
	Records   bot.Records
	Clock     bot.Clock
	Log       *slog.Logger
	// Failed hears of messages dropped for good, with a reason code (the engine's Undeliverable).
	Failed func(ctx context.Context, o bot.Outgoing, reason string)
	// Delivered hears of messages sent that asked for a receipt (the engine's Delivered).
	Delivered func(ctx context.Context, o bot.Outgoing, at time.Time) error
	// Observe counts outcomes for metrics: sent, retried, failed, rate_limited.
	Observe func(platform bot.Platform, outcome string)
	// Batch is how many messages one Take asks for; Parallel how many may be taken and not yet
	// finished (each conversation's in order, different conversations at once).
	Batch, Parallel int
	// MaxAttempts bounds retries of transient failures (default 30, about a day with backoff).
	MaxAttempts int
	// MaxWait is the longest the worker waits for a rate limit in place; longer waits go back to
	// the queue (default 5s).
	MaxWait time.Duration

	// blocking is held for writing while a 429 is being recorded in the limiter, so that a send
	// that waited for its slot and asks Limiter.Held then sees it; blocks counts them, so that a
	// send that did not wait asks only when one came in since its reservation.
	blocking sync.RWMutex
	blocks   atomic.Uint64
}

func (w *Worker) defaults() {
	if w.Batch <= 0 {
		w.Batch = 64
	}
	if w.Parallel <= 0 {
		w.Parallel = 128
	}
	if w.MaxAttempts <= 0 {
		w.MaxAttempts = 30
	}
	if w.MaxWait <= 0 {
		w.MaxWait = 5 * time.Second
	}
	if w.Clock == nil {
		w.Clock = bot.SystemClock
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	if w.Observe == nil {
		w.Observe = func(bot.Platform, string) {}
	}
	if w.Failed == nil {
		w.Failed = func(context.Context, bot.Outgoing, string) {}
	}
}

// Run delivers until ctx ends. In-flight messages finish or, if ctx ends first, stay pending in
// the queue to be redelivered by another worker.
func (w *Worker) Run(ctx context.Context) error {
	w.defaults()
	log := w.Log.With("platform", w.Platform)
	l := w.lanes(ctx)
	defer l.Wait()
	for ctx.Err() == nil {
		ds, err := w.Queue.Take(ctx, w.Platform, max(1, min(w.Batch, l.Free())), time.Second)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Error("take from outbox failed", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		for _, d := range ds {
			l.Add(d.To.Key(), d) // edits carry their conversation too, so they queue behind its sends
		}
	}
	return nil
}

func (w *Worker) lanes(ctx context.Context) *lanes.Lanes[bot.Delivery] {
	return lanes.New(w.Parallel, func(d bot.Delivery) {
		if ctx.Err() == nil { // shutting down: left pending, another worker takes it
			w.deliver(ctx, d)
		}
	})
}

// Drain delivers until nothing is due now. The console demo and tests use it to deliver
// synchronously.
func (w *Worker) Drain(ctx context.Context) error {
	w.defaults()
	for {
		ds, err := w.Queue.Take(ctx, w.Platform, w.Batch, 0)
		if err != nil || len(ds) == 0 {
			return err
		}
		w.process(ctx, ds)
	}
}

// process delivers a batch and waits for it: conversations at once, each in order.
func (w *Worker) process(ctx context.Context, ds []bot.Delivery) {
	l := w.lanes(ctx)
	for _, d := range ds {
		l.Add(d.To.Key(), d)
	}
	l.Wait()
}

func (w *Worker) deliver(ctx context.Context, d bot.Delivery) {
	// No "was it sent already?" read here: Done records the send and removes the message in one
	// step, and Enqueue refuses an ID that is queued or was sent, so a message taken from the
	// queue has not been sent (or its send is unknown, and sending again is right).
	log := w.Log.With("platform", w.Platform, "msg", d.ID, "attempt", d.Attempt)
	// A message that waited in its conversation's lane until its claim nearly ran out may be
	// taken over by another worker at any moment: sending or retrying it now could send it twice.
	// It stays pending and goes out from whichever worker takes it next.
	if w.held(d) <= 0 {
		w.Observe(w.Platform, "expired")
		log.Info("claim ran out while the message waited; left to the queue")
		return
	}
	now := w.Clock.Now()
	if d.NotBefore.After(now) {
		w.retry(ctx, d, d.NotBefore, log)
		return
	}
	to := d.To
	var ref bot.MessageRef
	if d.Op == bot.OpEdit {
		r, ok := w.target(ctx, d)
		if !ok {
			// The message to edit has not been sent yet (it may be later in this batch, or
			// waiting out a retry), or never will be: try again soon, then give up.
			if d.Attempt >= 12 {
				log.Warn("edit dropped: message to edit unknown")
				_ = w.Queue.Fail(ctx, d)
				return
			}
			wait := time.Duration(0)
			if d.Attempt >= 3 {
				wait = Backoff(d.Attempt - 3)
			}
			w.retry(ctx, d, now.Add(wait), log)
			return
		}
		ref = r
		// Limits are kept per conversation as the flow addressed it, so that an edit counts in
		// the same window as the sends there: a group's edits in the group's window (the ref does
		// not say it is a group), a Slack DM's under its user (the ref names its channel).
		if to.Chat == "" && to.User == "" {
			to = bot.Address{Platform: r.Platform, Team: r.Team, Chat: r.Chat}
		}
	}
	lim := limitAddress(to)
	if w.Limiter != nil {
		maxWait := min(w.MaxWait, w.held(d))
		if maxWait < 0 {
			w.Observe(w.Platform, "expired")
			return // the claim ran out meanwhile: left to the queue, as above
		}
		blocks := w.blocks.Load()
		asked := time.Now()
		wait, ok, err := w.Limiter.Reserve(ctx, lim, d.Op, maxWait)
		if err != nil {
			log.Error("rate limiter failed", "err", err)
			w.retry(ctx, d, now.Add(time.Second), log)
			return
		}
		if !ok {
			// Too far off to hold the message: back to the queue, due when the limit allows.
			w.Observe(w.Platform, "deferred")
			w.retry(ctx, d, now.Add(wait), log)
			return
		}
		slot := asked.Add(wait) // at the latest: the limiter counted from when it was asked
		if !sleep(ctx, wait) {
			return
		}
		// A 429 that came in meanwhile (Telegram's holds back every chat), or a send before this
		// one that went out late, holds this send too: its slot is given up and it goes back to
		// the queue until the hold has passed.
		if wait > 0 || w.blocks.Load() != blocks {
			w.blocking.RLock()
			held, err := w.Limiter.Held(ctx, lim, d.Op)
			w.blocking.RUnlock()
			if err != nil {
				log.Error("rate limiter failed", "err", err)
				w.retry(ctx, d, w.Clock.Now().Add(time.Second), log)
				return
			}
			if held > 0 {
				w.Observe(w.Platform, "deferred")
				w.retry(ctx, d, w.Clock.Now().Add(held), log)
				return
			}
		}
		// Going out later than its slot (Redis slow to answer, as while it restarts), this send
		// would come too soon before the one reserved after it: that one is held back as much.
		// When Redis cannot be told, the next send cannot reserve either: this one goes.
		if time.Since(slot) > lateSend {
			if err := w.Limiter.Hold(ctx, lim, d.Op); err != nil {
				log.Warn("rate limiter failed; a late send goes without holding the next one", "err", err)
			}
		}
	}
	var err error
	if d.Op == bot.OpEdit {
		err = w.Messenger.Edit(ctx, ref, d.Msg)
	} else {
		ref, err = w.Messenger.Send(ctx, to, d.Msg)
	}
	if err == nil {
		sent := w.Clock.Now()
		// The message is out: its ref and its sent marker must be kept, or another worker takes
		// it over once the claim runs out and sends it again. A Redis that is away for a moment
		// (a restart, a failover) is waited for.
		if d.Op == bot.OpSend && d.RefKey != "" {
			persist(ctx, log, "message ref not kept", func() error {
				return bot.NewMessageRefs(w.Records).Keep(ctx, d.RefKey, ref)
			})
		}
		// The receipt before the sent marker: a crash between them sends the message again (as
		// it would without a receipt) and records the receipt once; after it, the receipt would
		// be lost.
		if d.Receipt != "" && d.Op == bot.OpSend && w.Delivered != nil {
			persist(ctx, log, "delivery receipt not recorded", func() error { return w.Delivered(ctx, d.Outgoing, sent) })
		}
		persist(ctx, log, "outbox done failed", func() error { return w.Queue.Done(ctx, d, ref) })
		w.Observe(w.Platform, "sent")
		return
	}
	if ctx.Err() != nil {
		return // shutting down: leave it pending for redelivery
	}
	var de *bot.DeliveryError
	switch {
	case errors.As(err, &de) && de.MigrateTo != "" && d.Op == bot.OpSend:
		moved := d.Outgoing
		moved.ID = d.ID + ">" + de.MigrateTo
		moved.To.Chat = de.MigrateTo
		if err := w.Queue.Enqueue(ctx, moved); err != nil {
			w.retry(ctx, d, now.Add(time.Second), log)
			return
		}
		_ = w.Queue.Fail(ctx, d)
		log.Info("group moved; message requeued")
	case errors.As(err, &de) && de.RetryAfter > 0:
		w.Observe(w.Platform, "rate_limited")
		if w.Limiter != nil {
			w.blocking.Lock()
			w.blocks.Add(1)
			if err := w.Limiter.Block(ctx, lim, d.Op, de.RetryAfter); err != nil {
				log.Error("rate limiter could not record a retry after", "err", err)
			}
			w.blocking.Unlock()
		}
		w.retry(ctx, d, now.Add(de.RetryAfter), log)
	case errors.As(err, &de) && de.Permanent:
		log.Warn("message dropped", "reason", de.Reason)
		_ = w.Queue.Fail(ctx, d)
		w.Observe(w.Platform, "failed")
		w.Failed(ctx, d.Outgoing, de.Reason)
	default:
		if d.Attempt+1 >= w.MaxAttempts {
			log.Warn("message dropped after retries", "err", err)
			_ = w.Queue.Fail(ctx, d)
			w.Observe(w.Platform, "failed")
			w.Failed(ctx, d.Outgoing, "unavailable")
			return
		}
		log.Info("send failed; will retry", "err", err)
		w.retry(ctx, d, now.Add(Backoff(d.Attempt)), log)
	}
}

// limitAddress is the conversation whose limits a message to to counts against: to itself, but
// a direct conversation named by both its chat and its user (a Slack DM as a pressed button's
// update names it) under its user, as the messages sent to that person are, so that an edit there
// waits out a 429 that a send to the person got, and the other way round.
func limitAddress(to bot.Address) bot.Address {
	if !to.Group && to.Chat != "" && to.User != "" {
		return bot.Address{Platform: to.Platform, Team: to.Team, User: to.User}
	}
	return to
}

// lateSend is how long after its reserved moment a send counts as late: well within the margin
// the limits keep (100 ms by default), so that a send that is late by less still keeps its
// distance to the next one, and well above the few milliseconds a send normally takes to start.
const lateSend = 25 * time.Millisecond

// held is how long the worker may still start sending d (Delivery.Until), or MaxWait when the
// queue sets no such moment.
func (w *Worker) held(d bot.Delivery) time.Duration {
	if d.Until.IsZero() {
		return w.MaxWait
	}
	return time.Until(d.Until)
}

func (w *Worker) retry(ctx context.Context, d bot.Delivery, at time.Time, log *slog.Logger) {
	w.Observe(w.Platform, "retried")
	if err := w.Queue.Retry(ctx, d, at); err != nil {
		log.Error("outbox retry failed; the message stays pending", "err", err)
	}
}

// target finds the message an edit changes.
func (w *Worker) target(ctx context.Context, d bot.Delivery) (bot.MessageRef, bool) {
	if d.Ref != nil {
		return *d.Ref, true
	}
	ref, _, ok, err := bot.NewMessageRefs(w.Records).Get(ctx, d.RefKey)
	return ref, ok && err == nil
}

// Backoff is the wait before retry n (0-based): 1s doubling to at most 1h, with ±20% jitter so
// that many failed messages do not return at once.
func Backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 12)
	if d > time.Hour {
		d = time.Hour
	}
	j := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * j)
}

// persist retries fn, waiting 50 ms doubling to 2 s, for up to a minute or until ctx ends; it
// logs the first failure and, if it gives up, the last.
func persist(ctx context.Context, log *slog.Logger, msg string, fn func() error) {
	wait := 50 * time.Millisecond
	deadline := time.Now().Add(time.Minute)
	for try := 0; ; try++ {
		err := fn()
		if err == nil {
			if try > 0 {
				log.Info(msg+": done on a later try", "tries", try+1)
			}
			return
		}
		if try == 0 {
			log.Warn(msg+"; trying again", "err", err)
		}
		if time.Now().After(deadline) || !sleep(ctx, wait) {
			log.Error(msg, "err", err, "tries", try+1)
			return
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
