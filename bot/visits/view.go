package visits

import (
	"maps"
	"slices"
	"strconv"

	"github.com/tiltas/tiltas/bot"
)

// card is the visit as one person sees it in their own copy. It never carries cases, addresses
// or the meeting point: invitees see the time, the area and the roles needed; the confirmed team
// gets the details in a separate message (brief) that can be withdrawn.
func (f *Flow) card(v Visit) func(p *bot.Person, lang string) bot.Message {
	return func(p *bot.Person, lang string) bot.Message {
		m := bot.Message{Title: f.T(lang, "visits.title", "Visit", v.No)}
		m.Lines = append(m.Lines,
			f.T(lang, "visits.card.when", "When", f.e.Catalog().Span(lang, v.Start, v.End)),
			f.T(lang, "visits.card.area", "Area", v.Area),
			f.T(lang, "visits.card.needs", "Needs", f.needs(lang, v.Needs)),
			f.statusLine(lang, v))
		manager := p.ID == v.Organizer || p.Has(bot.RoleCoordinator)
		if manager || v.state(p.ID) == Joined {
			if len(v.Participants()) > 0 {
				m.Lines = append(m.Lines, f.T(lang, "visits.card.team", "Team", f.team(lang, v)))
			}
			if sb := v.by(Standby); len(sb) > 0 {
				m.Lines = append(m.Lines, f.T(lang, "visits.card.standby", "Names", f.e.Catalog().Join(lang, f.names(sb))))
			}
		}
		if manager {
			m.Lines = append(m.Lines, f.answers(lang, v, false)...)
			m.Lines = append(m.Lines, f.T(lang, "visits.card.organizer", "Name", f.name(v.Organizer)))
		}
		if v.invited(p.ID) {
			m.Lines = append(m.Lines, f.yours(lang, v, p.ID))
		}
		if !v.Active() || !f.e.Now().Before(v.Start) {
			return m
		}
		if v.invited(p.ID) {
			confirm := bot.Btn(f.T(lang, "visits.btn.confirm"), "visits.confirm", v.ID, "")
			decline := bot.Btn(f.T(lang, "visits.btn.decline"), "visits.decline", v.ID, "")
			suggest := bot.Btn(f.T(lang, "visits.btn.suggest"), "visits.suggest", v.ID, "")
			switch v.state(p.ID) {
			case "", Suggested:
				m.Buttons = append(m.Buttons, []bot.Button{confirm, decline}, []bot.Button{suggest})
			case Declined, Withdrawn:
				m.Buttons = append(m.Buttons, []bot.Button{confirm, suggest})
			case Joined, Standby:
				m.Buttons = append(m.Buttons, []bot.Button{bot.Btn(f.T(lang, "visits.btn.withdraw"), "visits.withdraw", v.ID, "")})
			}
		}
		if manager {
			m.Buttons = append(m.Buttons, f.manageButtons(lang, v)...)
		}
		return m
	}
}

func (f *Flow) manageButtons(lang string, v Visit) [][]bot.Button {
	return [][]bot.Button{
		{bot.Btn(f.T(lang, "visits.btn.widen"), "visits.widen", v.ID, ""), bot.Btn(f.T(lang, "visits.btn.addcase"), "visits.addcase", v.ID, "")},
		{bot.Btn(f.T(lang, "visits.btn.reschedule"), "visits.reschedule", v.ID, ""), bot.Btn(f.T(lang, "visits.btn.cancel"), "visits.cancel", v.ID, "")},
	}
}

func (f *Flow) statusLine(lang string, v Visit) string {
	switch v.Status {
	case Open:
		if v.Short || !f.e.Now().Before(v.Deadline) {
			return f.T(lang, "visits.status.short", "Missing", f.needs(lang, v.Missing()))
		}
		return f.T(lang, "visits.status.open", "Missing", f.needs(lang, v.Missing()), "Deadline", f.e.Catalog().DateTime(lang, v.Deadline))
	case Confirmed:
		return f.T(lang, "visits.status.confirmed")
	case Cancelled:
		return f.T(lang, "visits.status.cancelled")
	case Reporting:
		return f.T(lang, "visits.status.reporting")
	default:
		return f.T(lang, "visits.status.closed")
	}
}

// yours is the viewer's own answer.
func (f *Flow) yours(lang string, v Visit, person string) string {
	r := v.Replies[person]
	switch r.State {
	case Joined:
		if r.Extra || r.Role == "" {
			return f.T(lang, "visits.you.joined_extra")
		}
		return f.T(lang, "visits.you.joined", "Role", f.T(lang, "role."+string(r.Role)))
	case Standby:
		return f.T(lang, "visits.you.standby")
	case Declined:
		return f.T(lang, "visits.you.declined")
	case Suggested:
		return f.T(lang, "visits.you.suggested", "When", f.e.Catalog().DateTime(lang, r.Suggest))
	case Withdrawn:
		return f.T(lang, "visits.you.withdrawn")
	}
	return f.T(lang, "visits.you.pending")
}

// answers lists who answered what, for the organizer and coordinators. With reasons, it also
// gives each decline's reason and each suggested time (the deadline alert).
func (f *Flow) answers(lang string, v Visit, detail bool) []string {
	var out []string
	if detail {
		for _, p := range v.Pool {
			out = append(out, "• "+f.T(lang, "visits.answer.line", "Name", f.name(p), "Answer", f.answerText(lang, v, p)))
		}
		return out
	}
	var declined, suggested, pending []string
	for _, p := range v.Pool {
		switch v.state(p) {
		case Declined, Withdrawn:
			declined = append(declined, f.name(p))
		case Suggested:
			suggested = append(suggested, f.name(p))
		case "":
			pending = append(pending, f.name(p))
		}
	}
	if len(declined) > 0 {
		out = append(out, f.T(lang, "visits.card.declined", "Names", f.e.Catalog().Join(lang, declined)))
	}
	if len(suggested) > 0 {
		out = append(out, f.T(lang, "visits.card.suggested", "Names", f.e.Catalog().Join(lang, suggested)))
	}
	if len(pending) > 0 {
		out = append(out, f.T(lang, "visits.card.pending", "Names", f.e.Catalog().Join(lang, pending)))
	}
	return out
}

func (f *Flow) answerText(lang string, v Visit, p string) string {
	r := v.Replies[p]
	switch r.State {
	case Joined:
		return f.T(lang, "visits.answer.joined")
	case Standby:
		return f.T(lang, "visits.answer.standby")
	case Declined:
		s := f.T(lang, "visits.answer.declined", "Reason", f.T(lang, "visits.reason."+reasonCode(r.Reason)))
		if r.Note != "" {
			s += ": " + r.Note
		}
		return s
	case Suggested:
		return f.T(lang, "visits.answer.suggested", "When", f.e.Catalog().DateTime(lang, r.Suggest))
	case Withdrawn:
		if r.Note != "" {
			return f.T(lang, "visits.answer.withdrawn") + ": " + r.Note
		}
		return f.T(lang, "visits.answer.withdrawn")
	}
	return f.T(lang, "visits.answer.none")
}

func reasonCode(c string) string {
	switch c {
	case "busy", "leave", "area":
		return c
	}
	return "other"
}

// brief is what only confirmed participants see, in their direct chat: the meeting point, the
// cases and their addresses.
func (f *Flow) brief(v Visit, lang string) bot.Message {
	m := bot.Message{Title: f.T(lang, "visits.brief.title", "Visit", v.No)}
	m.Lines = append(m.Lines, f.T(lang, "visits.card.when", "When", f.e.Catalog().Span(lang, v.Start, v.End)))
	if v.MeetingPoint != "" {
		m.Lines = append(m.Lines, f.T(lang, "visits.brief.meet", "Place", v.MeetingPoint))
	}
	if len(v.Cases) == 0 {
		m.Lines = append(m.Lines, f.T(lang, "visits.brief.no_cases"))
	} else {
		m.Lines = append(m.Lines, f.T(lang, "visits.brief.cases"))
		for _, c := range v.Cases {
			if c.Address == "" {
				m.Lines = append(m.Lines, "• "+f.T(lang, "visits.brief.case_noaddr", "Case", c.Code))
			} else {
				m.Lines = append(m.Lines, "• "+f.T(lang, "visits.brief.case", "Case", c.Code, "Address", c.Address))
			}
		}
	}
	m.Lines = append(m.Lines, f.T(lang, "visits.brief.private"))
	return m
}

func (f *Flow) hiddenBrief(v Visit, lang, why string) bot.Message {
	return bot.Message{Title: f.T(lang, "visits.brief.title", "Visit", v.No), Lines: []string{f.T(lang, "visits.brief.hidden."+why)}}
}

// shown is who should see the details now, with the confirmation each joined by (a participant
// who withdraws and joins again gets a new message).
func shown(v Visit) map[string]int64 {
	out := map[string]int64{}
	if !v.Active() && v.Status != Reporting {
		return out
	}
	for p, r := range v.Replies {
		if r.State == Joined {
			out[p] = r.Order
		}
	}
	return out
}

func briefRef(id, p string, order int64) string {
	return "visit/" + id + "/brief/" + p + "/" + strconv.FormatInt(order, 10)
}

func sameBrief(a, b Visit) bool {
	if !a.Start.Equal(b.Start) || !a.End.Equal(b.End) || a.MeetingPoint != b.MeetingPoint || len(a.Cases) != len(b.Cases) {
		return false
	}
	for i := range a.Cases {
		if a.Cases[i].Code != b.Cases[i].Code || a.Cases[i].Address != b.Cases[i].Address {
			return false
		}
	}
	return true
}

// briefs sends the details to people who just joined, withdraws them from people who left or
// when the visit ends, and updates them when they change. Every message that shows case details
// is recorded as a share of each case.
func (f *Flow) briefs(old, v Visit) bot.Effects {
	var fx bot.Effects
	was, now := shown(old), shown(v)
	id := v.ID
	rev := strconv.FormatInt(v.Rev(), 10)
	for _, p := range slices.Sorted(maps.Keys(now)) {
		order := now[p]
		ref := briefRef(id, p, order)
		switch o, ok := was[p]; {
		case !ok || o != order:
			fx.Add(f.shareBrief(v, p, bot.Notice{ID: "visit:" + id + ":brief:" + p + ":" + strconv.FormatInt(order, 10), RefKey: ref, Priority: f.prio(v)}))
		case !sameBrief(old, v):
			fx.Add(f.shareBrief(v, p, bot.Notice{ID: "visit:" + id + ":brief:" + p + ":" + strconv.FormatInt(order, 10) + ":r" + rev, RefKey: ref, Edit: true}))
		}
	}
	why := "left"
	switch v.Status {
	case Cancelled:
		why = "cancelled"
	case Closed:
		why = "closed"
	}
	for _, p := range slices.Sorted(maps.Keys(was)) {
		order := was[p]
		if o, ok := now[p]; ok && o == order {
			continue
		}
		fx.Messages = append(fx.Messages, bot.Notice{ID: "visit:" + id + ":hide:" + p + ":" + strconv.FormatInt(order, 10), To: p, Edit: true,
			RefKey: briefRef(id, p, order), Record: key(id),
			Build: func(lang string) bot.Message { return f.hiddenBrief(v, lang, why) }})
	}
	return fx
}

// shareBrief sends or edits p's details and records the share of every case it shows.
func (f *Flow) shareBrief(v Visit, p string, n bot.Notice) bot.Effects {
	n.To, n.Record = p, key(v.ID)
	n.Build = func(lang string) bot.Message { return f.brief(v, lang) }
	for _, c := range v.Cases {
		n.Cases = append(n.Cases, c.Code)
	}
	return bot.Effects{Messages: []bot.Notice{n}}
}
