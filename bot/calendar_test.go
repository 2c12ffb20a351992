package bot_test

import (
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestLithuanianHolidays(t *testing.T) {
	tests := []struct {
		name string
		day  time.Time
		want string
	}{
		{"Easter 2026", day(2026, 4, 5), "holiday.easter"},
		{"Easter Monday 2026", day(2026, 4, 6), "holiday.easter_monday"},
		{"Easter Monday 2027", day(2027, 3, 29), "holiday.easter_monday"},
		{"Easter Monday 2025", day(2025, 4, 21), "holiday.easter_monday"},
		{"February 16", day(2026, 2, 16), "holiday.statehood"},
		{"All Souls since 2020", day(2026, 11, 2), "holiday.all_souls"},
		{"Christmas Eve", day(2026, 12, 24), "holiday.christmas_eve"},
		{"Mother's Day 2026", day(2026, 5, 3), "holiday.parents_day"},
		{"an ordinary Thursday", day(2026, 12, 3), ""},
		{"the Monday after Easter Monday", day(2026, 4, 13), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bot.Holiday(tt.day); got != tt.want {
				t.Errorf("Holiday(%s) = %q, want %q", tt.day.Format("2006-01-02"), got, tt.want)
			}
		})
	}
}

func TestNextSchoolDay(t *testing.T) {
	vilnius, _ := time.LoadLocation("Europe/Vilnius")
	cal := &bot.Calendar{SchoolHolidays: []bot.DateRange{{From: day(2026, 12, 24), To: day(2027, 1, 2)}}}
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, vilnius) }
	tests := []struct {
		name string
		from time.Time
		want time.Time
	}{
		{"Friday evening → Monday 08:00", at(2026, 11, 27, 20), at(2026, 11, 30, 8)},
		{"Monday early morning → same day", at(2026, 11, 30, 6), at(2026, 11, 30, 8)},
		{"Monday after 08:00 → Tuesday", at(2026, 11, 30, 9), at(2026, 12, 1, 8)},
		{"school holidays are skipped", at(2026, 12, 23, 20), at(2027, 1, 4, 8)},
		{"Easter Monday is skipped", at(2026, 4, 3, 20), at(2026, 4, 7, 8)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cal.NextSchoolDayAt(tt.from, 8, 0); !got.Equal(tt.want) {
				t.Errorf("NextSchoolDayAt(%v) = %v, want %v", tt.from, got, tt.want)
			}
		})
	}
}
