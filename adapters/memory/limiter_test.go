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
				d, _, err := l.Reserve(t.Context(), tt.to(i), bot.OpSend, time.Hour)
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
				d, _, err := l.Reserve(t.Context(), to, bot.OpSend, time.Hour)
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

// TestTelegramRetryAfterPausesEveryChat: Telegram's 429 does not say which limit was hit, so after
// one every Telegram send waits for its retry_after, unless the limiter's own window for that chat
// was full (the chat's limit, then: that chat alone waits). Slack's 429 is per Web API method.
func TestTelegramRetryAfterPausesEveryChat(t *testing.T) {
	l, now := limiter()
	ctx := t.Context()
	if d, _, _ := l.Reserve(ctx, private("u1"), bot.OpSend, time.Hour); d != 0 {
		t.Fatalf("first send waits %v", d)
	}
	if err := l.Block(ctx, private("u1"), bot.OpSend, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Block(ctx, private("u1"), bot.OpSend, time.Second); err != nil {
		t.Fatal(err) // a shorter retry_after does not shorten the longer one
	}
	for _, to := range []bot.Address{private("u1"), private("u2"), group("-100")} {
		for _, op := range []bot.Op{bot.OpSend, bot.OpEdit} {
			if d, _, _ := l.Reserve(ctx, to, op, time.Hour); d < 10*time.Second {
				t.Errorf("%s %s waits %v after a 10s retry_after", op, to.Key(), d)
			}
		}
	}
	if d, _, _ := l.Reserve(ctx, bot.Address{Platform: bot.Slack, Team: "T", Chat: "C1"}, bot.OpSend, time.Hour); d != 0 {
		t.Errorf("Slack waits %v for Telegram's retry_after", d)
	}

	*now = now.Add(time.Minute)
	if d, _, _ := l.Reserve(ctx, private("u2"), bot.OpSend, time.Hour); d != 0 {
		t.Fatalf("a minute later u2 still waits %v", d)
	}
	// u3's second send had to wait for u3's own window: a 429 now is u3's limit.
	l.Reserve(ctx, private("u3"), bot.OpSend, time.Hour)
	if d, _, _ := l.Reserve(ctx, private("u3"), bot.OpSend, time.Hour); d < time.Second {
		t.Fatalf("second send to u3 waits only %v", d)
	}
	*now = now.Add(1200 * time.Millisecond)
	if err := l.Block(ctx, private("u3"), bot.OpSend, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := l.Reserve(ctx, private("u4"), bot.OpSend, time.Hour); d >= time.Second {
		t.Errorf("u4 waits %v for u3's own limit", d)
	}
	first, _, _ := l.Reserve(ctx, private("u3"), bot.OpSend, time.Hour)
	second, _, _ := l.Reserve(ctx, private("u3"), bot.OpSend, time.Hour)
	if first < 10*time.Second || second < first+time.Second {
		t.Fatalf("u3 after its 10s retry_after: waits %v and %v", first, second)
	}

	c1, c2, c3 := bot.Address{Platform: bot.Slack, Team: "T", Chat: "C1"}, bot.Address{Platform: bot.Slack, Team: "T", Chat: "C2"}, bot.Address{Platform: bot.Slack, Team: "T", Chat: "C3"}
	*now = now.Add(time.Minute)
	if err := l.Block(ctx, c1, bot.OpEdit, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := l.Reserve(ctx, c2, bot.OpEdit, time.Hour); d < 5*time.Second {
		t.Errorf("a Slack edit waits %v after chat.update's 5s Retry-After", d)
	}
	if d, _, _ := l.Reserve(ctx, c3, bot.OpSend, time.Hour); d >= time.Second {
		t.Errorf("a Slack send waits %v for chat.update's Retry-After", d)
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
		if _, _, err := l.Reserve(ctx, private(fmt.Sprint(i%1000)), bot.OpSend, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReserveBeyondMaxWaitKeepsNothing(t *testing.T) {
	l, _ := limiter()
	ctx := t.Context()
	if _, ok, _ := l.Reserve(ctx, private("u1"), bot.OpSend, time.Second); !ok {
		t.Fatal("first refused")
	}
	for range 5 {
		if _, ok, _ := l.Reserve(ctx, private("u1"), bot.OpSend, 100*time.Millisecond); ok {
			t.Fatal("a send beyond max wait was recorded")
		}
	}
	wait, ok, _ := l.Reserve(ctx, private("u1"), bot.OpSend, 5*time.Second)
	if !ok || wait > 1100*time.Millisecond {
		t.Fatalf("after refusals: wait %v ok %v", wait, ok)
	}
}

// TestHoldKeepsTheChatsNextSendAnIntervalAway: after a late send's Hold, the chat's next send
// keeps a whole interval from now; other chats are not held.
func TestHoldKeepsTheChatsNextSendAnIntervalAway(t *testing.T) {
	ctx := t.Context()
	l := memory.NewLimiter(memory.DefaultLimitConfig())
	if err := l.Hold(ctx, private("u1"), bot.OpSend); err != nil {
		t.Fatal(err)
	}
	if held, err := l.Held(ctx, private("u1"), bot.OpSend); err != nil || held < 900*time.Millisecond || held > 1100*time.Millisecond {
		t.Errorf("the held chat's hold: %v, %v; want about 1.1s", held, err)
	}
	if d, _, _ := l.Reserve(ctx, private("u1"), bot.OpSend, time.Hour); d < 900*time.Millisecond {
		t.Errorf("the held chat's next send waits %v; want about 1.1s", d)
	}
	if d, _, _ := l.Reserve(ctx, private("u2"), bot.OpSend, time.Hour); d > 100*time.Millisecond {
		t.Errorf("another chat waits %v for the hold", d)
	}
	// A group (20 a minute) is not held: a pause after one send does not keep such a window.
	if err := l.Hold(ctx, group("-100"), bot.OpSend); err != nil {
		t.Fatal(err)
	}
	if held, _ := l.Held(ctx, group("-100"), bot.OpSend); held != 0 {
		t.Errorf("a group is held %v after a late send", held)
	}
}
