package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"

	"github.com/tiltas/tiltas/bot"
)

var icons = map[string]string{"urgent": "🔴", "today": "🟠", "routine": "🔵"}

func (f *Flow) label(lang, prefix, id string) string {
	if f.e.Catalog().Has(lang, prefix+id) {
		return f.e.Catalog().T(lang, prefix+id)
	}
	return id
}

// view is one person's copy of the alert: details (they are in the chain or its sender), state,
// and the buttons that person may use now.
func (f *Flow) view(a *Alert, p *bot.Person, lang string) bot.Message {
	T := func(id string, kv ...any) string { return f.e.Catalog().T(lang, id, kv...) }
	loc := f.e.Directory().Location
	m := bot.Message{Title: T("alert.title."+a.Kind, "Icon", icons[a.Urgency], "ID", a.ID, "Case", a.Case)}
	from := f.name(a.Sender)
	if a.Integration != "" {
		from = a.Integration
	}
	inst := f.e.Directory().Institution(a.Institution)
	instName := ""
	if inst != nil {
		instName = inst.Name
	}
	switch a.Kind {
	case Notice:
		school := a.School
		if s := f.e.Directory().Institution(a.School); s != nil {
			school = s.Name
		}
		present := T("notice.present.no")
		if a.Present {
			present = T("notice.present.yes")
		}
		m.Lines = append(m.Lines,
			T("notice.line.school", "School", school),
			T("notice.line.incident", "When", f.e.Catalog().DateTime(lang, a.Incident.In(loc)), "Present", present))
		if len(a.Steps) > 0 && !a.Steps[0].Until.IsZero() && a.State == Open && a.Step == 0 && a.Round == 0 {
			m.Lines = append(m.Lines, T("notice.line.deadline", "When", f.e.Catalog().DateTime(lang, a.Steps[0].Until.In(loc))))
		}
	default:
		phoned := T("alert.phoned.no")
		if a.Phoned {
			phoned = T("alert.phoned.yes")
		}
		m.Lines = append(m.Lines,
			T("alert.line.category", "Category", f.label(lang, "alert.category.", a.Category), "Urgency", f.label(lang, "alert.urgency.", a.Urgency)),
			T("alert.line.text", "Text", a.Text),
			phoned)
	}
	m.Lines = append(m.Lines, T("alert.line.from", "Name", from, "Institution", instName, "When", f.e.Catalog().DateTime(lang, a.Created.In(loc))))
	switch a.State {
	case Open:
		if a.Exhausted {
			m.Lines = append(m.Lines, T("alert.state.exhausted"))
		} else {
			m.Lines = append(m.Lines, T("alert.state.open"))
		}
	case Acknowledged:
		state := "alert.state.acked"
		if a.Kind == Notice {
			state = "notice.state.received"
		}
		m.Lines = append(m.Lines, T(state, "Name", f.name(a.AckBy), "When", f.e.Catalog().DateTime(lang, a.AckAt.In(loc))))
		if a.Claimed {
			m.Lines = append(m.Lines, T("alert.state.claimed", "Name", f.name(a.AckBy)))
		}
	case Resolved:
		m.Lines = append(m.Lines, T("alert.state.resolved", "Name", f.name(a.ResolvedBy), "When", f.e.Catalog().DateTime(lang, a.ResolvedAt.In(loc))))
		if a.Outcome != "" {
			m.Lines = append(m.Lines, T("alert.line.outcome", "Text", a.Outcome))
		}
	}
	m.Buttons = f.buttons(a, p, lang)
	if a.State == Open && a.Kind == Concern && len(m.Buttons) > 0 {
		// The two buttons say different things; one line says which.
		m.Lines = append(m.Lines, T("alert.line.buttons"))
	}
	return m
}

func (f *Flow) buttons(a *Alert, p *bot.Person, lang string) [][]bot.Button {
	T := func(id string) string { return f.e.Catalog().T(lang, id) }
	var row []bot.Button
	switch a.State {
	case Open:
		if f.mayAct(a, p) {
			if a.Kind == Notice {
				row = append(row, bot.Btn(T("notice.btn.received"), "alert.ack", a.ID, ""))
			} else {
				row = append(row, bot.Btn(T("alert.btn.ack"), "alert.ack", a.ID, ""), bot.Btn(T("alert.btn.claim"), "alert.claim", a.ID, ""))
			}
		}
	case Acknowledged:
		if a.AckBy == p.ID && a.Kind == Concern {
			row = append(row, bot.Btn(T("alert.btn.resolve"), "alert.resolve", a.ID, ""))
			if !a.Claimed {
				row = append(row, bot.Btn(T("alert.btn.claim"), "alert.claim", a.ID, ""))
			}
			row = append(row, bot.Btn(T("alert.btn.unack"), "alert.unack", a.ID, ""))
		} else if a.Kind == Notice && f.mayResolve(a, p) {
			row = append(row, bot.Btn(T("notice.btn.close"), "alert.resolve", a.ID, ""))
		}
	case Resolved:
		if a.ResolvedBy == p.ID {
			row = append(row, bot.Btn(T("alert.btn.unresolve"), "alert.unresolve", a.ID, ""))
		}
	}
	if len(row) == 0 {
		return nil
	}
	return [][]bot.Button{row}
}

// groupView is what a group chat sees: that there is something, for whom and which case — never
// the details, which are in the members' direct messages.
func (f *Flow) groupView(a *Alert, group string) bot.Message {
	lang := f.e.Directory().Language
	T := func(id string, kv ...any) string { return f.e.Catalog().T(lang, id, kv...) }
	g := f.e.Directory().Group(group)
	m := bot.Message{}
	switch a.State {
	case Open:
		msg := "alert.group.new"
		if a.Round > 0 {
			msg = "alert.group.repeat" // the chain's next round: not a new concern
		}
		m.Lines = []string{T(msg, "Icon", icons[a.Urgency], "Urgency", f.label(lang, "alert.urgency.", a.Urgency), "Group", g.Name, "Case", a.Case, "ID", a.ID)}
		m.Buttons = [][]bot.Button{{bot.Btn(T("alert.btn.ack"), "alert.ack", a.ID, "")}}
	case Acknowledged:
		m.Lines = []string{T("alert.group.acked", "Case", a.Case, "ID", a.ID, "Name", f.name(a.AckBy))}
	case Resolved:
		m.Lines = []string{T("alert.group.resolved", "Case", a.Case, "ID", a.ID)}
	}
	return m
}

// show answers "/alert ID": the alert and its timeline, to those who may see it, in a direct chat.
func (f *Flow) show(ctx context.Context, r *bot.Request, id string) error {
	a, err := f.Get(ctx, strings.ToUpper(id))
	if err != nil || !f.maySee(&a, r.Person) {
		if err == nil || errors.Is(err, bot.ErrNotFound) {
			f.e.Refused(ctx, r.Person.ID, key(strings.ToUpper(id)), "need_to_know")
			return bot.Tell("alert.unknown", "ID", id)
		}
		return err
	}
	if r.Chat.Group {
		return bot.Tell("core.use_private")
	}
	loc := f.e.Directory().Location
	m := f.view(&a, r.Person, r.Lang)
	m.Lines = append(m.Lines, "", r.T("alert.timeline"))
	for _, ev := range a.Timeline {
		var who []string
		for _, p := range ev.To {
			who = append(who, f.name(p))
		}
		actor := ev.Actor
		if actor != "system" {
			actor = f.name(actor)
		} else {
			actor = ""
		}
		kind := ev.Kind
		label := ""
		if at, ok := strings.CutPrefix(kind, "entered:"); ok {
			round, step := parsePos(at)
			kind = "entered"
			label = r.T("alert.event.entered_n", "Step", f.stepNumber(&a, round, step), "To", f.stepTo(r.Lang, a.Steps[step]))
		} else {
			label = f.label(r.Lang, "alert.event.", kind)
		}
		line := ev.At.In(loc).Format("01-02 15:04") + " " + label
		if actor != "" {
			line += " — " + actor
		}
		if len(who) > 0 {
			line += ": " + strings.Join(who, ", ")
		}
		m.Lines = append(m.Lines, line)
	}
	f.e.Record(ctx, bot.AuditEvent{Actor: r.Person.ID, Kind: "case.shared", Case: a.Case, Record: key(a.ID), To: r.Person.ID, Reason: "viewed"})
	return r.Reply(ctx, m)
}

// export sends a coordinator the alert's timeline as JSON: IDs, kinds and times.
func (f *Flow) export(ctx context.Context, r *bot.Request, id string) error {
	if !r.Person.Has(bot.RoleCoordinator) {
		f.e.Refused(ctx, r.Person.ID, key(id), "role")
		return bot.ErrForbidden
	}
	a, err := f.Get(ctx, strings.ToUpper(id))
	if err != nil {
		return bot.Tell("alert.unknown", "ID", id)
	}
	type out struct {
		ID       string  `json:"id"`
		Kind     string  `json:"kind"`
		Case     string  `json:"case"`
		Urgency  string  `json:"urgency"`
		State    string  `json:"state"`
		Timeline []Event `json:"timeline"`
	}
	data, err := json.MarshalIndent(out{a.ID, a.Kind, a.Case, a.Urgency, a.State, a.Timeline}, "", "  ")
	if err != nil {
		return err
	}
	f.e.Record(ctx, bot.AuditEvent{Actor: r.Person.ID, Kind: "alert.exported", Record: key(a.ID)})
	return r.Reply(ctx, bot.Message{Lines: []string{r.T("alert.exported", "ID", a.ID)}, File: &bot.File{Name: "alert-" + a.ID + ".json", Type: "application/json", Data: data}})
}

// list answers "/alerts": open alerts the person may see, oldest first.
func (f *Flow) list(ctx context.Context, r *bot.Request) error {
	open, err := f.alerts.Live(ctx, 0, math.Inf(1))
	if err != nil {
		return err
	}
	m := bot.Message{Title: r.T("alert.list.title")}
	var buttons []bot.Button
	for _, a := range open {
		if !f.maySee(&a, r.Person) {
			continue
		}
		state := r.T("alert.list.open")
		if a.State == Acknowledged {
			state = r.T("alert.list.acked", "Name", f.name(a.AckBy))
		}
		m.Lines = append(m.Lines, icons[a.Urgency]+" "+a.ID+" · "+a.Case+" · "+state)
		if len(buttons) < 10 {
			buttons = append(buttons, bot.Btn(a.ID, "alert.view", a.ID, ""))
		}
	}
	if len(m.Lines) == 0 {
		return r.Say(ctx, "alert.list.none")
	}
	for chunk := range slices.Chunk(buttons, 5) {
		m.Buttons = append(m.Buttons, chunk)
	}
	return r.Reply(ctx, m)
}

// Board returns the oldest limit of the open and acknowledged alerts, for the desk, not yet
// acknowledged first, then acknowledged, each oldest first; and how many are open in all.
func (f *Flow) Board(ctx context.Context, limit int) ([]Alert, int, error) {
	open, total, err := f.alerts.Page(ctx, 0, math.Inf(1), limit)
	if err != nil {
		return nil, 0, err
	}
	slices.SortStableFunc(open, func(a, b Alert) int {
		if (a.State == Acknowledged) != (b.State == Acknowledged) {
			if a.State == Acknowledged {
				return 1
			}
			return -1
		}
		return a.Created.Compare(b.Created)
	})
	return open, total, nil
}

// ShowsDetails reports whether p may read a's free text (its description, the outcome): its
// sender, anyone it reached, the coordinators, and whoever holds a role in its case. Anyone who
// may use the desk sees its code, category, state, times and who acted.
func (f *Flow) ShowsDetails(ctx context.Context, a *Alert, p *bot.Person) bool {
	if f.maySee(a, p) {
		return true
	}
	c, err := f.e.Case(ctx, a.Case)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(c.Members, func(m bot.CaseMember) bool { return m.Person == p.ID })
}

// Unreachable lists the people who hold a place in a routing rule's steps but have no linked
// chat account: an alert to them would reach nobody.
func (f *Flow) Unreachable(ctx context.Context) ([]string, error) {
	var out []string
	dir := f.e.Directory()
	for _, r := range f.cfg.Rules {
		for _, s := range r.Steps {
			for _, p := range dir.Resolve(s.Audience) {
				if slices.Contains(out, p) {
					continue
				}
				if _, err := f.e.AddressOf(ctx, p); errors.Is(err, bot.ErrNotFound) {
					out = append(out, p)
				} else if err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}
