// Package lanes runs work keyed by conversation: items with the same key one after another in
// the order added, different keys at once, with a bound on how many are in flight. The inbound
// processor and the delivery worker both use it, so that one chat's updates and one chat's
// messages keep their order while a busy chat never holds up the others, and without waiting
// for a whole batch to finish before taking the next.
package lanes

import "sync"

// Lanes runs Handle for added items.
type Lanes[T any] struct {
	handle func(T)
	sem    chan struct{}

	mu    sync.Mutex
	lanes map[string]*lane[T]
	wg    sync.WaitGroup
}

type lane[T any] struct {
	queue []T
}

// New returns lanes that run handle with at most max items in flight (queued or running).
func New[T any](max int, handle func(T)) *Lanes[T] {
	if max < 1 {
		max = 1
	}
	return &Lanes[T]{handle: handle, sem: make(chan struct{}, max), lanes: map[string]*lane[T]{}}
}

// Add queues v on lane key, waiting while max items are in flight.
func (l *Lanes[T]) Add(key string, v T) {
	l.sem <- struct{}{}
	l.wg.Add(1)
	l.mu.Lock()
	ln, running := l.lanes[key]
	if !running {
		ln = &lane[T]{}
		l.lanes[key] = ln
	}
	ln.queue = append(ln.queue, v)
	l.mu.Unlock()
	if !running {
		go l.drain(key, ln)
	}
}

func (l *Lanes[T]) drain(key string, ln *lane[T]) {
	for {
		l.mu.Lock()
		if len(ln.queue) == 0 {
			delete(l.lanes, key)
			l.mu.Unlock()
			return
		}
		v := ln.queue[0]
		ln.queue = ln.queue[1:]
		l.mu.Unlock()
		l.handle(v)
		<-l.sem
		l.wg.Done()
	}
}

// Wait waits until every added item has been handled.
func (l *Lanes[T]) Wait() { l.wg.Wait() }

// Free reports whether another item can be added without waiting.
func (l *Lanes[T]) Free() int { return cap(l.sem) - len(l.sem) }
