package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Load reads the record at key into a T.
func Load[T any](ctx context.Context, r Records, key string) (T, int64, error) {
	var v T
	data, ver, err := r.Get(ctx, key)
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, ver, nil
}

// Save writes v at key if the stored version is still version (0: create).
func Save[T any](ctx context.Context, r Records, key string, v T, version int64, idx ...IndexOp) (int64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	return r.Write(ctx, Write{Key: key, Data: data, Version: version, Index: idx})
}

// Delete removes the record at key whatever its version, with index changes.
func Delete(ctx context.Context, r Records, key string, idx ...IndexOp) error {
	_, err := r.Write(ctx, Write{Key: key, Version: Any, Index: idx})
	return err
}

// Update reads the record at key, lets fn change it and writes it back, retrying from the read
// when another writer got there first. fn sees exists=false and a zero T for a missing record;
// returning ErrNotFound from fn (or any error) stops without writing. fn may run more than once.
func Update[T any](ctx context.Context, r Records, key string, fn func(v *T, exists bool) ([]IndexOp, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		v, ver, err := Load[T](ctx, r, key)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return v, err
		}
		idx, err := fn(&v, exists)
		if err != nil {
			return v, err
		}
		_, err = Save(ctx, r, key, v, ver, idx...)
		if errors.Is(err, ErrConflict) && attempt < 50 {
			if err := ctx.Err(); err != nil {
				return v, err
			}
			continue
		}
		return v, err
	}
}

// Each calls fn with every record whose key starts with prefix, decoded, skipping records deleted
// while the scan runs. Exports, erasures and other whole-store walks go through it.
func Each[T any](ctx context.Context, r Records, prefix string, fn func(key string, v *T) error) error {
	return r.Scan(ctx, prefix, func(key string) error {
		v, _, err := Load[T](ctx, r, key)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(key, &v)
	})
}

// pending is a record being read in the background.
type pending[T any] struct {
	done chan struct{}
	v    T
	ver  int64
	err  error
}

// loadAsync starts Load in a goroutine; wait returns its result.
func loadAsync[T any](ctx context.Context, r Records, key string) *pending[T] {
	p := &pending[T]{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.v, p.ver, p.err = Load[T](ctx, r, key)
	}()
	return p
}

func (p *pending[T]) wait() (T, int64, error) {
	<-p.done
	return p.v, p.ver, p.err
}

// Table is records of one type under a key prefix that owe nothing when they change (a calendar
// feed token): typed access without the effects a Collection applies.
type Table[T any] struct {
	r      Records
	prefix string
}

// NewTable returns the table of records under prefix ("meetingfeed/").
func NewTable[T any](h Host, prefix string) *Table[T] {
	return &Table[T]{r: h.engine().Records, prefix: prefix}
}

// Record is the record key of id, as erasures list it.
func (t *Table[T]) Record(id string) string { return t.prefix + id }

// Get reads id, or ErrNotFound.
func (t *Table[T]) Get(ctx context.Context, id string) (T, error) {
	v, _, err := Load[T](ctx, t.r, t.prefix+id)
	return v, err
}

// Create stores v as id, which must not exist (ErrConflict).
func (t *Table[T]) Create(ctx context.Context, id string, v T) error {
	_, err := Save(ctx, t.r, t.prefix+id, v, 0)
	return err
}

// Update changes id by compare-and-set (a missing one is zero, exists false).
func (t *Table[T]) Update(ctx context.Context, id string, fn func(v *T, exists bool) error) (T, error) {
	return Update(ctx, t.r, t.prefix+id, func(v *T, exists bool) ([]IndexOp, error) { return nil, fn(v, exists) })
}

// Delete removes id; a missing one is no error.
func (t *Table[T]) Delete(ctx context.Context, id string) error { return Delete(ctx, t.r, t.prefix+id) }

// Each calls fn with every record of the table, by ID.
func (t *Table[T]) Each(ctx context.Context, fn func(id string, v *T) error) error {
	return Each(ctx, t.r, t.prefix, func(k string, v *T) error { return fn(k[len(t.prefix):], v) })
}
