package meetings_test

import (
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/scheduler"
)

func TestSlotsAcrossMonthEndsHolidaysAndDST(t *testing.T) {
	const layout = "2006-01-02 15:04 -0700"
	tests := []struct {
		name     string
		rule     string
		start    string
		holidays meetings.Holidays
		from, to string
		want     []string // local starts; a skipped occurrence is "skip " + its rule start
	}{
		{name: "first Thursday across month ends; New Year's Day moves to Friday", rule: "FREQ=MONTHLY;BYDAY=1TH", start: "2026-01-01 10:00",
			holidays: meetings.HolidaysMove, from: "2026-01-01 00:00", to: "2026-04-01 00:00",
			want: []string{"2026-01-02 10:00 +0200", "2026-02-05 10:00 +0200", "2026-03-05 10:00 +0200"}},
		{name: "New Year's Day skipped", rule: "FREQ=MONTHLY;BYDAY=1TH", start: "2026-01-01 10:00",
			holidays: meetings.HolidaysSkip, from: "2026-01-01 00:00", to: "2026-03-01 00:00",
			want: []string{"skip 2026-01-01 10:00 +0200", "2026-02-05 10:00 +0200"}},
		{name: "holidays ignored", rule: "FREQ=MONTHLY;BYDAY=1TH", start: "2026-01-01 10:00",
			holidays: meetings.HolidaysIgnore, from: "2026-01-01 00:00", to: "2026-02-01 00:00",
			want: []string{"2026-01-01 10:00 +0200"}},
		{name: "Easter Monday moves to Tuesday", rule: "FREQ=WEEKLY;BYDAY=MO", start: "2026-03-30 09:00",
			holidays: meetings.HolidaysMove, from: "2026-03-30 00:00", to: "2026-04-14 00:00",
			want: []string{"2026-03-30 09:00 +0300", "2026-04-07 09:00 +0300", "2026-04-13 09:00 +0300"}},
		{name: "All Souls' Day moves to Tuesday", rule: "FREQ=WEEKLY;BYDAY=MO", start: "2026-10-26 09:00",
			holidays: meetings.HolidaysMove, from: "2026-10-26 00:00", to: "2026-11-10 00:00",
			want: []string{"2026-10-26 09:00 +0200", "2026-11-03 09:00 +0200", "2026-11-09 09:00 +0200"}},
		{name: "Christmas Eve moves past Christmas and the weekend; a plain Sunday stays", rule: "FREQ=MONTHLY;BYMONTHDAY=24", start: "2026-11-24 15:00",
			holidays: meetings.HolidaysMove, from: "2026-11-01 00:00", to: "2027-02-01 00:00",
			want: []string{"2026-11-24 15:00 +0200", "2026-12-28 15:00 +0200", "2027-01-24 15:00 +0200"}},
		{name: "10:00 stays 10:00 across the March DST change", rule: "FREQ=MONTHLY;BYDAY=1TH", start: "2026-01-01 10:00",
			holidays: meetings.HolidaysMove, from: "2026-03-01 00:00", to: "2026-05-01 00:00",
			want: []string{"2026-03-05 10:00 +0200", "2026-04-02 10:00 +0300"}},
		{name: "10:00 stays 10:00 across the October DST change", rule: "FREQ=MONTHLY;BYDAY=1TH", start: "2026-01-01 10:00",
			holidays: meetings.HolidaysMove, from: "2026-10-01 00:00", to: "2026-12-01 00:00",
			want: []string{"2026-10-01 10:00 +0300", "2026-11-05 10:00 +0200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := meetings.Series{ID: "s", RRule: tt.rule, Start: at(tt.start), Holidays: tt.holidays}
			slots, err := meetings.Slots(s, scheduler.ParseRRule, at(tt.from), at(tt.to))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, sl := range slots {
				if sl.Skipped {
					got = append(got, "skip "+sl.Orig.Format(layout))
					continue
				}
				got = append(got, sl.Start.Format(layout))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("occurrence %d = %s, want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestBeforeKeepsClockTimeForWholeDays(t *testing.T) {
	const layout = "2006-01-02 15:04 -0700"
	tests := []struct {
		name string
		t    string
		d    time.Duration
		want string
	}{
		{name: "a week before a meeting after the spring change is in winter time", t: "2026-04-02 10:00", d: 7 * 24 * time.Hour, want: "2026-03-26 10:00 +0200"},
		{name: "a week before a meeting after the autumn change is in summer time", t: "2026-10-29 10:00", d: 7 * 24 * time.Hour, want: "2026-10-22 10:00 +0300"},
		{name: "a day before, across the spring change", t: "2026-03-30 10:00", d: 24 * time.Hour, want: "2026-03-29 10:00 +0300"},
		{name: "a day before, across the autumn change", t: "2026-10-26 10:00", d: 24 * time.Hour, want: "2026-10-25 10:00 +0200"},
		{name: "hours are exact across the spring change", t: "2026-03-29 04:30", d: 2 * time.Hour, want: "2026-03-29 01:30 +0200"},
		{name: "an hour before across a month end", t: "2026-05-01 00:30", d: time.Hour, want: "2026-04-30 23:30 +0300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := meetings.Before(at(tt.t), tt.d).Format(layout); got != tt.want {
				t.Errorf("Before = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLithuanianPluralsInMeetingTexts(t *testing.T) {
	c := bot.MustLoadCatalog()
	tests := []struct {
		name, lang, id string
		n              int
		want           string
	}{
		{name: "1 dalyvis", lang: "lt", id: "meetings.summary.coming", n: 1, want: "ateis 1 dalyvis."},
		{name: "2 dalyviai", lang: "lt", id: "meetings.summary.coming", n: 2, want: "ateis 2 dalyviai."},
		{name: "10 dalyvių", lang: "lt", id: "meetings.summary.coming", n: 10, want: "ateis 10 dalyvių."},
		{name: "11 dalyvių", lang: "lt", id: "meetings.summary.coming", n: 11, want: "ateis 11 dalyvių."},
		{name: "21 dalyvis", lang: "lt", id: "meetings.summary.coming", n: 21, want: "ateis 21 dalyvis."},
		{name: "22 dalyviai", lang: "lt", id: "meetings.summary.coming", n: 22, want: "ateis 22 dalyviai."},
		{name: "po 1 dienos", lang: "lt", id: "meetings.head.in_days", n: 1, want: "po 1 dienos."},
		{name: "po 7 dienų", lang: "lt", id: "meetings.head.in_days", n: 7, want: "po 7 dienų."},
		{name: "pranešta 1 asmeniui", lang: "lt", id: "meetings.cancel.done", n: 1, want: "1 asmeniui."},
		{name: "pranešta 3 asmenims", lang: "lt", id: "meetings.cancel.done", n: 3, want: "3 asmenims."},
		{name: "pranešta 11 asmenų", lang: "lt", id: "meetings.cancel.done", n: 11, want: "11 asmenų."},
		{name: "1 participant", lang: "en", id: "meetings.summary.coming", n: 1, want: "1 participant is"},
		{name: "2 participants", lang: "en", id: "meetings.summary.coming", n: 2, want: "2 participants are"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.N(tt.lang, tt.id, tt.n); !contains(got, tt.want) {
				t.Errorf("%s(%d) = %q, want it to contain %q", tt.id, tt.n, got, tt.want)
			}
		})
	}
}
