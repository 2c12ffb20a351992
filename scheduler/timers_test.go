package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/logbuf"
	"github.com/tiltas/tiltas/internal/redistest"
	"github.com/tiltas/tiltas/scheduler"
)

// countedQueue counts the claims the runner tries.
type countedQueue struct {
	bot.TimerQueue
	claims atomic.Int64
}

func (q *countedQueue) Claim(ctx context.Context, now time.Time, n int, lease time.Duration) ([]bot.ClaimedTimer, error) {
	q.claims.Add(1)
	return q.TimerQueue.Claim(ctx, now, n, lease)
}

// lines returns the log's lines.
func lines(b *logbuf.Buffer) []string {
	return strings.Split(strings.TrimSpace(b.String()), "\n")
}

// overMaxmemory makes c hold more than it may (noeviction), so that every write is refused.
func overMaxmemory(tb testing.TB, c *goredis.Client) {
	ctx := context.Background()
	for i := range 32 {
		if err := c.Set(ctx, fmt.Sprintf("filler:%d", i), strings.Repeat("x", 64<<10), 0).Err(); err != nil {
			tb.Fatal(err)
		}
	}
	if err := c.ConfigSet(ctx, "maxmemory", "1mb").Err(); err != nil {
		tb.Fatal(err)
	}
}

// With Redis out of memory, claiming a timer fails while reading the next due time still works:
// the loop backs off instead of trying every 5 ms, logs the outage once, and once memory is
// free fires every timer that fell due meanwhile.
func TestTimerLoopBacksOffWhileRedisIsFull(t *testing.T) {
	c := redistest.Own(t, "--maxmemory-policy", "noeviction")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := redis.New(redis.Options{Client: c, Prefix: "tiltas"})
	if err != nil {
		t.Fatal(err)
	}
	var ts []bot.Timer
	for i := range 20 {
		ts = append(ts, bot.Timer{ID: fmt.Sprintf("t%02d", i), Due: time.Now().Add(300 * time.Millisecond), Kind: "k"})
	}
	if err := st.Schedule(ctx, ts...); err != nil {
		t.Fatal(err)
	}
	overMaxmemory(t, c)

	q := &countedQueue{TimerQueue: st}
	var logs logbuf.Buffer
	var fired atomic.Int64
	r := &scheduler.Runner{Queue: q, Log: slog.New(slog.NewJSONHandler(&logs, nil)), MaxBackoff: time.Second,
		Fire: func(context.Context, bot.Timer) error { fired.Add(1); return nil }}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()

	time.Sleep(3 * time.Second)
	if n := fired.Load(); n != 0 {
		t.Fatalf("%d timers fired although they could not be claimed", n)
	}
	// 50ms, 100ms, 200ms … capped at 1s: about 6 tries in 3s, where the loop without backoff
	// made one every 5ms.
	if n := q.claims.Load(); n > 12 {
		t.Errorf("%d claims tried in 3s of outage: no backoff", n)
	}
	if l := lines(&logs); len(l) != 1 || !strings.Contains(l[0], "timer claims failing") || !strings.Contains(l[0], "OOM") {
		t.Errorf("want one line for the outage, got %d:\n%s", len(l), strings.Join(l, "\n"))
	}

	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fired.Load() < int64(len(ts)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := fired.Load(); n != int64(len(ts)) {
		t.Fatalf("after memory was freed %d of %d timers fired", n, len(ts))
	}
	cancel()
	<-done
	if l := lines(&logs); len(l) != 2 || !strings.Contains(l[1], "timer claims work again") {
		t.Errorf("want the outage's end logged once, got:\n%s", strings.Join(l, "\n"))
	}
}
