package scheduler_test

import (
	"testing"
	"time"

	"github.com/tiltas/tiltas/scheduler"
)

func TestRRuleKeepsLocalTimeAcrossMonthEndsAndDST(t *testing.T) {
	vilnius, err := time.LoadLocation("Europe/Vilnius")
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, vilnius) }
	tests := []struct {
		name  string
		rule  string
		start time.Time
		after time.Time
		want  []time.Time
	}{
		{
			name: "first Thursday monthly at 10:00 across the March DST change",
			rule: "FREQ=MONTHLY;BYDAY=1TH", start: at(2026, 1, 1, 10, 0), after: at(2026, 2, 1, 0, 0),
			want: []time.Time{at(2026, 2, 5, 10, 0), at(2026, 3, 5, 10, 0), at(2026, 4, 2, 10, 0)},
		},
		{
			name: "first Thursday monthly across the October DST change and a year end",
			rule: "FREQ=MONTHLY;BYDAY=1TH", start: at(2026, 1, 1, 10, 0), after: at(2026, 10, 1, 0, 0),
			want: []time.Time{at(2026, 10, 1, 10, 0), at(2026, 11, 5, 10, 0), at(2026, 12, 3, 10, 0), at(2027, 1, 7, 10, 0)},
		},
		{
			name: "every second Friday at 18:00 over the last Sunday of March",
			rule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", start: at(2026, 3, 20, 18, 0), after: at(2026, 3, 1, 0, 0),
			want: []time.Time{at(2026, 3, 20, 18, 0), at(2026, 4, 3, 18, 0)},
		},
		{
			name: "daily at 03:30: the missing 03:30 of the spring-forward night becomes 04:30 (RFC 5545)",
			rule: "FREQ=DAILY", start: at(2026, 3, 28, 3, 30), after: at(2026, 3, 28, 0, 0),
			want: []time.Time{at(2026, 3, 28, 3, 30), at(2026, 3, 29, 4, 30), at(2026, 3, 30, 3, 30)},
		},
		{
			name: "last day of the month across short months",
			rule: "FREQ=MONTHLY;BYMONTHDAY=-1", start: at(2026, 1, 31, 9, 0), after: at(2026, 1, 1, 0, 0),
			want: []time.Time{at(2026, 1, 31, 9, 0), at(2026, 2, 28, 9, 0), at(2026, 3, 31, 9, 0)},
		},
		{
			name: "a one-off meeting is a series of one",
			rule: "FREQ=DAILY;COUNT=1", start: at(2026, 12, 10, 14, 0), after: at(2026, 12, 1, 0, 0),
			want: []time.Time{at(2026, 12, 10, 14, 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := scheduler.NewRRule(tt.rule, tt.start)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Between(tt.after, tt.want[len(tt.want)-1].Add(time.Minute))
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if !got[i].Equal(tt.want[i]) {
					t.Errorf("occurrence %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
			if n := r.Next(tt.want[0].Add(-time.Second)); !n.Equal(tt.want[0]) {
				t.Errorf("Next = %v, want %v", n, tt.want[0])
			}
		})
	}
}
