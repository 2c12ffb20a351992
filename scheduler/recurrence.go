package scheduler

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/teambition/rrule-go"

	"github.com/tiltas/tiltas/bot"
)

// RRule is an RFC 5545 recurrence rule anchored at its first start, in local time: "first
// Thursday at 10:00" stays 10:00 in Europe/Vilnius across DST changes.
type RRule struct {
	rule *rrule.RRule
}

var (
	_ bot.Recurrence = (*RRule)(nil)
	_ cron.Schedule  = (*RRule)(nil)
)

// ParseRRule reads rule ("FREQ=MONTHLY;BYDAY=1TH", with or without an "RRULE:" prefix) starting
// at start. It has the signature of bot.RecurrenceParser.
func ParseRRule(rule string, start time.Time) (bot.Recurrence, error) {
	r, err := NewRRule(rule, start)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// NewRRule is ParseRRule returning the concrete type.
func NewRRule(rule string, start time.Time) (*RRule, error) {
	opt, err := rrule.StrToROption(strings.TrimPrefix(rule, "RRULE:"))
	if err != nil {
		return nil, fmt.Errorf("rrule %q: %w", rule, err)
	}
	opt.Dtstart = start
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, fmt.Errorf("rrule %q: %w", rule, err)
	}
	return &RRule{rule: r}, nil
}

// Between returns the occurrences in [after, before).
func (r *RRule) Between(after, before time.Time) []time.Time {
	out := r.rule.Between(after, before, true)
	if len(out) > 0 && !out[len(out)-1].Before(before) {
		out = out[:len(out)-1]
	}
	return out
}

// Next returns the first occurrence after t, or the zero time when there is none (a cron.Schedule).
func (r *RRule) Next(t time.Time) time.Time {
	return r.rule.After(t, false)
}

// String returns the rule as RFC 5545 text.
func (r *RRule) String() string { return r.rule.String() }
