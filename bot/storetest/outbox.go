package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
)

var outboxTests = []test{
	{"round trip", testOutboxRoundTrip},
	{"idempotent enqueue", testIdempotentEnqueue},
	{"urgent first", testUrgentFirst},
	{"platforms apart", testPlatformsApart},
	{"done", testDone},
	{"not before", testNotBefore},
	{"retry", testRetry},
	{"fail", testFail},
	{"discard", testDiscard},
	{"claim timeout", testClaimTimeout},
	{"stats", testStats},
	{"block", testTakeBlock},
	{"concurrent takers", testConcurrentTakers},
}

func outgoing(s Stores, id string, p bot.Priority) bot.Outgoing {
	return bot.Outgoing{
		ID:       id,
		Op:       bot.OpSend,
		To:       bot.Address{Platform: bot.Telegram, Chat: "100" + id},
		Msg:      bot.Message{Title: "Priminimas", Lines: []string{"Susitikimas rytoj 10:00"}},
		Priority: p,
		Queued:   s.Clock.Now(),
	}
}

func take(t *testing.T, s Stores, max int) []bot.Delivery {
	t.Helper()
	ds, err := s.Queue.Take(t.Context(), bot.Telegram, max, 0)
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	return ds
}

func ids(ds []bot.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// done finishes a delivery, so that a store on real time does not hand it out again while a
// test waits for something else.
func done(t *testing.T, s Stores, d bot.Delivery) {
	t.Helper()
	if err := s.Queue.Done(t.Context(), d, bot.MessageRef{Platform: d.To.Platform, Chat: d.To.Chat, ID: d.ID}); err != nil {
		t.Fatalf("Done: %v", err)
	}
}

func enqueue(t *testing.T, s Stores, msgs ...bot.Outgoing) {
	t.Helper()
	if err := s.Queue.Enqueue(t.Context(), msgs...); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

func testOutboxRoundTrip(t *testing.T, s Stores) {
	want := bot.Outgoing{
		ID: "m1",
		Op: bot.OpEdit,
		To: bot.Address{Platform: bot.Telegram, Chat: "-100200", Thread: "7", Group: true},
		Msg: bot.Message{
			Title:   "Įspėjimas",
			Lines:   []string{"Eilutė 1", "<b>ne žymė</b>"},
			Buttons: [][]bot.Button{{{Label: "Gavau", Token: "tok1"}, {Label: "Ne", Token: "tok2"}}},
			File:    &bot.File{Name: "visit.ics", Type: "text/calendar", Data: []byte("BEGIN:VCALENDAR\r\n\x00")},
		},
		Priority: bot.Urgent,
		RefKey:   "alert/A7/p3",
		Ref:      &bot.MessageRef{Platform: bot.Telegram, Chat: "-100200", ID: "77"},
		Person:   "p3",
		Sender:   "p1",
		Queued:   s.Clock.Now().Add(-time.Minute),
	}
	enqueue(t, s, want)
	ds := take(t, s, 10)
	if len(ds) != 1 {
		t.Fatalf("Take returned %d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if d.Handle == "" || d.Attempt != 0 {
		t.Errorf("first delivery: handle %q attempt %d; want a handle and attempt 0", d.Handle, d.Attempt)
	}
	if !d.Queued.Equal(want.Queued) {
		t.Errorf("Queued = %v, want %v", d.Queued, want.Queued)
	}
	got := d.Outgoing
	got.Queued = want.Queued
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delivery = %+v\nwant %+v", got, want)
	}
}

func testIdempotentEnqueue(t *testing.T, s Stores) {
	m := outgoing(s, "m1", bot.Routine)
	enqueue(t, s, m, m)
	enqueue(t, s, m)
	changed := m
	changed.Msg.Title = "changed"
	enqueue(t, s, changed)
	ds := take(t, s, 10)
	if !slices.Equal(ids(ds), []string{"m1"}) || ds[0].Msg.Title != m.Msg.Title {
		t.Fatalf("Take after repeated enqueues = %q, want the first m1 once", ids(ds))
	}
	// Still queued while taken.
	enqueue(t, s, m)
	if depth, _, err := s.Queue.Stats(t.Context()); err != nil || depth != 1 {
		t.Fatalf("Stats depth = %d, %v; want 1", depth, err)
	}
}

func testUrgentFirst(t *testing.T, s Stores) {
	enqueue(t, s, outgoing(s, "r1", bot.Routine), outgoing(s, "r2", bot.Routine))
	enqueue(t, s, outgoing(s, "u1", bot.Urgent))
	enqueue(t, s, outgoing(s, "r3", bot.Routine), outgoing(s, "u2", bot.Urgent))
	tests := []struct {
		name string
		max  int
		want []string
	}{
		{"one", 1, []string{"u1"}},
		{"urgent then routine", 3, []string{"u2", "r1", "r2"}},
		{"rest", 10, []string{"r3"}},
		{"none left", 10, nil},
	}
	for _, tt := range tests {
		if got := ids(take(t, s, tt.max)); !slices.Equal(got, tt.want) {
			t.Fatalf("%s: Take(%d) = %q, want %q", tt.name, tt.max, got, tt.want)
		}
	}
}

func testPlatformsApart(t *testing.T, s Stores) {
	m := outgoing(s, "s1", bot.Urgent)
	m.To = bot.Address{Platform: bot.Slack, Team: "T1", Chat: "C1"}
	enqueue(t, s, m, outgoing(s, "t1", bot.Routine))
	if got := ids(take(t, s, 10)); !slices.Equal(got, []string{"t1"}) {
		t.Fatalf("Telegram Take = %q, want [t1]", got)
	}
	ds, err := s.Queue.Take(t.Context(), bot.Slack, 10, 0)
	if err != nil || !slices.Equal(ids(ds), []string{"s1"}) {
		t.Fatalf("Slack Take = %q, %v; want [s1]", ids(ds), err)
	}
}

func testDone(t *testing.T, s Stores) {
	ctx := t.Context()
	q := s.Queue
	enqueue(t, s, outgoing(s, "m1", bot.Routine))
	ds := take(t, s, 10)
	if len(ds) != 1 {
		t.Fatalf("Take = %q", ids(ds))
	}
	ref := bot.MessageRef{Platform: bot.Telegram, Chat: "100m1", ID: "4242"}
	if err := q.Done(ctx, ds[0], ref); err != nil {
		t.Fatalf("Done: %v", err)
	}
	got, ok, err := q.Sent(ctx, "m1")
	if err != nil || !ok || got != ref {
		t.Fatalf("Sent = %+v, %v, %v; want %+v", got, ok, err, ref)
	}
	if _, ok, err := q.Sent(ctx, "never"); ok || err != nil {
		t.Fatalf("Sent of an unknown ID = %v, %v", ok, err)
	}
	enqueue(t, s, outgoing(s, "m1", bot.Routine))
	if got := take(t, s, 10); len(got) != 0 {
		t.Fatalf("re-enqueued sent message was taken again: %q", ids(got))
	}
	if depth, _, err := q.Stats(ctx); err != nil || depth != 0 {
		t.Fatalf("Stats depth after Done = %d, %v; want 0", depth, err)
	}
}

func testNotBefore(t *testing.T, s Stores) {
	quiet := outgoing(s, "quiet", bot.Routine)
	quiet.NotBefore = s.Clock.Now().Add(time.Second)
	past := outgoing(s, "past", bot.Routine)
	past.NotBefore = s.Clock.Now().Add(-time.Hour)
	enqueue(t, s, quiet, past)
	got := take(t, s, 10)
	if !slices.Equal(ids(got), []string{"past"}) {
		t.Fatalf("Take before NotBefore = %q, want [past]", ids(got))
	}
	done(t, s, got[0])
	if depth, _, _ := s.Queue.Stats(t.Context()); depth != 1 {
		t.Fatalf("Stats depth with one message held back = %d, want 1", depth)
	}
	s.Wait(1500 * time.Millisecond)
	got = take(t, s, 10)
	if !slices.Equal(ids(got), []string{"quiet"}) || got[0].Attempt != 0 || !got[0].NotBefore.Equal(quiet.NotBefore) {
		t.Fatalf("Take after NotBefore = %+v, want quiet at attempt 0", got)
	}
}

func testRetry(t *testing.T, s Stores) {
	ctx := t.Context()
	q := s.Queue
	enqueue(t, s, outgoing(s, "m1", bot.Urgent), outgoing(s, "m2", bot.Routine))
	ds := take(t, s, 10)
	if len(ds) != 2 {
		t.Fatalf("Take = %q", ids(ds))
	}
	if err := q.Retry(ctx, ds[0], s.Clock.Now().Add(time.Second)); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if err := q.Retry(ctx, ds[1], s.Clock.Now().Add(-time.Second)); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	got := take(t, s, 10)
	if !slices.Equal(ids(got), []string{"m2"}) || got[0].Attempt != 1 {
		t.Fatalf("Take before m1 is due = %q, want [m2] at attempt 1", ids(got))
	}
	if depth, _, _ := q.Stats(ctx); depth != 2 {
		t.Fatalf("Stats depth with one message delayed = %d, want 2", depth)
	}
	done(t, s, got[0])
	s.Wait(1500 * time.Millisecond)
	got = take(t, s, 10)
	if !slices.Equal(ids(got), []string{"m1"}) {
		t.Fatalf("Take after m1 is due = %q, want [m1]", ids(got))
	}
	d := got[0]
	if d.Attempt != 1 || d.Msg.Title != "Priminimas" || d.Priority != bot.Urgent {
		t.Fatalf("retried delivery = %+v", d)
	}
	if err := q.Retry(ctx, d, s.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got := take(t, s, 10); len(got) != 1 || got[0].Attempt != 2 {
		t.Fatalf("second retry = %+v, want m1 at attempt 2", got)
	}
}

func testFail(t *testing.T, s Stores) {
	ctx := t.Context()
	enqueue(t, s, outgoing(s, "m1", bot.Routine))
	ds := take(t, s, 10)
	if len(ds) != 1 {
		t.Fatalf("Take = %q", ids(ds))
	}
	if err := s.Queue.Fail(ctx, ds[0]); err != nil {
		t.Fatalf("Fail: %v", err)
	}
	s.Wait(s.ClaimTimeout + s.ClaimTimeout/2)
	if got := take(t, s, 10); len(got) != 0 {
		t.Fatalf("failed message was taken again: %q", ids(got))
	}
	if _, ok, _ := s.Queue.Sent(ctx, "m1"); ok {
		t.Fatal("failed message is reported sent")
	}
	if depth, _, _ := s.Queue.Stats(ctx); depth != 0 {
		t.Fatalf("Stats depth after Fail = %d", depth)
	}
}

// testDiscard drops, of four messages about two records, those about one: held back for quiet
// hours, waiting out a retry, and never taken. The other record's message still goes out, and a
// worker finishing a dropped message it held finds nothing wrong.
func testDiscard(t *testing.T, s Stores) {
	ctx := t.Context()
	about := func(id, ref string) bot.Outgoing {
		o := outgoing(s, id, bot.Routine)
		o.RefKey = ref
		return o
	}
	held := about("held", "alert/A1/ona")
	held.NotBefore = s.Clock.Now().Add(time.Hour)
	retried, fresh, other := about("retried", "alert/A1/jonas"), about("fresh", "alert/A1/rita"), about("other", "alert/A2/ona")
	enqueue(t, s, held, retried)
	ds := take(t, s, 10)
	if !slices.Equal(ids(ds), []string{"retried"}) {
		t.Fatalf("Take = %q, want [retried]", ids(ds))
	}
	if err := s.Queue.Retry(ctx, ds[0], s.Clock.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	enqueue(t, s, fresh, other)
	taken := take(t, s, 1) // a worker holds "fresh" while it is discarded
	dropped, err := s.Queue.Discard(ctx, func(o bot.Outgoing) bool { return strings.HasPrefix(o.RefKey, "alert/A1/") })
	var got []string
	for _, o := range dropped {
		got = append(got, o.ID)
	}
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"fresh", "held", "retried"}) {
		t.Fatalf("Discard = %q, %v; want fresh, held and retried", got, err)
	}
	if len(taken) == 1 {
		if err := s.Queue.Done(ctx, taken[0], bot.MessageRef{Platform: bot.Telegram, Chat: "1", ID: "1"}); err != nil {
			t.Fatalf("Done of a discarded message: %v", err)
		}
	}
	if depth, _, _ := s.Queue.Stats(ctx); depth != 1 {
		t.Fatalf("Stats depth after Discard = %d, want 1", depth)
	}
	s.Wait(s.ClaimTimeout + s.ClaimTimeout/2)
	if after := take(t, s, 10); !slices.Equal(ids(after), []string{"other"}) {
		t.Fatalf("Take after Discard = %q, want [other]", ids(after))
	}
	if none, err := s.Queue.Discard(ctx, func(bot.Outgoing) bool { return false }); err != nil || len(none) != 0 {
		t.Fatalf("Discard of nothing = %v, %v", none, err)
	}
}

func testClaimTimeout(t *testing.T, s Stores) {
	ctx := t.Context()
	enqueue(t, s, outgoing(s, "m1", bot.Urgent), outgoing(s, "m2", bot.Routine))
	first := take(t, s, 1)
	if !slices.Equal(ids(first), []string{"m1"}) {
		t.Fatalf("Take = %q", ids(first))
	}
	// The worker holding m1 dies. m2 is still free; m1 is not, until the claim timeout.
	if got := take(t, s, 10); !slices.Equal(ids(got), []string{"m2"}) {
		t.Fatalf("Take within the claim timeout = %q, want [m2]", ids(got))
	}
	s.Wait(s.ClaimTimeout + s.ClaimTimeout/2)
	again := take(t, s, 1)
	if !slices.Equal(ids(again), []string{"m1"}) {
		t.Fatalf("Take after the claim timeout = %q, want m1 handed out again", ids(again))
	}
	if again[0].Msg.Title != "Priminimas" {
		t.Fatalf("reclaimed delivery lost its message: %+v", again[0])
	}
	if err := s.Queue.Done(ctx, again[0], bot.MessageRef{Platform: bot.Telegram, Chat: "1", ID: "2"}); err != nil {
		t.Fatal(err)
	}
	// m2 was never finished either, so it comes back; m1 is done and does not.
	s.Wait(s.ClaimTimeout + s.ClaimTimeout/2)
	if got := take(t, s, 10); !slices.Equal(ids(got), []string{"m2"}) {
		t.Fatalf("Take after the second timeout = %q, want [m2]", ids(got))
	}
}

func testStats(t *testing.T, s Stores) {
	ctx := t.Context()
	q := s.Queue
	if depth, oldest, err := q.Stats(ctx); err != nil || depth != 0 || oldest != 0 {
		t.Fatalf("empty Stats = %d, %v, %v", depth, oldest, err)
	}
	now := s.Clock.Now()
	a, b, c := outgoing(s, "a", bot.Routine), outgoing(s, "b", bot.Urgent), outgoing(s, "c", bot.Routine)
	a.Queued, b.Queued, c.Queued = now.Add(-time.Minute), now.Add(-2*time.Minute), now
	a.To.Platform = bot.Slack
	enqueue(t, s, a, b, c)
	ds := take(t, s, 1) // b, taken but not finished
	depth, oldest, err := q.Stats(ctx)
	if err != nil || depth != 3 || oldest < 2*time.Minute || oldest > 3*time.Minute {
		t.Fatalf("Stats = %d, %v, %v; want 3 and about 2m", depth, oldest, err)
	}
	if err := q.Done(ctx, ds[0], bot.MessageRef{Platform: bot.Telegram, Chat: "1", ID: "1"}); err != nil {
		t.Fatal(err)
	}
	depth, oldest, err = q.Stats(ctx)
	if err != nil || depth != 2 || oldest < time.Minute || oldest > 2*time.Minute {
		t.Fatalf("Stats after Done = %d, %v, %v; want 2 and about 1m", depth, oldest, err)
	}
}

func testTakeBlock(t *testing.T, s Stores) {
	ctx := t.Context()
	ds, err := s.Queue.Take(ctx, bot.Telegram, 10, 50*time.Millisecond)
	if err != nil || len(ds) != 0 {
		t.Fatalf("Take on an empty queue = %q, %v", ids(ds), err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		time.Sleep(100 * time.Millisecond)
		if err := s.Queue.Enqueue(ctx, outgoing(s, "late", bot.Routine)); err != nil {
			t.Errorf("Enqueue: %v", err)
		}
	})
	// A generous block: the message arrives long before it ends.
	ds, err = s.Queue.Take(ctx, bot.Telegram, 10, time.Minute)
	if err != nil || !slices.Equal(ids(ds), []string{"late"}) {
		t.Fatalf("blocking Take = %q, %v; want [late]", ids(ds), err)
	}
}

func testConcurrentTakers(t *testing.T, s Stores) {
	ctx := t.Context()
	const n = 200
	var msgs []bot.Outgoing
	for i := range n {
		p := bot.Routine
		if i%3 == 0 {
			p = bot.Urgent
		}
		msgs = append(msgs, outgoing(s, fmt.Sprintf("m%03d", i), p))
	}
	enqueue(t, s, msgs...)
	var mu sync.Mutex
	taken := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				ds, err := s.Queue.Take(ctx, bot.Telegram, 7, 0)
				if err != nil {
					t.Errorf("Take: %v", err)
					return
				}
				if len(ds) == 0 {
					return
				}
				for _, d := range ds {
					mu.Lock()
					taken[d.ID]++
					mu.Unlock()
					if err := s.Queue.Done(ctx, d, bot.MessageRef{Platform: bot.Telegram, Chat: d.To.Chat, ID: d.ID}); err != nil {
						t.Errorf("Done: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(taken) != n {
		t.Fatalf("%d distinct messages taken, want %d", len(taken), n)
	}
	for id, c := range taken {
		if c != 1 {
			t.Errorf("%s taken %d times", id, c)
		}
	}
}
