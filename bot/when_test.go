package bot_test

import (
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
)

func TestParseDateTimeTheLithuanianWay(t *testing.T) {
	vilnius, _ := time.LoadLocation("Europe/Vilnius")
	now := time.Date(2026, 11, 22, 14, 0, 0, 0, vilnius)
	at := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, vilnius) }
	tests := []struct {
		name string
		in   string
		want time.Time
	}{
		{"iso", "2026-12-03 18:00", at(2026, 12, 3, 18, 0)},
		{"dotted date and dotted time", "2026.12.03 18.30", at(2026, 12, 3, 18, 30)},
		{"month and day", "12-03 18:00", at(2026, 12, 3, 18, 0)},
		{"genitive month", "gruodžio 3 18:00", at(2026, 12, 3, 18, 0)},
		{"genitive month with d. and val.", "gruodžio 3 d. 18 val.", at(2026, 12, 3, 18, 0)},
		{"without diacritics", "gruodzio 3 18:00", at(2026, 12, 3, 18, 0)},
		{"full Lithuanian form", "2027 m. sausio 5 d. 9:15", at(2027, 1, 5, 9, 15)},
		{"tomorrow", "rytoj 18:00", at(2026, 11, 23, 18, 0)},
		{"today", "šiandien 20:00", at(2026, 11, 22, 20, 0)},
		{"day after tomorrow", "poryt 8:00", at(2026, 11, 24, 8, 0)},
		{"yesterday", "vakar 21:30", at(2026, 11, 21, 21, 30)},
		{"a passed date without year is next year", "01-10 10:00", at(2027, 1, 10, 10, 0)},
		{"time alone later today", "19:00", at(2026, 11, 22, 19, 0)},
		{"time alone already passed is tomorrow", "09:00", at(2026, 11, 23, 9, 0)},
		{"english", "tomorrow 18:00", at(2026, 11, 23, 18, 0)},
		{"english day month", "3 december 18:00", at(2026, 12, 3, 18, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bot.ParseDateTime(tt.in, now)
			if err != nil {
				t.Fatalf("ParseDateTime(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseDateTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDateRejects(t *testing.T) {
	now := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	for _, in := range []string{"", "Jonas", "2026-02-30 10:00", "2026-12-03", "2026-12-03 25:00", "gruodžio 40 10:00", "rytoj vakare"} {
		if got, err := bot.ParseDateTime(in, now); err == nil {
			t.Errorf("ParseDateTime(%q) = %v, want an error", in, got)
		}
	}
}
