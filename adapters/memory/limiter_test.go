package memory_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/bot"
)

// limiter returns a limiter with the default limits on a clock stopped at the returned time.
func limiter() (*memory.Limiter, *time.Time) {
	l := memory.NewLimiter(memory.DefaultLimitConfig())
	now := time.Date(2026, time.March, 29, 0, 59, 59, 0, time.UTC)
	memory.SetNow(l, func() time.Time { return now })
	return l, &now
}

func private(user string) bot.Address { return bot.Address{Platform: bot.Telegram, User: user} }

func group(chat string) bot.Address {
	return bot.Address{Platform: bot.Telegram, Chat: chat, Group: true}
}

// windowed reports the first window of length w holding more than n of times.
func windowed(times []time.Time, n int, w time.Duration) error {
	times = slices.Clone(times)
	slices.SortFunc(times, time.Time.Compare)
	for i := 0; i+n < len(times); i++ {
		if span := times[i+n].Sub(times[i]); span < w {
			return fmt.Errorf("sends %d..%d span %v, less than %v", i, i+n, span, w)
		}
	}
	return nil
}

func TestLimiterWindows(t *testing.T) {
	const margin = 25 * time.Millisecond
	tests := []struct {
		name  string
		to    func(i int) bot.Address
		sends int
		n     int
		w     time.Duration
		// zero: the last send waits; otherwise the most any send waits
		maxWait time.Duration
	}{
		{name: "one private chat", to: func(int) bot.Address { return private("u1") }, sends: 20, n: 1, w: time.Second},
		{name: "one group", to: func(int) bot.Address { return group("-100") }, sends: 30, n: 20, w: time.Minute},
		{name: "many private chats share the global limit", to: func(i int) bot.Address { return private(fmt.Sprint(i)) }, sends: 200, n: 30, w: time.Second},
		{name: "slack channels have no global limit", to: func(i int) bot.Address {
			return bot.Address{Platform: bot.Slack, Team: "T1", Chat: fmt.Sprint("C", i)}
		}, sends: 100, maxWait: time.Nanosecond},
		{name: "console is not limited", to: func(int) bot.Address { return bot.Address{Platform: bot.Console, User: "u"} }, sends: 100, maxWait: time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, now := limiter()
			var times []time.Time
			var longest time.Duration
			for i := range tt.sends {
				d, _, err := l.Reserve(t.Context(), tt.to(i), time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				longest = max(longest, d)
				times = append(times, now.Add(d))
			}
			if tt.maxWait > 0 {
				if longest >= tt.maxWait {
					t.Fatalf("a send waited %v", longest)
				}
				return
			}
			if err := windowed(times, tt.n, tt.w+margin); err != nil {
				t.Fatal(err)
			}
			if longest == 0 {
				t.Fatal("no send waited")
			}
		})
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l, now := limiter()
	var mu sync.Mutex
	byConv := map[string][]time.Time{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				to := private("u1")
				if i%2 == 1 {
					to = group(fmt.Sprint("-", g, "-", i%5))
				}
				d, _, err := l.Reserve(t.Context(), to, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				byConv[to.Key()] = append(byConv[to.Key()], now.Add(d))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for key, times := range byConv {
		n, w := 20, time.Minute
		if key == private("u1").Key() {
			n, w = 1, time.Second
		}
		if err := windowed(times, n, w+25*time.Millisecond); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
}

func TestLimiterBlock(t *testing.T) {
	l, now := limiter()
	ctx := t.Context()
	if d, _, _ := l.Reserve(ctx, private("u1"), time.Hour); d != 0 {
		t.Fatalf("first send waits %v", d)
	}
	if err := l.Block(ctx, private("u1"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Block(ctx, private("u1"), time.Second); err != nil {
		t.Fatal(err) // a shorter block does not shorten the longer one
	}
	first, _, _ := l.Reserve(ctx, private("u1"), time.Hour)
	second, _, _ := l.Reserve(ctx, private("u1"), time.Hour)
	if first < 10*time.Second || second < first+time.Second {
		t.Fatalf("after a 10s block: waits %v and %v", first, second)
	}
	if d, _, _ := l.Reserve(ctx, private("u2"), time.Hour); d >= time.Second {
		t.Fatalf("another chat waits %v for the block", d)
	}
	*now = now.Add(time.Minute)
	if d, _, _ := l.Reserve(ctx, private("u1"), time.Hour); d != 0 {
		t.Fatalf("a minute later the blocked chat still waits %v", d)
	}
}

func BenchmarkLimiterReserve(b *testing.B) {
	l := memory.NewLimiter(memory.LimitConfig{Platforms: map[bot.Platform]memory.Limits{
		bot.Telegram: {Global: memory.Rate{N: 1 << 30, Window: time.Second}, PerChat: memory.Rate{N: 1 << 30, Window: time.Second}},
	}})
	ctx := b.Context()
	i := 0
	for b.Loop() {
		i++
		if _, _, err := l.Reserve(ctx, private(fmt.Sprint(i%1000)), time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReserveBeyondMaxWaitKeepsNothing(t *testing.T) {
	l, _ := limiter()
	ctx := t.Context()
	if _, ok, _ := l.Reserve(ctx, private("u1"), time.Second); !ok {
		t.Fatal("first refused")
	}
	for range 5 {
		if _, ok, _ := l.Reserve(ctx, private("u1"), 100*time.Millisecond); ok {
			t.Fatal("a send beyond max wait was recorded")
		}
	}
	wait, ok, _ := l.Reserve(ctx, private("u1"), 5*time.Second)
	if !ok || wait > 1100*time.Millisecond {
		t.Fatalf("after refusals: wait %v ok %v", wait, ok)
	}
}
