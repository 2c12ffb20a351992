package redis

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// A call made when nothing is on its way goes alone and at once; calls made while a batch is on
// its way go together in the next one, in the order they were made; each gets its batch's error.
func TestBatcherGathersCallsMadeMeanwhile(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var batches [][]int
	b := batcher[int]{run: func(_ context.Context, items []int) error {
		mu.Lock()
		batches = append(batches, slices.Clone(items))
		first := len(batches) == 1
		mu.Unlock()
		if first {
			<-release // the first batch is slow: the others queue behind it
		}
		if slices.Contains(items, 13) {
			return errors.New("refused")
		}
		return nil
	}}
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := b.do(ctx, 0); err != nil {
			t.Error(err)
		}
	})
	for len(snapshot(&mu, &batches)) == 0 {
		time.Sleep(time.Millisecond)
	}
	// One goroutine makes its calls in order while the first batch is out.
	errs := make(chan error, 20)
	var queued sync.WaitGroup
	for i := 1; i <= 20; i++ {
		queued.Add(1)
		wg.Go(func() {
			queued.Done()
			errs <- b.do(ctx, i)
		})
		queued.Wait() // made in this order
		for {
			b.mu.Lock()
			n := len(b.queue)
			b.mu.Unlock()
			if n == i {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	wg.Wait()
	close(errs)
	got := snapshot(&mu, &batches)
	if len(got) != 2 || !slices.Equal(got[0], []int{0}) {
		t.Fatalf("batches %v, want [0] alone and then the twenty together", got)
	}
	want := make([]int, 20)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(got[1], want) {
		t.Errorf("second batch %v, want %v in order", got[1], want)
	}
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed != 20 {
		t.Errorf("%d of the 20 calls got their batch's error", failed)
	}
	// Idle again: a call goes alone.
	if err := b.do(ctx, 99); err != nil || len(snapshot(&mu, &batches)) != 3 {
		t.Errorf("an idle call: %v, batches %v", err, snapshot(&mu, &batches))
	}
}

func snapshot(mu *sync.Mutex, b *[][]int) [][]int {
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(*b)
}

// A caller whose batch is slow can give up when its context ends, even the one whose call went
// first; the batch still finishes for the others.
func TestBatcherCallerGivesUp(t *testing.T) {
	release := make(chan struct{})
	b := batcher[int]{run: func(ctx context.Context, _ []int) error {
		<-release
		return ctx.Err()
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.do(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("gave up with %v", err)
	}
	close(release)
	if err := b.do(context.Background(), 2); err != nil {
		t.Errorf("the batch after: %v", err)
	}
}
