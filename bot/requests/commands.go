package requests

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/tiltas/tiltas/bot"
)

func (f *Flow) register() {
	e := f.e
	e.Command(bot.Command{Name: "request", Aliases: []string{"prasymas"}, Help: "requests.help.request", Roles: f.cfg.Askers, Private: true,
		Run: func(ctx context.Context, r *bot.Request) error { return e.StartDialog(ctx, r, "requests.ask", nil) }})
	e.Command(bot.Command{Name: "requests", Aliases: []string{"prasymai"}, Help: "requests.help.requests", Private: true, Run: f.list})
	e.Dialog(&bot.Dialog{Name: "requests.ask", Title: "requests.dlg.ask", Done: f.asked, Summary: f.askSummary, Steps: []bot.Step{
		{Name: "case", Kind: bot.AskCase, Prompt: "requests.ask.case"},
		{Name: "inst", Kind: bot.AskChoice, Prompt: "requests.ask.inst", Options: f.institutions},
		{Name: "person", Kind: bot.AskChoice, Prompt: "requests.ask.person", Options: f.people},
		{Name: "question", Kind: bot.AskText, Prompt: "requests.ask.question", MaxLen: f.cfg.QuestionMax},
		{Name: "basis", Kind: bot.AskChoice, Prompt: "requests.ask.basis", Options: f.bases},
		{Name: "urgent", Kind: bot.AskChoice, Prompt: "requests.ask.urgent", Options: func(r *bot.Request, _ bot.Answers) []bot.Option {
			return []bot.Option{{Value: "no", Label: r.T("requests.ask.normal", "Days", f.cfg.DueDays)}, {Value: "yes", Label: r.T("requests.ask.urgent_yes")}}
		}},
		{Name: "confirm", Kind: bot.AskConfirm, Prompt: "requests.ask.confirm"},
	}})
	text := func(name, prompt string, max int) *bot.Dialog {
		return &bot.Dialog{Name: name, Title: "requests.dlg." + strings.TrimPrefix(name, "requests."), Done: f.done(name), Steps: []bot.Step{
			{Name: "text", Kind: bot.AskText, Prompt: prompt, MaxLen: max}}}
	}
	e.Dialog(text("requests.answer", "requests.answer.prompt", f.cfg.AnswerMax))
	e.Dialog(text("requests.clarify", "requests.clarify.prompt", f.cfg.QuestionMax))
	e.Dialog(text("requests.clarified", "requests.clarified.prompt", f.cfg.AnswerMax))
	e.Dialog(text("requests.decline", "requests.decline.prompt", 300))
	e.Dialog(&bot.Dialog{Name: "requests.forward", Title: "requests.dlg.forward", Done: f.done("requests.forward"), Steps: []bot.Step{
		{Name: "text", Kind: bot.AskPerson, Prompt: "requests.forward.prompt", Options: f.colleagues}}})
	for _, a := range []string{"requests.answer", "requests.clarify", "requests.decline", "requests.forward"} {
		e.Action(a, f.start(a, true))
	}
	e.Action("requests.clarified", f.start("requests.clarified", false))
	e.Action("requests.share", func(ctx context.Context, r *bot.Request, a bot.Action) error {
		q, err := f.Share(ctx, r.Person, a.Ref)
		if errors.Is(err, bot.ErrForbidden) {
			f.e.Refused(ctx, r.Person.ID, key(a.Ref), "not_asker")
			return bot.Tell("requests.not_yours")
		}
		if errors.Is(err, bot.ErrUnchanged) {
			return bot.Tell("requests.share_nobody")
		}
		if err != nil {
			return err
		}
		r.Toast(r.T("requests.shared_done", "Count", len(q.SharedWith)))
		return nil
	})
}

// start opens dialog name about the request a button names, for its holder (or its asker).
func (f *Flow) start(name string, holder bool) bot.ActionFunc {
	return func(ctx context.Context, r *bot.Request, a bot.Action) error {
		q, err := f.Get(ctx, a.Ref)
		if err != nil {
			return bot.Tell("requests.unknown")
		}
		ok := holds(&q, r.Person)
		if !holder {
			ok = q.State == Open && q.Asker == r.Person.ID
		}
		if !ok {
			f.e.Refused(ctx, r.Person.ID, key(q.ID), "not_holder")
			return bot.Tell("requests.not_yours")
		}
		if name == "requests.answer" {
			// Pressing Answer is as close to a read receipt as a bot gets: the timeline says so.
			if _, err := f.change(ctx, q.ID, func(q *Request) error {
				q.log(f.e.Now(), r.Person.ID, "opened")
				return nil
			}); err != nil {
				return err
			}
		}
		return f.e.StartDialog(ctx, r, name, bot.Answers{"req": q.ID})
	}
}

// done stores what a dialog about a request gave.
func (f *Flow) done(name string) func(ctx context.Context, r *bot.Request, a bot.Answers) error {
	return func(ctx context.Context, r *bot.Request, a bot.Answers) error {
		id, text := a["req"], a["text"]
		var err error
		switch name {
		case "requests.answer":
			_, err = f.Answer(ctx, r.Person, id, text)
		case "requests.decline":
			_, err = f.Decline(ctx, r.Person, id, text)
		case "requests.clarify":
			_, err = f.Clarify(ctx, r.Person, id, text)
		case "requests.clarified":
			_, err = f.Clarified(ctx, r.Person, id, text)
		case "requests.forward":
			_, err = f.Forward(ctx, r.Person, id, text)
		}
		if errors.Is(err, bot.ErrForbidden) {
			f.e.Refused(ctx, r.Person.ID, key(id), "not_holder")
			return bot.Tell("requests.not_yours")
		}
		if err != nil {
			return err
		}
		return r.Say(ctx, name+".done", "ID", id)
	}
}

func (f *Flow) institutions(r *bot.Request, _ bot.Answers) []bot.Option {
	var out []bot.Option
	for _, in := range f.e.Directory().Institutions {
		if in.ID != r.Person.Institution {
			out = append(out, bot.Option{Value: in.ID, Label: in.Name})
		}
	}
	return out
}

// people are who at the chosen institution may be asked by name, after "whoever handles
// requests there".
func (f *Flow) people(r *bot.Request, a bot.Answers) []bot.Option {
	out := []bot.Option{{Value: "-", Label: r.T("requests.ask.anyone")}}
	for _, p := range f.e.Directory().Select(nil, a["inst"], "") {
		out = append(out, bot.Option{Value: p.ID, Label: p.Name})
	}
	return out
}

func (f *Flow) bases(_ *bot.Request, _ bot.Answers) []bot.Option {
	var out []bot.Option
	for _, b := range f.cfg.Bases {
		out = append(out, bot.Option{Value: b, Label: b})
	}
	return out
}

// colleagues are the people of the asked institution a holder may hand the request to.
func (f *Flow) colleagues(r *bot.Request, a bot.Answers) []bot.Option {
	q, err := f.Get(context.Background(), a["req"])
	if err != nil {
		return nil
	}
	var out []bot.Option
	for _, p := range f.e.Directory().Select(nil, q.Institution, "") {
		if p.ID != r.Person.ID {
			out = append(out, bot.Option{Value: p.ID, Label: p.Name})
		}
	}
	return out
}

func (f *Flow) askSummary(r *bot.Request, a bot.Answers) []string {
	due := f.DueFor(f.e.Now(), a["urgent"] == "yes")
	return []string{a["case"] + " → " + f.instName(a["inst"]), "„" + a["question"] + "“", r.T("requests.basis", "Basis", a["basis"]), r.T("requests.due", "Due", f.when(r.Lang, due))}
}

func (f *Flow) asked(ctx context.Context, r *bot.Request, a bot.Answers) error {
	person := a["person"]
	if person == "-" {
		person = ""
	}
	q, err := f.Ask(ctx, r.Person, a["case"], a["inst"], person, a["question"], a["basis"], a["urgent"] == "yes")
	if errors.Is(err, bot.ErrForbidden) {
		return bot.Tell("requests.forbidden")
	}
	if err != nil {
		return err
	}
	return r.Say(ctx, "requests.asked", "ID", q.ID, "Inst", f.instName(q.Institution), "Due", f.when(r.Lang, q.Due))
}

// list answers /requests: what the person asked and what they hold, with the state of each;
// /requests stats gives a coordinator the figures per institution.
func (f *Flow) list(ctx context.Context, r *bot.Request) error {
	if len(r.Args) > 0 && strings.EqualFold(r.Args[0], "stats") {
		if !r.Person.Has(bot.RoleCoordinator) {
			f.e.Refused(ctx, r.Person.ID, "command/requests.stats", "role")
			return bot.Tell("requests.forbidden")
		}
		stats, err := f.Statistics(ctx)
		if err != nil {
			return err
		}
		m := bot.Message{Title: r.T("requests.stats.title")}
		for _, s := range stats {
			m.Lines = append(m.Lines, r.T("requests.stats.line", "Inst", f.instName(s.Institution), "Received", s.Received, "InTime", s.InTime, "Median", hours(s.Median)))
		}
		if len(stats) == 0 {
			m.Lines = append(m.Lines, r.T("requests.none"))
		}
		return r.Reply(ctx, m)
	}
	if len(r.Args) > 0 {
		return f.show(ctx, r, strings.ToUpper(r.Args[0]))
	}
	qs, err := f.Mine(ctx, r.Person)
	if err != nil {
		return err
	}
	if len(qs) == 0 {
		return r.Say(ctx, "requests.none")
	}
	m := bot.Message{Title: r.T("requests.list.title")}
	for _, q := range qs {
		state := f.State(r.Lang, &q)
		dir := "→ " + f.instName(q.Institution)
		if q.Asker != r.Person.ID {
			dir = "← " + f.name(q.Asker)
		}
		m.Lines = append(m.Lines, q.ID+" · "+q.Case+" "+dir+" — "+state)
	}
	return r.Reply(ctx, m)
}

// State is q's state in lang: open (or overdue) with its deadline and how far it got
// (delivered, opened), answered or declined.
func (f *Flow) State(lang string, q *Request) string {
	t := f.e.Catalog()
	if q.State != Open {
		return t.T(lang, "requests.st."+q.State)
	}
	st := t.T(lang, "requests.st.open", "Due", f.when(lang, q.Due))
	if q.Overdue {
		st = t.T(lang, "requests.st.overdue", "Due", f.when(lang, q.Due))
	}
	if p := Progress(q); p != "" {
		st += " · " + t.T(lang, "requests.st."+p)
	}
	return st
}

// Progress is how far an open request got with whoever holds it now: "opened" once one of them
// pressed Answer, "delivered" once the question reached one of them, else "".
func Progress(q *Request) string {
	got := ""
	for _, ev := range q.Timeline {
		switch {
		case ev.Kind == "forwarded":
			got = "" // a new holder: from the start again
		case ev.Kind == "opened" && slices.Contains(q.To, ev.Actor):
			got = "opened"
		case ev.Kind == "delivered" && got == "" && len(ev.To) > 0 && slices.Contains(q.To, ev.To[0]):
			got = "delivered"
		}
	}
	return got
}

// show answers /requests ID: the request's timeline, to its asker, whoever held it, the asked
// institution's head and leaders (who are told when it is overdue) and the coordinators; the
// question itself only to the asker and its holders (need-to-know).
func (f *Flow) show(ctx context.Context, r *bot.Request, id string) error {
	q, err := f.reqs.Get(ctx, id)
	if errors.Is(err, bot.ErrNotFound) {
		return bot.Tell("requests.unknown")
	}
	if err != nil {
		return err
	}
	party := q.Asker == r.Person.ID || slices.Contains(q.To, r.Person.ID)
	for _, ev := range q.Timeline {
		if (ev.Kind == "asked" || ev.Kind == "forwarded") && slices.Contains(ev.To, r.Person.ID) {
			party = true
		}
	}
	if !party && !r.Person.Has(bot.RoleCoordinator) && !slices.Contains(f.heads(q.Institution), r.Person.ID) {
		f.e.Refused(ctx, r.Person.ID, key(q.ID), "not_party")
		return bot.Tell("requests.unknown") // says nothing of whether it exists
	}
	m := bot.Message{Title: r.T("requests.title", "ID", q.ID, "Case", q.Case)}
	m.Lines = append(m.Lines, "→ "+f.instName(q.Institution)+" — "+f.State(r.Lang, &q))
	if party {
		m.Lines = append(m.Lines, r.T("requests.your_question", "Question", q.Question))
	}
	m.Lines = append(m.Lines, r.T("requests.basis", "Basis", q.Basis), r.T("requests.timeline"))
	for _, ev := range q.Timeline {
		m.Lines = append(m.Lines, f.when(r.Lang, ev.At)+" — "+r.T("requests.ev."+ev.Kind, "Actor", f.name(ev.Actor), "To", f.names(ev.To)))
	}
	return r.Reply(ctx, m)
}
