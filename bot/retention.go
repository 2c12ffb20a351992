package bot

import (
	"context"
	"strings"
	"time"
)

// Retain schedules the record at key for deletion at until, by the daily purge job. Calling it
// again moves the date.
func (e *Engine) Retain(ctx context.Context, key string, until time.Time) error {
	_, err := e.Records.Write(ctx, Write{Key: "retain/" + key, Data: []byte("{}"), Version: Any,
		Index: []IndexOp{{Index: "retention", Member: key, Score: float64(until.Unix())}}})
	return err
}

// OnPurge registers cleanup for records whose key starts with prefix ("alert/"): related records
// (copies, refs, indexes) that the flow knows about. The record itself is deleted by Purge.
func (e *Engine) OnPurge(prefix string, fn func(ctx context.Context, key string) error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.purgers == nil {
		e.purgers = map[string]func(context.Context, string) error{}
	}
	e.purgers[prefix] = fn
}

// Purge deletes every record whose retention has passed, with what its flow links to it, and
// returns how many; then it trims the audit stream to its own retention (IDs and times only, kept
// much longer than the records they point at).
func (e *Engine) Purge(ctx context.Context) (int, error) {
	now := e.Clock.Now()
	keys, err := e.Records.Range(ctx, "retention", 0, float64(now.Unix()), 1000)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, key := range keys {
		e.mu.RLock()
		var fn func(context.Context, string) error
		for prefix, f := range e.purgers {
			if strings.HasPrefix(key, prefix) {
				fn = f
			}
		}
		e.mu.RUnlock()
		if fn != nil {
			if err := fn(ctx, key); err != nil {
				return n, err
			}
		}
		if err := e.Copies(key).Forget(ctx); err != nil {
			return n, err
		}
		if err := Delete(ctx, e.Records, key); err != nil {
			return n, err
		}
		if err := Delete(ctx, e.Records, "retain/"+key, IndexOp{Index: "retention", Member: key, Remove: true}); err != nil {
			return n, err
		}
		e.Record(ctx, AuditEvent{Actor: "system", Kind: "record.purged", Record: key})
		n++
	}
	if e.Settings.AuditRetention > 0 {
		if _, err := e.Audit.Trim(ctx, now.Add(-e.Settings.AuditRetention)); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Unretain cancels a scheduled deletion (a resolved alert reopened).
func (e *Engine) Unretain(ctx context.Context, key string) error {
	return Delete(ctx, e.Records, "retain/"+key, IndexOp{Index: "retention", Member: key, Remove: true})
}
