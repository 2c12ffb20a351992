package meetings

import (
	"context"
	"errors"
	"slices"

	"github.com/tiltas/tiltas/bot"
)

func (f *Flow) registerRSVP() {
	f.e.Action("meetings.rsvp", f.onRSVP)
	f.e.Dialog(&bot.Dialog{Name: "meetings.deputy", Title: "meetings.deputy.title",
		Steps: []bot.Step{{Name: "deputy", Kind: bot.AskPerson, Prompt: "meetings.deputy.prompt", Options: f.deputyOptions}},
		Done: func(ctx context.Context, r *bot.Request, a bot.Answers) error {
			if a["deputy"] == r.Person.ID || f.e.Directory().Person(a["deputy"]) == nil {
				return bot.Tell("meetings.deputy.self")
			}
			text, err := f.answer(ctx, r, a["occ"], rsvp{Answer: sendsDeputy, Deputy: a["deputy"]})
			if err != nil {
				return err
			}
			return r.Reply(ctx, bot.Message{Lines: []string{text}})
		}})
	f.e.Action("meetings.ics", f.onICS)
	f.e.Action("meetings.summary", f.onSummaryButton)
}

// onRSVP records an invitee's answer. The button only names the occurrence and the answer: who
// may answer is decided here, from the series' invitees as the directory has them now.
func (f *Flow) onRSVP(ctx context.Context, r *bot.Request, a bot.Action) error {
	if !slices.Contains(answers, a.Arg) {
		return bot.Tell("core.stale")
	}
	o, s, err := f.load(ctx, a.Ref)
	if errors.Is(err, bot.ErrNotFound) {
		return bot.Tell("meetings.gone")
	}
	if err != nil {
		return err
	}
	if !f.isInvitee(r.Person, s) {
		return f.refuse(ctx, r, occKey(a.Ref), "not_invitee")
	}
	if a.Arg == sendsDeputy {
		if err := f.open(ctx, r, &o); err != nil {
			return err
		}
		return f.e.StartDialog(ctx, r, "meetings.deputy", bot.Answers{"occ": a.Ref})
	}
	text, err := f.answer(ctx, r, a.Ref, rsvp{Answer: a.Arg})
	if err != nil {
		return err
	}
	r.Toast(text)
	return nil
}

// open refuses (and records the refusal) when o no longer takes answers.
func (f *Flow) open(ctx context.Context, r *bot.Request, o *occurrence) error {
	switch {
	case o.Cancelled:
		f.e.Refused(ctx, r.Person.ID, occKey(o.ID), "cancelled")
		return bot.Tell("meetings.is_cancelled")
	case !f.e.Now().Before(o.Start):
		f.e.Refused(ctx, r.Person.ID, occKey(o.ID), "started")
		return bot.Tell("meetings.started")
	}
	return nil
}

// answer stores r's person's answer to occurrence id; their copy and the organizers' summaries
// show it, and a deputy is told they are sent (or no longer needed) (occEffects). It returns the
// confirmation to show.
func (f *Flow) answer(ctx context.Context, r *bot.Request, id string, ans rsvp) (string, error) {
	who := r.Person.ID
	_, _, err := f.update(ctx, id, who, func(o *occurrence, s *seriesRec) error {
		if !f.isInvitee(r.Person, s) {
			return errNotInvitee
		}
		if o.Cancelled || !f.e.Now().Before(o.Start) {
			return errClosed
		}
		prev := o.RSVP[who]
		if prev.Answer == ans.Answer && prev.Deputy == ans.Deputy {
			return errDone
		}
		if o.RSVP == nil {
			o.RSVP = map[string]rsvp{}
		}
		ans.At = f.e.Now()
		o.RSVP[who] = ans
		return nil
	})
	t := f.tr(r.Lang)
	switch {
	case errors.Is(err, errNotInvitee):
		return "", f.refuse(ctx, r, occKey(id), "not_invitee")
	case errors.Is(err, errClosed):
		cur, _, lerr := f.load(ctx, id)
		if lerr != nil {
			return "", lerr
		}
		return "", f.open(ctx, r, &cur)
	case errors.Is(err, bot.ErrNotFound):
		return "", bot.Tell("meetings.gone")
	case err != nil:
		return "", err
	}
	return t.T("meetings.rsvp.saved", "Answer", f.answerText(t, ans)), nil
}

var (
	errNotInvitee = errors.New("not invited")
	errClosed     = errors.New("closed")
)

// deputyOptions offers the person's colleagues in their institution, or everyone else when they
// have none.
func (f *Flow) deputyOptions(r *bot.Request, _ bot.Answers) []bot.Option {
	dir := f.e.Directory()
	var opts []bot.Option
	add := func(ps []*bot.Person) {
		for _, p := range ps {
			if p.ID != r.Person.ID && len(opts) < 30 {
				opts = append(opts, bot.Option{Value: p.ID, Label: p.Name})
			}
		}
	}
	if r.Person.Institution != "" {
		add(dir.Select(nil, r.Person.Institution, ""))
	}
	if len(opts) == 0 {
		add(dir.People)
	}
	return opts
}

// onICS sends the occurrence as an .ics file to someone it concerns.
func (f *Flow) onICS(ctx context.Context, r *bot.Request, a bot.Action) error {
	o, s, err := f.load(ctx, a.Ref)
	if errors.Is(err, bot.ErrNotFound) {
		return bot.Tell("meetings.gone")
	}
	if err != nil {
		return err
	}
	if !f.sees(r.Person, s, &o) {
		return f.refuse(ctx, r, occKey(a.Ref), "not_invitee")
	}
	data, err := f.occurrenceICS(s, &o, r.Lang)
	if err != nil {
		return err
	}
	return r.Reply(ctx, bot.Message{Lines: []string{r.T("meetings.ics.file")}, File: &bot.File{Name: o.ID + ".ics", Type: "text/calendar", Data: data}})
}

// onSummaryButton shows an organizer the attendance summary, kept up to date as answers change.
func (f *Flow) onSummaryButton(ctx context.Context, r *bot.Request, a bot.Action) error {
	o, s, err := f.load(ctx, a.Ref)
	if errors.Is(err, bot.ErrNotFound) {
		return bot.Tell("meetings.gone")
	}
	if err != nil {
		return err
	}
	if !f.isOrganizer(r.Person, s) {
		return f.refuse(ctx, r, occKey(a.Ref), "not_organizer")
	}
	return f.showSummary(ctx, s, &o, r.Person.ID)
}

func (f *Flow) showSummary(ctx context.Context, s *seriesRec, o *occurrence, who string) error {
	_, err := f.e.Copies(summaryRecord(o.ID)).Send(ctx, "meetings:show:"+bot.NewID(), []string{who}, bot.Notice{Priority: bot.Urgent},
		func(p *bot.Person, lang string) bot.Message { return f.summary(s, o, p, lang) })
	return err
}

// showCard sends who their own card of o, kept up to date as it changes.
func (f *Flow) showCard(ctx context.Context, s *seriesRec, o *occurrence, who string) error {
	_, err := f.e.Copies(occKey(o.ID)).Send(ctx, "meetings:show:"+bot.NewID(), []string{who}, bot.Notice{Priority: bot.Urgent},
		func(p *bot.Person, lang string) bot.Message { return f.card(s, o, p, lang, "", false) })
	return err
}
