package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
)

var auditTests = []test{
	{"append and range", testAudit},
	{"trim drops what was recorded before", testAuditTrim},
	{"an event with an ID is recorded once", testAuditOnce},
}

func testAuditOnce(t *testing.T, s Stores) {
	ctx := t.Context()
	ev := bot.AuditEvent{ID: "alert/A1#3", Actor: "p1", Kind: "alert.acknowledged", Record: "alert/A1"}
	for range 3 {
		if err := s.Audit.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Audit.Append(ctx, bot.AuditEvent{ID: "alert/A1#4", Actor: "p1", Kind: "alert.resolved"}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // events without an ID are never deduplicated
		if err := s.Audit.Append(ctx, bot.AuditEvent{Actor: "p2", Kind: "access.refused"}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := s.Audit.Range(ctx, time.Time{}, s.Clock.Now().Add(time.Hour), func(e bot.AuditEvent) error {
		got = append(got, e.ID+"|"+e.Kind)
		return nil
	})
	want := []string{"alert/A1#3|alert.acknowledged", "alert/A1#4|alert.resolved", "|access.refused", "|access.refused"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("stream = %q, %v; want %q", got, err, want)
	}
}

func testAuditTrim(t *testing.T, s Stores) {
	ctx := t.Context()
	if err := s.Audit.Append(ctx, bot.AuditEvent{Actor: "p1", Kind: "old"}); err != nil {
		t.Fatal(err)
	}
	s.Wait(50 * time.Millisecond)
	cut := s.Clock.Now()
	s.Wait(50 * time.Millisecond)
	if err := s.Audit.Append(ctx, bot.AuditEvent{Actor: "p1", Kind: "new"}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Audit.Trim(ctx, cut)
	if err != nil || n != 1 {
		t.Fatalf("Trim = %d, %v; want 1 dropped", n, err)
	}
	var kinds []string
	err = s.Audit.Range(ctx, time.Time{}, s.Clock.Now().Add(time.Hour), func(e bot.AuditEvent) error {
		kinds = append(kinds, e.Kind)
		return nil
	})
	if err != nil || len(kinds) != 1 || kinds[0] != "new" {
		t.Fatalf("after trim: %v %v", kinds, err)
	}
}

func testAudit(t *testing.T, s Stores) {
	ctx := t.Context()
	events := []bot.AuditEvent{
		{At: base, Actor: "p1", Kind: "alert.created", Record: "alert/A7", Case: "K-12"},
		{At: base.Add(time.Minute), Actor: "p1", Kind: "case.shared", Record: "case/K-12", Case: "K-12", To: "p4", Reason: "need_to_know"},
		{At: base.Add(2 * time.Minute), Actor: "system", Kind: "access.refused", Reason: "not_linked"},
		{At: base.Add(3 * time.Minute).Add(123456789), Actor: "int-1", Kind: "visit.created", Record: "visit/V3"},
	}
	for _, e := range events {
		if err := s.Audit.Append(ctx, e); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	tests := []struct {
		name         string
		since, until time.Time
		want         []bot.AuditEvent
	}{
		{"all", base.Add(-time.Hour), base.Add(time.Hour), events},
		{"since inclusive, until exclusive", base.Add(time.Minute), base.Add(2 * time.Minute), events[1:2]},
		{"nanoseconds kept", base.Add(3 * time.Minute).Add(123456789), base.Add(time.Hour), events[3:]},
		{"empty", base.Add(time.Hour), base.Add(2 * time.Hour), nil},
	}
	for _, tt := range tests {
		var got []bot.AuditEvent
		err := s.Audit.Range(ctx, tt.since, tt.until, func(e bot.AuditEvent) error {
			got = append(got, e)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: Range: %v", tt.name, err)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("%s: Range returned %d events, want %d", tt.name, len(got), len(tt.want))
		}
		for i := range got {
			if !got[i].At.Equal(tt.want[i].At) {
				t.Fatalf("%s: event %d at %v, want %v", tt.name, i, got[i].At, tt.want[i].At)
			}
			g, w := got[i], tt.want[i]
			g.At, w.At = time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("%s: event %d = %+v, want %+v", tt.name, i, g, w)
			}
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := s.Audit.Range(ctx, base.Add(-time.Hour), base.Add(time.Hour), func(bot.AuditEvent) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Range with failing fn = %v after %d calls", err, calls)
	}
}
