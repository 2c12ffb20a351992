// Package faults wraps the stores the engine works through so that a test can fail the k-th
// write, or stop everything after it as a crash would, and check that the reconcile pass leaves
// the world as a run without the fault does.
package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// Errors the wrapped stores return.
var (
	// ErrInjected is the one write that fails.
	ErrInjected = errors.New("injected fault")
	// ErrCrashed is every call after the crash: the process is gone.
	ErrCrashed = errors.New("crashed")
)

// Mode is what happens at the k-th write.
type Mode int

// Modes.
const (
	Fail  Mode = iota // the k-th write fails; the process goes on
	Crash             // the k-th write is done, then every call fails, as if the process died
)

func (m Mode) String() string {
	if m == Crash {
		return "crash after"
	}
	return "fail"
}

// Faults counts the writes made through the stores it wraps while armed.
type Faults struct {
	mu      sync.Mutex
	armed   bool
	k, n    int
	mode    Mode
	crashed bool
	writes  []string
	timers  map[string]bool
}

// New returns an unarmed Faults.
func New() *Faults { return &Faults{timers: map[string]bool{}} }

// Arm starts counting writes; the k-th (from 1) fails or crashes as mode says. k 0 only counts.
func (f *Faults) Arm(k int, mode Mode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.k, f.n, f.mode, f.crashed, f.writes = true, k, 0, mode, false, nil
}

// Disarm stops counting and failing: the process restarted.
func (f *Faults) Disarm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.crashed = false, false
}

// Writes returns what was written while armed, in order.
func (f *Faults) Writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.writes...)
}

// Timers returns the ID of every timer scheduled or cancelled through the stores, armed or not.
func (f *Faults) Timers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.timers))
	for id := range f.timers {
		out = append(out, id)
	}
	return out
}

// write is called before a write: it may refuse it.
func (f *Faults) write(what string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.armed {
		return nil
	}
	if f.crashed {
		return ErrCrashed
	}
	f.n++
	f.writes = append(f.writes, what)
	if f.n == f.k && f.mode == Fail {
		return fmt.Errorf("%s: %w", what, ErrInjected)
	}
	return nil
}

// wrote is called after a write that was let through.
func (f *Faults) wrote() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed && f.n == f.k && f.mode == Crash {
		f.crashed = true
	}
}

// read refuses reads after a crash.
func (f *Faults) read() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed && f.crashed {
		return ErrCrashed
	}
	return nil
}

func (f *Faults) touch(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.timers[id] = true
	}
}

// Wrap returns st with every write counted and subject to the fault.
func (f *Faults) Wrap(st flowtest.Stores) flowtest.Stores {
	return flowtest.Stores{
		Records: &records{f, st.Records},
		Marks:   &marks{f, st.Marks},
		Audit:   &audit{f, st.Audit},
		Timers:  &timers{f, st.Timers},
		Queue:   &queue{f, st.Queue},
	}
}

// do runs a write through the fault.
func do[T any](f *Faults, what string, fn func() (T, error)) (T, error) {
	var zero T
	if err := f.write(what); err != nil {
		return zero, err
	}
	v, err := fn()
	f.wrote()
	return v, err
}

func read[T any](f *Faults, fn func() (T, error)) (T, error) {
	var zero T
	if err := f.read(); err != nil {
		return zero, err
	}
	return fn()
}

type records struct {
	f *Faults
	bot.Records
}

func (r *records) Get(ctx context.Context, key string) ([]byte, int64, error) {
	if err := r.f.read(); err != nil {
		return nil, 0, err
	}
	return r.Records.Get(ctx, key)
}

func (r *records) Write(ctx context.Context, w bot.Write) (int64, error) {
	return do(r.f, "records.write "+w.Key, func() (int64, error) { return r.Records.Write(ctx, w) })
}

func (r *records) Range(ctx context.Context, index string, min, max float64, limit int) ([]string, error) {
	return read(r.f, func() ([]string, error) { return r.Records.Range(ctx, index, min, max, limit) })
}

func (r *records) Scan(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := r.f.read(); err != nil {
		return err
	}
	return r.Records.Scan(ctx, prefix, fn)
}

type marks struct {
	f *Faults
	bot.Marks
}

func (m *marks) Mark(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return do(m.f, "marks.mark "+key, func() (bool, error) { return m.Marks.Mark(ctx, key, ttl) })
}

func (m *marks) Count(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	return do(m.f, "marks.count "+key, func() (int64, error) { return m.Marks.Count(ctx, key, ttl) })
}

func (m *marks) Unmark(ctx context.Context, key string) error {
	_, err := do(m.f, "marks.unmark "+key, func() (struct{}, error) { return struct{}{}, m.Marks.Unmark(ctx, key) })
	return err
}

type audit struct {
	f *Faults
	bot.Audit
}

func (a *audit) Append(ctx context.Context, e bot.AuditEvent) error {
	_, err := do(a.f, "audit.append "+e.Kind, func() (struct{}, error) { return struct{}{}, a.Audit.Append(ctx, e) })
	return err
}

type timers struct {
	f *Faults
	bot.TimerQueue
}

func (t *timers) Schedule(ctx context.Context, ts ...bot.Timer) error {
	for _, tm := range ts {
		t.f.touch(tm.ID)
	}
	_, err := do(t.f, "timers.schedule", func() (struct{}, error) { return struct{}{}, t.TimerQueue.Schedule(ctx, ts...) })
	return err
}

func (t *timers) Cancel(ctx context.Context, ids ...string) error {
	t.f.touch(ids...)
	_, err := do(t.f, "timers.cancel", func() (struct{}, error) { return struct{}{}, t.TimerQueue.Cancel(ctx, ids...) })
	return err
}

func (t *timers) Scheduled(ctx context.Context, ids ...string) (map[string]bot.Timer, error) {
	return read(t.f, func() (map[string]bot.Timer, error) { return t.TimerQueue.Scheduled(ctx, ids...) })
}

type queue struct {
	f *Faults
	bot.DeliveryQueue
}

func (q *queue) Enqueue(ctx context.Context, msgs ...bot.Outgoing) error {
	what := "outbox.enqueue"
	if len(msgs) == 1 {
		what += " " + msgs[0].ID
	}
	_, err := do(q.f, what, func() (struct{}, error) { return struct{}{}, q.DeliveryQueue.Enqueue(ctx, msgs...) })
	return err
}

func (q *queue) Discard(ctx context.Context, match func(bot.Outgoing) bool) ([]bot.Outgoing, error) {
	return do(q.f, "outbox.discard", func() ([]bot.Outgoing, error) { return q.DeliveryQueue.Discard(ctx, match) })
}
