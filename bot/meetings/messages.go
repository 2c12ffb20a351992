package meetings

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tiltas/tiltas/bot"
)

// tr is the catalog in one language.
type tr struct {
	c    *bot.Catalog
	lang string
}

func (f *Flow) tr(lang string) tr { return tr{c: f.e.Catalog(), lang: lang} }

// T localizes id.
func (t tr) T(id string, kv ...any) string { return t.c.T(t.lang, id, kv...) }

// N localizes the plural form of id for n.
func (t tr) N(id string, n int, kv ...any) string { return t.c.N(t.lang, id, n, kv...) }

// card is what a person sees of an occurrence: when and where, their answer, the agenda, and the
// buttons their part in it allows. head, already in lang, says why it is sent (a reminder, a
// move); the final reminder carries the final agenda.
func (f *Flow) card(s *seriesRec, o *occurrence, p *bot.Person, lang, head string, final bool) bot.Message {
	t := f.tr(lang)
	now := f.e.Now()
	m := bot.Message{Title: s.Title}
	if head != "" {
		m.Lines = append(m.Lines, head)
	}
	m.Lines = append(m.Lines, t.T("meetings.card.when", "When", f.e.Catalog().Span(lang, o.Start, o.End)))
	if o.Skipped {
		m.Lines = append(m.Lines, t.T("meetings.head.skipped", "Date", f.e.Catalog().DateTime(lang, o.Orig), "Holiday", t.T(o.Holiday)))
		return m
	}
	if o.Holiday != "" && !o.Moved {
		m.Lines = append(m.Lines, t.T("meetings.card.holiday", "Date", f.e.Catalog().Date(lang, o.Orig), "Holiday", t.T(o.Holiday)))
	}
	if s.Place != "" {
		m.Lines = append(m.Lines, t.T("meetings.card.place", "Place", s.Place))
	}
	if s.VideoURL != "" && !o.Cancelled {
		m.Lines = append(m.Lines, t.T("meetings.card.video", "URL", s.VideoURL))
	}
	if o.Cancelled {
		// The .ics of a cancelled meeting cancels it in calendars it was imported into.
		m.Lines = append(m.Lines, t.T("meetings.card.cancelled"))
		m.Buttons = [][]bot.Button{{bot.Btn(t.T("meetings.btn.ics"), "meetings.ics", o.ID, "")}}
		return m
	}
	open := now.Before(o.Start)
	invitee := f.isInvitee(p, s)
	organizer := f.isOrganizer(p, s)
	deadline := f.deadline(s, o)
	cutoff := f.cutoff(s, o)
	switch a, answered := o.RSVP[p.ID]; {
	case invitee && answered:
		m.Lines = append(m.Lines, t.T("meetings.card.answer", "Answer", f.answerText(t, a)))
	case invitee && open && now.Before(deadline):
		m.Lines = append(m.Lines, t.T("meetings.card.unanswered_until", "Deadline", f.e.Catalog().DateTime(lang, deadline)))
	case invitee && open:
		m.Lines = append(m.Lines, t.T("meetings.card.unanswered"))
	}
	if who := deputyFor(o, p.ID); who != "" && !invitee {
		m.Lines = append(m.Lines, t.T("meetings.card.deputy_for", "Name", f.name(who)))
	}
	m.Lines = append(m.Lines, f.agendaLines(t, o, final)...)
	if invitee && open && now.Before(cutoff) {
		m.Lines = append(m.Lines, t.T("meetings.card.agenda_until", "Cutoff", f.e.Catalog().DateTime(lang, cutoff)))
	}
	if invitee && open {
		mark := func(answer, id string) string {
			if o.RSVP[p.ID].Answer == answer {
				return "✓ " + t.T(id)
			}
			return t.T(id)
		}
		m.Buttons = append(m.Buttons,
			[]bot.Button{bot.Btn(mark(attending, "meetings.btn.yes"), "meetings.rsvp", o.ID, attending), bot.Btn(mark(notAttending, "meetings.btn.no"), "meetings.rsvp", o.ID, notAttending)},
			[]bot.Button{bot.Btn(mark(sendsDeputy, "meetings.btn.deputy"), "meetings.rsvp", o.ID, sendsDeputy), bot.Btn(mark(maybe, "meetings.btn.maybe"), "meetings.rsvp", o.ID, maybe)})
		if now.Before(cutoff) {
			m.Buttons = append(m.Buttons, []bot.Button{bot.Btn(t.T("meetings.btn.agenda_add"), "meetings.agenda.add", o.ID, "")})
		}
	}
	if organizer {
		m.Buttons = append(m.Buttons, f.organizerButtons(t, o)...)
	}
	m.Buttons = append(m.Buttons, []bot.Button{bot.Btn(t.T("meetings.btn.ics"), "meetings.ics", o.ID, "")})
	return m
}

// organizerButtons are what an organizer may do with o now.
func (f *Flow) organizerButtons(t tr, o *occurrence) [][]bot.Button {
	if o.Cancelled {
		return nil
	}
	if !f.e.Now().Before(o.Start) {
		return [][]bot.Button{{bot.Btn(t.T("meetings.btn.summary"), "meetings.summary", o.ID, ""), bot.Btn(t.T("meetings.btn.minutes"), "meetings.minutes", o.ID, "")}}
	}
	return [][]bot.Button{
		{bot.Btn(t.T("meetings.btn.summary"), "meetings.summary", o.ID, ""), bot.Btn(t.T("meetings.btn.agenda"), "meetings.agenda", o.ID, "")},
		{bot.Btn(t.T("meetings.btn.move"), "meetings.move", o.ID, ""), bot.Btn(t.T("meetings.btn.cancel"), "meetings.cancel", o.ID, "")},
		{bot.Btn(t.T("meetings.btn.series"), "meetings.series", o.Series, "")},
	}
}

func (f *Flow) answerText(t tr, a rsvp) string {
	switch a.Answer {
	case attending:
		return t.T("meetings.answer.yes")
	case notAttending:
		return t.T("meetings.answer.no")
	case sendsDeputy:
		return t.T("meetings.answer.deputy", "Name", f.name(a.Deputy))
	}
	return t.T("meetings.answer.maybe")
}

// agendaLines lists the agenda, numbered, with who proposed each item.
func (f *Flow) agendaLines(t tr, o *occurrence, final bool) []string {
	if len(o.Agenda) == 0 {
		return nil
	}
	head := t.T("meetings.card.agenda")
	if final {
		head = t.T("meetings.card.agenda_final")
	}
	out := []string{head}
	for i, it := range o.Agenda {
		out = append(out, fmt.Sprintf("%d. %s (%s)", i+1, it.Text, f.name(it.By)))
	}
	return out
}

// summary is the attendance summary organizers get at the RSVP deadline and with /meeting.
func (f *Flow) summary(s *seriesRec, o *occurrence, p *bot.Person, lang string) bot.Message {
	t := f.tr(lang)
	m := bot.Message{Title: t.T("meetings.summary.title", "Title", s.Title)}
	m.Lines = append(m.Lines, t.T("meetings.card.when", "When", f.e.Catalog().Span(lang, o.Start, o.End)))
	if o.Cancelled {
		m.Lines = append(m.Lines, t.T("meetings.card.cancelled"))
		return m
	}
	var yes, no, maybe, none, unreached, deps []string
	for _, id := range f.invitees(s) {
		a, ok := o.RSVP[id]
		switch {
		case !ok:
			none = append(none, f.name(id))
			if slices.Contains(o.Unreached, id) {
				unreached = append(unreached, f.name(id))
			}
		case a.Answer == attending:
			yes = append(yes, f.name(id))
		case a.Answer == notAttending:
			no = append(no, f.name(id))
		case a.Answer == sendsDeputy:
			deps = append(deps, t.T("meetings.summary.deputy", "Name", f.name(id), "Deputy", f.name(a.Deputy)))
		default:
			maybe = append(maybe, f.name(id))
		}
	}
	m.Lines = append(m.Lines, t.N("meetings.summary.coming", len(yes)+len(deps)))
	list := func(id string, names []string) {
		if len(names) > 0 {
			m.Lines = append(m.Lines, t.T(id, "Names", strings.Join(names, ", ")))
		}
	}
	list("meetings.summary.yes", yes)
	m.Lines = append(m.Lines, deps...)
	list("meetings.summary.maybe", maybe)
	list("meetings.summary.no", no)
	list("meetings.summary.none", none)
	list("meetings.summary.unreached", unreached)
	m.Lines = append(m.Lines, t.N("meetings.summary.items", len(o.Agenda)))
	if f.isOrganizer(p, s) {
		m.Buttons = f.organizerButtons(t, o)
	}
	return m
}
