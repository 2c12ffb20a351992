// Package logbuf is a log sink tests can read while the code under test still writes to it.
package logbuf

import (
	"bytes"
	"sync"
)

// Buffer is a concurrency-safe bytes.Buffer for slog handlers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
