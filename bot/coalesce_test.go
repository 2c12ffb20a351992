package bot

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Callers arriving together share a run, and each sees a run that started after it arrived: a
// roster changed before a message came is seen by that message.
func TestCoalescedRunsStartAfterTheCallerArrived(t *testing.T) {
	var c coalesced
	var runs, version atomic.Int64
	started := make(chan int64, 100) // the version each run saw
	release := make(chan struct{})
	fn := func(context.Context) error {
		runs.Add(1)
		started <- version.Load()
		<-release
		return nil
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	// The first caller starts a run and holds it.
	wg.Go(func() { _ = c.do(ctx, fn) })
	if v := <-started; v != 0 {
		t.Fatalf("first run saw %d", v)
	}
	// The store changes; fifty callers arrive while the first run is still out.
	version.Store(1)
	for range 50 {
		wg.Go(func() {
			if err := c.do(ctx, fn); err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let them all queue (a slow machine only shares less)
	close(release)
	wg.Wait()
	close(started)
	for v := range started {
		if v != 1 {
			t.Errorf("a caller that came after the change was answered by a run that saw version %d", v)
		}
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("%d runs for 51 callers in two waves, want 2", n)
	}
}

// A caller waiting for a run can give up; the run goes on for the others.
func TestCoalescedCallerGivingUp(t *testing.T) {
	var c coalesced
	release := make(chan struct{})
	running := make(chan struct{}, 2)
	var runs atomic.Int64
	fn := func(ctx context.Context) error {
		runs.Add(1)
		running <- struct{}{}
		<-release
		return ctx.Err()
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.do(context.Background(), fn) })
	<-running
	ctx, cancel := context.WithCancel(context.Background())
	var other error
	wg.Go(func() { other = c.do(context.Background(), fn) }) // waits for the second run
	time.Sleep(20 * time.Millisecond)
	gaveUp := make(chan error)
	go func() { gaveUp <- c.do(ctx, fn) }() // waits for it too, then gives up
	cancel()
	if err := <-gaveUp; err != context.Canceled {
		t.Errorf("giving up: %v", err)
	}
	close(release)
	wg.Wait()
	if other != nil || runs.Load() != 2 {
		t.Errorf("the run the others waited for: err %v, runs %d", other, runs.Load())
	}
}
