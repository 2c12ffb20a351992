package redis

import (
	"context"
	"sync"
)

// maxBatch bounds how many calls one script call carries.
const maxBatch = 256

// batcher turns calls made at once into one call to Redis (a script or a transaction): a call
// made while no batch is on its way goes at once, alone; calls made while one is on its way wait
// for it and then go together, the next. An idle store adds no wait; a busy one makes one call
// per round trip instead of one per caller. Every key a batch touches shares one hash tag, so that a
// batch is one slot in a Cluster.
type batcher[T any] struct {
	run func(ctx context.Context, items []T) error

	mu      sync.Mutex
	running bool
	queue   []*call[T]
}

type call[T any] struct {
	item T
	ctx  context.Context
	done chan error
}

// do runs item in a batch and returns the batch's error.
func (b *batcher[T]) do(ctx context.Context, item T) error {
	c := &call[T]{item: item, ctx: ctx, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if !b.running {
		b.running = true
		go b.flush() // every caller waits below, so that each can give up when its ctx ends
	}
	b.mu.Unlock()
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		// The call may still be made with the batch it is in: as with a command whose reply
		// was not waited for, the caller cannot tell, and the operations batched here are
		// safe to repeat.
		return ctx.Err()
	}
}

// flush runs what is queued, batch after batch, until nothing is.
func (b *batcher[T]) flush() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		n := min(len(b.queue), maxBatch)
		calls := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		b.runBatch(calls)
	}
}

// runBatch makes one call to Redis for calls, but for those whose callers have given up.
func (b *batcher[T]) runBatch(calls []*call[T]) {
	items := make([]T, 0, len(calls))
	live := calls[:0:0]
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.done <- err // gone already: its caller has stopped waiting
			continue
		}
		items, live = append(items, c.item), append(live, c)
	}
	if len(live) == 0 {
		return
	}
	// The batch is not cancelled with the caller whose call is first: the others wait too.
	err := b.run(context.WithoutCancel(live[0].ctx), items)
	for _, c := range live {
		c.done <- err
	}
}
