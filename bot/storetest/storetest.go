// Package storetest is the contract every storage adapter must meet, written once as tests so
// that the in-memory stores the demo and flow tests use cannot drift from the Redis ones that
// production uses. An adapter's own tests call Run with a factory for fresh, isolated stores.
package storetest

import (
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Stores is one isolated set of stores under test, plus the means to let time pass on them.
type Stores struct {
	Records bot.Records
	Marks   bot.Marks
	Queue   bot.DeliveryQueue
	Timers  bot.TimerQueue
	Audit   bot.Audit
	// Clock is the clock the stores read; tests derive due times and TTL ends from it.
	Clock bot.Clock
	// Wait lets d pass on Clock: a fake clock is moved, a real one is slept on.
	Wait func(d time.Duration)
	// ClaimTimeout is how long the queue keeps a taken delivery from other workers. Real-time
	// stores should be built with a small one, since the suite waits it out.
	ClaimTimeout time.Duration
}

// Clock is a fake bot.Clock for stores that read their time from the injected clock: a
// bot.ManualClock whose Advance fits Stores.Wait.
type Clock struct{ *bot.ManualClock }

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{bot.NewManualClock(t)} }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ManualClock.Advance(d) }

// Run checks every store in Stores against the contract in bot/store.go. newStore must return
// stores that share nothing with any other call's, so that subtests can run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) Stores) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"records", recordTests},
		{"marks", markTests},
		{"outbox", outboxTests},
		{"timers", timerTests},
		{"audit", auditTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.run(t, newStore(t))
				})
			}
		})
	}
}

type test struct {
	name string
	run  func(t *testing.T, s Stores)
}
