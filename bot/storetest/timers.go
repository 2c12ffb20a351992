package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
)

var timerTests = []test{
	{"schedule", testSchedule},
	{"claim due only", testClaimDue},
	{"lease expiry", testLeaseExpiry},
	{"complete after reschedule", testCompleteAfterReschedule},
	{"cancel claimed", testCancelClaimed},
	{"concurrent claimers", testConcurrentClaimers},
	{"scheduled says which timers are in place", testScheduled},
}

func testScheduled(t *testing.T, s Stores) {
	ctx := t.Context()
	a := bot.Timer{ID: "a", Due: base.Add(time.Minute), Kind: "k", Ref: "r1", Arg: "x"}
	b := bot.Timer{ID: "b", Due: base.Add(2 * time.Minute), Kind: "k", Ref: "r2"}
	schedule(t, s, a, b)
	claim(t, s, base.Add(time.Minute), 1, time.Minute) // a is claimed: still scheduled
	got, err := s.Timers.Scheduled(ctx, "a", "b", "missing")
	if err != nil {
		t.Fatalf("Scheduled: %v", err)
	}
	if len(got) != 2 || !got["a"].Due.Equal(a.Due) || got["a"].Arg != "x" || got["a"].Ref != "r1" || !got["b"].Due.Equal(b.Due) {
		t.Fatalf("Scheduled = %+v; want a and b as scheduled", got)
	}
	if err := s.Timers.Cancel(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	got, err = s.Timers.Scheduled(ctx, "a", "b")
	if err != nil || len(got) != 1 || got["b"].ID != "b" {
		t.Fatalf("after cancel: %+v, %v; want only b", got, err)
	}
	if got, err := s.Timers.Scheduled(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Scheduled() = %v, %v; want nothing", got, err)
	}
}

// base is a fixed moment for timer tests: timers take their time from Claim's argument, not
// from the stores' clock, so no test needs to wait.
var base = time.Date(2026, time.March, 29, 0, 30, 0, 0, time.UTC)

func timerIDs(ts []bot.ClaimedTimer) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func claim(t *testing.T, s Stores, now time.Time, max int, lease time.Duration) []bot.ClaimedTimer {
	t.Helper()
	ts, err := s.Timers.Claim(t.Context(), now, max, lease)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return ts
}

func schedule(t *testing.T, s Stores, ts ...bot.Timer) {
	t.Helper()
	if err := s.Timers.Schedule(t.Context(), ts...); err != nil {
		t.Fatalf("Schedule: %v", err)
	}
}

func wantNext(t *testing.T, s Stores, want time.Time) {
	t.Helper()
	got, ok, err := s.Timers.Next(t.Context())
	switch {
	case err != nil:
		t.Fatalf("Next: %v", err)
	case want.IsZero() && ok:
		t.Fatalf("Next = %v, want none", got)
	case !want.IsZero() && (!ok || !got.Equal(want)):
		t.Fatalf("Next = %v, %v; want %v", got, ok, want)
	}
}

func testSchedule(t *testing.T, s Stores) {
	ctx := t.Context()
	wantNext(t, s, time.Time{})
	schedule(t, s, bot.Timer{ID: "a", Due: base.Add(time.Hour), Kind: "remind"}, bot.Timer{ID: "b", Due: base.Add(2 * time.Hour), Kind: "remind"})
	wantNext(t, s, base.Add(time.Hour))
	// Scheduling an ID again moves it.
	schedule(t, s, bot.Timer{ID: "a", Due: base.Add(3 * time.Hour), Kind: "remind", Arg: "moved"})
	wantNext(t, s, base.Add(2*time.Hour))
	if got := claim(t, s, base.Add(90*time.Minute), 10, time.Minute); len(got) != 0 {
		t.Fatalf("Claim before anything is due = %q", timerIDs(got))
	}
	if err := s.Timers.Cancel(ctx, "b", "never-scheduled"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantNext(t, s, base.Add(3*time.Hour))
	got := claim(t, s, base.Add(3*time.Hour), 10, time.Minute)
	if len(got) != 1 || got[0].ID != "a" || got[0].Arg != "moved" {
		t.Fatalf("Claim = %+v, want the moved a", got)
	}
	if err := s.Timers.Cancel(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	wantNext(t, s, time.Time{})
}

func testClaimDue(t *testing.T, s Stores) {
	ctx := t.Context()
	timers := []bot.Timer{
		{ID: "later", Due: base.Add(time.Minute), Kind: "k"},
		{ID: "now", Due: base, Kind: "visit.remind", Ref: "visit/V3", Arg: "p7"},
		{ID: "past", Due: base.Add(-time.Hour), Kind: "k"},
		{ID: "past2", Due: base.Add(-time.Minute), Kind: "k"},
	}
	schedule(t, s, timers...)
	tests := []struct {
		name string
		now  time.Time
		max  int
		want []string
	}{
		{"earliest first, at most max", base, 2, []string{"past", "past2"}},
		{"due at now is due", base, 10, []string{"now"}},
		{"claimed ones are held", base.Add(30 * time.Second), 10, nil},
		{"later", base.Add(time.Minute), 10, []string{"later"}},
	}
	for _, tt := range tests {
		got := claim(t, s, tt.now, tt.max, time.Hour)
		if !slices.Equal(timerIDs(got), tt.want) {
			t.Fatalf("%s: Claim = %q, want %q", tt.name, timerIDs(got), tt.want)
		}
		for _, c := range got {
			if c.Lease == "" {
				t.Fatalf("%s: %s claimed without a lease", tt.name, c.ID)
			}
			if c.ID == "now" {
				w := timers[1]
				if !c.Due.Equal(w.Due) || c.Kind != w.Kind || c.Ref != w.Ref || c.Arg != w.Arg {
					t.Fatalf("claimed timer = %+v, want %+v", c.Timer, w)
				}
			}
			if err := s.Timers.Complete(ctx, c); err != nil {
				t.Fatalf("Complete: %v", err)
			}
		}
	}
	wantNext(t, s, time.Time{})
}

func testLeaseExpiry(t *testing.T, s Stores) {
	ctx := t.Context()
	schedule(t, s, bot.Timer{ID: "a", Due: base, Kind: "k"})
	first := claim(t, s, base, 10, time.Minute)
	if len(first) != 1 {
		t.Fatalf("Claim = %q", timerIDs(first))
	}
	// The first claimer dies without completing.
	if got := claim(t, s, base.Add(59*time.Second), 10, time.Minute); len(got) != 0 {
		t.Fatalf("Claim within the lease = %q", timerIDs(got))
	}
	second := claim(t, s, base.Add(61*time.Second), 10, time.Minute)
	if len(second) != 1 || second[0].ID != "a" || second[0].Lease == first[0].Lease {
		t.Fatalf("Claim after the lease = %+v, want a under a new lease", second)
	}
	// The first claimer comes back: its Complete must not remove the timer another one holds.
	if err := s.Timers.Complete(ctx, first[0]); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Timers.Next(ctx); !ok {
		t.Fatal("a stale lease's Complete removed the timer")
	}
	if err := s.Timers.Complete(ctx, second[0]); err != nil {
		t.Fatal(err)
	}
	wantNext(t, s, time.Time{})
	if got := claim(t, s, base.Add(time.Hour), 10, time.Minute); len(got) != 0 {
		t.Fatalf("completed timer claimed again: %q", timerIDs(got))
	}
}

func testCompleteAfterReschedule(t *testing.T, s Stores) {
	ctx := t.Context()
	schedule(t, s, bot.Timer{ID: "a", Due: base, Kind: "k"})
	held := claim(t, s, base, 1, time.Minute)
	if len(held) != 1 {
		t.Fatalf("Claim = %q", timerIDs(held))
	}
	// While the runner works on it, a flow moves the timer to tomorrow.
	tomorrow := base.Add(24 * time.Hour)
	schedule(t, s, bot.Timer{ID: "a", Due: tomorrow, Kind: "k", Arg: "new"})
	if err := s.Timers.Complete(ctx, held[0]); err != nil {
		t.Fatal(err)
	}
	wantNext(t, s, tomorrow)
	if got := claim(t, s, base.Add(2*time.Minute), 10, time.Minute); len(got) != 0 {
		t.Fatalf("rescheduled timer claimed at its old time: %q", timerIDs(got))
	}
	got := claim(t, s, tomorrow, 10, time.Minute)
	if len(got) != 1 || got[0].Arg != "new" {
		t.Fatalf("Claim at the new time = %+v", got)
	}
}

func testCancelClaimed(t *testing.T, s Stores) {
	ctx := t.Context()
	schedule(t, s, bot.Timer{ID: "a", Due: base, Kind: "k"})
	held := claim(t, s, base, 1, time.Minute)
	if len(held) != 1 {
		t.Fatalf("Claim = %q", timerIDs(held))
	}
	if err := s.Timers.Cancel(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Timers.Complete(ctx, held[0]); err != nil {
		t.Fatalf("Complete of a cancelled timer: %v", err)
	}
	wantNext(t, s, time.Time{})
	if got := claim(t, s, base.Add(time.Hour), 10, time.Minute); len(got) != 0 {
		t.Fatalf("cancelled timer claimed: %q", timerIDs(got))
	}
}

func testConcurrentClaimers(t *testing.T, s Stores) {
	ctx := t.Context()
	const n = 300
	var ts []bot.Timer
	for i := range n {
		ts = append(ts, bot.Timer{ID: fmt.Sprintf("t%03d", i), Due: base.Add(time.Duration(i%7) * time.Millisecond), Kind: "k"})
	}
	schedule(t, s, ts...)
	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for {
				got, err := s.Timers.Claim(ctx, base.Add(time.Second), 9, time.Hour)
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					claimed[c.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != n {
		t.Fatalf("%d distinct timers claimed, want %d", len(claimed), n)
	}
	for id, c := range claimed {
		if c != 1 {
			t.Errorf("%s claimed %d times within one lease", id, c)
		}
	}
}
