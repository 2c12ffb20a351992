package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Inboxes is an isolated inbox and locker under test.
type Inboxes struct {
	Inbox  bot.Inbox
	Locker bot.Locker
	// Wait lets d pass for the claim timeout and lease TTLs.
	Wait         func(d time.Duration)
	ClaimTimeout time.Duration
}

func incoming(chat string, n int) bot.Incoming {
	return bot.Incoming{ID: fmt.Sprintf("%s-%d", chat, n), From: bot.Identity{Platform: bot.Telegram, User: chat},
		Chat: bot.Address{Platform: bot.Telegram, Chat: chat}, Text: fmt.Sprintf("text %d", n)}
}

// RunInbox checks an Inbox and a Locker against the contract in bot/store.go.
func RunInbox(t *testing.T, newInbox func(t *testing.T) Inboxes) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, s Inboxes)
	}{
		{"updates come out once, in order", func(t *testing.T, s Inboxes) {
			for n := range 20 {
				if fresh, err := s.Inbox.Push(ctx, incoming("a", n)); err != nil || !fresh {
					t.Fatalf("push %d: %v %v", n, fresh, err)
				}
			}
			// The platform delivers a-3 again before it was taken.
			if _, err := s.Inbox.Push(ctx, incoming("a", 3)); err != nil {
				t.Fatal(err)
			}
			var got []string
			for len(got) < 20 {
				ins, err := s.Inbox.Pull(ctx, 7, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(ins) == 0 {
					t.Fatalf("pulled only %d of 20", len(got))
				}
				for _, in := range ins {
					got = append(got, in.ID)
					if err := s.Inbox.Done(ctx, in); err != nil {
						t.Fatal(err)
					}
				}
			}
			for n, id := range got {
				if id != fmt.Sprintf("a-%d", n) {
					t.Fatalf("out of order: %v", got)
				}
			}
			if ins, _ := s.Inbox.Pull(ctx, 10, 0); len(ins) != 0 {
				t.Fatalf("done updates came back, or a-3 twice: %v", ins)
			}
			// And again after it was handled: refused.
			if fresh, err := s.Inbox.Push(ctx, incoming("a", 3)); err != nil || fresh {
				t.Fatalf("a handled update was queued again: %v %v", fresh, err)
			}
		}},
		{"a forgotten update is remembered no longer than the claim timeout; a done one is", func(t *testing.T, s Inboxes) {
			for _, n := range []int{1, 2} {
				if fresh, err := s.Inbox.Push(ctx, incoming("f", n)); err != nil || !fresh {
					t.Fatalf("push %d: %v %v", n, fresh, err)
				}
			}
			ins, err := s.Inbox.Pull(ctx, 10, 0)
			if err != nil || len(ins) != 2 {
				t.Fatalf("pulled %d, %v", len(ins), err)
			}
			// The platform delivers f-1 again while it is being handled.
			if err := s.Inbox.PushAll(ctx, []bot.Incoming{incoming("f", 1)}); err != nil {
				t.Fatal(err)
			}
			ins[0].Forget = true // a stranger's, refused
			for _, in := range ins {
				if err := s.Inbox.Done(ctx, in); err != nil {
					t.Fatal(err)
				}
			}
			if again, err := s.Inbox.Pull(ctx, 10, 0); err != nil || len(again) != 0 {
				t.Fatalf("the repeat of a forgotten update was handed out: %v %v", again, err)
			}
			s.Wait(s.ClaimTimeout + 100*time.Millisecond)
			if fresh, err := s.Inbox.Push(ctx, incoming("f", 1)); err != nil || !fresh {
				t.Errorf("the forgotten update's ID is still remembered: %v %v", fresh, err)
			}
			if fresh, err := s.Inbox.Push(ctx, incoming("f", 2)); err != nil || fresh {
				t.Errorf("the done update's ID was forgotten: %v %v", fresh, err)
			}
		}},
		{"a batch goes in in order, each once", func(t *testing.T, s Inboxes) {
			batch := []bot.Incoming{incoming("e", 1), incoming("e", 2), incoming("e", 1), incoming("e", 3)}
			if err := s.Inbox.PushAll(ctx, batch); err != nil {
				t.Fatal(err)
			}
			// The platform delivers e-2 again, alone and in another batch.
			if _, err := s.Inbox.Push(ctx, incoming("e", 2)); err != nil {
				t.Fatal(err)
			}
			if err := s.Inbox.PushAll(ctx, []bot.Incoming{incoming("e", 3), incoming("e", 4)}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				ins, err := s.Inbox.Pull(ctx, 2, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(ins) == 0 {
					break
				}
				for _, in := range ins {
					got = append(got, in.ID)
					if err := s.Inbox.Done(ctx, in); err != nil {
						t.Fatal(err)
					}
				}
			}
			if want := "e-1 e-2 e-3 e-4"; strings.Join(got, " ") != want {
				t.Fatalf("handed out %v, want %s", got, want)
			}
			// Once handled, a repeat is still not handed out.
			if err := s.Inbox.PushAll(ctx, []bot.Incoming{incoming("e", 1)}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Inbox.Push(ctx, incoming("e", 4)); err != nil {
				t.Fatal(err)
			}
			if ins, err := s.Inbox.Pull(ctx, 10, 0); err != nil || len(ins) != 0 {
				t.Fatalf("a handled update came out again: %v %v", ins, err)
			}
		}},
		{"the text survives the round trip", func(t *testing.T, s Inboxes) {
			in := incoming("b", 1)
			in.Button, in.Callback, in.Message = "tok", "cb", &bot.MessageRef{Platform: bot.Telegram, Chat: "b", ID: "9"}
			if _, err := s.Inbox.Push(ctx, in); err != nil {
				t.Fatal(err)
			}
			ins, err := s.Inbox.Pull(ctx, 1, 0)
			if err != nil || len(ins) != 1 {
				t.Fatalf("pull: %v %v", ins, err)
			}
			got := ins[0].Incoming
			if got.Text != in.Text || got.Button != "tok" || got.Callback != "cb" || got.Message == nil || got.Message.ID != "9" || got.From != in.From {
				t.Fatalf("got %+v", got)
			}
		}},
		{"an update taken and not finished is handed out again", func(t *testing.T, s Inboxes) {
			if _, err := s.Inbox.Push(ctx, incoming("c", 1)); err != nil {
				t.Fatal(err)
			}
			if ins, _ := s.Inbox.Pull(ctx, 1, 0); len(ins) != 1 {
				t.Fatal("nothing to take")
			}
			if ins, _ := s.Inbox.Pull(ctx, 1, 0); len(ins) != 0 {
				t.Fatal("a taken update was handed out again at once")
			}
			s.Wait(s.ClaimTimeout + 100*time.Millisecond)
			ins, err := s.Inbox.Pull(ctx, 1, 0)
			if err != nil || len(ins) != 1 || ins[0].ID != "c-1" {
				t.Fatalf("after the claim timeout: %v %v", ins, err)
			}
		}},
		{"pull waits for a push", func(t *testing.T, s Inboxes) {
			go func() {
				time.Sleep(50 * time.Millisecond)
				_, _ = s.Inbox.Push(ctx, incoming("d", 1))
			}()
			ins, err := s.Inbox.Pull(ctx, 1, 5*time.Second)
			if err != nil || len(ins) != 1 {
				t.Fatalf("blocking pull: %v %v", ins, err)
			}
		}},
		{"a lease is exclusive, renewable and expires", func(t *testing.T, s Inboxes) {
			if ok, err := s.Locker.Lock(ctx, "poll", "one", 500*time.Millisecond); err != nil || !ok {
				t.Fatalf("first lock: %v %v", ok, err)
			}
			if ok, _ := s.Locker.Lock(ctx, "poll", "two", time.Second); ok {
				t.Fatal("two owners hold one lease")
			}
			if ok, _ := s.Locker.Lock(ctx, "poll", "one", 500*time.Millisecond); !ok {
				t.Fatal("the owner cannot renew")
			}
			if err := s.Locker.Unlock(ctx, "poll", "two"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := s.Locker.Lock(ctx, "poll", "two", time.Second); ok {
				t.Fatal("a stranger's unlock released the lease")
			}
			s.Wait(600 * time.Millisecond)
			if ok, _ := s.Locker.Lock(ctx, "poll", "two", time.Second); !ok {
				t.Fatal("an expired lease was not taken over")
			}
			if err := s.Locker.Unlock(ctx, "poll", "two"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := s.Locker.Lock(ctx, "poll", "one", time.Second); !ok {
				t.Fatal("an unlocked lease stays held")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newInbox(t))
		})
	}
}
