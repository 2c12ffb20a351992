package redis_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/keyring"
)

func keys(tb testing.TB, ks ...keyring.Key) *keyring.Keyring {
	tb.Helper()
	k, err := keyring.New(ks)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

var (
	k1 = keyring.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}
	k2 = keyring.Key{ID: "k2", Secret: []byte("fedcba9876543210fedcba9876543210")}
)

// racer is a keyring that lets another writer change the record between Rekey's read and its
// compare-and-set, once.
type racer struct {
	*keyring.Keyring
	race func()
}

func (r *racer) Seal(plain []byte) ([]byte, error) {
	if r.race != nil {
		r.race()
		r.race = nil
	}
	return r.Keyring.Seal(plain)
}

// TestRekey re-seals plain and old-key records and queued messages with the newest key, keeps
// versions and TTLs, finds nothing to do the second time, and lets a change made meanwhile win.
func TestRekey(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	for _, tt := range []struct {
		name string
		// old writes with the old configuration; mid, when set, writes between Rekey's read and
		// its write, with the writer it is given.
		old     func(plain, s1 *redis.Store)
		mid     func(s1, s2 *redis.Store)
		records redis.RekeyStats
		outbox  redis.RekeyStats
		want    map[string]string
	}{
		{
			name: "plain and old-key values are resealed, current ones left",
			old: func(plain, s1 *redis.Store) {
				mustWrite(t, plain, bot.Write{Key: "case/plain", Data: []byte("before encryption")})
				mustWrite(t, s1, bot.Write{Key: "case/old", Data: []byte("sealed with k1"), TTL: time.Hour})
				if err := s1.Enqueue(ctx, bot.Outgoing{ID: "m1", Op: bot.OpSend, To: bot.Address{Platform: bot.Telegram, User: "u"},
					Msg: bot.Message{Lines: []string{"queued with k1"}}, NotBefore: time.Now().Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			},
			records: redis.RekeyStats{Scanned: 3, Resealed: 2, Current: 1},
			outbox:  redis.RekeyStats{Scanned: 1, Resealed: 1},
			want:    map[string]string{"case/plain": "before encryption", "case/old": "sealed with k1"},
		},
		{
			name: "a change by a replica still on k1 wins and is resealed",
			old: func(_, s1 *redis.Store) {
				mustWrite(t, s1, bot.Write{Key: "case/old", Data: []byte("first")})
			},
			mid: func(s1, _ *redis.Store) {
				mustWrite(t, s1, bot.Write{Key: "case/old", Data: []byte("changed meanwhile"), Version: bot.Any})
			},
			records: redis.RekeyStats{Scanned: 2, Resealed: 1, Current: 1},
			want:    map[string]string{"case/old": "changed meanwhile"},
		},
		{
			name: "a change by a replica on k2 wins and is left as written",
			old: func(_, s1 *redis.Store) {
				mustWrite(t, s1, bot.Write{Key: "case/old", Data: []byte("first")})
			},
			mid: func(_, s2 *redis.Store) {
				mustWrite(t, s2, bot.Write{Key: "case/old", Data: []byte("changed meanwhile"), Version: bot.Any})
			},
			records: redis.RekeyStats{Scanned: 2, Raced: 1, Current: 1},
			want:    map[string]string{"case/old": "changed meanwhile"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := prefix(t, c)
			plain := newStore(t, c, p, nil)
			s1 := newStore(t, c, p, keys(t, k1))
			s2 := newStore(t, c, p, keys(t, k2, k1))
			tt.old(plain, s1)
			mustWrite(t, s2, bot.Write{Key: "case/new", Data: []byte("sealed with k2")})
			r := &racer{Keyring: keys(t, k2, k1)}
			if tt.mid != nil {
				r.race = func() { tt.mid(s1, s2) }
			}
			_, v0, _ := s2.Get(ctx, "case/old")
			rk := newStore(t, c, p, r)
			recs, out, err := rk.Rekey(ctx)
			if err != nil || recs != tt.records || out != tt.outbox {
				t.Fatalf("Rekey = %+v, %+v, %v; want %+v, %+v", recs, out, err, tt.records, tt.outbox)
			}
			only2 := newStore(t, c, p, keys(t, k2))
			for key, want := range tt.want {
				got, v, err := only2.Get(ctx, key)
				if err != nil || string(got) != want {
					t.Errorf("%s with k2 alone = %q, %v; want %q", key, got, err, want)
				}
				if key == "case/old" && tt.mid == nil && v != v0 {
					t.Errorf("version %d became %d", v0, v)
				}
			}
			if tt.outbox.Scanned > 0 {
				if ttl := c.PTTL(ctx, p+":{rec}:r:case/old").Val(); ttl <= 0 {
					t.Errorf("TTL lost: %v", ttl)
				}
				body, _ := c.HGet(ctx, p+":{out}:b:m1", "b").Bytes()
				if plain, err := keys(t, k2).Open(body); err != nil || !strings.Contains(string(plain), "queued with k1") {
					t.Errorf("queued message with k2 alone: %q, %v", plain, err)
				}
			}
			recs, out, err = rk.Rekey(ctx)
			if err != nil || recs.Resealed != 0 || out.Resealed != 0 {
				t.Errorf("second Rekey = %+v, %+v, %v", recs, out, err)
			}
		})
	}
}

// TestRekeyNeedsAKeyring: a store without a keyring has nothing to reseal with.
func TestRekeyNeedsAKeyring(t *testing.T) {
	c := standalone(t)
	if _, _, err := newStore(t, c, prefix(t, c), nil).Rekey(t.Context()); err == nil {
		t.Error("Rekey without a keyring succeeded")
	}
}

func mustWrite(t *testing.T, s *redis.Store, w bot.Write) {
	t.Helper()
	if _, err := s.Write(t.Context(), w); err != nil {
		t.Fatal(err)
	}
}

// TestRekeyFindsAKeyIDGivenANewSecret: a value under the newest key's ID that the configured
// secret cannot open is counted as unreadable, not as current.
func TestRekeyFindsAKeyIDGivenANewSecret(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	p := prefix(t, c)
	mustWrite(t, newStore(t, c, p, keys(t, k1)), bot.Write{Key: "case/x", Data: []byte("sealed with the first k1")})
	wrong := keyring.Key{ID: "k1", Secret: []byte("another secret, same id, 32 byte")}
	recs, _, err := newStore(t, c, p, keys(t, wrong)).Rekey(ctx)
	if err == nil || recs.Failed != 1 || recs.Current != 0 {
		t.Fatalf("Rekey = %+v, %v; want 1 unreadable and an error", recs, err)
	}
}

// TestKeyUse counts stored values by the key that sealed them, tells the unreadable apart, and
// changes nothing.
func TestKeyUse(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	p := prefix(t, c)
	mustWrite(t, newStore(t, c, p, nil), bot.Write{Key: "case/plain", Data: []byte("before encryption")})
	mustWrite(t, newStore(t, c, p, keys(t, k1)), bot.Write{Key: "case/old", Data: []byte("sealed with k1")})
	mustWrite(t, newStore(t, c, p, keys(t, k2)), bot.Write{Key: "case/new", Data: []byte("sealed with k2")})
	lost := keyring.Key{ID: "k0", Secret: []byte("a key nobody kept, 32 bytes long")}
	mustWrite(t, newStore(t, c, p, keys(t, lost)), bot.Write{Key: "case/lost", Data: []byte("sealed with k0")})
	// A message waiting on its stream, its body in the entry.
	if err := newStore(t, c, p, keys(t, k1)).Enqueue(ctx, bot.Outgoing{ID: "m1", Op: bot.OpSend, To: bot.Address{Platform: bot.Telegram, User: "u"}, Msg: bot.Message{Title: "x"}}); err != nil {
		t.Fatal(err)
	}
	before := dump(t, c, p)
	if strings.Count(before, "\n") < 4 {
		t.Fatalf("the values are not where dump looks:\n%s", before)
	}
	u, err := newStore(t, c, p, keys(t, k2, k1)).KeyUse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Values != 5 || u.Plain != 1 || u.Opened["k1"] != 2 || u.Opened["k2"] != 1 || u.Unreadable["k0"] != 1 || len(u.Unreadable) != 1 {
		t.Errorf("KeyUse = %+v", u)
	}
	if after := dump(t, c, p); after != before {
		t.Errorf("KeyUse changed the store:\n%s\nwas\n%s", after, before)
	}
}

// dump is every key under p with its hash fields or stream entries, sorted.
func dump(t *testing.T, c goredis.UniversalClient, p string) string {
	t.Helper()
	ks, err := c.Keys(t.Context(), p+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ks)
	var b strings.Builder
	for _, k := range ks {
		if c.Type(t.Context(), k).Val() == "stream" {
			fmt.Fprintf(&b, "%s %v\n", k, c.XRange(t.Context(), k, "-", "+").Val())
			continue
		}
		h, _ := c.HGetAll(t.Context(), k).Result()
		fmt.Fprintf(&b, "%s %v\n", k, h)
	}
	return b.String()
}

// TestRekeyKeepsTheQueueInOrder: the messages waiting on a stream, their bodies in the entries,
// are resealed in place: taken with the new key alone, they come in the order they were queued.
// One a worker is sending is left to it.
func TestRekeyKeepsTheQueueInOrder(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	p := prefix(t, c)
	s1, s2 := newStore(t, c, p, keys(t, k1)), newStore(t, c, p, keys(t, k2, k1))
	msg := func(id string) bot.Outgoing {
		return bot.Outgoing{ID: id, Op: bot.OpSend, To: bot.Address{Platform: bot.Telegram, User: "u"}, Msg: bot.Message{Title: id}, Priority: bot.Urgent}
	}
	if err := s1.Enqueue(ctx, msg("m1"), msg("m2"), msg("m3")); err != nil {
		t.Fatal(err)
	}
	if ds, err := s1.Take(ctx, bot.Telegram, 1, 0); err != nil || len(ds) != 1 || ds[0].ID != "m1" {
		t.Fatalf("take = %v, %v", ds, err)
	}
	if err := s2.Enqueue(ctx, msg("m4")); err != nil {
		t.Fatal(err)
	}
	_, out, err := newStore(t, c, p, keys(t, k2, k1)).Rekey(ctx)
	if want := (redis.RekeyStats{Scanned: 3, Resealed: 2, Current: 1}); err != nil || out != want {
		t.Fatalf("Rekey outbox = %+v, %v; want %+v", out, err, want)
	}
	ds, err := newStore(t, c, p, keys(t, k2)).Take(ctx, bot.Telegram, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.ID)
	}
	if !slices.Equal(got, []string{"m2", "m3", "m4"}) {
		t.Errorf("taken with k2 alone: %q, want m2 m3 m4", got)
	}
	if depth, _, _ := s2.Stats(ctx); depth != 4 {
		t.Errorf("queue depth %d, want 4 (m1 still being sent)", depth)
	}
}
