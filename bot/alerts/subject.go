package alerts

import (
	"context"
	"slices"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// registerSubject adds the flow's part of data-subject exports and erasures. A case's alerts
// (their text and outcome are details of the case) are exported whole and erased with their
// timers, copies and retention entry. A person's part is their involvement (sender, recipient,
// acknowledger, resolver) in alerts: IDs and times, no case details. Erasing a person leaves the
// alerts, which are records about cases, with the person's ID.
func (f *Flow) registerSubject() {
	f.e.OnExport("alerts", f.exportSubject)
	f.e.OnErase("alerts", f.eraseSubject)
}

// involvement is one alert as it concerns a person.
type involvement struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Case    string    `json:"case"`
	Created time.Time `json:"created"`
	State   string    `json:"state"`
	As      []string  `json:"as"`
	Events  []Event   `json:"events,omitempty"`
}

// each calls fn with every stored alert.
func (f *Flow) each(ctx context.Context, fn func(a *Alert) error) error {
	return f.alerts.Each(ctx, fn)
}

func (f *Flow) exportSubject(ctx context.Context, s bot.Subject) (any, error) {
	if s.Case != "" {
		out := []Alert{}
		err := f.each(ctx, func(a *Alert) error {
			if a.Case == s.Case {
				out = append(out, *a)
			}
			return nil
		})
		return out, err
	}
	out := []involvement{}
	err := f.each(ctx, func(a *Alert) error {
		var as []string
		for _, c := range []struct {
			ok   bool
			role string
		}{
			{a.Sender == s.Person, "sender"},
			{slices.Contains(a.Reached, s.Person), "recipient"},
			{a.AckBy == s.Person, "acknowledger"},
			{a.ResolvedBy == s.Person, "resolver"},
		} {
			if c.ok {
				as = append(as, c.role)
			}
		}
		var evs []Event
		for _, ev := range a.Timeline {
			if ev.Actor == s.Person || slices.Contains(ev.To, s.Person) {
				evs = append(evs, ev)
			}
		}
		if len(as) > 0 || len(evs) > 0 {
			out = append(out, involvement{ID: a.ID, Kind: a.Kind, Case: a.Case, Created: a.Created, State: a.State, As: as, Events: evs})
		}
		return nil
	})
	return out, err
}

// eraseSubject deletes a case's alerts: their timers stop, every copy in people's chats and
// groups becomes a "removed" line, and the record goes with its indexes and retention entry.
func (f *Flow) eraseSubject(ctx context.Context, s bot.Subject) (bot.Erased, error) {
	var x bot.Erased
	if s.Case == "" {
		return x, nil
	}
	err := f.each(ctx, func(a *Alert) error {
		if a.Case != s.Case {
			return nil
		}
		if err := f.e.Copies(key(a.ID)).Remove(ctx); err != nil {
			return err
		}
		entered := a.Steps
		if a.Round == 0 && a.Step+1 < len(a.Steps) {
			entered = a.Steps[:a.Step+1]
		}
		var groups []string
		for _, st := range entered {
			for _, g := range st.Groups {
				if !slices.Contains(groups, g) {
					groups = append(groups, g)
					if err := f.e.RemoveMessage(ctx, groupRef(a.ID, g), ""); err != nil {
						return err
					}
				}
			}
		}
		if err := f.e.Unretain(ctx, key(a.ID)); err != nil {
			return err
		}
		if err := f.alerts.Delete(ctx, a.ID); err != nil {
			return err
		}
		x.Delete(key(a.ID))
		return nil
	})
	return x, err
}
