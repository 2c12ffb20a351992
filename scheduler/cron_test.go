package scheduler_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/scheduler"
)

// TestCronRunsOncePerRunAcrossReplicas: three replicas' crons fire the same scheduled run; the
// per-run mark lets exactly one act, and the next run is acted on again.
func TestCronRunsOncePerRunAcrossReplicas(t *testing.T) {
	marks := memory.New(nil) // shared, as Redis is between replicas
	var ran atomic.Int32
	job := scheduler.Job{Name: "purge", Run: func(context.Context) error { ran.Add(1); return nil }}
	var crons []*scheduler.Cron
	for range 3 {
		crons = append(crons, &scheduler.Cron{Marks: marks})
	}
	at := time.Date(2026, 12, 1, 3, 15, 0, 0, time.UTC)
	for round := range 2 {
		var wg sync.WaitGroup
		for _, c := range crons {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.RunOnce(context.Background(), job, at.Add(time.Duration(round)*24*time.Hour)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := ran.Load(); got != int32(round+1) {
			t.Fatalf("after run %d the job ran %d times", round+1, got)
		}
	}
}

func TestCronSpecIsChecked(t *testing.T) {
	c := &scheduler.Cron{Marks: memory.New(nil)}
	if err := c.Add("bad", "61 * * * *", func(context.Context) error { return nil }); err == nil {
		t.Error("an impossible cron spec was accepted")
	}
	if err := c.Add("purge", "15 3 * * *", func(context.Context) error { return nil }); err != nil {
		t.Error(err)
	}
	if len(c.Jobs()) != 1 {
		t.Errorf("jobs = %d", len(c.Jobs()))
	}
}
