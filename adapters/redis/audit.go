package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/bot"
)

// Audit is the append-only audit stream; only Trim, the audit retention, removes entries.
type Audit struct {
	c        goredis.UniversalClient
	key      string
	idPrefix string // + event ID: the marker of an ID recorded, in the stream's hash slot
	refusals string // the capped stream of refusal entries
	clock    bot.Clock
}

// RefusalsKept is how many refusal entries the refusal stream keeps (about a day of minutes of
// every kind on three replicas under attack; XADD trims it approximately).
const RefusalsKept = 20_000

var _ bot.RefusalLog = (*Audit)(nil)

// AppendRefusals adds the entries to the capped refusal stream in one pipeline.
func (a *Audit) AppendRefusals(ctx context.Context, entries ...bot.RefusalEntry) error {
	_, err := a.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, e := range entries {
			top, _ := json.Marshal(e.Top)
			p.XAdd(ctx, &goredis.XAddArgs{Stream: a.refusals, MaxLen: RefusalsKept, Approx: true,
				Values: []any{"minute", e.Minute.UTC().Format(time.RFC3339), "kind", e.Kind, "count", e.Count, "top", top}})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("refusals: %w", err)
	}
	return nil
}

// RangeRefusals calls fn with every refusal entry kept, oldest first.
func (a *Audit) RangeRefusals(ctx context.Context, fn func(bot.RefusalEntry) error) error {
	start := "-"
	for {
		msgs, err := a.c.XRangeN(ctx, a.refusals, start, "+", auditPage).Result()
		if err != nil {
			return fmt.Errorf("refusals: %w", err)
		}
		for _, m := range msgs {
			str := func(k string) string { s, _ := m.Values[k].(string); return s }
			e := bot.RefusalEntry{Kind: str("kind")}
			e.Minute, _ = time.Parse(time.RFC3339, str("minute"))
			e.Count, _ = strconv.ParseInt(str("count"), 10, 64)
			_ = json.Unmarshal([]byte(str("top")), &e.Top)
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(msgs) < auditPage {
			return nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// appendOnceScript adds an entry unless its ID's marker is set, and sets the marker.
// KEYS: stream, marker. ARGV: marker TTL ms, then field, value pairs.
var appendOnceScript = script("audit append", goredis.NewScript(`
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
return 1
`))

// Append adds e with XADD, stamping events without a time with the clock's. Empty fields are
// left out of the entry. An event with an ID goes through a script that adds it only if no
// event with that ID was added within bot.AuditIDTTL.
func (a *Audit) Append(ctx context.Context, e bot.AuditEvent) error {
	if e.At.IsZero() {
		e.At = a.clock.Now()
	}
	values := []any{"at", e.At.Format(time.RFC3339Nano)}
	for _, f := range []struct{ name, v string }{
		{"id", e.ID}, {"actor", e.Actor}, {"kind", e.Kind}, {"record", e.Record}, {"case", e.Case}, {"to", e.To}, {"reason", e.Reason},
	} {
		if f.v != "" {
			values = append(values, f.name, f.v)
		}
	}
	var err error
	if e.ID == "" {
		err = a.c.XAdd(ctx, &goredis.XAddArgs{Stream: a.key, Values: values}).Err()
	} else {
		args := append([]any{bot.AuditIDTTL.Milliseconds()}, values...)
		err = appendOnceScript.Run(ctx, a.c, []string{a.key, a.idPrefix + e.ID}, args...).Err()
	}
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Kind, err)
	}
	return nil
}

// auditPage is how many entries Range reads per round trip.
const auditPage = 500

// Range walks the whole stream in append order and filters on At: entry IDs carry the server's
// time of append, which need not be the event's.
func (a *Audit) Range(ctx context.Context, since, until time.Time, fn func(bot.AuditEvent) error) error {
	start := "-"
	for {
		msgs, err := a.c.XRangeN(ctx, a.key, start, "+", auditPage).Result()
		if err != nil {
			return fmt.Errorf("audit range: %w", err)
		}
		for _, m := range msgs {
			e, err := auditEvent(m.Values)
			if err != nil {
				return fmt.Errorf("audit entry %s: %w", m.ID, err)
			}
			if e.At.Before(since) || !e.At.Before(until) {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(msgs) < auditPage {
			return nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

func auditEvent(v map[string]any) (bot.AuditEvent, error) {
	str := func(k string) string { s, _ := v[k].(string); return s }
	at, err := time.Parse(time.RFC3339Nano, str("at"))
	if err != nil {
		return bot.AuditEvent{}, err
	}
	return bot.AuditEvent{
		ID: str("id"), At: at, Actor: str("actor"), Kind: str("kind"), Record: str("record"),
		Case: str("case"), To: str("to"), Reason: str("reason"),
	}, nil
}

// Trim drops entries appended before before, by their stream IDs (the server's time of append,
// which is when the event was recorded).
func (a *Audit) Trim(ctx context.Context, before time.Time) (int64, error) {
	n, err := a.c.XTrimMinID(ctx, a.key, fmt.Sprintf("%d-0", before.UnixMilli())).Result()
	if err != nil {
		return 0, fmt.Errorf("audit trim: %w", err)
	}
	return n, nil
}
