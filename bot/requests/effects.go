package requests

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/tiltas/tiltas/bot"
)

// effects is what a request owes, from the change was → q: while it is open, its reminder and
// overdue timers; the question to whoever newly holds it (who is put on the case to see it);
// a clarifying question to the asker and the answer back; reminders; the head told when it is
// overdue; the answer or the refusal to the asker, as a recorded share; on closing, the people
// it put on the case taken off again; an audit event for each step.
func (f *Flow) effects(ctx context.Context, was, q *Request) (bot.Effects, error) {
	var fx bot.Effects
	rec := key(q.ID)
	if q.State == Open {
		for _, off := range f.cfg.Reminders {
			k := offKey(off)
			if !slices.Contains(q.Reminded, k) {
				fx.Timers = append(fx.Timers, bot.Timer{ID: "request:" + q.ID + ":remind:" + k, Due: f.reminderAt(q, off), Kind: "request.remind", Ref: q.ID, Arg: k})
			}
		}
		if !q.Overdue {
			fx.Timers = append(fx.Timers, bot.Timer{ID: "request:" + q.ID + ":overdue", Due: q.Due, Kind: "request.overdue", Ref: q.ID})
		}
	}
	if was == q {
		return fx, nil
	}
	old := Request{}
	if was != nil {
		old = *was
	}
	// The timeline's new entries, in order.
	for i := len(old.Timeline); i < len(q.Timeline); i++ {
		ev := q.Timeline[i]
		fx.Audit = append(fx.Audit, bot.AuditEvent{ID: bot.FactID(rec, i) + ":" + ev.Kind, At: ev.At, Actor: ev.Actor, Kind: "request." + ev.Kind, Case: q.Case, Record: rec,
			To: strings.Join(ev.To, ","), Reason: q.Basis})
		n := strconv.Itoa(i)
		if ev.Kind == "asked" {
			asker := ev.Actor
			fx.Do = append(fx.Do, func(ctx context.Context) error {
				_, _, err := f.e.EnsureCase(ctx, q.Case, asker)
				return err
			})
		}
		switch ev.Kind {
		case "asked", "forwarded":
			for _, who := range ev.To {
				m := f.question(q, who, "requests.head.new", n)
				m.Receipt = true // the timeline's "delivered"
				fx.Messages = append(fx.Messages, m)
				if slices.Contains(q.Granted, who) {
					person, code := who, q.Case
					fx.Do = append(fx.Do, func(ctx context.Context) error {
						p := f.e.Directory().Person(person)
						if p == nil || len(p.Roles) == 0 {
							return nil
						}
						return f.e.Assign(ctx, code, person, p.Roles[0], "request:"+q.ID)
					})
				}
			}
		case "reminded":
			for _, who := range ev.To {
				fx.Messages = append(fx.Messages, f.question(q, who, "requests.head.reminder", n))
			}
		case "overdue":
			for _, who := range ev.To {
				fx.Messages = append(fx.Messages, bot.Notice{ID: rec + ":" + n + ":" + who, To: who, Record: rec, Priority: bot.Urgent,
					Build: func(lang string) bot.Message {
						t := f.e.Catalog()
						return bot.Message{Title: t.T(lang, "requests.title", "ID", q.ID, "Case", q.Case), Lines: []string{
							t.T(lang, "requests.overdue_head", "Inst", f.instName(q.Institution), "Asker", f.name(q.Asker), "Due", f.when(lang, q.Due), "Holders", f.names(q.To))}}
					}})
			}
			fx.Messages = append(fx.Messages, bot.Notice{ID: rec + ":" + n + ":" + q.Asker, To: q.Asker, Record: rec,
				Build: func(lang string) bot.Message {
					t := f.e.Catalog()
					return bot.Message{Title: t.T(lang, "requests.title", "ID", q.ID, "Case", q.Case), Lines: []string{t.T(lang, "requests.overdue_asker", "Inst", f.instName(q.Institution))}}
				}})
		case "clarify":
			x := q.Exchanges[len(q.Exchanges)-1]
			for j := len(q.Exchanges) - 1; j >= 0; j-- {
				if q.Exchanges[j].Answer == "" {
					x = q.Exchanges[j]
					break
				}
			}
			fx.Messages = append(fx.Messages, bot.Notice{ID: rec + ":" + n + ":" + q.Asker, To: q.Asker, Case: q.Case, Reason: q.Basis, Record: rec,
				Build: func(lang string) bot.Message {
					t := f.e.Catalog()
					return bot.Message{Title: t.T(lang, "requests.title", "ID", q.ID, "Case", q.Case), Lines: []string{
						t.T(lang, "requests.clarify_asked", "Name", f.name(x.By)), "„" + x.Question + "“"},
						Buttons: [][]bot.Button{{bot.Btn(t.T(lang, "requests.btn.clarified"), "requests.clarified", q.ID, "")}}}
				}})
		case "clarified":
			x := q.Exchanges[len(q.Exchanges)-1]
			for _, who := range ev.To {
				fx.Messages = append(fx.Messages, bot.Notice{ID: rec + ":" + n + ":" + who, To: who, Case: q.Case, Reason: q.Basis, Record: rec,
					Build: func(lang string) bot.Message {
						m := f.card(q, who, lang, "requests.head.clarified")
						m.Lines = append(m.Lines, f.e.Catalog().T(lang, "requests.clarified_answer", "Question", x.Question, "Answer", x.Answer))
						return m
					}})
			}
		case "shared":
			for _, who := range ev.To {
				fx.Messages = append(fx.Messages, bot.Notice{ID: rec + ":" + n + ":" + who, To: who, Case: q.Case, Reason: q.Basis, Record: rec, Sender: q.Asker,
					Build: func(lang string) bot.Message {
						t := f.e.Catalog()
						return bot.Message{Title: t.T(lang, "requests.title", "ID", q.ID, "Case", q.Case), Lines: []string{
							t.T(lang, "requests.shared", "Asker", f.name(q.Asker), "Name", f.name(q.ClosedBy), "Inst", f.instName(q.Institution)),
							t.T(lang, "requests.your_question", "Question", q.Question), "„" + q.Answer + "“", t.T(lang, "requests.basis", "Basis", q.Basis)}}
					}})
			}
		case "answered", "declined":
			closedBy := ev.Actor
			fx.Messages = append(fx.Messages, bot.Notice{ID: rec + ":" + n + ":" + q.Asker, To: q.Asker, Case: q.Case, Reason: q.Basis, Record: rec,
				Build: func(lang string) bot.Message {
					t := f.e.Catalog()
					m := bot.Message{Title: t.T(lang, "requests.title", "ID", q.ID, "Case", q.Case)}
					if q.State == Answered {
						m.Lines = append(m.Lines, t.T(lang, "requests.answered", "Name", f.name(closedBy), "Inst", f.instName(q.Institution)), "„"+q.Answer+"“")
						m.Buttons = [][]bot.Button{{bot.Btn(t.T(lang, "requests.btn.share"), "requests.share", q.ID, "")}}
					} else {
						m.Lines = append(m.Lines, t.T(lang, "requests.declined", "Name", f.name(closedBy), "Inst", f.instName(q.Institution)), "„"+q.Reason+"“")
					}
					m.Lines = append(m.Lines, t.T(lang, "requests.your_question", "Question", q.Question))
					return m
				}})
		}
	}
	if q.State != Open && old.State == Open || q.State != Open && was == nil {
		for _, who := range q.Granted {
			person, code := who, q.Case
			fx.Do = append(fx.Do, func(ctx context.Context) error {
				c, err := f.e.Case(ctx, code)
				if err != nil || !c.Has(person) {
					return nil
				}
				return f.e.Unassign(ctx, code, person, "request:"+q.ID)
			})
		}
		until := q.Closed.Add(f.cfg.Retention)
		fx.Do = append(fx.Do, func(ctx context.Context) error { return f.e.Retain(ctx, rec, until) })
		// The copies the holders had lose their buttons.
		fx.Edits = append(fx.Edits, bot.CopyEdit{Record: rec, Version: q.Fx.Rev,
			Build: func(p *bot.Person, lang string) bot.Message { return f.card(q, p.ID, lang, "") }})
	}
	return fx, nil
}

// question is the request as who gets it: the case, the question, its purpose and deadline,
// and the buttons to answer, forward, ask back or decline.
func (f *Flow) question(q *Request, who, head, n string) bot.Notice {
	return bot.Notice{ID: key(q.ID) + ":" + n + ":" + who, To: who, Copy: key(q.ID), Case: q.Case, Reason: q.Basis, Record: key(q.ID), Sender: q.Asker,
		Build: func(lang string) bot.Message { return f.card(q, who, lang, head) }}
}

func (f *Flow) card(q *Request, who, lang, head string) bot.Message {
	t := f.e.Catalog()
	m := bot.Message{Title: t.T(lang, "requests.title", "ID", q.ID, "Case", q.Case)}
	if head != "" {
		m.Lines = append(m.Lines, t.T(lang, head, "Name", f.name(q.Asker), "Inst", f.instName(f.instOf(q.Asker))))
	}
	m.Lines = append(m.Lines, "„"+q.Question+"“", t.T(lang, "requests.basis", "Basis", q.Basis), t.T(lang, "requests.due", "Due", f.when(lang, q.Due)))
	switch q.State {
	case Answered:
		m.Lines = append(m.Lines, t.T(lang, "requests.state.answered", "Name", f.name(q.ClosedBy)))
		return m
	case Declined:
		m.Lines = append(m.Lines, t.T(lang, "requests.state.declined", "Name", f.name(q.ClosedBy)))
		return m
	}
	if slices.Contains(q.To, who) {
		m.Buttons = [][]bot.Button{
			{bot.Btn(t.T(lang, "requests.btn.answer"), "requests.answer", q.ID, ""), bot.Btn(t.T(lang, "requests.btn.forward"), "requests.forward", q.ID, "")},
			{bot.Btn(t.T(lang, "requests.btn.clarify"), "requests.clarify", q.ID, ""), bot.Btn(t.T(lang, "requests.btn.decline"), "requests.decline", q.ID, "")},
		}
	}
	return m
}

func (f *Flow) instOf(person string) string {
	if p := f.e.Directory().Person(person); p != nil {
		return p.Institution
	}
	return ""
}

func (f *Flow) instName(id string) string {
	if in := f.e.Directory().Institution(id); in != nil {
		return in.Name
	}
	return id
}

func (f *Flow) names(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = f.name(id)
	}
	return strings.Join(out, ", ")
}
