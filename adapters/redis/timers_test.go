package redis_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
)

// effect is a timer's idempotent effect: the first run for an ID sets its key and counts.
var effect = goredis.NewScript(`
if redis.call('SET', KEYS[1], 1, 'NX') then
  return redis.call('INCR', KEYS[2])
end
return 0
`)

// TestTimersReplicas has three replicas (Stores with their own clients, as separate processes
// would have) claim 10,000 timers all due in the same second. One of them claims a batch and
// dies; the others take that batch over when its lease runs out. Each timer's effect happens
// exactly once, and no timer is claimed twice within a lease.
func TestTimersReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	shared := standalone(t)
	p := prefix(t, shared)
	url := need(t, envURL)
	var replicas []*redis.Store
	for range 3 {
		c, err := redis.Connect(ctx, url, redis.Topology{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		replicas = append(replicas, newStore(t, c, p, nil))
	}

	const n = 10000
	second := time.Now().Truncate(time.Second).Add(-time.Second)
	for i := 0; i < n; i += 1000 {
		var ts []bot.Timer
		for j := i; j < i+1000; j++ {
			ts = append(ts, bot.Timer{ID: fmt.Sprintf("t%05d", j), Due: second.Add(time.Duration(j%1000) * time.Millisecond), Kind: "remind"})
		}
		if err := replicas[0].Schedule(ctx, ts...); err != nil {
			t.Fatal(err)
		}
	}

	// The replica that dies: it claims a batch under a short lease and never runs or completes it.
	dead, err := replicas[2].Claim(ctx, time.Now(), 100, 300*time.Millisecond)
	if err != nil || len(dead) != 100 {
		t.Fatalf("dying replica claimed %d, %v", len(dead), err)
	}

	var mu sync.Mutex
	claims := map[string]int{}
	var effects, duplicates int
	effectKey := func(id string) string { return p + ":effect:" + id }
	counter := p + ":effects"
	var wg sync.WaitGroup
	for _, r := range replicas[:2] {
		wg.Go(func() {
			for ctx.Err() == nil {
				// A long lease: a live replica always completes well within it.
				got, err := r.Claim(ctx, time.Now(), 100, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					if _, ok, err := r.Next(ctx); err != nil || !ok {
						return // nothing left at all
					}
					time.Sleep(20 * time.Millisecond) // the dead replica's leases are still running
					continue
				}
				for _, c := range got {
					res, err := effect.Run(ctx, shared, []string{effectKey(c.ID), counter}).Int64()
					if err != nil {
						t.Error(err)
						return
					}
					if err := r.Complete(ctx, c); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					claims[c.ID]++
					if res > 0 {
						effects++
					} else {
						duplicates++
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("replicas did not finish in time")
	}
	if effects != n || duplicates != 0 {
		t.Fatalf("%d effects and %d duplicate runs, want %d and 0", effects, duplicates, n)
	}
	if got, _ := shared.Get(ctx, counter).Int(); got != n {
		t.Fatalf("effect counter %d, want %d", got, n)
	}
	if len(claims) != n {
		t.Fatalf("live replicas claimed %d distinct timers, want %d", len(claims), n)
	}
	for id, c := range claims {
		if c != 1 {
			t.Fatalf("%s claimed %d times by live replicas", id, c)
		}
	}
	for _, c := range dead {
		if claims[c.ID] != 1 {
			t.Fatalf("%s, claimed by the dead replica, was not taken over", c.ID)
		}
	}
	// The dead replica comes back: its stale leases complete nothing.
	for _, c := range dead {
		if err := replicas[2].Complete(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
}
