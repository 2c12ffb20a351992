package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/keyring"
)

// Rekeyer is a Sealer that tells whether a stored value is sealed with its newest key
// (keyring.Keyring is one).
type Rekeyer interface {
	bot.Sealer
	Current(v []byte) bool
}

// RekeyStats counts what Rekey did with one kind of stored value.
type RekeyStats struct {
	Scanned  int // values looked at
	Resealed int // sealed anew with the newest key (plain ones included)
	Current  int // already sealed with the newest key
	Raced    int // rewritten by someone else meanwhile, with the newest key; left as they were
	Gone     int // deleted meanwhile
	Failed   int // unreadable: sealed with a key no longer configured, or corrupt
}

// resealScript swaps a hash field's value only if it is still the one read, so that a change
// made meanwhile wins. KEYS: the hash. ARGV: field, old value, new value.
var resealScript = script("rekey", goredis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`))

// Rekey seals every record and every queued message body that is not sealed with the Sealer's
// newest key (plain values written before encryption was on included) anew with it; a message
// on its stream and not yet taken is put back in the same place with its new body (one a worker
// is sending meanwhile is left as it is: it is done within the claim timeout). Each value
// is swapped by compare-and-set, so that a concurrent change wins; versions and TTLs stay as
// they are. Running it again finds everything current. It needs a Sealer that is a Rekeyer.
// Failed values are counted and reported in the error, after everything else is done.
func (s *Store) Rekey(ctx context.Context) (records, outbox RekeyStats, err error) {
	rk, ok := s.sealer.(Rekeyer)
	if !ok {
		return records, outbox, fmt.Errorf("rekey: no keyring configured: %w", bot.ErrInvalid)
	}
	if err := s.rekeyAll(ctx, rk, s.k.recordPrefix(), "d", &records); err != nil {
		return records, outbox, err
	}
	if err := s.rekeyAll(ctx, rk, s.k.bodyPrefix(), "b", &outbox); err != nil {
		return records, outbox, err
	}
	if err := s.rekeyStreams(ctx, rk, &outbox); err != nil {
		return records, outbox, err
	}
	if n := records.Failed + outbox.Failed; n > 0 {
		return records, outbox, fmt.Errorf("rekey: %d values could not be opened (sealed with a key no longer configured?)", n)
	}
	return records, outbox, nil
}

// keysWith lists every key starting with prefix, on every master.
func (s *Store) keysWith(ctx context.Context, prefix string) (map[string]bool, error) {
	var mu sync.Mutex
	seen := map[string]bool{}
	err := forEachMaster(ctx, s.base, func(ctx context.Context, c goredis.UniversalClient) error {
		var cursor uint64
		for {
			ks, next, err := c.Scan(ctx, cursor, globEscape(prefix)+"*", 1000).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			for _, k := range ks {
				seen[k] = true
			}
			mu.Unlock()
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", prefix, err)
	}
	return seen, nil
}

// KeyUse counts the stored records and queued message bodies by the key that sealed them.
type KeyUse struct {
	Values int            // values looked at
	Plain  int            // not sealed: written while encryption was off
	Opened map[string]int // key ID → values sealed with it that the configured keys open
	// Unreadable counts values the configured keys cannot open, by the key ID they name: a key
	// no longer configured, or configured with another secret.
	Unreadable map[string]int
}

// KeyUse reads every record and queued message body and tells which key sealed each, and
// whether the configured keys open it (tiltas doctor). It changes nothing.
func (s *Store) KeyUse(ctx context.Context) (KeyUse, error) {
	u := KeyUse{Opened: map[string]int{}, Unreadable: map[string]int{}}
	for _, kf := range []struct{ prefix, field string }{{s.k.recordPrefix(), "d"}, {s.k.bodyPrefix(), "b"}} {
		keys, err := s.keysWith(ctx, kf.prefix)
		if err != nil {
			return u, err
		}
		for k := range keys {
			v, err := s.c.HGet(ctx, k, kf.field).Bytes()
			if isNil(err) {
				continue // deleted meanwhile
			}
			if err != nil {
				return u, err
			}
			u.count(s.sealer, v)
		}
	}
	err := s.eachEntry(ctx, func(_ string, e goredis.XMessage) error {
		if b, ok := e.Values["b"].(string); ok {
			u.count(s.sealer, []byte(b))
		}
		return nil
	})
	return u, err
}

// count adds v, opened with sealer.
func (u *KeyUse) count(sealer bot.Sealer, v []byte) {
	u.Values++
	id, sealed := keyring.KeyID(v)
	switch {
	case !sealed:
		u.Plain++
	case sealer == nil:
		u.Unreadable[id]++
	default:
		if _, err := sealer.Open(v); err != nil {
			u.Unreadable[id]++
		} else {
			u.Opened[id]++
		}
	}
}

// replaceEntriesScript puts the entries of stream KEYS[1] not yet delivered to group ARGV[1] back
// in the same order with the bodies given, if they are still exactly those read: the group's
// last delivered entry is still ARGV[2] and the entries after it are the ARGV[3] listed.
// ARGV after those: per entry, its ID, the message ID and the body ("" for an entry naming its
// body's hash). Returns 1 when replaced, 0 when something changed meanwhile.
var replaceEntriesScript = script("rekey", goredis.NewScript(groupInfoLua+`
local g = group_info(KEYS[1], ARGV[1])
local last = g and g['last-delivered-id'] or '0-0'
if last ~= ARGV[2] then return 0 end
local n = tonumber(ARGV[3])
local now = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', n + 1)
if #now ~= n then return 0 end
for i = 1, n do
  if now[i][1] ~= ARGV[1 + 3 * i] then return 0 end
end
for i = 1, n do
  redis.call('XDEL', KEYS[1], ARGV[1 + 3 * i])
end
for i = 1, n do
  if ARGV[3 + 3 * i] == '' then
    redis.call('XADD', KEYS[1], '*', 'id', ARGV[2 + 3 * i])
  else
    redis.call('XADD', KEYS[1], '*', 'id', ARGV[2 + 3 * i], 'b', ARGV[3 + 3 * i])
  end
end
return 1
`))

// rekeyStreams reseals the bodies of the messages on the outbox streams that no worker has
// taken: all of a stream's at once, so that they keep their order.
func (s *Store) rekeyStreams(ctx context.Context, rk Rekeyer, st *RekeyStats) error {
	streams, err := s.keysWith(ctx, s.k.streamPrefix())
	if err != nil {
		return fmt.Errorf("rekey: %w", err)
	}
	for stream := range streams {
		if err := s.rekeyStream(ctx, rk, stream, st); err != nil {
			return fmt.Errorf("rekey %s: %w", strings.TrimPrefix(stream, s.k.p+":"), err)
		}
	}
	return nil
}

func (s *Store) rekeyStream(ctx context.Context, rk Rekeyer, stream string, st *RekeyStats) error {
	for attempt := 0; attempt < 10; attempt++ {
		last := "0-0"
		groups, err := s.c.XInfoGroups(ctx, stream).Result()
		if err != nil && !noGroup(err) && !strings.Contains(err.Error(), "no such key") {
			return err
		}
		for _, g := range groups {
			if g.Name == group {
				last = g.LastDeliveredID
			}
		}
		entries, err := s.c.XRange(ctx, stream, "("+last, "+").Result()
		if err != nil {
			return err
		}
		var round RekeyStats
		args := []any{group, last, len(entries)}
		for _, e := range entries {
			id, _ := e.Values["id"].(string)
			b, ok := e.Values["b"].(string)
			if !ok {
				// Names its body's hash, which rekeyAll reseals.
				args = append(args, e.ID, id, "")
				continue
			}
			round.Scanned++
			body := []byte(b)
			plain, err := rk.Open(body)
			switch {
			case err != nil:
				round.Failed++
			case rk.Current(body):
				round.Current++
			default:
				if body, err = rk.Seal(plain); err != nil {
					return err
				}
				round.Resealed++
			}
			args = append(args, e.ID, id, body)
		}
		if round.Resealed == 0 {
			st.add(round)
			return nil
		}
		ok, err := replaceEntriesScript.Run(ctx, s.c, []string{stream}, args...).Int()
		if err != nil {
			return err
		}
		if ok == 1 {
			st.add(round)
			return nil
		}
	}
	return errors.New("changed on every try")
}

// add counts r's values in st too.
func (st *RekeyStats) add(r RekeyStats) {
	st.Scanned += r.Scanned
	st.Resealed += r.Resealed
	st.Current += r.Current
	st.Raced += r.Raced
	st.Gone += r.Gone
	st.Failed += r.Failed
}

// rekeyAll reseals field of every hash whose key starts with prefix.
func (s *Store) rekeyAll(ctx context.Context, rk Rekeyer, prefix, field string, st *RekeyStats) error {
	seen, err := s.keysWith(ctx, prefix)
	if err != nil {
		return fmt.Errorf("rekey: %w", err)
	}
	for k := range seen {
		if err := ctx.Err(); err != nil {
			return err
		}
		st.Scanned++
		if err := s.reseal(ctx, rk, k, field, st); err != nil {
			return fmt.Errorf("rekey %s: %w", strings.TrimPrefix(k, s.k.p+":"), err)
		}
	}
	return nil
}

// reseal brings one value to the newest key, reading it again when it changed meanwhile.
func (s *Store) reseal(ctx context.Context, rk Rekeyer, key, field string, st *RekeyStats) error {
	for attempt := 0; attempt < 10; attempt++ {
		old, err := s.c.HGet(ctx, key, field).Result()
		if isNil(err) {
			st.Gone++
			return nil
		}
		if err != nil {
			return err
		}
		// Open even what is sealed with the newest key's ID: a key ID given a new secret by
		// mistake must show up as unreadable, not as current.
		plain, err := rk.Open([]byte(old))
		if err != nil {
			st.Failed++
			return nil
		}
		if rk.Current([]byte(old)) {
			if attempt == 0 {
				st.Current++
			} else {
				st.Raced++
			}
			return nil
		}
		sealed, err := rk.Seal(plain)
		if err != nil {
			return err
		}
		n, err := resealScript.Run(ctx, s.c, []string{key}, field, old, sealed).Int()
		if err != nil {
			return err
		}
		if n == 1 {
			st.Resealed++
			return nil
		}
	}
	return errors.New("changed on every try")
}
