// Package refusal keeps the unauthenticated from costing anything: requests with a wrong token,
// secret or signature, and messages from people who are not linked, are counted by kind and
// summed up in memory, one entry per kind and minute with the sources that failed most, which go
// to a capped stream; a source that keeps failing waits (429 with Retry-After) and leaves nothing
// at all. Memory is bounded: a fixed number of sources is remembered, the least recent forgotten.
package refusal

import (
	"cmp"
	"container/list"
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tiltas/tiltas/bot"
)

// Options tune a Gate; zero values get defaults.
type Options struct {
	// Log, when set, receives the stream's entries (a failing log must not lose them).
	Log bot.RefusalLog
	// Logger gets one line per kind and minute, never one per refusal.
	Logger *slog.Logger
	// Observe counts each refusal for the metrics by kind ("bad_token"), and each one made to
	// wait as kind + ".throttled".
	Observe func(kind string)
	// Rate and Burst are how many failures a source may have before it must wait (1/s, 10).
	Rate  rate.Limit
	Burst int
	// Sources is how many sources are remembered (10,000); Top how many are named per entry (5);
	// Tracked how many distinct sources are counted per kind and minute (1,000; the rest are
	// "other").
	Sources, Top, Tracked int
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Gate is a bot.Gate. Its methods are safe for concurrent use.
type Gate struct {
	o Options

	mu      sync.Mutex
	lru     *list.List               // of *source, most recent at the front
	sources map[string]*list.Element // by source
	minutes map[time.Time]map[string]*tally
}

type source struct {
	key string
	lim *rate.Limiter
}

type tally struct {
	count   int64
	sources map[string]int64
	other   int64
}

var _ bot.Gate = (*Gate)(nil)

// New returns a gate.
func New(o Options) *Gate {
	if o.Rate == 0 {
		o.Rate = 1
	}
	if o.Burst <= 0 {
		o.Burst = 10
	}
	if o.Sources <= 0 {
		o.Sources = 10_000
	}
	if o.Top <= 0 {
		o.Top = 5
	}
	if o.Tracked <= 0 {
		o.Tracked = 1_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observe == nil {
		o.Observe = func(string) {}
	}
	return &Gate{o: o, lru: list.New(), sources: map[string]*list.Element{}, minutes: map[time.Time]map[string]*tally{}}
}

// Refuse notes a refusal of kind from source and says how long the source must wait.
func (g *Gate) Refuse(kind, source string) time.Duration {
	now := g.o.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.limiter(source).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		g.o.Observe(kind + ".throttled")
		return d
	}
	g.o.Observe(kind)
	minute := now.Truncate(time.Minute)
	kinds := g.minutes[minute]
	if kinds == nil {
		kinds = map[string]*tally{}
		g.minutes[minute] = kinds
	}
	t := kinds[kind]
	if t == nil {
		t = &tally{sources: map[string]int64{}}
		kinds[kind] = t
	}
	t.count++
	if _, ok := t.sources[source]; ok || len(t.sources) < g.o.Tracked {
		t.sources[source]++
	} else {
		t.other++
	}
	return 0
}

// limiter returns source's limiter, remembering it as the most recent; g.mu is held.
func (g *Gate) limiter(key string) *rate.Limiter {
	if el, ok := g.sources[key]; ok {
		g.lru.MoveToFront(el)
		return el.Value.(*source).lim
	}
	if g.lru.Len() >= g.o.Sources {
		oldest := g.lru.Back()
		g.lru.Remove(oldest)
		delete(g.sources, oldest.Value.(*source).key)
	}
	s := &source{key: key, lim: rate.NewLimiter(g.o.Rate, g.o.Burst)}
	g.sources[key] = g.lru.PushFront(s)
	return s.lim
}

// Flush writes the entries of every minute that has ended (all of them with final) to the log,
// and logs one line per kind.
func (g *Gate) Flush(ctx context.Context, final bool) error {
	now := g.o.Now().Truncate(time.Minute)
	g.mu.Lock()
	var entries []bot.RefusalEntry
	for _, m := range slices.SortedFunc(maps.Keys(g.minutes), func(a, b time.Time) int { return a.Compare(b) }) {
		if !final && !m.Before(now) {
			continue
		}
		for _, kind := range slices.Sorted(maps.Keys(g.minutes[m])) {
			t := g.minutes[m][kind]
			e := bot.RefusalEntry{Minute: m, Kind: kind, Count: t.count}
			for src, n := range t.sources {
				e.Top = append(e.Top, bot.SourceCount{Source: src, Count: n})
			}
			slices.SortFunc(e.Top, func(a, b bot.SourceCount) int {
				return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Source, b.Source))
			})
			e.Top = e.Top[:min(len(e.Top), g.o.Top)]
			if t.other > 0 {
				e.Top = append(e.Top, bot.SourceCount{Source: "other", Count: t.other})
			}
			entries = append(entries, e)
		}
		delete(g.minutes, m)
	}
	g.mu.Unlock()
	for _, e := range entries {
		g.o.Logger.Warn("refused in a minute", "kind", e.Kind, "count", e.Count, "minute", e.Minute.UTC().Format(time.RFC3339), "sources", len(e.Top))
	}
	if g.o.Log == nil || len(entries) == 0 {
		return nil
	}
	return g.o.Log.AppendRefusals(ctx, entries...)
}

// Run flushes every ten seconds until ctx ends, then flushes what is left.
func (g *Gate) Run(ctx context.Context) error {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			return g.Flush(fctx, true)
		case <-t.C:
			if err := g.Flush(ctx, false); err != nil {
				g.o.Logger.Error("refusals not kept", "err", err)
			}
		}
	}
}
