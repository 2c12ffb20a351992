package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/logbuf"
	"github.com/tiltas/tiltas/internal/redistest"
	"github.com/tiltas/tiltas/scheduler"
)

// BenchmarkTimersAtMaxmemory holds a redis-server of its own over maxmemory (noeviction: every
// write refused) for MAXMEM_SECONDS (60) while 1,000 timers fall due, with the runner's default
// backoff, then frees memory. It reports the log lines and claims tried during the outage (per
// minute) and how long after memory was freed the last timer fired.
//
//	scripts/test -run '^$' -bench TimersAtMaxmemory -benchtime 1x ./scheduler/
func BenchmarkTimersAtMaxmemory(b *testing.B) {
	outage := 60 * time.Second
	if v, err := strconv.Atoi(os.Getenv("MAXMEM_SECONDS")); err == nil && v > 0 {
		outage = time.Duration(v) * time.Second
	}
	for range b.N {
		b.StopTimer()
		c := redistest.Own(b, "--maxmemory-policy", "noeviction")
		ctx, cancel := context.WithCancel(context.Background())
		st, err := redis.New(redis.Options{Client: c, Prefix: "tiltas"})
		if err != nil {
			b.Fatal(err)
		}
		const n = 1000
		var ts []bot.Timer
		start := time.Now()
		for i := range n {
			ts = append(ts, bot.Timer{ID: fmt.Sprintf("t%04d", i), Due: start.Add(time.Duration(i) * outage / n), Kind: "k"})
		}
		if err := st.Schedule(ctx, ts...); err != nil {
			b.Fatal(err)
		}
		overMaxmemory(b, c)
		q := &countedQueue{TimerQueue: st}
		var logs logbuf.Buffer
		var fired atomic.Int64
		r := &scheduler.Runner{Queue: q, Log: slog.New(slog.NewJSONHandler(&logs, nil)),
			Fire: func(context.Context, bot.Timer) error { fired.Add(1); return nil }}
		done := make(chan struct{})
		b.StartTimer()
		go func() { defer close(done); _ = r.Run(ctx) }()
		time.Sleep(outage)
		logged, claims := len(lines(&logs)), q.claims.Load()
		if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
			b.Fatal(err)
		}
		freed := time.Now()
		for fired.Load() < n && time.Since(freed) < time.Minute {
			time.Sleep(5 * time.Millisecond)
		}
		caughtUp := time.Since(freed)
		b.StopTimer()
		cancel()
		<-done
		if fired.Load() != n {
			b.Fatalf("a minute after memory was freed %d of %d timers fired", fired.Load(), n)
		}
		perMin := float64(time.Minute) / float64(outage)
		b.ReportMetric(float64(logged)*perMin, "log-lines/min")
		b.ReportMetric(float64(claims)*perMin, "claims/min")
		b.ReportMetric(float64(caughtUp.Milliseconds()), "ms-to-catch-up")
		b.Logf("log during and after the outage:\n%s", strings.Join(lines(&logs), "\n"))
	}
}
