package lanes_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiltas/tiltas/internal/lanes"
)

func TestEachLaneInOrderLanesAtOnceBounded(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]int{}
	var inFlight, most atomic.Int32
	l := lanes.New(8, func(v [2]int) {
		n := inFlight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		mu.Lock()
		key := fmt.Sprint(v[0])
		got[key] = append(got[key], v[1])
		mu.Unlock()
		inFlight.Add(-1)
	})
	for i := range 200 {
		l.Add(fmt.Sprint(i%5), [2]int{i % 5, i / 5})
	}
	l.Wait()
	for k, vs := range got {
		if len(vs) != 40 {
			t.Fatalf("lane %s handled %d items", k, len(vs))
		}
		for i, v := range vs {
			if v != i {
				t.Fatalf("lane %s out of order: %v", k, vs)
			}
		}
	}
	if m := most.Load(); m > 5 || m < 2 {
		t.Errorf("at most %d items ran at once, want 2..5 (five lanes, one item each)", m)
	}
}
