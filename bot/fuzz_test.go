package bot

// Internal, unlike the package's other tests: FuzzDialogAnswer drives Engine.answer, which
// parses and normalises every dialog answer (counts included) and is not exported.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var fuzzVilnius = func() *time.Location {
	l, err := time.LoadLocation("Europe/Vilnius")
	if err != nil {
		panic(err)
	}
	return l
}()

// fuzzNow is the moment the fuzzer's minutes stand for: from 2024-01-01 00:00 in Vilnius, within
// ten years, so that month ends, leap days and both DST changes come up.
func fuzzNow(minutes uint32) time.Time {
	const span = 10 * 366 * 24 * 60
	return time.Date(2024, 1, 1, 0, 0, 0, 0, fuzzVilnius).Add(time.Duration(minutes%span) * time.Minute).Add(17 * time.Second)
}

func fuzzMidnight(t time.Time, days int) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day()+days, 0, 0, 0, 0, t.Location())
}

var reFuzzMonthDay = regexp.MustCompile(`^\d{1,2}[-./]\d{1,2}\.?$`)

// FuzzParseDate: what ParseDate accepts is a midnight in now's zone, in a four-digit year, which
// reads back the same from the form dialogs store it in (2006-01-02); the relative words are the
// days they name; a month and day without a year is today or within the year ahead.
func FuzzParseDate(f *testing.F) {
	f.Add("2026-12-24", uint32(0))
	f.Add("rytoj", uint32(525599))
	f.Add("12-24", uint32(1000000))
	f.Fuzz(func(t *testing.T, s string, minutes uint32) {
		now := fuzzNow(minutes)
		d, err := ParseDate(s, now)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseDate(%q): error %v is not ErrInvalid", s, err)
			}
			return
		}
		if d.Location() != fuzzVilnius || d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 || d.Nanosecond() != 0 {
			t.Fatalf("ParseDate(%q) = %v, not a midnight in Vilnius", s, d)
		}
		if d.Year() < 0 || d.Year() > 9999 {
			t.Fatalf("ParseDate(%q) = %v: a year dialogs cannot store", s, d)
		}
		iso := d.Format("2006-01-02")
		if back, err := ParseDate(iso, now); err != nil || !back.Equal(d) {
			t.Fatalf("ParseDate(%q) = %v, stored as %q, which reads back as %v (%v)", s, d, iso, back, err)
		}
		words := strings.Fields(Fold(s))
		want, relative := map[string]int{"siandien": 0, "today": 0, "rytoj": 1, "tomorrow": 1, "poryt": 2, "vakar": -1, "yesterday": -1, "uzvakar": -2}[words[0]]
		if relative && len(words) == 1 && !d.Equal(fuzzMidnight(now, want)) {
			t.Fatalf("ParseDate(%q) at %v = %v, want %v", s, now, d, fuzzMidnight(now, want))
		}
		if reFuzzMonthDay.MatchString(strings.TrimSpace(Fold(s))) && (d.Before(fuzzMidnight(now, 0)) || !d.Before(fuzzMidnight(now, 367))) {
			t.Fatalf("ParseDate(%q) at %v = %v, not within the year ahead", s, now, d)
		}
	})
}

// FuzzParseDateTime: what ParseDateTime accepts is a whole minute in now's zone, in a four-digit
// year, which reads back the same from its "2006-01-02 15:04" form; a time alone is the next
// such time after now, within a day.
func FuzzParseDateTime(f *testing.F) {
	f.Add("2026-12-03 18:00", uint32(0))
	f.Add("rytoj 18 val.", uint32(12345))
	f.Add("09:00", uint32(4000000))
	f.Fuzz(func(t *testing.T, s string, minutes uint32) {
		now := fuzzNow(minutes)
		d, err := ParseDateTime(s, now)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseDateTime(%q): error %v is not ErrInvalid", s, err)
			}
			return
		}
		if d.Location() != fuzzVilnius || d.Second() != 0 || d.Nanosecond() != 0 {
			t.Fatalf("ParseDateTime(%q) = %v, not a whole minute in Vilnius", s, d)
		}
		if d.Year() < 0 || d.Year() > 9999 {
			t.Fatalf("ParseDateTime(%q) = %v: a year dialogs cannot store", s, d)
		}
		form := d.Format("2006-01-02 15:04")
		if back, err := ParseDateTime(form, now); err != nil || !back.Equal(d) {
			t.Fatalf("ParseDateTime(%q) = %v, written %q, which reads back as %v (%v)", s, d, form, back, err)
		}
		if stored := (Answers{"at": d.Format(time.RFC3339)}).Time("at", fuzzVilnius); !stored.Equal(d) {
			t.Fatalf("ParseDateTime(%q) = %v, stored and read as %v", s, d, stored)
		}
		if words := strings.Fields(Fold(s)); len(words) == 1 {
			if _, _, err := ParseClock(s); err == nil && (!d.After(now) || d.Sub(now) > 25*time.Hour) {
				t.Fatalf("ParseDateTime(%q) at %v = %v, not the next such time", s, now, d)
			}
		}
	})
}

// FuzzParseClock: what ParseClock accepts is a time of day, which reads back the same from the
// form dialogs store ("15:04") and from "15 val.".
func FuzzParseClock(f *testing.F) {
	f.Add("18:30")
	f.Add("18 val.")
	f.Add("at 7h")
	f.Fuzz(func(t *testing.T, s string) {
		h, m, err := ParseClock(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseClock(%q): error %v is not ErrInvalid", s, err)
			}
			return
		}
		if h < 0 || h > 23 || m < 0 || m > 59 {
			t.Fatalf("ParseClock(%q) = %d:%d", s, h, m)
		}
		for _, form := range []string{fmt.Sprintf("%02d:%02d", h, m), fmt.Sprintf("%d.%02d", h, m)} {
			if h2, m2, err := ParseClock(form); err != nil || h2 != h || m2 != m {
				t.Fatalf("ParseClock(%q) = %d:%02d, written %q, which reads back as %d:%02d (%v)", s, h, m, form, h2, m2, err)
			}
		}
		if m == 0 {
			if h2, m2, err := ParseClock(strconv.Itoa(h) + " val."); err != nil || h2 != h || m2 != 0 {
				t.Fatalf("ParseClock(%q) = %d:00, but %d val. reads as %d:%02d (%v)", s, h, h, h2, m2, err)
			}
		}
	})
}

var reFuzzStoredClock = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d$`)

// FuzzDialogAnswer types text as the answer to a dialog step of each kind. A refusal is a
// Problem to show the person (never another error); an accepted answer is normalised as
// Answers documents (a count within the step's Min..Max, dates as 2006-01-02, times as RFC 3339
// equal to what ParseDateTime read, clocks as 15:04, "yes" or "no", a valid case code, trimmed
// text within MaxLen, an option's value), and answering the normalised value again gives it back.
func FuzzDialogAnswer(f *testing.F) {
	now := fuzzNow(0)
	e := NewEngine(Deps{Clock: ClockFunc(func() time.Time { return now })}, Settings{}, (&Directory{Location: fuzzVilnius, Language: "lt"}).Index())
	options := []Option{{Value: "police", Label: "Policija"}, {Value: "school", Label: "Mokykla"}, {Value: "3", Label: "Vaiko teisės"}}
	kinds := []StepKind{AskCount, AskDate, AskDateTime, AskClock, AskConfirm, AskText, AskCase, AskChoice}
	f.Add("3", uint8(0), int16(1), int16(10), false, uint32(0))
	f.Add("gruodžio 24 d.", uint8(1), int16(0), int16(0), false, uint32(9999))
	f.Add(" Policija ", uint8(7), int16(0), int16(0), false, uint32(0))
	f.Fuzz(func(t *testing.T, text string, kind uint8, lo, hi int16, optional bool, minutes uint32) {
		now = fuzzNow(minutes)
		s := &Step{Name: "x", Kind: kinds[int(kind)%len(kinds)], Min: int(lo), Max: int(hi), Optional: optional,
			Options: func(*Request, Answers) []Option { return options }}
		if s.Kind == AskText {
			s.MaxLen = int(hi)
		}
		ctx := context.Background()
		answer := func(text string, pressed bool) (string, error) {
			return e.answer(ctx, nil, s, text, Answers{}, pressed)
		}
		v, err := answer(text, false)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || !strings.HasPrefix(p.ID, "dialog.bad.") {
				t.Fatalf("kind %d, %q: error %v, want a dialog.bad.* problem", s.Kind, text, err)
			}
			return
		}
		again := true
		switch s.Kind {
		case AskCount:
			n, err := strconv.Atoi(v)
			if err != nil || v != strconv.Itoa(n) || n < s.Min || n > s.Max {
				t.Fatalf("count %q in %d..%d stored as %q", text, s.Min, s.Max, v)
			}
		case AskDate:
			if _, err := time.ParseInLocation("2006-01-02", v, fuzzVilnius); err != nil {
				t.Fatalf("date %q stored as %q: %v", text, v, err)
			}
		case AskDateTime:
			want, err := ParseDateTime(strings.TrimSpace(text), now)
			if got := (Answers{"x": v}).Time("x", fuzzVilnius); err != nil || !got.Equal(want) {
				t.Fatalf("date and time %q stored as %q, read as %v, want %v (%v)", text, v, got, want, err)
			}
			again = false // RFC 3339 is how it is stored, not how people type it
		case AskClock:
			if !reFuzzStoredClock.MatchString(v) {
				t.Fatalf("clock %q stored as %q", text, v)
			}
		case AskConfirm:
			if v != "yes" && v != "no" {
				t.Fatalf("confirmation %q stored as %q", text, v)
			}
		case AskText:
			want := strings.TrimSpace(text)
			if optional && want == "-" {
				want = ""
			}
			if v != want || utf8.RuneCountInString(v) > s.maxLen() || v == "" && !optional {
				t.Fatalf("text %q (max %d, optional %v) stored as %q", text, s.maxLen(), optional, v)
			}
			again = v != ""
		case AskCase:
			if !e.ValidCaseCode(v) || v != strings.ToUpper(strings.TrimSpace(text)) {
				t.Fatalf("case %q stored as %q", text, v)
			}
		case AskChoice:
			found := false
			for _, o := range options {
				found = found || o.Value == v
			}
			if !found {
				t.Fatalf("choice %q stored as %q, not an option", text, v)
			}
			if back, err := answer(v, true); err != nil || back != v {
				t.Fatalf("choice %q stored as %q; pressing it gives %q (%v)", text, v, back, err)
			}
		}
		if again {
			if back, err := answer(v, false); err != nil || back != v {
				t.Fatalf("kind %d: %q stored as %q, which answers as %q (%v)", s.Kind, text, v, back, err)
			}
		}
	})
}
