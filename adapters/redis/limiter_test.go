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

func TestLimiterBlock(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	l := redis.NewLimiter(c, prefix(t, c), redis.DefaultLimitConfig())
	if d, _, err := l.Reserve(ctx, private("u1"), time.Hour); err != nil || d != 0 {
		t.Fatalf("first send waits %v, %v", d, err)
	}
	if err := l.Block(ctx, private("u1"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Block(ctx, private("u1"), time.Second); err != nil {
		t.Fatal(err) // a shorter block does not shorten the longer one
	}
	_, blockedAt, err := l.ReserveAt(ctx, private("u1"))
	if err != nil {
		t.Fatal(err)
	}
	now, next, err := l.ReserveAt(ctx, private("u1"))
	if err != nil {
		t.Fatal(err)
	}
	// Generous bounds: the block was set moments before now.
	if d := blockedAt.Sub(now); d < 20*time.Second || d > 30*time.Second {
		t.Fatalf("send after a 30s block waits %v", d)
	}
	if d := next.Sub(blockedAt); d < time.Second+25*time.Millisecond {
		t.Fatalf("second send after the block is %v after the first", d)
	}
	if d, _, _ := l.Reserve(ctx, private("u2"), time.Hour); d >= 20*time.Second {
		t.Fatalf("another chat waits %v for the block", d)
	}
	slack := bot.Address{Platform: bot.Slack, Team: "T1", Chat: "C1"}
	for i := range 50 {
		to := slack
		to.Chat = fmt.Sprint("C", i)
		if d, _, _ := l.Reserve(ctx, to, time.Hour); d != 0 {
			t.Fatalf("Slack has no global limit, yet channel %d waits %v", i, d)
		}
	}
	if d, _, _ := l.Reserve(ctx, bot.Address{Platform: bot.Console, User: "u"}, time.Hour); d != 0 {
		t.Fatalf("an unlimited platform waits %v", d)
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
		if _, _, err := l.Reserve(ctx, private(fmt.Sprint(i%1000)), time.Hour); err != nil {
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
	if _, ok, err := l.Reserve(ctx, private("u1"), time.Second); err != nil || !ok {
		t.Fatalf("first: %v %v", ok, err)
	}
	for range 5 {
		wait, ok, err := l.Reserve(ctx, private("u1"), 100*time.Millisecond)
		if err != nil || ok || wait < 900*time.Millisecond {
			t.Fatalf("too far off: wait %v ok %v err %v", wait, ok, err)
		}
	}
	// Refused tries took no slot: the second send waits one window, not six.
	wait, ok, err := l.Reserve(ctx, private("u1"), 5*time.Second)
	if err != nil || !ok || wait > 1100*time.Millisecond {
		t.Fatalf("after refusals: wait %v ok %v err %v", wait, ok, err)
	}
}
