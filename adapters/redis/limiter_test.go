package redis_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
)

// windowed reports the first window of length w holding more than n of times.
func windowed(times []time.Time, n int, w time.Duration) error {
	times = slices.Clone(times)
	slices.SortFunc(times, time.Time.Compare)
	for i := 0; i+n < len(times); i++ {
		if span := times[i+n].Sub(times[i]); span < w {
			return fmt.Errorf("sends %d..%d of %d span %v, less than %v", i, i+n, len(times), span, w)
		}
	}
	return nil
}

func private(user string) bot.Address { return bot.Address{Platform: bot.Telegram, User: user} }

func group(chat string) bot.Address {
	return bot.Address{Platform: bot.Telegram, Chat: chat, Group: true}
}

// TestLimiterWindows reserves from several goroutines, as replicas would, and checks that the
// reserved moments never put more than N into any window of any limit. The windows are short
// so that 200 sends to one chat span seconds, but nothing here waits for them.
func TestLimiterWindows(t *testing.T) {
	const margin = 5 * time.Millisecond
	limits := redis.Limits{
		Global:   redis.Rate{N: 25, Window: 200 * time.Millisecond},
		PerChat:  redis.Rate{N: 3, Window: 100 * time.Millisecond},
		PerGroup: redis.Rate{N: 4, Window: 300 * time.Millisecond},
		Margin:   margin,
	}
	for _, tt := range topologies {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client(t)
			l := redis.NewLimiter(c, prefix(t, c), redis.LimitConfig{Platforms: map[bot.Platform]redis.Limits{bot.Telegram: limits}})
			type conv struct {
				rate  redis.Rate
				times []time.Time
			}
			var mu sync.Mutex
			convs := map[string]*conv{}
			var all []time.Time
			reserve := func(to bot.Address) {
				_, at, err := l.ReserveAt(t.Context(), to)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				cv := convs[to.Key()]
				if cv == nil {
					cv = &conv{rate: limits.PerChat}
					if to.Group {
						cv.rate = limits.PerGroup
					}
					convs[to.Key()] = cv
				}
				cv.times = append(cv.times, at)
				all = append(all, at)
			}
			var wg sync.WaitGroup
			for g := range 5 {
				wg.Go(func() {
					for i := range 40 {
						reserve(private("hot")) // 200 sends to one private chat in all
						reserve(private(fmt.Sprint("u", g, "-", i%7)))
						if i%2 == 0 {
							reserve(group(fmt.Sprint("-", i%3)))
						}
					}
				})
			}
			wg.Wait()
			if n := len(convs[private("hot").Key()].times); n != 200 {
				t.Fatalf("%d reservations for the hot chat, want 200", n)
			}
			if err := windowed(all, limits.Global.N, limits.Global.Window+margin); err != nil {
				t.Errorf("global: %v", err)
			}
			for key, cv := range convs {
				if err := windowed(cv.times, cv.rate.N, cv.rate.Window+margin); err != nil {
					t.Errorf("%s: %v", key, err)
				}
			}
		})
	}
}

// TestTelegramRetryAfterPausesEveryChat: Telegram's 429 does not say which limit was hit, so after
// one every Telegram send waits for its retry_after, on every replica, unless the limiter's own
// window for that chat was full (that chat alone waits then). Slack's 429 is per Web API method.
func TestTelegramRetryAfterPausesEveryChat(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	p := prefix(t, c)
	cfg := redis.DefaultLimitConfig()
	tg := cfg.Platforms[bot.Telegram]
	tg.PerChat = redis.Rate{N: 1, Window: 200 * time.Millisecond} // short, so that a window can pass
	tg.Margin = 10 * time.Millisecond
	cfg.Platforms[bot.Telegram] = tg
	l, other := redis.NewLimiter(c, p, cfg), redis.NewLimiter(c, p, cfg) // two replicas
	if d, _, err := l.Reserve(ctx, private("u1"), bot.OpSend, time.Hour); err != nil || d != 0 {
		t.Fatalf("first send waits %v, %v", d, err)
	}
	if which, err := l.BlockWhich(ctx, private("u1"), bot.OpSend, 30*time.Second); err != nil || which != 2 {
		t.Fatalf("a 429 after u1's only send: %d, %v (want 2, every chat paused)", which, err)
	}
	if err := l.Block(ctx, private("u1"), bot.OpSend, time.Second); err != nil {
		t.Fatal(err) // a shorter retry_after does not shorten the longer one
	}
	for _, to := range []bot.Address{private("u1"), private("u2"), group("-100")} {
		for _, op := range []bot.Op{bot.OpSend, bot.OpEdit} {
			// Generous bounds: the pause was set moments before.
			if d, _, _ := other.Reserve(ctx, to, op, time.Hour); d < 25*time.Second {
				t.Errorf("%s %s on another replica waits %v after a 30s retry_after", op, to.Key(), d)
			}
		}
	}
	if d, _, _ := other.Reserve(ctx, bot.Address{Platform: bot.Slack, Team: "T", Chat: "C1"}, bot.OpSend, time.Hour); d != 0 {
		t.Errorf("Slack waits %v for Telegram's retry_after", d)
	}
}

// TestRetryAfterForAFullChatBlocksThatChat: when the chat's own window was full as its latest
// send went out, the 429 is taken as that chat's limit: the chat waits, the others do not.
func TestRetryAfterForAFullChatBlocksThatChat(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	cfg := redis.DefaultLimitConfig()
	tg := cfg.Platforms[bot.Telegram]
	tg.PerChat = redis.Rate{N: 1, Window: 200 * time.Millisecond}
	tg.Margin = 10 * time.Millisecond
	cfg.Platforms[bot.Telegram] = tg
	l := redis.NewLimiter(c, prefix(t, c), cfg)
	l.Reserve(ctx, private("u3"), bot.OpSend, time.Hour)
	d, _, _ := l.Reserve(ctx, private("u3"), bot.OpSend, time.Hour)
	if d < 200*time.Millisecond {
		t.Fatalf("second send to u3 waits only %v", d)
	}
	time.Sleep(d + 20*time.Millisecond) // the second send goes out
	if which, err := l.BlockWhich(ctx, private("u3"), bot.OpSend, 30*time.Second); err != nil || which != 1 {
		t.Fatalf("a 429 after a send that waited for u3's window: %d, %v (want 1, u3 alone)", which, err)
	}
	if d, _, _ := l.Reserve(ctx, private("u4"), bot.OpSend, time.Hour); d >= time.Second {
		t.Errorf("u4 waits %v for u3's own limit", d)
	}
	now, first, err := l.ReserveAt(ctx, private("u3"))
	if err != nil {
		t.Fatal(err)
	}
	_, second, _ := l.ReserveAt(ctx, private("u3"))
	if first.Sub(now) < 25*time.Second || second.Sub(first) < 210*time.Millisecond {
		t.Fatalf("u3 after its 30s retry_after: waits %v, then %v more", first.Sub(now), second.Sub(first))
	}

	// When the overall window was full as well, either limit could be the one hit: all wait.
	cfg.Platforms[bot.Telegram] = redis.Limits{Global: redis.Rate{N: 2, Window: 300 * time.Millisecond},
		PerChat: redis.Rate{N: 1, Window: 300 * time.Millisecond}, Margin: 10 * time.Millisecond}
	both := redis.NewLimiter(c, prefix(t, c), cfg)
	both.Reserve(ctx, private("u3"), bot.OpSend, time.Hour)
	both.Reserve(ctx, private("u9"), bot.OpSend, time.Hour)
	d, _, _ = both.Reserve(ctx, private("u3"), bot.OpSend, time.Hour)
	time.Sleep(d + 20*time.Millisecond)
	if which, err := both.BlockWhich(ctx, private("u3"), bot.OpSend, 30*time.Second); err != nil || which != 2 {
		t.Fatalf("a 429 when both u3's window and the overall one were full: %d, %v (want 2, every chat paused)", which, err)
	}

	// Slack: chat.update's Retry-After holds edits back, not sends.
	c1, c2, c3 := bot.Address{Platform: bot.Slack, Team: "T", Chat: "C1"}, bot.Address{Platform: bot.Slack, Team: "T", Chat: "C2"}, bot.Address{Platform: bot.Slack, Team: "T", Chat: "C3"}
	if err := l.Block(ctx, c1, bot.OpEdit, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := l.Reserve(ctx, c2, bot.OpEdit, time.Hour); d < 4*time.Second {
		t.Errorf("a Slack edit waits %v after chat.update's 5s Retry-After", d)
	}
	if d, _, _ := l.Reserve(ctx, c3, bot.OpSend, time.Hour); d >= time.Second {
		t.Errorf("a Slack send waits %v for chat.update's Retry-After", d)
	}
}

func BenchmarkLimiterReserve(b *testing.B) {
	c := standalone(b)
	l := redis.NewLimiter(c, prefix(b, c), redis.LimitConfig{Platforms: map[bot.Platform]redis.Limits{
		bot.Telegram: {Global: redis.Rate{N: 1 << 30, Window: time.Second}, PerChat: redis.Rate{N: 1 << 30, Window: time.Second}},
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

// TestReserveBeyondMaxWaitKeepsNothing: a send too far off is not recorded, so the slot stays free
// for the next one (a message put back on the queue must not waste a slot).
func TestReserveBeyondMaxWaitKeepsNothing(t *testing.T) {
	c := standalone(t)
	ctx := t.Context()
	l := redis.NewLimiter(c, prefix(t, c), redis.DefaultLimitConfig())
	if _, ok, err := l.Reserve(ctx, private("u1"), bot.OpSend, time.Second); err != nil || !ok {
		t.Fatalf("first: %v %v", ok, err)
	}
	for range 5 {
		wait, ok, err := l.Reserve(ctx, private("u1"), bot.OpSend, 100*time.Millisecond)
		if err != nil || ok || wait < 900*time.Millisecond {
			t.Fatalf("too far off: wait %v ok %v err %v", wait, ok, err)
		}
	}
	// Refused tries took no slot: the second send waits one window, not six.
	wait, ok, err := l.Reserve(ctx, private("u1"), bot.OpSend, 5*time.Second)
	if err != nil || !ok || wait > 1100*time.Millisecond {
		t.Fatalf("after refusals: wait %v ok %v err %v", wait, ok, err)
	}
}

// TestHoldKeepsTheChatsNextSendAnIntervalAway: after a late send's Hold, the chat's next send,
// reserved on another replica or asking Held, keeps a whole interval from now; other chats and
// the platform are not held.
func TestHoldKeepsTheChatsNextSendAnIntervalAway(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	p := prefix(t, c)
	l, other := redis.NewLimiter(c, p, redis.DefaultLimitConfig()), redis.NewLimiter(c, p, redis.DefaultLimitConfig())
	if err := l.Hold(ctx, private("u1"), bot.OpSend); err != nil {
		t.Fatal(err)
	}
	// Telegram: one a second per chat, plus the 100 ms margin. Generous lower bounds.
	if held, err := other.Held(ctx, private("u1"), bot.OpSend); err != nil || held < 900*time.Millisecond || held > 1100*time.Millisecond {
		t.Errorf("the held chat's hold: %v, %v; want about 1.1s", held, err)
	}
	if d, _, _ := other.Reserve(ctx, private("u1"), bot.OpSend, time.Hour); d < 900*time.Millisecond {
		t.Errorf("the held chat's next send waits %v; want about 1.1s", d)
	}
	if d, _, _ := other.Reserve(ctx, private("u2"), bot.OpSend, time.Hour); d > 100*time.Millisecond {
		t.Errorf("another chat waits %v for the hold", d)
	}
	// A group (20 a minute) is not held: a pause after one send does not keep such a window.
	if err := other.Hold(ctx, group("-100"), bot.OpSend); err != nil {
		t.Fatal(err)
	}
	if held, _ := other.Held(ctx, group("-100"), bot.OpSend); held != 0 {
		t.Errorf("a group is held %v after a late send", held)
	}
}
