package delivery_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/delivery"
	"github.com/tiltas/tiltas/internal/redistest"
)

// strictPlatform enforces Telegram's limits as sliding windows on arrival time, the way the
// platform does, and answers 429 to a send that would break one.
type strictPlatform struct {
	mu       sync.Mutex
	global   []time.Time
	perChat  map[string][]time.Time
	accepted int
	refused  int
	first    time.Time
	last     time.Time
}

func (p *strictPlatform) Send(_ context.Context, to bot.Address, _ bot.Message) (bot.MessageRef, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	within := func(ts []time.Time, w time.Duration) int {
		n := 0
		for _, t := range ts {
			if now.Sub(t) < w {
				n++
			}
		}
		return n
	}
	if within(p.global, time.Second) >= 30 || within(p.perChat[to.Key()], time.Second) >= 1 {
		p.refused++
		return bot.MessageRef{}, &bot.DeliveryError{Reason: "rate_limited", RetryAfter: time.Second}
	}
	if p.first.IsZero() {
		p.first = now
	}
	p.last = now
	p.global = append(p.global, now)
	if len(p.global) > 200 {
		p.global = p.global[100:]
	}
	p.perChat[to.Key()] = append(p.perChat[to.Key()], now)
	p.accepted++
	return bot.MessageRef{Platform: bot.Telegram, Chat: to.User, ID: strconv.Itoa(p.accepted)}, nil
}

func (p *strictPlatform) Edit(context.Context, bot.MessageRef, bot.Message) error { return nil }

// BenchmarkOutboundRate sends to 300 private chats through three workers (three replicas) sharing
// the Redis limiter, against a platform that refuses anything over 30 msg/s overall or 1 msg/s per
// chat. It reports the sustained rate as a share of the limit and how many 429s were provoked.
func BenchmarkOutboundRate(b *testing.B) {
	c := redistest.Client(b)
	const n = 600
	for range b.N {
		prefix := redistest.Prefix(b, c)
		p := &strictPlatform{perChat: map[string][]time.Time{}}
		ctx, cancel := context.WithCancel(context.Background())
		lim := redis.NewLimiter(c, prefix, redis.DefaultLimitConfig())
		var stores []*redis.Store
		for range 3 {
			s, err := redis.New(redis.Options{Client: c, Prefix: prefix})
			if err != nil {
				b.Fatal(err)
			}
			stores = append(stores, s)
		}
		for i := range n {
			if err := stores[0].Enqueue(ctx, msg(i, fmt.Sprint(i%300))); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		start := time.Now()
		for _, s := range stores {
			w := &delivery.Worker{Platform: bot.Telegram, Queue: s, Messenger: p, Limiter: lim, Records: s, Batch: 64, Parallel: 64}
			go func() { _ = w.Run(ctx) }()
		}
		for {
			p.mu.Lock()
			done := p.accepted >= n
			p.mu.Unlock()
			if done {
				break
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatal("outbound benchmark hung")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		p.mu.Lock()
		rate := float64(p.accepted-1) / p.last.Sub(p.first).Seconds()
		b.ReportMetric(rate, "msg/s")
		b.ReportMetric(100*rate/30, "%of-limit")
		b.ReportMetric(float64(p.refused), "429s")
		p.mu.Unlock()
	}
}

// BenchmarkRedisMemoryPerQueuedMessage queues messages of a typical size (an alert copy with two
// buttons) and reports the Redis memory each one takes while it waits.
func BenchmarkRedisMemoryPerQueuedMessage(b *testing.B) {
	c := redistest.Client(b)
	ctx := context.Background()
	const n = 5000
	used := func() int64 {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				x, _ := strconv.ParseInt(v, 10, 64)
				return x
			}
		}
		b.Fatal("no used_memory")
		return 0
	}
	text := bot.Message{Title: "🔴 Susirūpinimas A17 · K-2026-117", Lines: []string{"Nepriežiūros požymiai (skubu)", "„Vaikas trečią dieną ateina be šiltų drabužių, alkanas.“", "Dar niekam neskambinta.",
		"Pranešė: Giedrė Sabaliauskienė, Saulės progimnazija · 2026 m. gruodžio 2 d., trečiadienis, 16:00", "⏳ Laukia, kol kas nors patvirtins."},
		Buttons: [][]bot.Button{{{Label: "Patvirtinti", Token: "abcdefghijklmnop"}, {Label: "Imuosi", Token: "qrstuvwxyzabcdef"}}}}
	var perMsg []float64
	for range b.N {
		prefix := redistest.Prefix(b, c)
		s, err := redis.New(redis.Options{Client: c, Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		before := used()
		for i := range n {
			o := bot.Outgoing{ID: fmt.Sprintf("alert:A17:enter:0:0:p%05d", i), Op: bot.OpSend, To: bot.Address{Platform: bot.Telegram, Chat: strconv.Itoa(100000000 + i)},
				Msg: text, RefKey: fmt.Sprintf("alert/A17/p%05d", i), Person: fmt.Sprintf("p%05d", i), Queued: time.Now()}
			if err := s.Enqueue(ctx, o); err != nil {
				b.Fatal(err)
			}
		}
		perMsg = append(perMsg, float64(used()-before)/n)
	}
	sort.Float64s(perMsg)
	b.ReportMetric(perMsg[len(perMsg)/2], "bytes/msg")
}
