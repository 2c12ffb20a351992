package bot

import (
	"time"
)

// Calendar knows which days are working days and school days: Lithuanian public holidays
// (computed, including Easter and the other movable ones) and the school holidays from config.
type Calendar struct {
	SchoolHolidays []DateRange
}

// DateRange is an inclusive range of days.
type DateRange struct {
	From, To time.Time
}

// Easter returns Western Easter Sunday of year (the anonymous Gregorian algorithm).
func Easter(year int) time.Time {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}

// Holiday names the Lithuanian public holiday on day (in its own location), or "" if none.
// The names are catalog IDs.
func Holiday(day time.Time) string {
	y, m, d := day.Date()
	fixed := map[[2]int]string{
		{1, 1}: "holiday.new_year", {2, 16}: "holiday.statehood", {3, 11}: "holiday.independence",
		{5, 1}: "holiday.labour", {6, 24}: "holiday.midsummer", {7, 6}: "holiday.statehood_day",
		{8, 15}: "holiday.assumption", {11, 1}: "holiday.all_saints", {11, 2}: "holiday.all_souls",
		{12, 24}: "holiday.christmas_eve", {12, 25}: "holiday.christmas", {12, 26}: "holiday.christmas",
	}
	if name, ok := fixed[[2]int{int(m), d}]; ok {
		if name == "holiday.all_souls" && y < 2020 {
			return ""
		}
		return name
	}
	easter := Easter(y)
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	switch {
	case date.Equal(easter):
		return "holiday.easter"
	case date.Equal(easter.AddDate(0, 0, 1)):
		return "holiday.easter_monday"
	}
	// Mother's Day (first Sunday of May) and Father's Day (first Sunday of June) are public
	// holidays, but fall on Sundays.
	if date.Weekday() == time.Sunday && d <= 7 && (m == time.May || m == time.June) {
		return "holiday.parents_day"
	}
	return ""
}

// WorkingDay reports whether day is Monday to Friday and not a public holiday.
func (c *Calendar) WorkingDay(day time.Time) bool {
	wd := day.Weekday()
	return wd != time.Saturday && wd != time.Sunday && Holiday(day) == ""
}

// SchoolDay reports whether day is a working day outside the school holidays.
func (c *Calendar) SchoolDay(day time.Time) bool {
	if !c.WorkingDay(day) {
		return false
	}
	d := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	for _, r := range c.SchoolHolidays {
		from := time.Date(r.From.Year(), r.From.Month(), r.From.Day(), 0, 0, 0, 0, time.UTC)
		to := time.Date(r.To.Year(), r.To.Month(), r.To.Day(), 0, 0, 0, 0, time.UTC)
		if !d.Before(from) && !d.After(to) {
			return false
		}
	}
	return true
}

// NextSchoolDayAt returns the first school day strictly after t's day, at the given local clock
// time; or t's own day when t is a school day before that time.
func (c *Calendar) NextSchoolDayAt(t time.Time, hour, minute int) time.Time {
	day := time.Date(t.Year(), t.Month(), t.Day(), hour, minute, 0, 0, t.Location())
	if c.SchoolDay(day) && t.Before(day) {
		return day
	}
	for i := 1; i < 400; i++ {
		d := time.Date(t.Year(), t.Month(), t.Day()+i, hour, minute, 0, 0, t.Location())
		if c.SchoolDay(d) {
			return d
		}
	}
	return day.AddDate(0, 0, 1)
}

// NextWorkingDay returns the first working day on or after day, at the same clock time.
func (c *Calendar) NextWorkingDay(day time.Time) time.Time {
	for i := 0; i < 30; i++ {
		d := time.Date(day.Year(), day.Month(), day.Day()+i, day.Hour(), day.Minute(), 0, 0, day.Location())
		if c.WorkingDay(d) {
			return d
		}
	}
	return day
}

// PrevWorkingDay returns the last working day on or before day, at the same clock time: where a
// deadline that would fall on a weekend or a public holiday goes.
func (c *Calendar) PrevWorkingDay(day time.Time) time.Time {
	for i := 0; i < 30; i++ {
		d := time.Date(day.Year(), day.Month(), day.Day()-i, day.Hour(), day.Minute(), day.Second(), 0, day.Location())
		if c.WorkingDay(d) {
			return d
		}
	}
	return day
}

// Recurrence yields the occurrences of a recurring event (an RRULE with its start).
type Recurrence interface {
	// Between returns the occurrences in [after, before), in order.
	Between(after, before time.Time) []time.Time
}

// RecurrenceParser turns an RFC 5545 RRULE and its first start (local time) into a Recurrence.
// The scheduler package provides it, so that bot needs no RRULE library.
type RecurrenceParser func(rule string, start time.Time) (Recurrence, error)
