package meetings

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

func (f *Flow) registerCommands() {
	f.e.Command(bot.Command{Name: "meeting", Aliases: []string{"posedis", "meetings"}, Help: "meetings.help", Private: true, Run: f.command})
}

// command is /meeting: with no argument each person sees the meetings that concern them (an
// organizer with the attendance summary); "calendar" gives their private feed link, "ics" the
// series as a file, "agenda" proposes an agenda item, "new" lets a coordinator create a series.
func (f *Flow) command(ctx context.Context, r *bot.Request) error {
	sub := ""
	if len(r.Args) > 0 {
		sub = strings.ToLower(r.Args[0])
	}
	switch sub {
	case "":
		return f.show(ctx, r)
	case "calendar", "kalendorius":
		return f.feedLink(ctx, r)
	case "ics":
		return f.sendSeriesICS(ctx, r)
	case "agenda", "darbotvarke", "darbotvarkė":
		return f.agendaCommand(ctx, r)
	case "new", "naujas":
		if !r.Person.Has(bot.RoleCoordinator) {
			return f.refuse(ctx, r, "command/meeting.new", "role")
		}
		return f.e.StartDialog(ctx, r, "meetings.new", nil)
	}
	return bot.Tell("meetings.usage")
}

// mine is a series with the next occurrence of it that concerns a person.
type mine struct {
	s *seriesRec
	o occurrence
}

// mySeries returns, for each series that concerns r's person, its next occurrence.
func (f *Flow) mySeries(ctx context.Context, p *bot.Person) ([]mine, error) {
	all, err := f.allSeries(ctx)
	if err != nil {
		return nil, err
	}
	var out []mine
	for _, s := range all {
		o, ok, err := f.next(ctx, s)
		if err != nil {
			return nil, err
		}
		if ok && f.sees(p, s, &o) {
			out = append(out, mine{s, o})
		}
	}
	return out, nil
}

func (f *Flow) show(ctx context.Context, r *bot.Request) error {
	ms, err := f.mySeries(ctx, r.Person)
	if err != nil {
		return err
	}
	shown := map[string]bool{}
	for _, m := range ms {
		shown[m.o.ID] = true
		if f.isInvitee(r.Person, m.s) || deputyFor(&m.o, r.Person.ID) != "" {
			if err := f.showCard(ctx, m.s, &m.o, r.Person.ID); err != nil {
				return err
			}
		}
		if f.isOrganizer(r.Person, m.s) {
			if err := f.showSummary(ctx, m.s, &m.o, r.Person.ID); err != nil {
				return err
			}
		}
	}
	// Meetings someone sends this person to, which their series would not show.
	occs, err := f.upcoming(ctx, "")
	if err != nil {
		return err
	}
	for _, o := range occs {
		if shown[o.ID] || o.Cancelled || deputyFor(&o, r.Person.ID) == "" {
			continue
		}
		s, err := f.loadSeries(ctx, o.Series)
		if err != nil {
			continue
		}
		shown[o.ID] = true
		if err := f.showCard(ctx, s, &o, r.Person.ID); err != nil {
			return err
		}
	}
	if err := f.minutesPending(ctx, r); err != nil {
		return err
	}
	if len(shown) == 0 {
		return r.Say(ctx, "meetings.none")
	}
	return nil
}

// minutesPending reminds an organizer of recent meetings whose decisions are not posted yet.
func (f *Flow) minutesPending(ctx context.Context, r *bot.Request) error {
	now := f.e.Now()
	recent, err := f.occs.Live(ctx, float64(now.AddDate(0, 0, -14).Unix()), float64(now.Unix()))
	if err != nil {
		return err
	}
	for _, o := range recent {
		f.localize(&o)
		s, err := f.loadSeries(ctx, o.Series)
		if err != nil || o.Cancelled || o.MinutesSeq > 0 || o.End.After(now) || !f.isOrganizer(r.Person, s) {
			continue
		}
		m := bot.Message{Title: s.Title, Lines: []string{r.T("meetings.minutes.ask", "When", f.e.Catalog().DateTime(r.Lang, o.Start))},
			Buttons: [][]bot.Button{{bot.Btn(r.T("meetings.btn.minutes"), "meetings.minutes", o.ID, "")}}}
		if err := r.Reply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// agendaCommand starts an agenda item for the next meeting the person is invited to that still
// takes items.
func (f *Flow) agendaCommand(ctx context.Context, r *bot.Request) error {
	ms, err := f.mySeries(ctx, r.Person)
	if err != nil {
		return err
	}
	var last error = bot.Tell("meetings.none")
	for _, m := range ms {
		if !f.isInvitee(r.Person, m.s) {
			continue
		}
		if err := f.startAgendaAdd(ctx, r, m.o.ID); err == nil || !bot.IsProblem(err) {
			return err
		} else {
			last = err
		}
	}
	return last
}

// sendSeriesICS sends every series that concerns the person as one .ics file.
func (f *Flow) sendSeriesICS(ctx context.Context, r *bot.Request) error {
	data, n, err := f.personICS(ctx, r.Person, r.Lang)
	if err != nil {
		return err
	}
	if n == 0 {
		return r.Say(ctx, "meetings.none")
	}
	// The file points to the calendar link only where there are links: without them,
	// /meeting calendar itself answers with this file.
	key := "meetings.ics.series"
	if f.cfg.FeedURL == "" {
		key = "meetings.ics.series_nofeed"
	}
	return r.Reply(ctx, bot.Message{Lines: []string{r.T(key)}, File: &bot.File{Name: "tiltas-meetings.ics", Type: "text/calendar", Data: data}})
}

// feedLink gives the person a new private calendar link; the old one stops working.
func (f *Flow) feedLink(ctx context.Context, r *bot.Request) error {
	if f.cfg.FeedURL == "" {
		if err := r.Say(ctx, "meetings.feed.off"); err != nil {
			return err
		}
		return f.sendSeriesICS(ctx, r)
	}
	u, err := f.IssueFeed(ctx, r.Person.ID)
	if err != nil {
		return err
	}
	return r.Reply(ctx, bot.Message{Lines: []string{r.T("meetings.feed.link"), u, r.T("meetings.feed.private")}})
}

// occurrencesOf returns the stored occurrences of series in [from, to] by start.
func (f *Flow) occurrencesOf(ctx context.Context, series string, from, to float64) ([]occurrence, error) {
	all, err := f.occs.Live(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, o := range all {
		if series == "" || o.Series == series {
			f.localize(&o)
			out = append(out, o)
		}
	}
	return out, nil
}

var inf = math.Inf(1)

// Attendance is the next meeting as the desk shows it: who answered what, by name.
type Attendance struct {
	Title                string
	Start, End           time.Time
	Yes, No, Maybe, None []string
	Deputies             []string // "Name → Deputy"
	Items                int
	Agenda               []string // "text (who proposed it)"
	Cancelled            bool
}

// NextAttendance returns the next meeting p is invited to or organizes, with its answers.
func (f *Flow) NextAttendance(ctx context.Context, p *bot.Person) (Attendance, bool, error) {
	all, err := f.allSeries(ctx)
	if err != nil {
		return Attendance{}, false, err
	}
	var best *Attendance
	for _, s := range all {
		if !f.isOrganizer(p, s) && !f.isInvitee(p, s) {
			continue
		}
		o, ok, err := f.next(ctx, s)
		if err != nil {
			return Attendance{}, false, err
		}
		if !ok || best != nil && !o.Start.Before(best.Start) {
			continue
		}
		a := Attendance{Title: s.Title, Start: o.Start, End: o.End, Items: len(o.Agenda), Cancelled: o.Cancelled}
		for _, it := range o.Agenda {
			a.Agenda = append(a.Agenda, it.Text+" ("+f.name(it.By)+")")
		}
		for _, id := range f.invitees(s) {
			r, answered := o.RSVP[id]
			switch {
			case !answered:
				a.None = append(a.None, f.name(id))
			case r.Answer == attending:
				a.Yes = append(a.Yes, f.name(id))
			case r.Answer == notAttending:
				a.No = append(a.No, f.name(id))
			case r.Answer == sendsDeputy:
				a.Deputies = append(a.Deputies, f.name(id)+" → "+f.name(r.Deputy))
			default:
				a.Maybe = append(a.Maybe, f.name(id))
			}
		}
		best = &a
	}
	if best == nil {
		return Attendance{}, false, nil
	}
	return *best, true, nil
}
