package bot

import (
	"context"
	"sync"
)

// coalesced runs one check of the store for any number of callers that arrive together: each
// caller waits for a run that started after it arrived, so that it sees the store as it was then
// or later, while callers arriving during a run share the next one. Under load that is one
// check per round trip instead of one per caller; alone, a caller waits for exactly one.
type coalesced struct {
	mu      sync.Mutex
	running bool
	next    *flight // the run the callers arriving during the current one wait for
}

type flight struct {
	done chan struct{}
	err  error
}

// do runs fn, or waits for a run of it that starts after this call, and returns its error.
func (c *coalesced) do(ctx context.Context, fn func(context.Context) error) error {
	c.mu.Lock()
	if c.next == nil {
		c.next = &flight{done: make(chan struct{})}
	}
	f := c.next
	if !c.running {
		c.running, c.next = true, nil
		// In the background: the caller waits below, and can give up when its ctx ends while
		// the run goes on for the others.
		go c.run(context.WithoutCancel(ctx), f, fn)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run runs f and then the run those who came meanwhile wait for, until nobody waits. A run is
// not cancelled with the caller that started it: others wait for it too.
func (c *coalesced) run(ctx context.Context, f *flight, fn func(context.Context) error) {
	for f != nil {
		f.err = fn(ctx)
		close(f.done)
		c.mu.Lock()
		f, c.next = c.next, nil
		c.running = f != nil
		c.mu.Unlock()
	}
}
