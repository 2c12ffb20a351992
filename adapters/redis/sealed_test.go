package redis_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/keyring"
)

// TestSealedAtRest reads the raw keys behind a record and a queued message: neither may hold
// the plain text, and both must read back as written.
func TestSealedAtRest(t *testing.T) {
	ctx := t.Context()
	c := standalone(t)
	p := prefix(t, c)
	s := newStore(t, c, p, newSealer(t))
	secret := "Vaikas Jonas, 7 m., Kauno g. 12"

	if _, err := s.Write(ctx, bot.Write{Key: "case/K-1", Data: []byte(secret)}); err != nil {
		t.Fatal(err)
	}
	out := bot.Outgoing{ID: "m1", Op: bot.OpSend, To: bot.Address{Platform: bot.Telegram, User: "u1"},
		Msg: bot.Message{Lines: []string{secret}}}
	later := out
	later.ID, later.NotBefore = "m2", time.Now().Add(time.Hour)
	if err := s.Enqueue(ctx, out, later); err != nil {
		t.Fatal(err)
	}

	keys, err := c.Keys(ctx, p+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		var raw []byte
		switch typ := c.Type(ctx, k).Val(); typ {
		case "hash":
			for _, v := range c.HGetAll(ctx, k).Val() {
				raw = append(raw, v...)
			}
		case "string":
			raw, _ = c.Get(ctx, k).Bytes()
		case "stream":
			for _, m := range c.XRange(ctx, k, "-", "+").Val() {
				for _, v := range m.Values {
					raw = append(raw, v.(string)...)
				}
			}
		case "zset":
			raw = []byte(strings.Join(c.ZRange(ctx, k, 0, -1).Val(), " "))
		}
		if bytes.Contains(raw, []byte("Jonas")) {
			t.Errorf("%s holds the plain text", k)
		}
	}

	data, _, err := s.Get(ctx, "case/K-1")
	if err != nil || string(data) != secret {
		t.Fatalf("Get = %q, %v", data, err)
	}
	ds, err := s.Take(ctx, bot.Telegram, 10, 0)
	if err != nil || len(ds) != 1 || ds[0].Msg.Lines[0] != secret {
		t.Fatalf("Take = %+v, %v", ds, err)
	}
}

// TestSealedWithoutKeysSaysSo: a store configured without keys reading sealed data says that
// keys are missing, rather than failing to parse it.
func TestSealedWithoutKeysSaysSo(t *testing.T) {
	c := standalone(t)
	p := prefix(t, c)
	k, err := keyring.New([]keyring.Key{{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newStore(t, c, p, k).Write(t.Context(), bot.Write{Key: "case/x", Data: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	_, _, err = newStore(t, c, p, nil).Get(t.Context(), "case/x")
	if !errors.Is(err, redis.ErrNoKey) {
		t.Fatalf("reading sealed data without keys: %v", err)
	}
}
