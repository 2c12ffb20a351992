package requests

import (
	"context"
	"slices"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// registerSubject adds the flow's part of data-subject exports and erasures: a case's requests
// whole (their questions and answers are details of the case); a person's involvement (asker,
// holder) as IDs and times. Erasing a case deletes its requests, their copies, timers and
// retention entry.
func (f *Flow) registerSubject() {
	f.e.OnExport("requests", f.exportSubject)
	f.e.OnErase("requests", f.eraseSubject)
}

type involvement struct {
	ID      string    `json:"id"`
	Case    string    `json:"case"`
	Created time.Time `json:"created"`
	State   string    `json:"state"`
	Events  []Event   `json:"events"`
}

func (f *Flow) exportSubject(ctx context.Context, s bot.Subject) (any, error) {
	if s.Case != "" {
		out := []Request{}
		err := f.reqs.Each(ctx, func(q *Request) error {
			if q.Case == s.Case {
				cp := *q
				cp.Fx = bot.Ledger{}
				out = append(out, cp)
			}
			return nil
		})
		return out, err
	}
	out := []involvement{}
	err := f.reqs.Each(ctx, func(q *Request) error {
		var evs []Event
		for _, ev := range q.Timeline {
			if ev.Actor == s.Person || slices.Contains(ev.To, s.Person) {
				evs = append(evs, ev)
			}
		}
		if q.Asker == s.Person || len(evs) > 0 {
			out = append(out, involvement{ID: q.ID, Case: q.Case, Created: q.Created, State: q.State, Events: evs})
		}
		return nil
	})
	return out, err
}

func (f *Flow) eraseSubject(ctx context.Context, s bot.Subject) (bot.Erased, error) {
	var x bot.Erased
	if s.Case == "" {
		return x, nil
	}
	err := f.reqs.Each(ctx, func(q *Request) error {
		if q.Case != s.Case {
			return nil
		}
		if err := f.e.Copies(key(q.ID)).Remove(ctx); err != nil {
			return err
		}
		if err := f.e.Unretain(ctx, key(q.ID)); err != nil {
			return err
		}
		if err := f.reqs.Delete(ctx, q.ID); err != nil {
			return err
		}
		x.Delete(key(q.ID))
		return nil
	})
	return x, err
}
