package redis_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/storetest"
)

func TestInboxConformance(t *testing.T) {
	for _, tt := range topologies {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.client(t)
			storetest.RunInbox(t, func(t *testing.T) storetest.Inboxes {
				var s bot.Sealer
				if tt.sealed {
					s = newSealer(t)
				}
				p := prefix(t, c)
				return storetest.Inboxes{
					Inbox:        redis.NewInbox(redis.InboxOptions{Client: c, Prefix: p, Sealer: s, ClaimTimeout: claimTimeout}),
					Locker:       redis.NewLocker(c, p),
					Wait:         time.Sleep,
					ClaimTimeout: claimTimeout,
				}
			})
		})
	}
}

// A platform's redelivery that reaches two replicas' inboxes before either takes it is still
// handled once, in the place of its first delivery, and a replica that died holding an update
// hands it on: its mark names its own entry.
func TestRepeatsAreHandledOnceByEveryReplica(t *testing.T) {
	for _, tt := range topologies {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			c := tt.client(t)
			p := prefix(t, c)
			one := redis.NewInbox(redis.InboxOptions{Client: c, Prefix: p, ClaimTimeout: claimTimeout})
			two := redis.NewInbox(redis.InboxOptions{Client: c, Prefix: p, ClaimTimeout: claimTimeout})
			in := func(n int) bot.Incoming {
				return bot.Incoming{ID: fmt.Sprint(n), From: bot.Identity{Platform: bot.Telegram, User: "7"}, Chat: bot.Address{Platform: bot.Telegram, Chat: "7"}, Text: fmt.Sprint("text ", n)}
			}
			// The poll confirmed late: 1–3 come again, with 4, through the other replica.
			if err := one.PushAll(ctx, []bot.Incoming{in(1), in(2), in(3)}); err != nil {
				t.Fatal(err)
			}
			if err := two.PushAll(ctx, []bot.Incoming{in(1), in(2), in(3), in(4)}); err != nil {
				t.Fatal(err)
			}
			var got []string
			var held []bot.Inbound
			for _, ib := range []*redis.Inbox{one, two, one, two, one} {
				ins, err := ib.Pull(ctx, 2, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range ins {
					got = append(got, x.ID)
					if x.ID == "2" && ib == one && len(held) == 0 {
						held = append(held, x) // one dies while handling 2
						continue
					}
					if err := ib.Done(ctx, x); err != nil {
						t.Fatal(err)
					}
				}
			}
			if want := "1 2 3 4"; strings.Join(got, " ") != want {
				t.Fatalf("handed out %v, want %s", got, want)
			}
			if len(held) != 1 {
				t.Fatalf("replica one did not take update 2 (got %v)", got)
			}
			time.Sleep(claimTimeout + 100*time.Millisecond)
			ins, err := two.Pull(ctx, 10, 0)
			if err != nil || len(ins) != 1 || ins[0].ID != "2" {
				t.Fatalf("after the claim timeout replica two pulled %v, %v; want update 2 again", ins, err)
			}
		})
	}
}

// What an earlier version queued (on its stream, each update marked "1" when pushed) is handled
// by this one, and a repeat of it pushed now is not.
func TestUpdatesAnEarlierVersionQueuedAreHandled(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	p := prefix(t, c)
	old := bot.Incoming{ID: "41", From: bot.Identity{Platform: bot.Telegram, User: "7"}, Chat: bot.Address{Platform: bot.Telegram, Chat: "7"}, Text: "from before"}
	body, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	c.Set(ctx, p+":{in}:seen:telegram:41", "1", time.Hour)
	c.XAdd(ctx, &goredis.XAddArgs{Stream: p + ":{in}:s", Values: []any{"b", body}})
	ib := redis.NewInbox(redis.InboxOptions{Client: c, Prefix: p, ClaimTimeout: claimTimeout})
	if err := ib.PushAll(ctx, []bot.Incoming{old, {ID: "42", From: old.From, Chat: old.Chat, Text: "new"}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 3 {
		ins, err := ib.Pull(ctx, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range ins {
			got = append(got, in.ID+":"+in.Text)
			if err := ib.Done(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want := "41:from before 42:new"; strings.Join(got, " ") != want {
		t.Fatalf("handled %v, want %s", got, want)
	}
	// Drained (nothing waiting or pending there), it goes at a later look, and costs no more.
	time.Sleep(claimTimeout/4 + 50*time.Millisecond)
	if _, err := ib.Pull(ctx, 10, 0); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, p+":{in}:s").Val(); n != 0 {
		t.Error("the earlier version's stream is still there, drained")
	}
}

// A replica that cannot open an update (sealed with a key it lacks, as while keys are being
// rotated one replica at a time) leaves it for one that can.
func TestAnUpdateThatCannotBeOpenedWaitsForAReplicaThatCan(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	p := prefix(t, c)
	right := redis.NewInbox(redis.InboxOptions{Client: c, Prefix: p, Sealer: newSealer(t), ClaimTimeout: claimTimeout})
	wrong := redis.NewInbox(redis.InboxOptions{Client: c, Prefix: p, Sealer: newSealer(t), ClaimTimeout: claimTimeout})
	in := bot.Incoming{ID: "5", From: bot.Identity{Platform: bot.Telegram, User: "7"}, Chat: bot.Address{Platform: bot.Telegram, Chat: "7"}, Text: "sealed"}
	if err := right.PushAll(ctx, []bot.Incoming{in}); err != nil {
		t.Fatal(err)
	}
	if ins, err := wrong.Pull(ctx, 10, 0); err == nil {
		t.Fatalf("a replica without the key pulled %v and no error", ins)
	}
	time.Sleep(claimTimeout + 100*time.Millisecond)
	ins, err := right.Pull(ctx, 10, 0)
	if err != nil || len(ins) != 1 || ins[0].Text != "sealed" {
		t.Fatalf("the replica with the key pulled %v, %v; want the update", ins, err)
	}
}
