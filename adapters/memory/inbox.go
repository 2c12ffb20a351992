package memory

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/tiltas/tiltas/bot"
)

var (
	_ bot.Inbox  = (*Inbox)(nil)
	_ bot.Locker = (*Locker)(nil)
)

// Inbox is an in-process bot.Inbox: pushes are deduplicated by ID, pulls come out in order, and
// an update pulled but not finished within ClaimTimeout is handed out again.
type Inbox struct {
	clock bot.Clock
	mu    sync.Mutex
	seen  map[string]bool
	queue []*inItem
	seq   int
	wake  chan struct{}
}

type inItem struct {
	in      bot.Inbound
	takenAt time.Time
}

// NewInbox returns an empty inbox on clock.
func NewInbox(clock bot.Clock) *Inbox {
	if clock == nil {
		clock = bot.SystemClock
	}
	return &Inbox{clock: clock, seen: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// Push queues in unless its ID was seen.
func (b *Inbox) Push(_ context.Context, in bot.Incoming) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := string(in.From.Platform) + ":" + in.ID
	if in.ID != "" && b.seen[key] {
		return false, nil
	}
	b.seen[key] = true
	b.seq++
	b.queue = append(b.queue, &inItem{in: bot.Inbound{Incoming: in, Handle: strconv.Itoa(b.seq)}})
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return true, nil
}

// PushAll pushes each of ins in order.
func (b *Inbox) PushAll(ctx context.Context, ins []bot.Incoming) error {
	for _, in := range ins {
		if _, err := b.Push(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

// Pull returns up to max updates not taken by a live processor, oldest first.
func (b *Inbox) Pull(ctx context.Context, max int, block time.Duration) ([]bot.Inbound, error) {
	deadline := time.Now().Add(block)
	for {
		b.mu.Lock()
		now := b.clock.Now()
		var out []bot.Inbound
		for _, it := range b.queue {
			if len(out) >= max {
				break
			}
			if it.takenAt.IsZero() || now.Sub(it.takenAt) >= ClaimTimeout {
				it.takenAt = now
				out = append(out, it.in)
			}
		}
		b.mu.Unlock()
		if len(out) > 0 || block <= 0 {
			return out, nil
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, nil
		}
		t := time.NewTimer(min(wait, 100*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-b.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Done removes a handled update.
func (b *Inbox) Done(_ context.Context, in bot.Inbound) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if in.Forget {
		delete(b.seen, string(in.From.Platform)+":"+in.ID)
	}
	for i, it := range b.queue {
		if it.in.Handle == in.Handle {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			break
		}
	}
	return nil
}

// Locker is an in-process bot.Locker.
type Locker struct {
	clock bot.Clock
	mu    sync.Mutex
	held  map[string]lease
}

type lease struct {
	owner string
	until time.Time
}

// NewLocker returns a locker on clock.
func NewLocker(clock bot.Clock) *Locker {
	if clock == nil {
		clock = bot.SystemClock
	}
	return &Locker{clock: clock, held: map[string]lease{}}
}

// Lock takes or renews a lease.
func (l *Locker) Lock(_ context.Context, name, owner string, ttl time.Duration) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if h, ok := l.held[name]; ok && h.owner != owner && now.Before(h.until) {
		return false, nil
	}
	l.held[name] = lease{owner: owner, until: now.Add(ttl)}
	return true, nil
}

// Unlock releases a lease owner holds.
func (l *Locker) Unlock(_ context.Context, name, owner string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.held[name]; ok && h.owner == owner {
		delete(l.held, name)
	}
	return nil
}
