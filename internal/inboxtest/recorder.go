// Package inboxtest has an inbox for adapter tests that records every push.
package inboxtest

import (
	"context"
	"sync"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Recorder is a bot.Inbox that records every push, seen before or not (memory.Inbox drops an ID
// pushed twice, and a fuzzer sends IDs twice: what the adapter made of it would go unchecked).
// Pull returns nothing.
type Recorder struct {
	mu  sync.Mutex
	got []bot.Incoming
}

// Push records in.
func (b *Recorder) Push(_ context.Context, in bot.Incoming) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, in)
	return true, nil
}

// PushAll records each of ins.
func (b *Recorder) PushAll(ctx context.Context, ins []bot.Incoming) error {
	for _, in := range ins {
		_, _ = b.Push(ctx, in)
	}
	return nil
}

// Pull returns nothing: the updates are for Take.
func (b *Recorder) Pull(context.Context, int, time.Duration) ([]bot.Inbound, error) {
	return nil, nil
}

// Done does nothing.
func (b *Recorder) Done(context.Context, bot.Inbound) error { return nil }

// Take returns what was pushed since the last Take.
func (b *Recorder) Take() []bot.Incoming {
	b.mu.Lock()
	defer b.mu.Unlock()
	got := b.got
	b.got = nil
	return got
}
