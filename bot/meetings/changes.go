package meetings

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"time"

	"github.com/tiltas/tiltas/bot"
)

func (f *Flow) registerChanges() {
	f.e.Action("meetings.cancel", f.forOrganizer("meetings.cancel", f.open))
	f.e.Dialog(&bot.Dialog{Name: "meetings.cancel", Title: "meetings.cancel.title",
		Steps: []bot.Step{{Name: "ok", Kind: bot.AskConfirm, Prompt: "meetings.cancel.prompt"}},
		Done: func(ctx context.Context, r *bot.Request, a bot.Answers) error {
			return f.cancelOcc(ctx, r, a["occ"])
		}})

	f.e.Action("meetings.move", f.forOrganizer("meetings.move", f.open))
	f.e.Dialog(&bot.Dialog{Name: "meetings.move", Title: "meetings.move.title",
		Steps: []bot.Step{
			{Name: "when", Kind: bot.AskDateTime, Prompt: "meetings.move.prompt", Check: f.checkFuture},
			{Name: "ok", Kind: bot.AskConfirm, Prompt: "meetings.move.confirm"},
		},
		Summary: func(r *bot.Request, a bot.Answers) []string {
			return []string{r.T("meetings.move.summary", "From", a["mwhen"], "To", f.e.Catalog().DateTime(r.Lang, a.Time("when", f.loc())))}
		},
		Done: func(ctx context.Context, r *bot.Request, a bot.Answers) error {
			return f.moveOcc(ctx, r, a["occ"], a.Time("when", f.loc()))
		}})

	f.e.Action("meetings.series", bot.DialogAbout[*seriesRec]{Dialog: "meetings.change", Gone: "meetings.gone", Load: f.loadSeries,
		Guard: func(ctx context.Context, r *bot.Request, s **seriesRec) error {
			if !f.isOrganizer(r.Person, *s) {
				return f.refuse(ctx, r, seriesKey((*s).ID), "not_organizer")
			}
			if !(*s).Ended.IsZero() {
				return bot.Tell("meetings.series.is_ended")
			}
			return nil
		},
		Prefill: func(_ *bot.Request, s **seriesRec) bot.Answers {
			return bot.Answers{"series": (*s).ID, "mtitle": (*s).Title}
		}}.Action(f.e))
	is := func(field string) func(bot.Answers) bool { return answered("field", field) }
	f.e.Dialog(&bot.Dialog{Name: "meetings.change", Title: "meetings.change.title",
		Steps: []bot.Step{
			{Name: "field", Kind: bot.AskChoice, Prompt: "meetings.change.field", Options: func(r *bot.Request, _ bot.Answers) []bot.Option {
				return []bot.Option{
					{Value: "time", Label: r.T("meetings.change.field_time")},
					{Value: "duration", Label: r.T("meetings.change.field_duration")},
					{Value: "place", Label: r.T("meetings.change.field_place")},
					{Value: "video", Label: r.T("meetings.change.field_video")},
					{Value: "title", Label: r.T("meetings.change.field_title")},
					{Value: "end", Label: r.T("meetings.change.field_end")},
				}
			}},
			{Name: "clock", Kind: bot.AskClock, Prompt: "meetings.change.clock", If: is("time")},
			{Name: "minutes", Kind: bot.AskCount, Prompt: "meetings.change.duration", Min: 15, Max: 600, If: is("duration")},
			{Name: "place", Kind: bot.AskText, Prompt: "meetings.change.place", MaxLen: 200, Optional: true, If: is("place")},
			{Name: "video", Kind: bot.AskText, Prompt: "meetings.change.video", MaxLen: 300, Optional: true, If: is("video"), Check: checkURL},
			{Name: "title", Kind: bot.AskText, Prompt: "meetings.change.new_title", MaxLen: 120, If: is("title")},
			{Name: "ok", Kind: bot.AskConfirm, Prompt: "meetings.change.confirm"},
		},
		Summary: f.changeSummary,
		Done:    f.changeSeries})

	f.e.Dialog(&bot.Dialog{Name: "meetings.new", Title: "meetings.new.title",
		Steps: []bot.Step{
			{Name: "title", Kind: bot.AskText, Prompt: "meetings.new.title_prompt", MaxLen: 120},
			{Name: "start", Kind: bot.AskDateTime, Prompt: "meetings.new.start", Check: f.checkFuture},
			{Name: "repeat", Kind: bot.AskChoice, Prompt: "meetings.new.repeat", Options: f.repeatOptions},
			{Name: "minutes", Kind: bot.AskCount, Prompt: "meetings.new.duration", Min: 15, Max: 600},
			{Name: "place", Kind: bot.AskText, Prompt: "meetings.new.place", MaxLen: 200, Optional: true},
			{Name: "video", Kind: bot.AskText, Prompt: "meetings.new.video", MaxLen: 300, Optional: true, Check: checkURL},
			{Name: "who", Kind: bot.AskChoice, Prompt: "meetings.new.who", Options: func(r *bot.Request, _ bot.Answers) []bot.Option {
				return []bot.Option{
					{Value: "leaders", Label: r.T("meetings.new.who_leaders")},
					{Value: "leaders_more", Label: r.T("meetings.new.who_more")},
					{Value: "list", Label: r.T("meetings.new.who_list")},
				}
			}},
			{Name: "list", Kind: bot.AskText, Prompt: "meetings.new.list", MaxLen: 1000, If: answered("who", "list"), Check: f.checkList},
			{Name: "ok", Kind: bot.AskConfirm, Prompt: "meetings.new.confirm"},
		},
		Summary: f.newSummary,
		Done:    f.created})

	f.e.Action("meetings.minutes", f.forOrganizer("meetings.minutes", func(_ context.Context, _ *bot.Request, o *occurrence) error {
		if o.Cancelled {
			return bot.Tell("meetings.is_cancelled")
		}
		if f.e.Now().Before(o.Start) {
			return bot.Tell("meetings.minutes.early")
		}
		return nil
	}))
	f.e.Dialog(&bot.Dialog{Name: "meetings.minutes", Title: "meetings.minutes.dialog",
		Steps: []bot.Step{
			{Name: "text", Kind: bot.AskText, Prompt: "meetings.minutes.prompt", MaxLen: f.cfg.MinutesMax},
			{Name: "ok", Kind: bot.AskConfirm, Prompt: "meetings.minutes.confirm"},
		},
		Summary: func(r *bot.Request, a bot.Answers) []string { return []string{a["text"]} },
		Done: func(ctx context.Context, r *bot.Request, a bot.Answers) error {
			return f.postMinutes(ctx, r, a["occ"], a["text"])
		}})
}

// held is an occurrence with its series, as the buttons about it read them.
type held struct {
	o occurrence
	s *seriesRec
}

// forOrganizer is a button that opens dialog about an occurrence for its organizers only, once
// open (may be nil) lets the occurrence be changed.
func (f *Flow) forOrganizer(dialog string, open func(ctx context.Context, r *bot.Request, o *occurrence) error) bot.ActionFunc {
	return bot.DialogAbout[held]{Dialog: dialog, Gone: "meetings.gone",
		Load: func(ctx context.Context, id string) (held, error) {
			o, s, err := f.load(ctx, id)
			return held{o, s}, err
		},
		Guard: func(ctx context.Context, r *bot.Request, h *held) error {
			if !f.isOrganizer(r.Person, h.s) {
				return f.refuse(ctx, r, occKey(h.o.ID), "not_organizer")
			}
			if open == nil {
				return nil
			}
			return open(ctx, r, &h.o)
		},
		Prefill: func(r *bot.Request, h *held) bot.Answers {
			return bot.Answers{"occ": h.o.ID, "mtitle": h.s.Title, "mwhen": f.e.Catalog().DateTime(r.Lang, h.o.Start)}
		}}.Action(f.e)
}

// answered makes a step's If: ask it only when step name was answered with value.
func answered(name, value string) func(bot.Answers) bool {
	return func(a bot.Answers) bool { return a[name] == value }
}

// checkFuture accepts a date and time that is still ahead.
func (f *Flow) checkFuture(_ context.Context, _ *bot.Request, v string, _ bot.Answers) (string, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil || !t.After(f.e.Now()) {
		return "", bot.Tell("meetings.past")
	}
	return v, nil
}

// checkURL accepts an http(s) link, or nothing.
func checkURL(_ context.Context, _ *bot.Request, v string, _ bot.Answers) (string, error) {
	if v == "" {
		return v, nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http" {
		return "", bot.Tell("meetings.bad_url")
	}
	return v, nil
}

// changeErr turns what went wrong in an organizer's change into the refusal they see, recording
// refusals.
func (f *Flow) changeErr(ctx context.Context, r *bot.Request, id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errNotOrganizer):
		return f.refuse(ctx, r, occKey(id), "not_organizer")
	case errors.Is(err, errClosed):
		cur, _, lerr := f.load(ctx, id)
		if lerr != nil {
			return lerr
		}
		if oerr := f.open(ctx, r, &cur); oerr != nil {
			return oerr
		}
		return bot.Tell("core.stale")
	case errors.Is(err, bot.ErrNotFound):
		return bot.Tell("meetings.gone")
	}
	return err
}

// cancelOcc cancels one occurrence: its reminders stop and everyone is told once.
func (f *Flow) cancelOcc(ctx context.Context, r *bot.Request, id string) error {
	o, s, err := f.update(ctx, id, r.Person.ID, func(o *occurrence, s *seriesRec) error {
		if !f.isOrganizer(r.Person, s) {
			return errNotOrganizer
		}
		if o.Cancelled || !f.e.Now().Before(o.Start) {
			return errClosed
		}
		o.Cancelled = true
		return nil
	})
	if err := f.changeErr(ctx, r, id, err); err != nil {
		return err
	}
	return r.Reply(ctx, bot.Message{Lines: []string{f.tr(r.Lang).N("meetings.cancel.done", len(f.told(s, &o)))}})
}

// moveOcc moves one occurrence: its reminders follow and everyone is told once.
func (f *Flow) moveOcc(ctx context.Context, r *bot.Request, id string, when time.Time) error {
	o, s, err := f.update(ctx, id, r.Person.ID, func(o *occurrence, s *seriesRec) error {
		if !f.isOrganizer(r.Person, s) {
			return errNotOrganizer
		}
		if o.Cancelled || !f.e.Now().Before(o.Start) {
			return errClosed
		}
		if !when.After(f.e.Now()) {
			return bot.Tell("meetings.past")
		}
		o.Start, o.End, o.Moved, o.Holiday = when, when.Add(s.Duration), true, ""
		f.skipPast(s, o, f.e.Now(), false)
		return nil
	})
	if err := f.changeErr(ctx, r, id, err); err != nil {
		return err
	}
	return r.Reply(ctx, bot.Message{Lines: []string{f.tr(r.Lang).N("meetings.move.done", len(f.told(s, &o)), "When", f.e.Catalog().DateTime(r.Lang, o.Start))}})
}

func (f *Flow) changeSummary(r *bot.Request, a bot.Answers) []string {
	t := f.tr(r.Lang)
	switch a["field"] {
	case "time":
		return []string{t.T("meetings.series.diff_time", "Time", a["clock"])}
	case "duration":
		return []string{t.N("meetings.series.diff_duration", a.Int("minutes"))}
	case "place":
		if a["place"] == "" {
			return []string{t.T("meetings.series.diff_no_place")}
		}
		return []string{t.T("meetings.series.diff_place", "Place", a["place"])}
	case "video":
		if a["video"] == "" {
			return []string{t.T("meetings.series.diff_no_video")}
		}
		return []string{t.T("meetings.series.diff_video", "URL", a["video"])}
	case "title":
		return []string{t.T("meetings.series.diff_title", "Title", a["title"])}
	}
	return []string{t.T("meetings.change.sum_end")}
}

// changeSeries applies an organizer's change to a whole series; its meetings follow and
// everyone is told once (seriesEffects).
func (f *Flow) changeSeries(ctx context.Context, r *bot.Request, a bot.Answers) error {
	id := a["series"]
	if a["field"] == "end" {
		s, err := f.loadSeries(ctx, id)
		if err != nil {
			return err
		}
		if !f.isOrganizer(r.Person, s) {
			return f.refuse(ctx, r, seriesKey(id), "not_organizer")
		}
		_, n, err := f.endSeries(ctx, id, r.Person.ID)
		if err != nil {
			return err
		}
		return r.Reply(ctx, bot.Message{Lines: []string{f.tr(r.Lang).N("meetings.change.ended", n)}})
	}
	var old seriesRec
	cur, err := f.sers.Change(ctx, id, func(s *seriesRec) error {
		if !f.isOrganizer(r.Person, s) {
			return errNotOrganizer
		}
		if !s.Ended.IsZero() {
			return errClosed
		}
		old = *s
		switch a["field"] {
		case "time":
			st := s.Start.In(f.loc())
			h, m, _ := bot.ParseClock(a["clock"])
			s.Start = time.Date(st.Year(), st.Month(), st.Day(), h, m, 0, 0, f.loc())
		case "duration":
			s.Duration = time.Duration(a.Int("minutes")) * time.Minute
		case "place":
			s.Place = a["place"]
		case "video":
			s.VideoURL = a["video"]
		case "title":
			s.Title = a["title"]
		}
		s.Seq++
		s.Updated = f.e.Now()
		s.By, s.Change = r.Person.ID, a["field"]
		return nil
	})
	switch {
	case errors.Is(err, errNotOrganizer):
		return f.refuse(ctx, r, seriesKey(id), "not_organizer")
	case errors.Is(err, errClosed):
		return bot.Tell("meetings.series.is_ended")
	case errors.Is(err, bot.ErrNotFound):
		return bot.Tell("meetings.gone")
	case err != nil:
		return err
	}
	f.localizeSeries(&old)
	f.localizeSeries(&cur)
	return r.Reply(ctx, bot.Message{Lines: []string{f.tr(r.Lang).N("meetings.change.done", f.concerned(&old, &cur))}})
}

// concerned counts who a change from old to cur of a series is told to, its maker aside.
func (f *Flow) concerned(old, cur *seriesRec) int {
	var people []string
	for _, group := range [][]string{f.invitees(old), f.invitees(cur), f.organizers(old), f.organizers(cur)} {
		for _, id := range group {
			if id != cur.By && !slices.Contains(people, id) && f.e.Directory().Person(id) != nil {
				people = append(people, id)
			}
		}
	}
	return len(people)
}

// diff says, in lang, what changed in a series.
func (f *Flow) diff(t tr, old, cur *seriesRec) []string {
	var out []string
	if old.Title != cur.Title {
		out = append(out, t.T("meetings.series.diff_title", "Title", cur.Title))
	}
	if old.RRule != cur.RRule || !sameDay(old.Start, cur.Start) || old.Holidays != cur.Holidays {
		out = append(out, t.T("meetings.series.diff_rule"))
	}
	if old.Start.Format("15:04") != cur.Start.Format("15:04") {
		out = append(out, t.T("meetings.series.diff_time", "Time", cur.Start.Format("15:04")))
	}
	if old.Duration != cur.Duration {
		out = append(out, t.N("meetings.series.diff_duration", int(cur.Duration/time.Minute)))
	}
	switch {
	case old.Place == cur.Place:
	case cur.Place == "":
		out = append(out, t.T("meetings.series.diff_no_place"))
	default:
		out = append(out, t.T("meetings.series.diff_place", "Place", cur.Place))
	}
	switch {
	case old.VideoURL == cur.VideoURL:
	case cur.VideoURL == "":
		out = append(out, t.T("meetings.series.diff_no_video"))
	default:
		out = append(out, t.T("meetings.series.diff_video", "URL", cur.VideoURL))
	}
	if !slices.Equal(f.invitees(old), f.invitees(cur)) {
		out = append(out, t.T("meetings.series.diff_invitees"))
	}
	if !slices.Equal(old.Organizers, cur.Organizers) {
		out = append(out, t.T("meetings.series.diff_organizers"))
	}
	if !slices.Equal(old.Reminders, cur.Reminders) || old.RSVPDeadline != cur.RSVPDeadline || old.AgendaCutoff != cur.AgendaCutoff {
		out = append(out, t.T("meetings.series.diff_reminders"))
	}
	return out
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// postMinutes sends an occurrence's decisions to everyone it concerns. Posting again sends the
// corrected text.
func (f *Flow) postMinutes(ctx context.Context, r *bot.Request, id, text string) error {
	o, s, err := f.update(ctx, id, r.Person.ID, func(o *occurrence, s *seriesRec) error {
		if !f.isOrganizer(r.Person, s) {
			return errNotOrganizer
		}
		if o.Cancelled {
			return errClosed
		}
		if f.e.Now().Before(o.Start) {
			return bot.Tell("meetings.minutes.early")
		}
		o.Minutes, o.MinutesBy = text, r.Person.ID
		o.MinutesSeq++
		return nil
	})
	if err := f.changeErr(ctx, r, id, err); err != nil {
		return err
	}
	n := 0
	for _, who := range f.audience(s, &o) {
		if who != r.Person.ID {
			n++
		}
	}
	return r.Reply(ctx, bot.Message{Lines: []string{f.tr(r.Lang).N("meetings.minutes.sent", n)}})
}
