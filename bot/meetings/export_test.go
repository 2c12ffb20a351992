package meetings

import (
	"context"

	"github.com/tiltas/tiltas/bot"
)

// PlannedTimers returns the timers occurrence id has pending, so that tests can fire one again
// as a crashed replica would.
func (f *Flow) PlannedTimers(ctx context.Context, id string) ([]bot.Timer, error) {
	o, s, err := f.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return f.occTimers(s, &o), nil
}

// Answer returns person's answer to occurrence id ("" when none).
func (f *Flow) Answer(ctx context.Context, id, person string) (string, error) {
	o, _, err := f.load(ctx, id)
	return o.RSVP[person].Answer, err
}

// Cancelled reports whether occurrence id is cancelled.
func (f *Flow) Cancelled(ctx context.Context, id string) (bool, error) {
	o, _, err := f.load(ctx, id)
	return o.Cancelled, err
}

// Agenda returns the agenda items of occurrence id in order.
func (f *Flow) Agenda(ctx context.Context, id string) ([]string, error) {
	o, _, err := f.load(ctx, id)
	var out []string
	for _, it := range o.Agenda {
		out = append(out, it.Text)
	}
	return out, err
}
