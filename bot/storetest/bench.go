package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Benchmark measures the operations on the hot paths: a record write with an index change, a
// message's trip through the outbox, and a timer's trip through schedule, claim and complete.
func Benchmark(b *testing.B, newStore func(b *testing.B) Stores) {
	b.Run("Records.Write", func(b *testing.B) {
		s := newStore(b)
		ctx := b.Context()
		data := make([]byte, 512)
		i := 0
		for b.Loop() {
			i++
			w := bot.Write{Key: fmt.Sprint("bench/", i%1000), Data: data, Version: bot.Any,
				Index: []bot.IndexOp{{Index: "bench", Member: fmt.Sprint(i % 1000), Score: float64(i)}}}
			if _, err := s.Records.Write(ctx, w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Enqueue+Take+Done", func(b *testing.B) {
		s := newStore(b)
		ctx := b.Context()
		i := 0
		for b.Loop() {
			i++
			m := outgoing(s, fmt.Sprint("bench-", i), bot.Priority(i%2))
			if err := s.Queue.Enqueue(ctx, m); err != nil {
				b.Fatal(err)
			}
			ds, err := s.Queue.Take(ctx, bot.Telegram, 1, 0)
			if err != nil || len(ds) != 1 {
				b.Fatalf("Take = %d deliveries, %v", len(ds), err)
			}
			if err := s.Queue.Done(ctx, ds[0], bot.MessageRef{Platform: bot.Telegram, Chat: "1", ID: m.ID}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Schedule+Claim+Complete", func(b *testing.B) {
		s := newStore(b)
		ctx := b.Context()
		i := 0
		for b.Loop() {
			i++
			if err := s.Timers.Schedule(ctx, bot.Timer{ID: fmt.Sprint("bench-", i), Due: base, Kind: "bench"}); err != nil {
				b.Fatal(err)
			}
			ts, err := s.Timers.Claim(ctx, base, 1, time.Minute)
			if err != nil || len(ts) != 1 {
				b.Fatalf("Claim = %d timers, %v", len(ts), err)
			}
			if err := s.Timers.Complete(ctx, ts[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
