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
