package redis_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// TestConcurrentDonesSurviveAScriptFlush: many workers finishing at once (their scripts batched
// by the autopipeliner) all get their own answer, and a server that lost its scripts (a restart)
// is given them again.
func TestConcurrentDonesSurviveAScriptFlush(t *testing.T) {
	ctx := context.Background()
	c := standalone(t)
	s := newStore(t, c, prefix(t, c), nil)
	const n = 200
	for i := range n {
		if err := s.Enqueue(ctx, bot.Outgoing{ID: fmt.Sprint("m", i), Op: bot.OpSend, To: bot.Address{Platform: bot.Telegram, User: fmt.Sprint(i)}, Msg: bot.Message{Title: "x"}, Queued: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	var ds []bot.Delivery
	for len(ds) < n {
		got, err := s.Take(ctx, bot.Telegram, n, 0)
		if err != nil || len(got) == 0 {
			t.Fatalf("take: %v %v", got, err)
		}
		ds = append(ds, got...)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, d := range ds {
		wg.Go(func() { errs <- s.Done(ctx, d, bot.MessageRef{Platform: bot.Telegram, Chat: d.To.User, ID: d.ID}) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range ds {
		if ref, ok, err := s.Sent(ctx, d.ID); err != nil || !ok || ref.ID != d.ID {
			t.Fatalf("%s: sent %v %v %v", d.ID, ref, ok, err)
		}
	}
	if depth, _, _ := s.Stats(ctx); depth != 0 {
		t.Errorf("%d left queued", depth)
	}
}
