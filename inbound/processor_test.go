package inbound_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/inbound"
)

func update(chat string, n int) bot.Incoming {
	return bot.Incoming{ID: fmt.Sprintf("%s-%d", chat, n), From: bot.Identity{Platform: bot.Telegram, User: chat},
		Chat: bot.Address{Platform: bot.Telegram, Chat: chat}, Text: fmt.Sprint(n)}
}

func TestEachChatInOrderAndDuplicatesOnce(t *testing.T) {
	inbox := memory.NewInbox(nil)
	ctx := context.Background()
	for n := range 50 {
		for _, chat := range []string{"a", "b", "c"} {
			if _, err := inbox.Push(ctx, update(chat, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A platform redelivers some updates.
	for n := range 10 {
		if fresh, _ := inbox.Push(ctx, update("a", n)); fresh {
			t.Fatalf("redelivered update a-%d accepted again", n)
		}
	}
	var mu sync.Mutex
	seen := map[string][]string{}
	p := &inbound.Processor{Inbox: inbox, Locker: memory.NewLocker(nil), Batch: 7, Handle: func(_ context.Context, in bot.Incoming) (bot.Response, error) {
		time.Sleep(time.Microsecond)
		mu.Lock()
		seen[in.Chat.Chat] = append(seen[in.Chat.Chat], in.Text)
		mu.Unlock()
		return bot.Response{}, nil
	}}
	if err := p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for _, chat := range []string{"a", "b", "c"} {
		if len(seen[chat]) != 50 {
			t.Fatalf("chat %s handled %d updates, want 50", chat, len(seen[chat]))
		}
		for i, text := range seen[chat] {
			if text != fmt.Sprint(i) {
				t.Fatalf("chat %s out of order at %d: %v", chat, i, seen[chat])
			}
		}
	}
}

func TestOnlyTheLeaseHolderProcessesAndAnotherTakesOver(t *testing.T) {
	clock := bot.NewManualClock(time.Now())
	locker := memory.NewLocker(clock)
	inbox := memory.NewInbox(clock)
	ctx := context.Background()
	if ok, _ := locker.Lock(ctx, "inbound", "dead-replica", 10*time.Second); !ok {
		t.Fatal("lock")
	}
	var handled sync.WaitGroup
	handled.Add(1)
	p := &inbound.Processor{Inbox: inbox, Locker: locker, Owner: "live", Lease: 300 * time.Millisecond, Handle: func(context.Context, bot.Incoming) (bot.Response, error) {
		handled.Done()
		return bot.Response{}, nil
	}}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = p.Run(runCtx); close(done) }()
	if _, err := inbox.Push(ctx, update("a", 1)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if depth := pending(t, inbox); depth != 1 {
		t.Fatalf("a non-leader handled the update (pending %d)", depth)
	}
	// The dead replica's lease runs out, and so does the claim our own peek above took.
	clock.Advance(memory.ClaimTimeout + time.Second)
	waitOrFail(t, &handled)
	cancel()
	<-done
}

func pending(t *testing.T, inbox *memory.Inbox) int {
	ins, err := inbox.Pull(context.Background(), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(ins) // taken but not finished: handed out again after the claim timeout
}

func waitOrFail(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("update never handled")
	}
}
