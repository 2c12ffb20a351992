package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/bot"
)

// TestOutboxDeadWorker has a worker take a batch and die without finishing any of it. Another
// worker (another Store, so another consumer) delivers everything else at once and, after the
// claim timeout, the dead worker's batch too: nothing is lost and nothing is delivered twice.
func TestOutboxDeadWorker(t *testing.T) {
	tests := []struct {
		name   string
		client func(testing.TB) goredis.UniversalClient
	}{
		{"standalone", standalone},
		{"cluster", cluster},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			c := tt.client(t)
			p := prefix(t, c)
			dying, alive := newStore(t, c, p, nil), newStore(t, c, p, nil)

			const n = 300
			var msgs []bot.Outgoing
			for i := range n {
				m := bot.Outgoing{ID: fmt.Sprintf("m%03d", i), Op: bot.OpSend, Queued: time.Now(),
					To: bot.Address{Platform: bot.Telegram, User: fmt.Sprint(i % 17)}, Msg: bot.Message{Title: "x"}}
				if i%4 == 0 {
					m.Priority = bot.Urgent
				}
				msgs = append(msgs, m)
			}
			if err := alive.Enqueue(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
			lost, err := dying.Take(ctx, bot.Telegram, 50, 0)
			if err != nil || len(lost) != 50 {
				t.Fatalf("dying worker took %d, %v", len(lost), err)
			}

			delivered := map[string]int{}
			for ctx.Err() == nil {
				ds, err := alive.Take(ctx, bot.Telegram, 32, 200*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range ds {
					delivered[d.ID]++
					if err := alive.Done(ctx, d, bot.MessageRef{Platform: bot.Telegram, Chat: d.To.User, ID: d.ID}); err != nil {
						t.Fatal(err)
					}
				}
				if depth, _, err := alive.Stats(ctx); err != nil || depth == 0 {
					break
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("gave up with %d of %d delivered", len(delivered), n)
			}
			for _, m := range msgs {
				if delivered[m.ID] != 1 {
					t.Errorf("%s delivered %d times", m.ID, delivered[m.ID])
				}
			}
			// Stream entries and bodies are gone; only the sent markers remain.
			for _, k := range c.Keys(ctx, p+":*").Val() {
				if typ := c.Type(ctx, k).Val(); typ == "stream" {
					if l := c.XLen(ctx, k).Val(); l != 0 {
						t.Errorf("%s still holds %d entries", k, l)
					}
				}
			}
		})
	}
}
