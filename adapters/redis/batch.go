package redis

import (
	"context"
	"errors"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// groupCommit sends the commands of concurrent callers together: while one pipeline is on the
// wire, callers queue theirs, and the next pipeline carries them all. Each caller still returns
// only once its own commands are done, so nothing is acknowledged early; under load many callers
// share one round trip. Finishing handled updates and sent messages goes through it.
type groupCommit struct {
	c       goredis.UniversalClient
	scripts []*goredis.Script

	mu       sync.Mutex
	pending  []*gcOp
	flushing bool
}

type gcOp struct {
	add  func(p goredis.Pipeliner) []goredis.Cmder
	done chan error
}

func newGroupCommit(c goredis.UniversalClient, scripts ...*goredis.Script) *groupCommit {
	return &groupCommit{c: c, scripts: scripts}
}

// do runs add's commands in the next pipeline and returns the first of their errors.
func (g *groupCommit) do(ctx context.Context, add func(p goredis.Pipeliner) []goredis.Cmder) error {
	op := &gcOp{add: add, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, op)
	start := !g.flushing
	g.flushing = true
	g.mu.Unlock()
	if start {
		go g.flush(context.WithoutCancel(ctx))
	}
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *groupCommit) flush(ctx context.Context) {
	for {
		g.mu.Lock()
		ops := g.pending
		g.pending = nil
		if len(ops) == 0 {
			g.flushing = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.send(ctx, ops, true)
	}
}

func (g *groupCommit) send(ctx context.Context, ops []*gcOp, retry bool) {
	cmds := make([][]goredis.Cmder, len(ops))
	_, err := g.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, op := range ops {
			cmds[i] = op.add(p)
		}
		return nil
	})
	if retry && err != nil && strings.Contains(err.Error(), "NOSCRIPT") {
		// The server lost its scripts (a restart): load them and send once more.
		for _, s := range g.scripts {
			_ = s.Load(ctx, g.c).Err()
		}
		g.send(ctx, ops, false)
		return
	}
	for i, op := range ops {
		var first error
		for _, c := range cmds[i] {
			if e := c.Err(); e != nil && !errors.Is(e, goredis.Nil) && first == nil {
				first = e
			}
		}
		op.done <- first
	}
}
