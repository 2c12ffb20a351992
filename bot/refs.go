package bot

import (
	"context"
	"errors"
	"strings"
)

// MessageRefs are the platform's references of messages sent, under the key a notice named the
// message by (Notice.RefKey, e.g. "alert/A7/ona-p"): how a later edit finds its message. The
// delivery worker keeps one when a send succeeds; copies, erasures and purges look them up and
// forget them. The key namespace is this type's alone.
type MessageRefs struct{ r Records }

// NewMessageRefs returns the refs kept in r.
func NewMessageRefs(r Records) MessageRefs { return MessageRefs{r: r} }

// Refs returns the engine's message refs.
func (e *Engine) Refs() MessageRefs { return NewMessageRefs(e.Records) }

const refPrefix = "ref/"

// Record is the record key a ref is stored under, as erasures list it.
func (m MessageRefs) Record(key string) string { return refPrefix + key }

// Get returns the ref kept under key, with its version for Forget; ok is false when there is none.
func (m MessageRefs) Get(ctx context.Context, key string) (MessageRef, int64, bool, error) {
	ref, ver, err := Load[MessageRef](ctx, m.r, refPrefix+key)
	if errors.Is(err, ErrNotFound) {
		return ref, 0, false, nil
	}
	return ref, ver, err == nil, err
}

// Keep stores ref under key, replacing what was there.
func (m MessageRefs) Keep(ctx context.Context, key string, ref MessageRef) error {
	_, err := m.r.Write(ctx, Write{Key: refPrefix + key, Data: mustJSON(ref), Version: Any})
	return err
}

// Forget drops the ref under key; with a version (from Get) only if it is still that one, so
// that a newer ref written meanwhile (a newer copy sent) stays for its edits.
func (m MessageRefs) Forget(ctx context.Context, key string, version ...int64) error {
	w := Write{Key: refPrefix + key, Version: Any}
	if len(version) > 0 {
		w.Version = version[0]
	}
	_, err := m.r.Write(ctx, w)
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}

// Each calls fn with every key that starts with prefix and has a ref.
func (m MessageRefs) Each(ctx context.Context, prefix string, fn func(key string) error) error {
	return m.r.Scan(ctx, refPrefix+prefix, func(k string) error { return fn(strings.TrimPrefix(k, refPrefix)) })
}
