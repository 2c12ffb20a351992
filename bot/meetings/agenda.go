package meetings

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/tiltas/tiltas/bot"
)

func (f *Flow) registerAgenda() {
	f.e.Action("meetings.agenda.add", func(ctx context.Context, r *bot.Request, a bot.Action) error {
		return f.startAgendaAdd(ctx, r, a.Ref)
	})
	f.e.Dialog(&bot.Dialog{Name: "meetings.agenda_add", Title: "meetings.agenda.add_title",
		Steps: []bot.Step{{Name: "text", Kind: bot.AskText, Prompt: "meetings.agenda.prompt", MaxLen: f.cfg.AgendaMax}},
		Done:  f.agendaAdded})
	f.e.Action("meetings.agenda", func(ctx context.Context, r *bot.Request, a bot.Action) error {
		o, s, err := f.organizerOf(ctx, r, a.Ref)
		if err != nil {
			return err
		}
		return r.Reply(ctx, f.agendaView(s, &o, r.Lang))
	})
	f.e.Action("meetings.agenda.up", f.agendaOp)
	f.e.Action("meetings.agenda.drop", f.agendaOp)
	f.e.Action("meetings.agenda.edit", func(ctx context.Context, r *bot.Request, a bot.Action) error {
		o, _, err := f.organizerOf(ctx, r, a.Ref)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(a.Arg)
		i := slices.IndexFunc(o.Agenda, func(it item) bool { return it.N == n })
		if i < 0 {
			return bot.Tell("meetings.agenda.gone")
		}
		return f.e.StartDialog(ctx, r, "meetings.agenda_edit", bot.Answers{"occ": a.Ref, "item": a.Arg, "current": o.Agenda[i].Text})
	})
	f.e.Dialog(&bot.Dialog{Name: "meetings.agenda_edit", Title: "meetings.agenda.edit_title",
		Steps: []bot.Step{{Name: "text", Kind: bot.AskText, Prompt: "meetings.agenda.edit_prompt", MaxLen: f.cfg.AgendaMax}},
		Done: func(ctx context.Context, r *bot.Request, a bot.Answers) error {
			o, s, err := f.changeAgenda(ctx, r, a["occ"], "edit", a["item"], a["text"])
			if err != nil {
				return err
			}
			return r.Reply(ctx, f.agendaView(s, &o, r.Lang))
		}})
}

// startAgendaAdd lets an invitee propose an item, until the agenda cutoff.
func (f *Flow) startAgendaAdd(ctx context.Context, r *bot.Request, id string) error {
	o, s, err := f.load(ctx, id)
	if errors.Is(err, bot.ErrNotFound) {
		return bot.Tell("meetings.gone")
	}
	if err != nil {
		return err
	}
	if !f.isInvitee(r.Person, s) {
		return f.refuse(ctx, r, occKey(id), "not_invitee")
	}
	if err := f.agendaOpen(ctx, r, s, &o); err != nil {
		return err
	}
	return f.e.StartDialog(ctx, r, "meetings.agenda_add", bot.Answers{"occ": id, "mtitle": s.Title})
}

// agendaOpen refuses (and records the refusal) when o takes no more agenda items.
func (f *Flow) agendaOpen(ctx context.Context, r *bot.Request, s *seriesRec, o *occurrence) error {
	if err := f.open(ctx, r, o); err != nil {
		return err
	}
	if cutoff := f.cutoff(s, o); !f.e.Now().Before(cutoff) {
		f.e.Refused(ctx, r.Person.ID, occKey(o.ID), "agenda_closed")
		return bot.Tell("meetings.agenda.closed", "Cutoff", f.e.Catalog().DateTime(r.Lang, cutoff))
	}
	return nil
}

func (f *Flow) agendaAdded(ctx context.Context, r *bot.Request, a bot.Answers) error {
	id := a["occ"]
	o, s, err := f.update(ctx, id, r.Person.ID, func(o *occurrence, s *seriesRec) error {
		if !f.isInvitee(r.Person, s) {
			return errNotInvitee
		}
		if o.Cancelled || !f.e.Now().Before(f.cutoff(s, o)) {
			return errClosed
		}
		o.Items++
		o.Agenda = append(o.Agenda, item{N: o.Items, By: r.Person.ID, Text: a["text"], At: f.e.Now()})
		return nil
	})
	switch {
	case errors.Is(err, errNotInvitee):
		return f.refuse(ctx, r, occKey(id), "not_invitee")
	case errors.Is(err, errClosed):
		cur, cs, lerr := f.load(ctx, id)
		if lerr != nil {
			return lerr
		}
		return f.agendaOpen(ctx, r, cs, &cur)
	case err != nil:
		return err
	}
	return r.Say(ctx, "meetings.agenda.added", "N", len(o.Agenda), "Title", s.Title)
}

// organizerOf loads an occurrence for an organizer, refusing (and recording) anyone else.
func (f *Flow) organizerOf(ctx context.Context, r *bot.Request, id string) (occurrence, *seriesRec, error) {
	o, s, err := f.load(ctx, id)
	if errors.Is(err, bot.ErrNotFound) {
		return o, s, bot.Tell("meetings.gone")
	}
	if err != nil {
		return o, s, err
	}
	if !f.isOrganizer(r.Person, s) {
		return o, s, f.refuse(ctx, r, occKey(id), "not_organizer")
	}
	return o, s, nil
}

// agendaOp moves an item up or drops it, and shows the agenda as it is now on the same message.
func (f *Flow) agendaOp(ctx context.Context, r *bot.Request, a bot.Action) error {
	op := "up"
	if a.Name == "meetings.agenda.drop" {
		op = "drop"
	}
	o, s, err := f.changeAgenda(ctx, r, a.Ref, op, a.Arg, "")
	if err != nil {
		return err
	}
	return r.Edit(ctx, f.agendaView(s, &o, r.Lang))
}

// changeAgenda edits, moves up or drops item n of occurrence id, for an organizer, until the
// meeting starts.
func (f *Flow) changeAgenda(ctx context.Context, r *bot.Request, id, op, n, text string) (occurrence, *seriesRec, error) {
	num, _ := strconv.Atoi(n)
	o, s, err := f.update(ctx, id, r.Person.ID, func(o *occurrence, s *seriesRec) error {
		if !f.isOrganizer(r.Person, s) {
			return errNotOrganizer
		}
		if o.Cancelled || !f.e.Now().Before(o.Start) {
			return errClosed
		}
		i := slices.IndexFunc(o.Agenda, func(it item) bool { return it.N == num })
		if i < 0 {
			return bot.Tell("meetings.agenda.gone")
		}
		switch op {
		case "up":
			if i == 0 {
				return errDone
			}
			o.Agenda[i-1], o.Agenda[i] = o.Agenda[i], o.Agenda[i-1]
		case "drop":
			o.Agenda = slices.Delete(o.Agenda, i, i+1)
		case "edit":
			o.Agenda[i].Text = text
		}
		return nil
	})
	switch {
	case errors.Is(err, errNotOrganizer):
		return o, s, f.refuse(ctx, r, occKey(id), "not_organizer")
	case errors.Is(err, errClosed):
		cur, _, lerr := f.load(ctx, id)
		if lerr != nil {
			return o, s, lerr
		}
		return o, s, f.open(ctx, r, &cur)
	case errors.Is(err, errDone):
		cur, cs, lerr := f.load(ctx, id)
		return cur, cs, lerr
	case err != nil:
		return o, s, err
	}
	return o, s, nil
}

var errNotOrganizer = errors.New("not an organizer")

// agendaView is the organizer's agenda: every item with buttons to move it up, edit or drop it.
func (f *Flow) agendaView(s *seriesRec, o *occurrence, lang string) bot.Message {
	t := f.tr(lang)
	m := bot.Message{Title: t.T("meetings.agenda.title", "Title", s.Title),
		Lines: []string{t.T("meetings.card.when", "When", f.e.Catalog().Span(lang, o.Start, o.End))}}
	if len(o.Agenda) == 0 {
		m.Lines = append(m.Lines, t.T("meetings.agenda.empty"))
		return m
	}
	for i, it := range o.Agenda {
		m.Lines = append(m.Lines, fmt.Sprintf("%d. %s (%s)", i+1, it.Text, f.name(it.By)))
		if o.Cancelled || !f.e.Now().Before(o.Start) {
			continue
		}
		n := strconv.Itoa(it.N)
		row := []bot.Button{}
		if i > 0 {
			row = append(row, bot.Btn(t.T("meetings.btn.up", "N", i+1), "meetings.agenda.up", o.ID, n))
		}
		row = append(row, bot.Btn(t.T("meetings.btn.edit", "N", i+1), "meetings.agenda.edit", o.ID, n),
			bot.Btn(t.T("meetings.btn.drop", "N", i+1), "meetings.agenda.drop", o.ID, n))
		m.Buttons = append(m.Buttons, row)
	}
	return m
}
