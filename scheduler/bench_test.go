package scheduler_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/redistest"
	"github.com/tiltas/tiltas/scheduler"
)

// BenchmarkTimerLateness schedules 10,000 timers due in the same second and runs three replicas
// (three stores, three runners) on one Redis. It reports how late the timers fired (p50, p99,
// max) and fails if any fired twice or not at all.
func BenchmarkTimerLateness(b *testing.B) {
	c := redistest.Client(b)
	const n = 10000
	for range b.N {
		prefix := redistest.Prefix(b, c)
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		late := make([]time.Duration, 0, n)
		fired := map[string]int{}
		var replicas []*redis.Store
		for range 3 {
			s, err := redis.New(redis.Options{Client: c, Prefix: prefix})
			if err != nil {
				b.Fatal(err)
			}
			replicas = append(replicas, s)
		}
		due := time.Now().Add(3 * time.Second).Truncate(time.Second)
		var ts []bot.Timer
		for i := range n {
			ts = append(ts, bot.Timer{ID: fmt.Sprintf("t%05d", i), Due: due.Add(time.Duration(i%1000) * time.Millisecond), Kind: "k"})
		}
		for chunk := range sliceChunks(ts, 500) {
			if err := replicas[0].Schedule(ctx, chunk...); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		var wg sync.WaitGroup
		for _, s := range replicas {
			r := &scheduler.Runner{Queue: s, Fire: func(_ context.Context, t bot.Timer) error {
				d := time.Since(t.Due)
				mu.Lock()
				late = append(late, d)
				fired[t.ID]++
				mu.Unlock()
				return nil
			}}
			wg.Add(1)
			go func() { defer wg.Done(); _ = r.Run(ctx) }()
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			mu.Lock()
			done := len(fired) == n
			mu.Unlock()
			if done || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // a duplicate would show up now
		cancel()
		wg.Wait()
		b.StopTimer()
		if len(fired) != n {
			b.Fatalf("%d of %d timers fired", len(fired), n)
		}
		for id, k := range fired {
			if k != 1 {
				b.Fatalf("timer %s fired %d times", id, k)
			}
		}
		sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
		b.ReportMetric(float64(late[len(late)/2].Milliseconds()), "p50-ms")
		b.ReportMetric(float64(late[len(late)*99/100].Milliseconds()), "p99-ms")
		b.ReportMetric(float64(late[len(late)-1].Milliseconds()), "max-ms")
	}
}

func sliceChunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}
