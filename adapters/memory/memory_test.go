package memory_test

import (
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/bot/storetest"
)

func newStores(tb testing.TB) storetest.Stores {
	clock := storetest.NewClock(time.Date(2026, time.October, 25, 1, 0, 0, 0, time.UTC))
	s := memory.New(clock)
	return storetest.Stores{
		Records:      s,
		Marks:        s,
		Queue:        s,
		Timers:       s,
		Audit:        s.Audit(),
		Clock:        clock,
		Wait:         clock.Advance,
		ClaimTimeout: memory.ClaimTimeout,
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores { return newStores(t) })
}

func BenchmarkStores(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) storetest.Stores { return newStores(b) })
}

func TestInboxConformance(t *testing.T) {
	storetest.RunInbox(t, func(t *testing.T) storetest.Inboxes {
		clock := storetest.NewClock(time.Date(2026, time.October, 25, 1, 0, 0, 0, time.UTC))
		return storetest.Inboxes{Inbox: memory.NewInbox(clock), Locker: memory.NewLocker(clock), Wait: clock.Advance, ClaimTimeout: memory.ClaimTimeout}
	})
}
