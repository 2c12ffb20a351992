package meetings

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// kinds registers occurrences and series on the engine: what each owes follows from its state.
func (f *Flow) kinds() {
	f.occs = bot.NewCollection(f.e, bot.Kind[occurrence]{Prefix: "meeting/", Open: idxOccurrences,
		OpenFrom: func(now time.Time) float64 { return float64(now.AddDate(0, 0, -2).Unix()) },
		Ledger:   func(o *occurrence) *bot.Ledger { return &o.Fx },
		Index: func(o *occurrence) []bot.IndexOp {
			return []bot.IndexOp{{Index: idxOccurrences, Member: o.ID, Score: float64(o.Start.Unix())}}
		},
		Effects: f.occEffects})
	f.feeds = bot.NewTable[feedToken](f.e, "meetingfeed/")
	f.feedOf = bot.NewTable[feedOf](f.e, "meetingfeedof/")
	f.sers = bot.NewCollection(f.e, bot.Kind[seriesRec]{Prefix: "meetingseries/", Open: idxSeries,
		Ledger: func(s *seriesRec) *bot.Ledger { return &s.Fx },
		Index: func(s *seriesRec) []bot.IndexOp {
			return []bot.IndexOp{{Index: idxSeries, Member: s.ID, Score: float64(s.Created.Unix())}}
		},
		Effects: f.seriesEffects})
}

// done reports whether effect key of o was taken or skipped.
func (o *occurrence) done(key string) bool { return o.Done[key] || o.Skip[key] }

func (o *occurrence) mark(set *map[string]bool, key string) {
	if *set == nil {
		*set = map[string]bool{}
	}
	(*set)[key] = true
}

// occTimers are the timers o wants: each reminder, the nudge and summary before the RSVP
// deadline and the minutes prompt after the end, until each is taken or skipped.
func (f *Flow) occTimers(s *seriesRec, o *occurrence) []bot.Timer {
	if o.Cancelled {
		return nil
	}
	at := unix(o.Start)
	var ts []bot.Timer
	for _, off := range s.Reminders {
		arg := offKey(off) + "@" + at
		if !o.done("remind:" + arg) {
			ts = append(ts, bot.Timer{ID: timerID(o.ID, "remind:"+offKey(off)), Due: Before(o.Start, off), Kind: "meetings.remind", Ref: o.ID, Arg: arg})
		}
	}
	deadline := f.deadline(s, o)
	if !o.done("summary@" + at) {
		ts = append(ts, bot.Timer{ID: timerID(o.ID, "summary"), Due: deadline, Kind: "meetings.summary", Ref: o.ID, Arg: at})
	}
	if !o.done("nudge@" + at) {
		ts = append(ts, bot.Timer{ID: timerID(o.ID, "nudge"), Due: Before(deadline, f.cfg.NudgeBefore), Kind: "meetings.nudge", Ref: o.ID, Arg: at})
	}
	if !o.done("minutes@"+at) && o.MinutesSeq == 0 {
		ts = append(ts, bot.Timer{ID: timerID(o.ID, "minutes"), Due: o.End.Add(f.cfg.MinutesAfter), Kind: "meetings.minutes", Ref: o.ID, Arg: at})
	}
	return ts
}

// skipPast marks what o would do at its current start but whose time has passed at now as
// skipped. With catchUp (a meeting planned late) the latest reminder that passed still goes, at
// once, so that nobody misses the meeting.
func (f *Flow) skipPast(s *seriesRec, o *occurrence, now time.Time, catchUp bool) {
	at := unix(o.Start)
	late, lateDue := "", time.Time{}
	for _, off := range s.Reminders {
		k, due := "remind:"+offKey(off)+"@"+at, Before(o.Start, off)
		if o.done(k) || due.After(now) {
			continue
		}
		if catchUp && now.Before(o.Start) && (late == "" || due.After(lateDue)) {
			if late != "" {
				o.mark(&o.Skip, late)
			}
			late, lateDue = k, due
			continue
		}
		o.mark(&o.Skip, k)
	}
	deadline := f.deadline(s, o)
	if !deadline.After(now) {
		o.mark(&o.Skip, "summary@"+at)
	}
	if !Before(deadline, f.cfg.NudgeBefore).After(now) {
		o.mark(&o.Skip, "nudge@"+at)
	}
	if !o.End.Add(f.cfg.MinutesAfter).After(now) {
		o.mark(&o.Skip, "minutes@"+at)
	}
}

// realign puts o where series s (as changed) has it: at the rule's slot unless an organizer moved
// it, cancelled when the rule no longer has it. It reports whether o changed.
func (f *Flow) realign(s *seriesRec, o *occurrence) bool {
	if o.Cancelled {
		return false
	}
	before := *o
	slot, ok := f.slotOf(s, o.ID)
	if !ok {
		o.Cancelled = true
	} else if !o.Moved {
		o.Orig, o.Start, o.Holiday = slot.Orig, slot.Start, slot.Holiday
	}
	o.End = o.Start.Add(s.Duration)
	o.SeriesSeq = s.Seq
	return o.Cancelled != before.Cancelled || !o.Start.Equal(before.Start) || !o.End.Equal(before.End) || o.SeriesSeq != before.SeriesSeq
}

// occEffects is what an occurrence owes: its timers, and for the change from was: the reminders,
// nudge, summary and minutes prompt whose time came, the news of a cancellation or a move, the
// edits an answer or an agenda change makes, a deputy's invitation, the minutes, and the audit
// events. A change a series made (By empty) edits the copies; the series tells the news.
func (f *Flow) occEffects(ctx context.Context, was, o *occurrence) (bot.Effects, error) {
	var fx bot.Effects
	s, err := f.loadSeries(ctx, o.Series)
	if errors.Is(err, bot.ErrNotFound) {
		return fx, nil
	}
	if err != nil {
		return fx, err
	}
	f.localize(o)
	fx.Timers = f.occTimers(s, o)
	if was == o {
		return fx, nil
	}
	old := occurrence{}
	if was != nil {
		old = *was
		f.localize(&old)
	}
	rec := occKey(o.ID)
	audit := func(actor, kind, reason string) {
		fx.Audit = append(fx.Audit, bot.AuditEvent{ID: bot.FactID(rec, int(o.Fx.Rev)) + ":" + kind + ":" + actor, Actor: actor, Kind: kind, Record: rec, Reason: reason})
	}
	if was == nil || !old.Start.Equal(o.Start) || !old.End.Equal(o.End) {
		if f.cfg.Retention > 0 {
			until := o.End.Add(f.cfg.Retention)
			fx.Do = append(fx.Do, func(ctx context.Context) error { return f.e.Retain(ctx, rec, until) })
		}
	}
	for _, key := range slices.Sorted(maps.Keys(o.Done)) {
		if !old.Done[key] {
			fx.Add(f.taken(s, o, key))
		}
	}
	if o.Cancelled && !old.Cancelled {
		// One more EXDATE in the series' calendar event: the series keeps it and versions it.
		orig := o.Orig
		fx.Do = append(fx.Do, func(ctx context.Context) error { return f.excluded(ctx, o.Series, orig) })
	}
	refresh := false
	switch {
	case o.Skipped && was == nil:
		audit("system", "meeting.skipped", o.Holiday)
		for _, who := range f.audience(s, o) {
			fx.Messages = append(fx.Messages, bot.Notice{ID: "meetings:skipped:" + o.ID + ":" + who, To: who, Record: occKey(o.ID),
				Build: func(lang string) bot.Message {
					t := f.tr(lang)
					return bot.Message{Title: s.Title, Lines: []string{t.T("meetings.head.skipped",
						"Date", f.e.Catalog().DateTime(lang, o.Orig), "Holiday", t.T(o.Holiday))}}
				}})
		}
	case o.Cancelled && !old.Cancelled && o.By != "":
		audit(o.By, "meeting.cancelled", "")
		fx.Add(f.tell(s, o, "cancelled", func(t tr, _ string) string { return t.T("meetings.head.cancelled", "Name", f.name(o.By)) }))
	case was != nil && !old.Start.Equal(o.Start) && o.By != "":
		audit(o.By, "meeting.moved", "")
		fx.Add(f.tell(s, o, "moved", func(t tr, lang string) string {
			return t.T("meetings.head.moved", "Name", f.name(o.By), "When", f.e.Catalog().DateTime(lang, o.Start))
		}))
	case was != nil && (o.Cancelled != old.Cancelled || !old.Start.Equal(o.Start) || !old.End.Equal(o.End) || o.SeriesSeq != old.SeriesSeq):
		refresh = true
	}
	answered := false
	for _, who := range slices.Sorted(maps.Keys(o.RSVP)) {
		a, b := o.RSVP[who], old.RSVP[who]
		if a.Answer == b.Answer && a.Deputy == b.Deputy {
			continue
		}
		answered = true
		audit(who, "meeting.rsvp", a.Answer)
		fx.Edits = append(fx.Edits, bot.CopyEdit{Record: rec, Version: o.Fx.Rev, Only: []string{who},
			Build: func(p *bot.Person, lang string) bot.Message { return f.card(s, o, p, lang, "", false) }})
		if a.Deputy != "" && a.Deputy != b.Deputy {
			principal := f.name(who)
			if p := f.e.Directory().Person(a.Deputy); p != nil {
				fx.Messages = append(fx.Messages, bot.Notice{ID: "meetings:deputy:" + o.ID + ":" + who + ":" + a.Deputy + ":" + a.Deputy, To: a.Deputy, Copy: rec, Sender: who,
					Build: func(lang string) bot.Message {
						return f.card(s, o, p, lang, f.tr(lang).T("meetings.head.deputy", "Name", principal), false)
					}})
			}
		}
		if b.Deputy != "" && b.Deputy != a.Deputy {
			fx.Messages = append(fx.Messages, f.released(s, o, who, b.Deputy, a.At))
		}
	}
	for who, b := range old.RSVP { // answers erased with their person
		if _, ok := o.RSVP[who]; !ok && b.Answer != "" {
			answered = true
			refresh = refresh || !o.Cancelled && f.e.Now().Before(o.Start)
		}
	}
	if answered {
		fx.Edits = append(fx.Edits, f.summaryEdit(s, o))
	}
	if kind := agendaChange(old.Agenda, o.Agenda); was != nil && kind != "" {
		audit(cmpBy(o.By), "meeting.agenda_"+kind, "")
		refresh = true
	}
	if o.MinutesSeq > old.MinutesSeq {
		audit(o.MinutesBy, "meeting.minutes_posted", "")
		fx.Messages = append(fx.Messages, f.minutes(s, o)...)
	}
	if refresh {
		fx.Edits = append(fx.Edits, bot.CopyEdit{Record: rec, Version: o.Fx.Rev,
			Build: func(p *bot.Person, lang string) bot.Message { return f.card(s, o, p, lang, "", false) }}, f.summaryEdit(s, o))
	}
	return fx, nil
}

func cmpBy(by string) string {
	if by == "" {
		return "system"
	}
	return by
}

// agendaChange names what changed between two agendas: "added", "drop", "edit", "up", or "".
func agendaChange(a, b []item) string {
	switch {
	case len(b) > len(a):
		return "added"
	case len(b) < len(a):
		return "drop"
	}
	for i := range a {
		switch {
		case a[i].N != b[i].N:
			return "up"
		case a[i].Text != b[i].Text:
			return "edit"
		}
	}
	return ""
}

func (f *Flow) summaryEdit(s *seriesRec, o *occurrence) bot.CopyEdit {
	return bot.CopyEdit{Record: summaryRecord(o.ID), Version: o.Fx.Rev,
		Build: func(p *bot.Person, lang string) bot.Message { return f.summary(s, o, p, lang) }}
}

// excluded records on series that its occurrence at orig was cancelled or skipped: an EXDATE
// that outlives the occurrence, and a new version of the series' calendar event.
func (f *Flow) excluded(ctx context.Context, series string, orig time.Time) error {
	_, err := f.sers.Change(ctx, series, func(s *seriesRec) error {
		if slices.ContainsFunc(s.Exdates, orig.Equal) {
			return errDone
		}
		s.Exdates = append(s.Exdates, orig)
		s.CalSeq++
		s.CalStamp = f.e.Now()
		return nil
	})
	if errors.Is(err, errDone) || errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	return err
}

// taken is what a timer's effect key owes once marked done: the reminder at one offset to
// everyone the occurrence concerns (the last with the final agenda), the nudge to those who have
// not answered, the attendance summary to the organizers, the minutes prompt.
func (f *Flow) taken(s *seriesRec, o *occurrence, key string) bot.Effects {
	var fx bot.Effects
	what, at := parseArg(key)
	base := timerID(o.ID, what) + "@" + at
	if strings.HasPrefix(key, "remind:") {
		off, _ := parseArg(strings.TrimPrefix(key, "remind:"))
		base = timerID(o.ID, "remind:"+off) + "@" + at
		final := off == offKey(lastReminder(s))
		for _, who := range f.audience(s, o) {
			p := f.e.Directory().Person(who)
			fx.Messages = append(fx.Messages, bot.Notice{ID: base + ":" + who, To: who, Copy: occKey(o.ID),
				Build: func(lang string) bot.Message { return f.card(s, o, p, lang, f.inText(lang, o.Start), final) }})
		}
		return fx
	}
	switch what {
	case "nudge":
		deadline := f.deadline(s, o)
		for _, who := range f.invitees(s) {
			if _, answered := o.RSVP[who]; answered {
				continue
			}
			p := f.e.Directory().Person(who)
			fx.Messages = append(fx.Messages, bot.Notice{ID: base + ":" + who, To: who, Copy: occKey(o.ID),
				Build: func(lang string) bot.Message {
					head := f.tr(lang).T("meetings.head.nudge", "Deadline", f.e.Catalog().DateTime(lang, deadline))
					return f.card(s, o, p, lang, head, false)
				}})
		}
	case "summary":
		for _, who := range f.organizers(s) {
			p := f.e.Directory().Person(who)
			fx.Messages = append(fx.Messages, bot.Notice{ID: base + ":" + who, To: who, Copy: summaryRecord(o.ID),
				Build: func(lang string) bot.Message { return f.summary(s, o, p, lang) }})
		}
	case "minutes":
		for _, who := range f.organizers(s) {
			fx.Messages = append(fx.Messages, bot.Notice{ID: base + ":" + who, To: who, Record: occKey(o.ID),
				Build: func(lang string) bot.Message {
					tt := f.tr(lang)
					return bot.Message{Title: s.Title, Lines: []string{tt.T("meetings.minutes.ask", "When", f.e.Catalog().DateTime(lang, o.Start))},
						Buttons: [][]bot.Button{{bot.Btn(tt.T("meetings.btn.minutes"), "meetings.minutes", o.ID, "")}}}
				}})
		}
	}
	return fx
}

// tell sends everyone o concerns, except whoever changed it, one notice (their new copy, which
// supersedes the one they had), and edits the copies nobody gets a new one of (the changer's
// own, the summaries) to show o as it is now.
func (f *Flow) tell(s *seriesRec, o *occurrence, kind string, head func(t tr, lang string) string) bot.Effects {
	to := f.told(s, o)
	var fx bot.Effects
	rev := strconv.FormatInt(o.Fx.Rev, 10)
	for _, who := range to {
		p := f.e.Directory().Person(who)
		fx.Messages = append(fx.Messages, bot.Notice{ID: "meetings:" + kind + ":" + o.ID + ":" + rev + ":" + who, To: who, Copy: occKey(o.ID), Sender: o.By,
			Build: func(lang string) bot.Message { return f.card(s, o, p, lang, head(f.tr(lang), lang), false) }})
	}
	fx.Edits = append(fx.Edits, bot.CopyEdit{Record: occKey(o.ID), Version: o.Fx.Rev, Skip: to,
		Build: func(p *bot.Person, lang string) bot.Message { return f.card(s, o, p, lang, "", false) }}, f.summaryEdit(s, o))
	return fx
}

// told is who hears of a change to o: everyone it concerns but whoever made the change.
func (f *Flow) told(s *seriesRec, o *occurrence) []string {
	var to []string
	for _, id := range f.audience(s, o) {
		if id != o.By {
			to = append(to, id)
		}
	}
	return to
}

// released tells a deputy they are no longer needed.
func (f *Flow) released(s *seriesRec, o *occurrence, principal, deputy string, at time.Time) bot.Notice {
	name := f.name(principal)
	return bot.Notice{ID: "meetings:undeputy:" + o.ID + ":" + deputy + ":" + unix(at), To: deputy, Record: occKey(o.ID),
		Build: func(lang string) bot.Message {
			return bot.Message{Title: s.Title, Lines: []string{f.tr(lang).T("meetings.deputy.released", "Name", name, "When", f.e.Catalog().DateTime(lang, o.Start))}}
		}}
}

// minutes sends the meeting's decisions to everyone it concerns but their author.
func (f *Flow) minutes(s *seriesRec, o *occurrence) []bot.Notice {
	var out []bot.Notice
	for _, who := range f.audience(s, o) {
		if who == o.MinutesBy {
			continue
		}
		out = append(out, bot.Notice{ID: "meetings:minutes:" + o.ID + ":" + strconv.Itoa(o.MinutesSeq) + ":" + who, To: who, Sender: o.MinutesBy, Record: occKey(o.ID),
			Build: func(lang string) bot.Message {
				t := f.tr(lang)
				title := t.T("meetings.minutes.title", "Title", s.Title)
				if o.MinutesSeq > 1 {
					title = t.T("meetings.minutes.title_corrected", "Title", s.Title)
				}
				return bot.Message{Title: title, Lines: []string{
					t.T("meetings.card.when", "When", f.e.Catalog().Span(lang, o.Start, o.End)),
					o.Minutes,
					t.T("meetings.minutes.by", "Name", f.name(o.MinutesBy)),
				}}
			}})
	}
	return out
}

// fire applies a timer's effect key to its occurrence: marked done, so that what it owes is
// sent once, or skipped when it no longer applies (the meeting started, was cancelled or moved).
// unreached, when set, names who of the audience has no account (the reminders note them).
func (f *Flow) fire(ctx context.Context, t bot.Timer, key string, skip func(o *occurrence, s *seriesRec) bool) error {
	_, at := parseArg(t.Arg)
	_, _, err := f.update(ctx, t.Ref, "", func(o *occurrence, s *seriesRec) error {
		if o.Cancelled || unix(o.Start) != at || o.done(key) {
			return errDone
		}
		if skip != nil && skip(o, s) {
			o.mark(&o.Skip, key)
			return nil
		}
		o.mark(&o.Done, key)
		if strings.HasPrefix(key, "remind:") {
			for _, who := range f.audience(s, o) {
				if _, err := f.e.AddressOf(ctx, who); errors.Is(err, bot.ErrNotFound) && !slices.Contains(o.Unreached, who) {
					o.Unreached = append(o.Unreached, who)
				}
			}
		}
		return nil
	})
	if errors.Is(err, errDone) || errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	return err
}

// seriesEffects is what a series owes: when it was created in chat, the invitation to its first
// meeting; when it changed (in chat or in config) or ended, its planned meetings brought in line
// with it, and one word to everyone it concerns, with their copy of the next meeting.
func (f *Flow) seriesEffects(ctx context.Context, was, s *seriesRec) (bot.Effects, error) {
	var fx bot.Effects
	if was == s {
		return fx, nil
	}
	f.localizeSeries(s)
	rec := seriesKey(s.ID)
	audit := func(kind, reason string) {
		fx.Audit = append(fx.Audit, bot.AuditEvent{ID: bot.FactID(rec, int(s.Fx.Rev)) + ":" + kind, Actor: cmpBy(s.By), Kind: kind, Record: rec, Reason: reason})
	}
	if was == nil {
		if s.Source != "chat" {
			return fx, nil
		}
		audit("meeting.series_created", "")
		return f.invitation(ctx, s, fx)
	}
	old := *was
	f.localizeSeries(&old)
	if old.Seq == s.Seq {
		return fx, nil
	}
	switch {
	case !s.Ended.IsZero() && old.Ended.IsZero():
		if s.By != "system" {
			audit("meeting.series_ended", "")
		}
	case s.By != "system":
		audit("meeting.series_changed", s.Change)
	}
	occs, err := f.upcoming(ctx, s.ID)
	if err != nil {
		return fx, err
	}
	now := f.e.Now()
	var deps []string
	for _, o := range occs {
		if !now.Before(o.Start) {
			continue
		}
		id := o.ID
		fx.Do = append(fx.Do, func(ctx context.Context) error {
			_, _, err := f.update(ctx, id, "", func(o *occurrence, cur *seriesRec) error {
				if !f.realign(cur, o) {
					return errDone
				}
				f.skipPast(cur, o, f.e.Now(), false)
				return nil
			})
			if errors.Is(err, errDone) {
				return nil
			}
			return err
		})
		for _, d := range deputies(&o) {
			deps = append(deps, d)
		}
	}
	fx.Do = append(fx.Do, func(ctx context.Context) error { return f.planSeries(ctx, s) })
	fx.Messages = append(fx.Messages, f.seriesNews(ctx, &old, s, deps)...)
	return fx, nil
}

// invitation invites everyone to the first meeting of a series made in chat; its maker sees the
// summary instead.
func (f *Flow) invitation(ctx context.Context, s *seriesRec, fx bot.Effects) (bot.Effects, error) {
	first, ok, err := f.next(ctx, s)
	if err != nil || !ok {
		return fx, err
	}
	name := f.name(s.CreatedBy)
	for _, who := range f.audience(s, &first) {
		if who == s.CreatedBy {
			continue
		}
		p := f.e.Directory().Person(who)
		fx.Messages = append(fx.Messages, bot.Notice{ID: "meetings:invite:" + s.ID + ":" + who, To: who, Copy: occKey(first.ID), Sender: s.CreatedBy,
			Build: func(lang string) bot.Message {
				return f.card(s, &first, p, lang, f.tr(lang).T("meetings.head.invited", "Name", name), false)
			}})
	}
	return fx, nil
}

// seriesNews tells everyone a series change concerns, except whoever made it, what changed: with
// a new copy of the next meeting, or a plain line when they are no longer invited or it ended.
func (f *Flow) seriesNews(ctx context.Context, old, cur *seriesRec, deps []string) []bot.Notice {
	was, now := f.invitees(old), f.invitees(cur)
	var people []string
	for _, group := range [][]string{was, now, f.organizers(old), f.organizers(cur), deps} {
		for _, id := range group {
			if id != cur.By && !slices.Contains(people, id) && f.e.Directory().Person(id) != nil {
				people = append(people, id)
			}
		}
	}
	next, hasNext, err := f.next(ctx, cur)
	if err != nil {
		hasNext = false
	}
	if hasNext {
		f.realign(cur, &next)
		hasNext = !next.Cancelled
	}
	ended := !cur.Ended.IsZero()
	msgID := "meetings:series:" + cur.ID + ":" + strconv.Itoa(cur.Seq)
	sender := ""
	if f.e.Directory().Person(cur.By) != nil {
		sender = cur.By
	}
	var out []bot.Notice
	for _, who := range people {
		removed := slices.Contains(was, who) && !slices.Contains(now, who) && !slices.Contains(cur.Organizers, who)
		added := !slices.Contains(was, who) && slices.Contains(now, who)
		head := func(lang string) []string {
			t := f.tr(lang)
			switch {
			case removed:
				return []string{t.T("meetings.series.uninvited")}
			case ended:
				return []string{t.T("meetings.series.ended")}
			}
			var lines []string
			if cur.By == "system" || cur.By == "" {
				lines = append(lines, t.T("meetings.series.changed_config"))
			} else {
				lines = append(lines, t.T("meetings.series.changed", "Name", f.name(cur.By)))
			}
			if added {
				lines = append(lines, t.T("meetings.series.invited"))
			}
			return append(lines, f.diff(t, old, cur)...)
		}
		p := f.e.Directory().Person(who)
		if hasNext && !removed && !ended {
			out = append(out, bot.Notice{ID: msgID + ":" + who, To: who, Copy: occKey(next.ID), Sender: sender, Record: seriesKey(cur.ID),
				Build: func(lang string) bot.Message {
					m := f.card(cur, &next, p, lang, "", false)
					m.Lines = append(append(head(lang), f.tr(lang).T("meetings.series.next")), m.Lines...)
					return m
				}})
			continue
		}
		out = append(out, bot.Notice{ID: msgID + ":" + who, To: who, Sender: sender, Record: seriesKey(cur.ID),
			Build: func(lang string) bot.Message { return bot.Message{Title: cur.Title, Lines: head(lang)} }})
	}
	return out
}
