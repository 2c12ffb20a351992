package refusal_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/refusal"
)

// Refusals are summed up, one entry per kind and minute with the sources that failed most; a
// source over its burst waits and leaves nothing; the sources remembered are bounded.
func TestRefusalsAreSummedUpByKindAndMinute(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	log := memory.New(nil).Audit()
	var counted []string
	g := refusal.New(refusal.Options{Log: log, Now: func() time.Time { return now }, Burst: 3, Rate: 1, Sources: 100, Tracked: 10, Top: 2,
		Observe: func(k string) { counted = append(counted, k) }})
	// 12 sources fail once each, one of them 3 times, one 5 times (the last 2 made to wait).
	for i := range 12 {
		g.Refuse("api.bad_token", fmt.Sprintf("10.0.0.%d", i))
	}
	for range 2 {
		g.Refuse("api.bad_token", "10.0.0.1")
	}
	var waits []time.Duration
	for range 4 {
		waits = append(waits, g.Refuse("api.bad_token", "10.0.0.2"))
	}
	g.Refuse("chat.not_linked", "telegram:42")
	if waits[0] != 0 || waits[1] != 0 || waits[2] <= 0 || waits[3] <= 0 {
		t.Errorf("waits %v: the source's third and fourth failures beyond its burst of 3 must wait", waits)
	}
	// Nothing is written before the minute ends.
	if err := g.Flush(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	var entries []bot.RefusalEntry
	read := func() {
		entries = nil
		_ = log.RangeRefusals(context.Background(), func(e bot.RefusalEntry) error { entries = append(entries, e); return nil })
	}
	if read(); len(entries) != 0 {
		t.Fatalf("written before the minute ended: %+v", entries)
	}
	now = now.Add(time.Minute)
	if err := g.Flush(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	read()
	if len(entries) != 2 {
		t.Fatalf("entries %+v, want one per kind", entries)
	}
	bad := entries[0]
	// 12 + 2 + 2 answered: 16; the two that waited are not in it.
	if bad.Kind != "api.bad_token" || bad.Count != 16 || len(bad.Top) != 3 ||
		bad.Top[0] != (bot.SourceCount{Source: "10.0.0.1", Count: 3}) || bad.Top[1] != (bot.SourceCount{Source: "10.0.0.2", Count: 3}) ||
		bad.Top[2] != (bot.SourceCount{Source: "other", Count: 2}) {
		t.Errorf("entry %+v: want 16, the top two sources and the two untracked as other", bad)
	}
	if entries[1].Kind != "chat.not_linked" || entries[1].Count != 1 {
		t.Errorf("entry %+v", entries[1])
	}
	throttled := 0
	for _, k := range counted {
		if k == "api.bad_token.throttled" {
			throttled++
		}
	}
	if len(counted) != 19 || throttled != 2 {
		t.Errorf("counted %d (%d throttled), want 19 (2)", len(counted), throttled)
	}
	// A flushed minute is not written again.
	if err := g.Flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if read(); len(entries) != 2 {
		t.Errorf("entries after a second flush: %d", len(entries))
	}
}

// A flood from many sources cannot grow the gate's memory past its bound: the least recent
// sources are forgotten (and start their burst anew).
func TestTheSourcesRememberedAreBounded(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	g := refusal.New(refusal.Options{Now: func() time.Time { return now }, Burst: 1, Rate: 0.001, Sources: 3})
	g.Refuse("k", "a")
	if g.Refuse("k", "a") == 0 {
		t.Fatal("a second failure within the burst of 1 was not made to wait")
	}
	for _, s := range []string{"b", "c", "d"} { // a is the least recent, and forgotten
		g.Refuse("k", s)
	}
	if g.Refuse("k", "a") != 0 {
		t.Error("a forgotten source still waits: the sources remembered are not bounded")
	}
}
