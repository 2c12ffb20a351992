package storetest

import (
	"testing"
	"time"
)

var markTests = []test{
	{"mark", testMark},
	{"mark ttl", testMarkTTL},
	{"count", testCount},
	{"count ttl", testCountTTL},
}

func testMark(t *testing.T, s Stores) {
	ctx := t.Context()
	m := s.Marks
	steps := []struct {
		name   string
		key    string
		unmark bool
		want   bool
	}{
		{name: "first", key: "update/1", want: true},
		{name: "second", key: "update/1", want: false},
		{name: "other key", key: "update/2", want: true},
		{name: "unmark", key: "update/1", unmark: true},
		{name: "after unmark", key: "update/1", want: true},
		{name: "unmark missing", key: "update/none", unmark: true},
	}
	for _, st := range steps {
		if st.unmark {
			if err := m.Unmark(ctx, st.key); err != nil {
				t.Fatalf("%s: Unmark: %v", st.name, err)
			}
			continue
		}
		got, err := m.Mark(ctx, st.key, 0)
		if err != nil || got != st.want {
			t.Fatalf("%s: Mark = %v, %v; want %v", st.name, got, err, st.want)
		}
	}
}

func testMarkTTL(t *testing.T, s Stores) {
	ctx := t.Context()
	if ok, err := s.Marks.Mark(ctx, "seen", time.Second); !ok || err != nil {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	if ok, err := s.Marks.Mark(ctx, "forever", 0); !ok || err != nil {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	if ok, _ := s.Marks.Mark(ctx, "seen", time.Second); ok {
		t.Fatal("Mark set a live mark again")
	}
	s.Wait(1500 * time.Millisecond)
	if ok, err := s.Marks.Mark(ctx, "seen", time.Second); !ok || err != nil {
		t.Fatalf("Mark after expiry = %v, %v; want true", ok, err)
	}
	if ok, _ := s.Marks.Mark(ctx, "forever", 0); ok {
		t.Fatal("a mark without TTL expired")
	}
}

func testCount(t *testing.T, s Stores) {
	ctx := t.Context()
	for want := int64(1); want <= 5; want++ {
		n, err := s.Marks.Count(ctx, "wrong-code/p1", 0)
		if err != nil || n != want {
			t.Fatalf("Count = %d, %v; want %d", n, err, want)
		}
	}
	if n, _ := s.Marks.Count(ctx, "wrong-code/p2", 0); n != 1 {
		t.Fatalf("Count of another key = %d, want 1", n)
	}
	if err := s.Marks.Unmark(ctx, "wrong-code/p1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Marks.Count(ctx, "wrong-code/p1", 0); n != 1 {
		t.Fatalf("Count after Unmark = %d, want 1", n)
	}
}

func testCountTTL(t *testing.T, s Stores) {
	ctx := t.Context()
	// The expiry starts at the first increment and later ones do not extend it.
	if n, err := s.Marks.Count(ctx, "tries", 2*time.Second); n != 1 || err != nil {
		t.Fatalf("Count = %d, %v", n, err)
	}
	s.Wait(time.Second)
	if n, err := s.Marks.Count(ctx, "tries", 2*time.Second); n != 2 || err != nil {
		t.Fatalf("Count = %d, %v; want 2", n, err)
	}
	s.Wait(1500 * time.Millisecond)
	if n, err := s.Marks.Count(ctx, "tries", 2*time.Second); n != 1 || err != nil {
		t.Fatalf("Count after the first increment's expiry = %d, %v; want 1", n, err)
	}
}
