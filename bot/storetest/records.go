package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
)

var recordTests = []test{
	{"versions", testVersions},
	{"missing", testMissing},
	{"delete", testDelete},
	{"binary data", testBinaryData},
	{"ttl", testRecordTTL},
	{"index", testIndex},
	{"index untouched on conflict", testIndexConflict},
	{"scan", testScan},
	{"concurrent update", testConcurrentUpdate},
}

func testVersions(t *testing.T, s Stores) {
	ctx := t.Context()
	r := s.Records
	// Each step runs against the state the previous ones left.
	steps := []struct {
		name    string
		version int64
		data    string
		want    int64 // 0: ErrConflict
		stored  string
	}{
		{name: "create", version: 0, data: "a", want: 1, stored: "a"},
		{name: "create again", version: 0, data: "b", want: 0, stored: "a"},
		{name: "update", version: 1, data: "c", want: 2, stored: "c"},
		{name: "stale", version: 1, data: "d", want: 0, stored: "c"},
		{name: "ahead", version: 7, data: "d", want: 0, stored: "c"},
		{name: "any", version: bot.Any, data: "e", want: 3, stored: "e"},
		{name: "after any", version: 3, data: "f", want: 4, stored: "f"},
	}
	for _, st := range steps {
		got, err := r.Write(ctx, bot.Write{Key: "case/1", Data: []byte(st.data), Version: st.version})
		switch {
		case st.want == 0 && !errors.Is(err, bot.ErrConflict):
			t.Fatalf("%s: Write = %d, %v; want ErrConflict", st.name, got, err)
		case st.want != 0 && (err != nil || got != st.want):
			t.Fatalf("%s: Write = %d, %v; want %d", st.name, got, err, st.want)
		}
		data, ver, err := r.Get(ctx, "case/1")
		if err != nil || string(data) != st.stored {
			t.Fatalf("%s: Get = %q, %v; want %q", st.name, data, err, st.stored)
		}
		if st.want != 0 && ver != st.want {
			t.Fatalf("%s: Get version %d, want %d", st.name, ver, st.want)
		}
	}
	// Any creates a missing record as version 1.
	if v, err := r.Write(ctx, bot.Write{Key: "case/2", Data: []byte("x"), Version: bot.Any}); err != nil || v != 1 {
		t.Fatalf("Write(Any) on a missing record = %d, %v; want 1", v, err)
	}
}

func testMissing(t *testing.T, s Stores) {
	if _, _, err := s.Records.Get(t.Context(), "nothing/here"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	if _, err := s.Records.Write(t.Context(), bot.Write{Key: "nothing/here", Data: []byte("x"), Version: 1}); !errors.Is(err, bot.ErrConflict) {
		t.Fatalf("Write(version 1) of a missing key: %v, want ErrConflict", err)
	}
}

func testDelete(t *testing.T, s Stores) {
	ctx := t.Context()
	r := s.Records
	mustWrite(t, r, bot.Write{Key: "visit/1", Data: []byte("v"), Version: 0})
	mustWrite(t, r, bot.Write{Key: "visit/1", Data: []byte("w"), Version: 1})
	if _, err := r.Write(ctx, bot.Write{Key: "visit/1", Version: 1}); !errors.Is(err, bot.ErrConflict) {
		t.Fatalf("stale delete: %v, want ErrConflict", err)
	}
	if _, _, err := r.Get(ctx, "visit/1"); err != nil {
		t.Fatalf("record gone after a refused delete: %v", err)
	}
	mustWrite(t, r, bot.Write{Key: "visit/1", Version: 2})
	if _, _, err := r.Get(ctx, "visit/1"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("Get after delete: %v, want ErrNotFound", err)
	}
	if err := bot.Delete(ctx, r, "visit/1"); err != nil {
		t.Fatalf("deleting a missing record with Any: %v", err)
	}
	if v := mustWrite(t, r, bot.Write{Key: "visit/1", Data: []byte("again"), Version: 0}); v != 1 {
		t.Fatalf("recreated record has version %d, want 1", v)
	}
}

func testBinaryData(t *testing.T, s Stores) {
	ctx := t.Context()
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", []byte{}},
		{"zero bytes", []byte{0, 1, 0, 255, '\n', 0}},
		{"utf-8", []byte("Šiaulių rajono vaiko teisių apsaugos skyrius")},
		{"large", bytes.Repeat([]byte("0123456789abcdef"), 64<<10)},
	}
	for _, tt := range tests {
		key := "blob/" + tt.name
		mustWrite(t, s.Records, bot.Write{Key: key, Data: tt.data, Version: 0})
		got, _, err := s.Records.Get(ctx, key)
		if err != nil || !bytes.Equal(got, tt.data) {
			t.Errorf("%s: Get = %d bytes, %v; want the %d bytes written", tt.name, len(got), err, len(tt.data))
		}
	}
}

func testRecordTTL(t *testing.T, s Stores) {
	ctx := t.Context()
	r := s.Records
	mustWrite(t, r, bot.Write{Key: "dialog/a", Data: []byte("a"), TTL: time.Second})
	mustWrite(t, r, bot.Write{Key: "dialog/b", Data: []byte("b"), TTL: time.Second})
	// Rewriting without a TTL keeps the record for good.
	mustWrite(t, r, bot.Write{Key: "dialog/b", Data: []byte("b2"), Version: 1})
	if _, _, err := r.Get(ctx, "dialog/a"); err != nil {
		t.Fatalf("Get before expiry: %v", err)
	}
	s.Wait(1500 * time.Millisecond)
	if _, _, err := r.Get(ctx, "dialog/a"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("Get after expiry: %v, want ErrNotFound", err)
	}
	if v := mustWrite(t, r, bot.Write{Key: "dialog/a", Data: []byte("new"), Version: 0}); v != 1 {
		t.Fatalf("create after expiry = version %d, want 1", v)
	}
	if data, _, err := r.Get(ctx, "dialog/b"); err != nil || string(data) != "b2" {
		t.Fatalf("rewritten record without TTL: %q, %v", data, err)
	}
}

func testIndex(t *testing.T, s Stores) {
	ctx := t.Context()
	r := s.Records
	add := func(idx, m string, score float64) bot.IndexOp {
		return bot.IndexOp{Index: idx, Member: m, Score: score}
	}
	mustWrite(t, r, bot.Write{Key: "alert/a", Data: []byte("a"), Index: []bot.IndexOp{add("due", "a", 30), add("open", "a", 1)}})
	mustWrite(t, r, bot.Write{Key: "alert/b", Data: []byte("b"), Index: []bot.IndexOp{add("due", "b", 10)}})
	mustWrite(t, r, bot.Write{Key: "alert/c", Data: []byte("c"), Index: []bot.IndexOp{add("due", "c", 20), add("due", "d", 20)}})
	mustWrite(t, r, bot.Write{Key: "alert/e", Data: []byte("e"), Index: []bot.IndexOp{add("due", "e", 1.5e12)}})

	inf := math.Inf(1)
	tests := []struct {
		name     string
		min, max float64
		limit    int
		want     []string
	}{
		{"all, lowest first", -inf, inf, 0, []string{"b", "c", "d", "a", "e"}},
		{"limit", -inf, inf, 2, []string{"b", "c"}},
		{"inclusive bounds", 20, 30, 0, []string{"c", "d", "a"}},
		{"empty range", 11, 19, 0, nil},
		{"limit above count", 0, 25, 10, []string{"b", "c", "d"}},
		{"large scores", 1e12, inf, 0, []string{"e"}},
	}
	for _, tt := range tests {
		got, err := r.Range(ctx, "due", tt.min, tt.max, tt.limit)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: Range = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}

	// Moving and removing members, in the same write as the record change.
	mustWrite(t, r, bot.Write{Key: "alert/b", Version: bot.Any, Index: []bot.IndexOp{{Index: "due", Member: "b", Remove: true}, add("due", "a", 5)}})
	if got, _ := r.Range(ctx, "due", -inf, inf, 0); !slices.Equal(got, []string{"a", "c", "d", "e"}) {
		t.Errorf("after remove and move: %q", got)
	}
	if got, _ := r.Range(ctx, "open", -inf, inf, 0); !slices.Equal(got, []string{"a"}) {
		t.Errorf("second index: %q", got)
	}
	if got, err := r.Range(ctx, "never-written", -inf, inf, 0); err != nil || len(got) != 0 {
		t.Errorf("missing index: %q, %v", got, err)
	}
}

func testIndexConflict(t *testing.T, s Stores) {
	ctx := t.Context()
	r := s.Records
	mustWrite(t, r, bot.Write{Key: "case/9", Data: []byte("x")})
	writes := []struct {
		name    string
		version int64
	}{
		{"create over existing", 0},
		{"stale", 5},
	}
	for _, w := range writes {
		_, err := r.Write(ctx, bot.Write{Key: "case/9", Data: []byte("y"), Version: w.version,
			Index: []bot.IndexOp{{Index: "cases", Member: "9", Score: 1}}})
		if !errors.Is(err, bot.ErrConflict) {
			t.Fatalf("%s: %v, want ErrConflict", w.name, err)
		}
	}
	mustWrite(t, r, bot.Write{Key: "case/10", Data: []byte("x"), Index: []bot.IndexOp{{Index: "cases", Member: "10", Score: 1}}})
	_, err := r.Write(ctx, bot.Write{Key: "case/10", Version: 4, Index: []bot.IndexOp{{Index: "cases", Member: "10", Remove: true}}})
	if !errors.Is(err, bot.ErrConflict) {
		t.Fatalf("stale delete: %v, want ErrConflict", err)
	}
	got, err := r.Range(ctx, "cases", math.Inf(-1), math.Inf(1), 0)
	if err != nil || !slices.Equal(got, []string{"10"}) {
		t.Fatalf("index after refused writes = %q, %v; want [10]", got, err)
	}
}

func testScan(t *testing.T, s Stores) {
	ctx := t.Context()
	r := s.Records
	keys := []string{"alert/1", "alert/2", "alert/3", "alerts", "visit/1", "a*b/1", "axb/1", "a[1]/x", "a1/x", "gone/1"}
	for _, k := range keys {
		mustWrite(t, r, bot.Write{Key: k, Data: []byte(k)})
	}
	for i := range 300 {
		mustWrite(t, r, bot.Write{Key: fmt.Sprintf("bulk/%03d", i), Data: []byte("x")})
	}
	mustWrite(t, r, bot.Write{Key: "gone/1", Version: bot.Any})

	tests := []struct {
		name   string
		prefix string
		want   []string
		count  int
	}{
		{name: "prefix", prefix: "alert/", want: []string{"alert/1", "alert/2", "alert/3"}},
		{name: "glob characters are literal", prefix: "a*", want: []string{"a*b/1"}},
		{name: "brackets are literal", prefix: "a[1]", want: []string{"a[1]/x"}},
		{name: "deleted keys are gone", prefix: "gone/", want: nil},
		{name: "many keys", prefix: "bulk/", count: 300},
	}
	for _, tt := range tests {
		var got []string
		err := r.Scan(ctx, tt.prefix, func(key string) error {
			got = append(got, key)
			return nil
		})
		if err != nil {
			t.Errorf("%s: Scan: %v", tt.name, err)
			continue
		}
		slices.Sort(got)
		if tt.count > 0 {
			if len(got) != tt.count || len(slices.Compact(got)) != tt.count {
				t.Errorf("%s: Scan found %d keys, want %d distinct", tt.name, len(got), tt.count)
			}
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Scan = %q, want %q", tt.name, got, tt.want)
		}
	}

	stop := errors.New("stop")
	calls := 0
	err := r.Scan(ctx, "bulk/", func(string) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Scan with failing fn = %v after %d calls, want stop after 1", err, calls)
	}
}

func testConcurrentUpdate(t *testing.T, s Stores) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	type counter struct{ N int }
	const workers = 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			_, err := bot.Update(ctx, s.Records, "counter", func(c *counter, _ bool) ([]bot.IndexOp, error) {
				c.N++
				return []bot.IndexOp{{Index: "counters", Member: "counter", Score: float64(c.N)}}, nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	c, ver, err := bot.Load[counter](ctx, s.Records, "counter")
	if err != nil || c.N != workers || ver != workers {
		t.Fatalf("after %d updates: N=%d version=%d err=%v", workers, c.N, ver, err)
	}
	if got, _ := s.Records.Range(ctx, "counters", workers, workers, 0); !slices.Equal(got, []string{"counter"}) {
		t.Fatalf("index after updates: %q, want the last write's score", got)
	}
}

func mustWrite(t *testing.T, r bot.Records, w bot.Write) int64 {
	t.Helper()
	if w.Version == 0 && w.Data == nil {
		w.Version = bot.Any
	}
	v, err := r.Write(t.Context(), w)
	if err != nil {
		t.Fatalf("Write %s: %v", w.Key, err)
	}
	return v
}
