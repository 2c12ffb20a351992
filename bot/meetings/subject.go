package meetings

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// registerSubject adds the flow's part of data-subject requests. Meetings carry no case details,
// so a case has nothing here. A person's part is their answers (RSVPs, and whom they sent or were
// sent for), the agenda items and minutes they wrote, the series they organize, and their calendar
// feed. Erasing a person deletes their answers and feed tokens; agenda items and minutes are about
// the meetings and stay, with the person's ID.
func (f *Flow) registerSubject() {
	f.e.OnExport("meetings", f.exportSubject)
	f.e.OnErase("meetings", f.eraseSubject)
}

type rsvpExport struct {
	Occurrence string    `json:"occurrence"`
	Answer     string    `json:"answer"`
	Deputy     string    `json:"deputy,omitempty"`
	At         time.Time `json:"at"`
}

type itemExport struct {
	Occurrence string    `json:"occurrence"`
	Text       string    `json:"text"`
	At         time.Time `json:"at"`
}

type deputyExport struct {
	Occurrence string `json:"occurrence"`
	For        string `json:"for"`
}

type seriesExport struct {
	Series string `json:"series"`
	As     string `json:"as"`
}

type meetingsExport struct {
	RSVPs     []rsvpExport   `json:"rsvps"`
	DeputyFor []deputyExport `json:"deputy_for,omitempty"`
	Agenda    []itemExport   `json:"agenda_items,omitempty"`
	Minutes   []string       `json:"minutes_of,omitempty"`
	Series    []seriesExport `json:"series,omitempty"`
	Feed      *time.Time     `json:"calendar_feed_issued,omitempty"`
}

// eachOcc calls fn with every stored occurrence.
func (f *Flow) eachOcc(ctx context.Context, fn func(o *occurrence) error) error {
	return f.occs.Each(ctx, fn)
}

func (f *Flow) exportSubject(ctx context.Context, s bot.Subject) (any, error) {
	if s.Person == "" {
		return nil, nil
	}
	p := s.Person
	out := meetingsExport{RSVPs: []rsvpExport{}}
	err := f.eachOcc(ctx, func(o *occurrence) error {
		if a, ok := o.RSVP[p]; ok {
			out.RSVPs = append(out.RSVPs, rsvpExport{Occurrence: o.ID, Answer: a.Answer, Deputy: a.Deputy, At: a.At})
		}
		if who := deputyFor(o, p); who != "" {
			out.DeputyFor = append(out.DeputyFor, deputyExport{Occurrence: o.ID, For: who})
		}
		for _, it := range o.Agenda {
			if it.By == p {
				out.Agenda = append(out.Agenda, itemExport{Occurrence: o.ID, Text: it.Text, At: it.At})
			}
		}
		if o.MinutesBy == p {
			out.Minutes = append(out.Minutes, o.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = f.sers.Each(ctx, func(sr *seriesRec) error {
		switch {
		case sr.CreatedBy == p:
			out.Series = append(out.Series, seriesExport{Series: sr.ID, As: "creator"})
		case slices.Contains(sr.Organizers, p):
			out.Series = append(out.Series, seriesExport{Series: sr.ID, As: "organizer"})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = f.feedTokens(ctx, p, func(_ string, ft feedToken) error {
		out.Feed = &ft.Issued
		return nil
	})
	return out, err
}

// feedTokens calls fn with every calendar feed token of person, by the token's hash.
func (f *Flow) feedTokens(ctx context.Context, person string, fn func(hash string, ft feedToken) error) error {
	return f.feeds.Each(ctx, func(h string, ft *feedToken) error {
		if ft.Person != person {
			return nil
		}
		return fn(h, *ft)
	})
}

// eraseSubject deletes a person's answers from every occurrence (the copies of meetings still
// ahead show the change) and their calendar feed, whose link stops working.
func (f *Flow) eraseSubject(ctx context.Context, s bot.Subject) (bot.Erased, error) {
	var x bot.Erased
	if s.Person == "" {
		return x, nil
	}
	p := s.Person
	var ids []string
	err := f.eachOcc(ctx, func(o *occurrence) error {
		if _, ok := o.RSVP[p]; ok {
			ids = append(ids, o.ID)
		}
		return nil
	})
	if err != nil {
		return x, err
	}
	for _, id := range ids {
		_, _, err := f.update(ctx, id, "", func(o *occurrence, _ *seriesRec) error {
			if _, ok := o.RSVP[p]; !ok {
				return errDone
			}
			delete(o.RSVP, p)
			return nil
		})
		if errors.Is(err, errDone) || errors.Is(err, bot.ErrNotFound) {
			continue
		}
		if err != nil {
			return x, err
		}
		x.Change(occKey(id))
	}
	err = f.feedTokens(ctx, p, func(h string, _ feedToken) error {
		if err := f.feeds.Delete(ctx, h); err != nil {
			return err
		}
		x.Delete(f.feeds.Record(h))
		return nil
	})
	if err != nil {
		return x, err
	}
	if _, err := f.feedOf.Get(ctx, p); err == nil {
		if err := f.feedOf.Delete(ctx, p); err != nil {
			return x, err
		}
		x.Delete(f.feedOf.Record(p))
	} else if !errors.Is(err, bot.ErrNotFound) {
		return x, err
	}
	return x, nil
}
