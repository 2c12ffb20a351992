// Package inbound handles what people send, whichever platform it came from: adapters push
// updates into the durable Inbox (deduplicated by the platform's update or event ID), and one
// Processor at a time across replicas — the lease holder — takes them in order and hands them to
// the engine, each chat's updates one after another, then answers button presses on their platform.
package inbound

import (
	"context"
	"log/slog"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/lanes"
)

// Processor takes updates from the Inbox while it holds the "inbound" lease.
type Processor struct {
	Inbox  bot.Inbox
	Locker bot.Locker
	Marks  bot.Marks
	Handle func(ctx context.Context, in bot.Incoming) (bot.Response, error)
	Answer map[bot.Platform]bot.Answerer
	// Owner names this replica in the lease.
	Owner string
	// Lease is how long a dead leader keeps the others waiting (default 10s).
	Lease time.Duration
	Log   *slog.Logger
	// Observe counts handled updates by platform and kind.
	Observe func(platform bot.Platform, kind string)
	// Batch is how many updates one pull takes (default 100); InFlight how many may be taken
	// and not yet finished (default 256).
	Batch, InFlight int
	// Attempts bounds how often a failing update is retried before it is dropped (default 5).
	Attempts int64
}

func (p *Processor) defaults() {
	if p.Lease <= 0 {
		p.Lease = 10 * time.Second
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Observe == nil {
		p.Observe = func(bot.Platform, string) {}
	}
	if p.Batch <= 0 {
		p.Batch = 100
	}
	if p.InFlight <= 0 {
		p.InFlight = 256
	}
	if p.Attempts <= 0 {
		p.Attempts = 5
	}
	if p.Owner == "" {
		p.Owner = bot.NewID()
	}
}

// Run processes updates whenever this replica holds the lease, until ctx ends. Updates in flight
// when ctx ends stay in the Inbox for the next leader.
func (p *Processor) Run(ctx context.Context) error {
	p.defaults()
	defer func() { _ = p.Locker.Unlock(context.WithoutCancel(ctx), "inbound", p.Owner) }()
	for ctx.Err() == nil {
		ok, err := p.Locker.Lock(ctx, "inbound", p.Owner, p.Lease)
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				p.Log.Error("inbound lease failed", "err", err)
			}
			wait(ctx, p.Lease/3)
			continue
		}
		// Updates are handled as they come, each chat's in order, without waiting for a whole
		// batch; before renewing the lease, everything taken is finished.
		l := p.lanes(ctx)
		renew := time.Now().Add(p.Lease / 3)
		for ctx.Err() == nil && time.Now().Before(renew) {
			ins, err := p.Inbox.Pull(ctx, max(1, min(p.Batch, l.Free())), time.Until(renew))
			if err != nil {
				if ctx.Err() == nil {
					p.Log.Error("inbound pull failed", "err", err)
					wait(ctx, time.Second)
				}
				break
			}
			for _, in := range ins {
				l.Add(in.Chat.Key(), in)
			}
		}
		l.Wait()
	}
	return nil
}

func (p *Processor) lanes(ctx context.Context) *lanes.Lanes[bot.Inbound] {
	return lanes.New(p.InFlight, func(in bot.Inbound) {
		if ctx.Err() == nil {
			p.one(ctx, in)
		}
	})
}

// Drain handles everything queued now; tests use it.
func (p *Processor) Drain(ctx context.Context) error {
	p.defaults()
	for {
		ins, err := p.Inbox.Pull(ctx, p.Batch, 0)
		if err != nil || len(ins) == 0 {
			return err
		}
		p.Process(ctx, ins)
	}
}

// Process handles a batch: chats at once, each chat's updates in order.
func (p *Processor) Process(ctx context.Context, ins []bot.Inbound) {
	p.defaults()
	l := p.lanes(ctx)
	for _, in := range ins {
		l.Add(in.Chat.Key(), in)
	}
	l.Wait()
}

func (p *Processor) one(ctx context.Context, in bot.Inbound) {
	// Built only when something is logged: most updates log nothing.
	log := func() *slog.Logger { return p.Log.With("platform", in.From.Platform, "update", in.ID) }
	p.Observe(in.From.Platform, in.Kind)
	resp, err := p.Handle(ctx, in.Incoming)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: the next leader takes it
		}
		n := p.Attempts
		if p.Marks != nil {
			n, _ = p.Marks.Count(ctx, "inbound-fail/"+string(in.From.Platform)+":"+in.ID, 24*time.Hour)
		}
		if n < p.Attempts {
			log().Error("update failed; it will be retried", "err", err, "attempt", n)
			return
		}
		log().Error("update failed too often; dropped", "err", err)
	}
	if a := p.Answer[in.From.Platform]; a != nil && (in.Callback != "" || resp.Toast != "") {
		if err := a.Answer(ctx, in.Incoming, resp); err != nil {
			log().Warn("answer failed", "err", err)
		}
	}
	in.Forget = err == nil && resp.Forget
	if err := p.Inbox.Done(ctx, in); err != nil {
		log().Error("inbound done failed", "err", err)
	}
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
