package redis_test

import (
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
)

// TestFinishedOutboxEntriesAreTrimmed: a sent message's stream entry goes with the next take that
// finds nothing to do; one still being sent, and everything after it, stays (it can still be
// taken over), and goes once it is done.
func TestFinishedOutboxEntriesAreTrimmed(t *testing.T) {
	for _, tt := range topologies {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			c := tt.client(t)
			p := prefix(t, c)
			s := newStore(t, c, p, nil)
			stream := p + ":{out}:m:telegram:routine"
			msg := func(id string) bot.Outgoing {
				return bot.Outgoing{ID: id, Op: bot.OpSend, Queued: time.Now(), To: bot.Address{Platform: bot.Telegram, Chat: "1"}, Msg: bot.Message{Title: "x"}}
			}
			if err := s.Enqueue(ctx, msg("a"), msg("b")); err != nil {
				t.Fatal(err)
			}
			ds, err := s.Take(ctx, bot.Telegram, 2, 0)
			if err != nil || len(ds) != 2 {
				t.Fatalf("take = %d, %v", len(ds), err)
			}
			ref := bot.MessageRef{Platform: bot.Telegram, Chat: "1", ID: "1"}
			if err := s.Done(ctx, ds[1], ref); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Take(ctx, bot.Telegram, 2, 0); err != nil || len(got) != 0 {
				t.Fatalf("take with both taken = %d, %v", len(got), err)
			}
			// a is still being sent: neither it nor b after it may go yet.
			if n := c.XLen(ctx, stream).Val(); n != 2 {
				t.Fatalf("with a still taken the stream holds %d entries, want 2", n)
			}
			if err := s.Done(ctx, ds[0], ref); err != nil {
				t.Fatal(err)
			}
			if err := s.Enqueue(ctx, msg("c")); err != nil {
				t.Fatal(err)
			}
			// A busy take trims at most every so often (100ms): then a and b go, c stays
			// and is taken.
			time.Sleep(150 * time.Millisecond)
			got, err := s.Take(ctx, bot.Telegram, 2, 0)
			if err != nil || len(got) != 1 || got[0].ID != "c" {
				t.Fatalf("take after a and b were sent = %v, %v; want c", got, err)
			}
			if ids := entryIDs(t, c, stream); len(ids) != 1 || ids[0] != got[0].Handle {
				t.Fatalf("with c taken the stream holds %q, want c's entry %s alone", ids, got[0].Handle)
			}
			if err := s.Done(ctx, got[0], ref); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Take(ctx, bot.Telegram, 2, 0); err != nil || len(got) != 0 {
				t.Fatalf("last take = %d, %v", len(got), err)
			}
			if n := c.XLen(ctx, stream).Val(); n != 0 {
				t.Fatalf("with everything sent the stream holds %d entries", n)
			}
		})
	}
}

// TestHandledUpdatesLeaveTheInboxSoon: a handled update's text is trimmed from the inbox within
// about 100ms even when nothing else comes (a pull waiting for new updates wakes to trim); one
// still being handled stays, and so does the one after it.
func TestHandledUpdatesLeaveTheInboxSoon(t *testing.T) {
	for _, tt := range topologies {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			c := tt.client(t)
			p := prefix(t, c)
			in := redis.NewInbox(redis.InboxOptions{Client: c, Prefix: p, ClaimTimeout: claimTimeout})
			stream := p + ":{in}:u"
			for _, id := range []string{"1", "2"} {
				if _, err := in.Push(ctx, bot.Incoming{ID: id, From: bot.Identity{Platform: bot.Telegram, User: "7"}, Text: "K-2026-117 secret " + id}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := in.Pull(ctx, 2, 0)
			if err != nil || len(got) != 2 {
				t.Fatalf("pull = %d, %v", len(got), err)
			}
			if err := in.Done(ctx, got[1]); err != nil {
				t.Fatal(err)
			}
			if more, err := in.Pull(ctx, 2, 0); err != nil || len(more) != 0 {
				t.Fatalf("pull with both taken = %d, %v", len(more), err)
			}
			if n := c.XLen(ctx, stream).Val(); n != 2 {
				t.Fatalf("with update 1 still being handled the inbox holds %d entries, want 2", n)
			}
			// Update 1 is handled just after that trim, and then nothing comes: the pull
			// waiting for new updates wakes to trim it.
			if err := in.Done(ctx, got[0]); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if more, err := in.Pull(ctx, 2, 5*time.Second); err != nil || len(more) != 0 {
				t.Fatalf("pull after both were handled = %d, %v", len(more), err)
			}
			if waited := time.Since(start); waited > 2*time.Second {
				t.Errorf("the pull waited %v for new updates before trimming", waited)
			}
			for _, m := range c.XRange(ctx, stream, "-", "+").Val() {
				for _, v := range m.Values {
					if strings.Contains(v.(string), "secret") {
						t.Fatalf("a handled update's text is still in the inbox: %v", m)
					}
				}
			}
			if n := c.XLen(ctx, stream).Val(); n != 0 {
				t.Fatalf("with both handled the inbox holds %d entries", n)
			}
		})
	}
}

func entryIDs(t *testing.T, c goredis.UniversalClient, stream string) []string {
	t.Helper()
	var ids []string
	for _, m := range c.XRange(t.Context(), stream, "-", "+").Val() {
		ids = append(ids, m.ID)
	}
	return ids
}
