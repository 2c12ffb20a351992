package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
)

// TestOutboxDeadWorker has a worker take a batch and die without finishing any of it. Another
// worker (another Store, so another consumer) delivers everything else at once and, after the
// claim timeout, the dead worker's batch too: nothing is lost and nothing is delivered twice.
func TestOutboxDeadWorker(t *testing.T) {
	for _, tt := range topologies {
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
			// Stream entries and bodies are gone (the entries trimmed by the take that finds
			// nothing left); only the sent markers remain.
			if ds, err := alive.Take(ctx, bot.Telegram, 32, 0); err != nil || len(ds) != 0 {
				t.Fatalf("take after the last done = %d, %v", len(ds), err)
			}
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

// TestBusyPlatformDoesNotHoldUpAnothersReclaim: a dead worker left a Slack message taken; the
// live worker is kept busy with Telegram messages, taking them as fast as it can, and looks at
// Slack now and then. The Slack message is still taken back soon after its claim times out.
func TestBusyPlatformDoesNotHoldUpAnothersReclaim(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := standalone(t)
	p := prefix(t, c)
	dying, alive := newStore(t, c, p, nil), newStore(t, c, p, nil)
	lost := bot.Outgoing{ID: "slack-1", Op: bot.OpSend, Queued: time.Now(), To: bot.Address{Platform: bot.Slack, Chat: "C1"}, Msg: bot.Message{Title: "x"}}
	if err := alive.Enqueue(ctx, lost); err != nil {
		t.Fatal(err)
	}
	if ds, err := dying.Take(ctx, bot.Slack, 1, 0); err != nil || len(ds) != 1 {
		t.Fatalf("dying worker took %v, %v", ds, err)
	}
	start := time.Now()
	deadline := start.Add(3 * claimTimeout)
	for i := 0; time.Now().Before(deadline); i++ {
		// Telegram is never idle: there is always a message to take.
		m := bot.Outgoing{ID: fmt.Sprint("tg-", i), Op: bot.OpSend, Queued: time.Now(), To: bot.Address{Platform: bot.Telegram, Chat: "1"}, Msg: bot.Message{Title: "x"}}
		if err := alive.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		ds, err := alive.Take(ctx, bot.Telegram, 10, 0)
		if err != nil || len(ds) != 1 {
			t.Fatalf("take telegram: %v, %v", ds, err)
		}
		if err := alive.Done(ctx, ds[0], bot.MessageRef{Platform: bot.Telegram, Chat: "1", ID: m.ID}); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			got, err := alive.Take(ctx, bot.Slack, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 1 && got[0].ID == lost.ID {
				t.Logf("taken back %v after the dead worker took it (claim timeout %v)", time.Since(start).Round(time.Millisecond), claimTimeout)
				return
			}
		}
	}
	t.Fatalf("the dead worker's Slack message was not taken back within %v while Telegram was busy", 3*claimTimeout)
}

// TestDiscardWhileTakenIsNotRetried: a message a worker holds is discarded (its case erased);
// the worker's send fails and it asks for a retry: the message does not come back.
func TestDiscardWhileTakenIsNotRetried(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	p := prefix(t, c)
	s := newStore(t, c, p, nil)
	m := bot.Outgoing{ID: "m1", Op: bot.OpSend, Queued: time.Now(), To: bot.Address{Platform: bot.Telegram, Chat: "1"}, Msg: bot.Message{Title: "K-1"}}
	if err := s.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	ds, err := s.Take(ctx, bot.Telegram, 1, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("take = %v, %v", ds, err)
	}
	gone, err := s.Discard(ctx, func(o bot.Outgoing) bool { return o.ID == "m1" })
	if err != nil || len(gone) != 1 {
		t.Fatalf("discard = %v, %v", gone, err)
	}
	if err := s.Retry(ctx, ds[0], time.Now()); err != nil {
		t.Fatal(err)
	}
	if again, err := s.Take(ctx, bot.Telegram, 1, 0); err != nil || len(again) != 0 {
		t.Fatalf("take after the discard and the retry = %v, %v; want nothing", again, err)
	}
	if depth, _, _ := s.Stats(ctx); depth != 0 {
		t.Errorf("depth %d after the discard", depth)
	}
	if n := c.Exists(ctx, p+":{out}:b:m1").Val(); n != 0 {
		t.Error("the retry kept the discarded message's body")
	}
}

// TestMessagesAnEarlierVersionQueuedAreSent: during a rolling upgrade, a replica of the version
// before this one queued messages on its streams (the entry naming the body's hash); this version
// sends them, retries them and finishes them.
func TestMessagesAnEarlierVersionQueuedAreSent(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	p := prefix(t, c)
	for _, id := range []string{"old1", "old2"} {
		body, err := json.Marshal(bot.Outgoing{ID: id, Op: bot.OpSend, Queued: time.Now(), To: bot.Address{Platform: bot.Telegram, Chat: "1"}, Msg: bot.Message{Title: id}, Priority: bot.Urgent})
		if err != nil {
			t.Fatal(err)
		}
		c.HSet(ctx, p+":{out}:b:"+id, "b", body, "a", 0)
		c.XAdd(ctx, &goredis.XAddArgs{Stream: p + ":{out}:s:telegram:urgent", Values: []any{"id", id}})
		c.ZAdd(ctx, p+":{out}:queued", goredis.Z{Score: float64(time.Now().UnixMilli()), Member: id})
	}
	s := newStore(t, c, p, nil)
	ds, err := s.Take(ctx, bot.Telegram, 10, 0)
	if err != nil || len(ds) != 2 || ds[0].ID != "old1" || ds[1].ID != "old2" {
		t.Fatalf("take = %v, %v; want old1 and old2", ds, err)
	}
	ref := bot.MessageRef{Platform: bot.Telegram, Chat: "1", ID: "9"}
	if err := s.Done(ctx, ds[0], ref); err != nil {
		t.Fatal(err)
	}
	if err := s.Retry(ctx, ds[1], time.Now()); err != nil {
		t.Fatal(err)
	}
	again, err := s.Take(ctx, bot.Telegram, 10, 0)
	if err != nil || len(again) != 1 || again[0].ID != "old2" || again[0].Attempt != 1 {
		t.Fatalf("take after the retry = %v, %v; want old2, attempt 1", again, err)
	}
	if err := s.Done(ctx, again[0], ref); err != nil {
		t.Fatal(err)
	}
	if depth, _, _ := s.Stats(ctx); depth != 0 {
		t.Errorf("depth %d with both sent", depth)
	}
	if n := c.XPending(ctx, p+":{out}:s:telegram:urgent", "tiltas").Val().Count; n != 0 {
		t.Errorf("%d entries still pending on the earlier version's stream", n)
	}
	for _, id := range []string{"old1", "old2"} {
		if _, ok, err := s.Sent(ctx, id); err != nil || !ok {
			t.Errorf("%s: sent %v, %v", id, ok, err)
		}
	}
	// Drained, the old streams go at a later look, and cost no more.
	time.Sleep(claimTimeout/4 + 50*time.Millisecond)
	if ds, err := s.Take(ctx, bot.Telegram, 10, 0); err != nil || len(ds) != 0 {
		t.Fatalf("take = %v, %v; want nothing", ds, err)
	}
	if n := c.Exists(ctx, p+":{out}:s:telegram:urgent", p+":{out}:s:telegram:routine").Val(); n != 0 {
		t.Errorf("%d of the earlier version's streams still there, drained", n)
	}
}

// TestDelayedMessagesComeBackOnTime: a message held back until a moment, and one retried for a
// moment, are taken as soon as it has passed, by a replica busy with other messages and between
// its looks at the claims (every quarter of the claim timeout: here 5s), when takes are plain
// reads.
func TestDelayedMessagesComeBackOnTime(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	s, err := redis.New(redis.Options{Client: c, Prefix: prefix(t, c), ClaimTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(id string) bot.Outgoing {
		return bot.Outgoing{ID: id, Op: bot.OpSend, Queued: time.Now(), To: bot.Address{Platform: bot.Telegram, Chat: id}, Msg: bot.Message{Title: id}}
	}
	// The first take looks at the claims; the next ones are plain reads for the next 5s.
	if ds, err := s.Take(ctx, bot.Telegram, 10, 0); err != nil || len(ds) != 0 {
		t.Fatalf("first take = %v, %v", ds, err)
	}
	held := msg("held")
	held.NotBefore = time.Now().Add(300 * time.Millisecond)
	if err := s.Enqueue(ctx, held, msg("now")); err != nil {
		t.Fatal(err)
	}
	ds, err := s.Take(ctx, bot.Telegram, 10, 0)
	if err != nil || len(ds) != 1 || ds[0].ID != "now" {
		t.Fatalf("take = %v, %v; want now", ds, err)
	}
	if err := s.Retry(ctx, ds[0], time.Now().Add(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	deadline := time.Now().Add(2 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		// Busy: another message to take every time.
		if err := s.Enqueue(ctx, msg(fmt.Sprint("busy-", time.Now().UnixNano()))); err != nil {
			t.Fatal(err)
		}
		ds, err := s.Take(ctx, bot.Telegram, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.ID == "held" || d.ID == "now" {
				got[d.ID] = true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !got["held"] || !got["now"] {
		t.Fatalf("taken within 2s of falling due: %v; want held and now", got)
	}
}
