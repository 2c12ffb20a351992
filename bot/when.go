package bot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Month names as people type them: Lithuanian genitive and nominative, English, with and without
// diacritics.
var monthWords = map[string]time.Month{}

func init() {
	names := [][]string{
		{"sausio", "sausis", "january", "jan"},
		{"vasario", "vasaris", "february", "feb"},
		{"kovo", "kovas", "march", "mar"},
		{"balandžio", "balandis", "april", "apr"},
		{"gegužės", "gegužė", "may"},
		{"birželio", "birželis", "june", "jun"},
		{"liepos", "liepa", "july", "jul"},
		{"rugpjūčio", "rugpjūtis", "august", "aug"},
		{"rugsėjo", "rugsėjis", "september", "sep"},
		{"spalio", "spalis", "october", "oct"},
		{"lapkričio", "lapkritis", "november", "nov"},
		{"gruodžio", "gruodis", "december", "dec"},
	}
	for i, ns := range names {
		for _, n := range ns {
			monthWords[n] = time.Month(i + 1)
			monthWords[foldLT(n)] = time.Month(i + 1)
		}
	}
}

var ltFold = strings.NewReplacer("ą", "a", "č", "c", "ę", "e", "ė", "e", "į", "i", "š", "s", "ų", "u", "ū", "u", "ž", "z")

func foldLT(s string) string { return ltFold.Replace(strings.ToLower(s)) }

// Fold lowercases s and drops Lithuanian diacritics, for matching what people type.
func Fold(s string) string { return foldLT(s) }

var (
	reISO      = regexp.MustCompile(`^(\d{4})[-. /](\d{1,2})[-. /](\d{1,2})\.?$`)
	reMD       = regexp.MustCompile(`^(\d{1,2})[-./](\d{1,2})\.?$`)
	reDayMonth = regexp.MustCompile(`^(\d{1,2})$`)
	reClock    = regexp.MustCompile(`^(\d{1,2})(?:[:.](\d{2}))?(?:val\.?|h)?$`)
)

// ParseDate reads a date typed the Lithuanian way ("2026-12-03", "2026.12.03", "12-03",
// "gruodžio 3", "gruodžio 3 d.", "šiandien", "rytoj", "poryt", "vakar"; English words work too) relative to
// now, in now's location. A date without a year that has passed this year means next year.
func ParseDate(s string, now time.Time) (time.Time, error) {
	d, rest, err := parseDatePart(strings.Fields(foldLT(s)), now)
	if err != nil {
		return time.Time{}, err
	}
	if len(rest) > 0 {
		return time.Time{}, fmt.Errorf("%w: unexpected %q", ErrInvalid, strings.Join(rest, " "))
	}
	return d, nil
}

// ParseDateTime reads a date followed by a time ("2026-12-03 18:00", "rytoj 18 val.",
// "gruodžio 3 d. 18.30"). A time alone means today, or tomorrow once it has passed.
func ParseDateTime(s string, now time.Time) (time.Time, error) {
	words := strings.Fields(foldLT(s))
	if len(words) == 1 {
		if h, m, err := parseClockWords(words); err == nil {
			t := time.Date(now.Year(), now.Month(), now.Day(), h, m, 0, 0, now.Location())
			if !t.After(now) {
				t = time.Date(now.Year(), now.Month(), now.Day()+1, h, m, 0, 0, now.Location())
			}
			return t, nil
		}
	}
	d, rest, err := parseDatePart(words, now)
	if err != nil {
		return time.Time{}, err
	}
	if len(rest) == 0 {
		return time.Time{}, fmt.Errorf("%w: time missing", ErrInvalid)
	}
	h, m, err := parseClockWords(rest)
	if err != nil {
		return time.Time{}, err
	}
	return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, now.Location()), nil
}

// ParseClock reads a time of day ("18:00", "18.30", "18 val.").
func ParseClock(s string) (hour, minute int, err error) {
	return parseClockWords(strings.Fields(foldLT(s)))
}

func parseClockWords(words []string) (int, int, error) {
	s := strings.Join(words, "")
	s = strings.TrimPrefix(s, "at")
	m := reClock.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, fmt.Errorf("%w: not a time: %q", ErrInvalid, s)
	}
	h, _ := strconv.Atoi(m[1])
	mi := 0
	if m[2] != "" {
		mi, _ = strconv.Atoi(m[2])
	}
	if h > 23 || mi > 59 {
		return 0, 0, fmt.Errorf("%w: not a time: %q", ErrInvalid, s)
	}
	return h, mi, nil
}

func parseDatePart(words []string, now time.Time) (time.Time, []string, error) {
	if len(words) == 0 {
		return time.Time{}, nil, fmt.Errorf("%w: empty date", ErrInvalid)
	}
	day := func(y int, mo time.Month, d int) (time.Time, error) {
		// Years of this work only: before 1900 Vilnius kept local mean time (+01:41:16), which
		// a stored RFC 3339 time cannot say.
		if y < 1900 || y > 2999 {
			return time.Time{}, fmt.Errorf("%w: year out of range", ErrInvalid)
		}
		t := time.Date(y, mo, d, 0, 0, 0, 0, now.Location())
		if t.Month() != mo || t.Day() != d {
			return time.Time{}, fmt.Errorf("%w: no such day", ErrInvalid)
		}
		return t, nil
	}
	noYear := func(mo time.Month, d int) (time.Time, error) {
		t, err := day(now.Year(), mo, d)
		if err == nil && t.Before(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())) {
			t, err = day(now.Year()+1, mo, d)
		}
		return t, err
	}
	w := words[0]
	switch w {
	case "siandien", "today":
		t, err := day(now.Year(), now.Month(), now.Day())
		return t, words[1:], err
	case "rytoj", "tomorrow":
		t, err := day(now.Year(), now.Month(), now.Day()+1)
		if err != nil { // day+1 overflows into next month: normalise
			t = time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, now.Location())
			err = nil
		}
		return t, words[1:], err
	case "poryt":
		return time.Date(now.Year(), now.Month(), now.Day()+2, 0, 0, 0, 0, now.Location()), words[1:], nil
	case "vakar", "yesterday":
		return time.Date(now.Year(), now.Month(), now.Day()-1, 0, 0, 0, 0, now.Location()), words[1:], nil
	case "uzvakar":
		return time.Date(now.Year(), now.Month(), now.Day()-2, 0, 0, 0, 0, now.Location()), words[1:], nil
	}
	if m := reISO.FindStringSubmatch(w); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		t, err := day(y, time.Month(mo), d)
		return t, words[1:], err
	}
	// "2026 m. gruodžio 3 d."
	if len(words) >= 4 && len(w) == 4 && isDigits(w) && (words[1] == "m." || words[1] == "m") {
		y, err := strconv.Atoi(w)
		if mo, ok := monthWords[words[2]]; ok && err == nil {
			if d, err := strconv.Atoi(strings.TrimSuffix(words[3], ".")); err == nil {
				rest := words[4:]
				if len(rest) > 0 && (rest[0] == "d." || rest[0] == "d") {
					rest = rest[1:]
				}
				t, err := day(y, mo, d)
				return t, rest, err
			}
		}
	}
	if m := reMD.FindStringSubmatch(w); m != nil {
		mo, _ := strconv.Atoi(m[1])
		d, _ := strconv.Atoi(m[2])
		t, err := noYear(time.Month(mo), d)
		return t, words[1:], err
	}
	// "gruodžio 3 d." or "3 december"
	if mo, ok := monthWords[w]; ok && len(words) >= 2 {
		if d, err := strconv.Atoi(strings.TrimSuffix(words[1], ".")); err == nil {
			rest := words[2:]
			if len(rest) > 0 && (rest[0] == "d." || rest[0] == "d") {
				rest = rest[1:]
			}
			t, err := noYear(mo, d)
			return t, rest, err
		}
	}
	if reDayMonth.MatchString(w) && len(words) >= 2 {
		if mo, ok := monthWords[words[1]]; ok {
			d, _ := strconv.Atoi(w)
			t, err := noYear(mo, d)
			return t, words[2:], err
		}
	}
	return time.Time{}, nil, fmt.Errorf("%w: not a date: %q", ErrInvalid, strings.Join(words, " "))
}

// isDigits reports whether s is ASCII digits only (strconv.Atoi also takes a sign).
func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
