package alerts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

func (f *Flow) registerCommands() {
	f.e.Command(bot.Command{Name: "concern", Aliases: []string{"susirupinimas", "rupestis"}, Help: "alert.help.concern", Roles: f.cfg.Senders, Private: true, Run: f.concernCommand})
	f.e.Command(bot.Command{Name: "notice", Aliases: []string{"pranesimas"}, Help: "alert.help.notice", Roles: f.cfg.NoticeSenders, Private: true, Run: func(ctx context.Context, r *bot.Request) error {
		return f.e.StartDialog(ctx, r, "alert.notice", nil)
	}})
	f.e.Command(bot.Command{Name: "alert", Help: "alert.help.alert", Private: true, Run: func(ctx context.Context, r *bot.Request) error {
		if len(r.Args) == 0 {
			return f.list(ctx, r)
		}
		if len(r.Args) == 2 && strings.EqualFold(r.Args[1], "export") {
			return f.export(ctx, r, r.Args[0])
		}
		return f.show(ctx, r, r.Args[0])
	}})
	f.e.Command(bot.Command{Name: "alerts", Help: "alert.help.alerts", Private: true, Run: f.list})

	yesNo := func(r *bot.Request, _ bot.Answers) []bot.Option {
		return []bot.Option{{Value: "yes", Label: r.T("alert.yes")}, {Value: "no", Label: r.T("alert.no")}}
	}
	f.e.Dialog(&bot.Dialog{
		Name: "alert.concern", Title: "alert.dialog.concern",
		Steps: []bot.Step{
			{Name: "case", Kind: bot.AskCase, Prompt: "alert.ask.case"},
			{Name: "category", Kind: bot.AskChoice, Prompt: "alert.ask.category", Options: func(r *bot.Request, _ bot.Answers) []bot.Option {
				var out []bot.Option
				for _, c := range f.cfg.Categories {
					out = append(out, bot.Option{Value: c, Label: f.label(r.Lang, "alert.category.", c)})
				}
				return out
			}},
			{Name: "urgency", Kind: bot.AskChoice, Prompt: "alert.ask.urgency", Options: func(r *bot.Request, _ bot.Answers) []bot.Option {
				var out []bot.Option
				for _, u := range Urgencies {
					out = append(out, bot.Option{Value: u, Label: icons[u] + " " + r.T("alert.urgency."+u)})
				}
				return out
			}},
			{Name: "text", Kind: bot.AskText, Prompt: "alert.ask.text", MaxLen: f.cfg.DescriptionMax},
			{Name: "phoned", Kind: bot.AskChoice, Prompt: "alert.ask.phoned", Options: yesNo},
			{Name: "confirm", Kind: bot.AskConfirm, Prompt: "alert.ask.confirm"},
		},
		Summary: func(r *bot.Request, a bot.Answers) []string {
			phoned := r.T("alert.phoned.no")
			if a["phoned"] == "yes" {
				phoned = r.T("alert.phoned.yes")
			}
			return []string{
				r.T("alert.summary.case", "Case", a["case"]),
				r.T("alert.line.category", "Category", f.label(r.Lang, "alert.category.", a["category"]), "Urgency", r.T("alert.urgency."+a["urgency"])),
				r.T("alert.line.text", "Text", a["text"]),
				phoned,
			}
		},
		Done: func(ctx context.Context, r *bot.Request, a bot.Answers) error {
			al, err := f.Raise(ctx, Input{Case: a["case"], Category: a["category"], Urgency: a["urgency"], Text: a["text"], Phoned: a["phoned"] == "yes", Sender: r.Person.ID})
			if err != nil {
				return err
			}
			return f.sent(ctx, r, &al)
		},
	})
	f.e.Dialog(&bot.Dialog{
		Name: "alert.notice", Title: "notice.dialog",
		Steps: []bot.Step{
			{Name: "school", Kind: bot.AskChoice, Prompt: "notice.ask.school", Options: func(r *bot.Request, _ bot.Answers) []bot.Option {
				var out []bot.Option
				for _, in := range f.e.Directory().Institutions {
					if in.Kind == "school" {
						out = append(out, bot.Option{Value: in.ID, Label: in.Name})
					}
				}
				return out
			}},
			{Name: "case", Kind: bot.AskCase, Prompt: "alert.ask.case"},
			{Name: "incident", Kind: bot.AskDateTime, Prompt: "notice.ask.incident", Check: f.pastTime},
			{Name: "present", Kind: bot.AskChoice, Prompt: "notice.ask.present", Options: yesNo},
			{Name: "confirm", Kind: bot.AskConfirm, Prompt: "alert.ask.confirm"},
		},
		Summary: func(r *bot.Request, a bot.Answers) []string {
			school := a["school"]
			if s := f.e.Directory().Institution(school); s != nil {
				school = s.Name
			}
			present := r.T("notice.present.no")
			if a["present"] == "yes" {
				present = r.T("notice.present.yes")
			}
			return []string{
				r.T("notice.line.school", "School", school),
				r.T("alert.summary.case", "Case", a["case"]),
				r.T("notice.line.incident", "When", f.e.Catalog().DateTime(r.Lang, a.Time("incident", f.e.Directory().Location)), "Present", present),
			}
		},
		Done: func(ctx context.Context, r *bot.Request, a bot.Answers) error {
			al, err := f.RaiseNotice(ctx, r.Person.ID, a["school"], a["case"], a.Time("incident", f.e.Directory().Location), a["present"] == "yes")
			if err != nil {
				return err
			}
			return f.sent(ctx, r, &al)
		},
	})
	f.e.Dialog(&bot.Dialog{
		Name: "alert.resolve", Title: "alert.dialog.resolve",
		Steps: []bot.Step{{Name: "outcome", Kind: bot.AskText, Prompt: "alert.ask.outcome", MaxLen: 300}},
		Done: func(ctx context.Context, r *bot.Request, a bot.Answers) error {
			al, err := f.Resolve(ctx, r.Person, a["alert"], a["outcome"])
			if err != nil {
				return err
			}
			return r.Say(ctx, "alert.resolved_ok", "ID", al.ID)
		},
	})
}

// pastTime accepts an incident time in the past; "22:30" typed after 22:30 means today.
func (f *Flow) pastTime(_ context.Context, _ *bot.Request, v string, _ bot.Answers) (string, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return "", bot.Tell("dialog.bad.datetime")
	}
	now := f.e.Now()
	if t.After(now) && t.Add(-24*time.Hour).Before(now) {
		t = t.Add(-24 * time.Hour)
	}
	if t.After(now.Add(5 * time.Minute)) {
		return "", bot.Tell("notice.bad.future")
	}
	return t.Format(time.RFC3339), nil
}

// sent tells the sender whom the new alert reached.
func (f *Flow) sent(ctx context.Context, r *bot.Request, a *Alert) error {
	var names []string
	for _, ev := range a.Timeline {
		if ev.Kind == "notified" {
			for _, p := range ev.To {
				names = append(names, f.name(p))
			}
		}
	}
	if len(names) == 0 {
		return r.Say(ctx, "alert.sent_nobody", "ID", a.ID)
	}
	if a.Kind == Notice {
		return r.Say(ctx, "notice.sent", "ID", a.ID, "Case", a.Case, "Names", f.e.Catalog().Join(r.Lang, names))
	}
	return r.Say(ctx, "alert.sent", "ID", a.ID, "Case", a.Case, "Names", f.e.Catalog().Join(r.Lang, names))
}

// concernCommand starts the concern dialog, prefilled from a one-line shortcut when given:
// /concern K-2026-117 urgent neglect text…
func (f *Flow) concernCommand(ctx context.Context, r *bot.Request) error {
	pre := bot.Answers{}
	args := r.Args
	if len(args) > 0 && f.e.ValidCaseCode(strings.ToUpper(args[0])) {
		pre["case"] = strings.ToUpper(args[0])
		args = args[1:]
	} else if len(args) > 0 {
		// A shortcut that does not start with a case code: say why before asking for one.
		if err := r.Say(ctx, "dialog.bad.case"); err != nil {
			return err
		}
		return f.e.StartDialog(ctx, r, "alert.concern", pre)
	}
	// Urgency and category, in either order; a word understood as neither, followed by one
	// that is, was meant as one of them (a typo): it is asked about, not guessed. What follows is
	// the description, kept whatever is missing: nothing typed is lost.
	var unclear []string
	for len(args) > 0 && (pre["urgency"] == "" || pre["category"] == "") {
		w := args[0]
		if u := f.matchUrgency(w); u != "" && pre["urgency"] == "" {
			pre["urgency"] = u
		} else if c := f.matchCategory(w); c != "" && pre["category"] == "" {
			pre["category"] = c
		} else if len(unclear) == 0 && len(args) > 1 && (f.matchUrgency(args[1]) != "" || f.matchCategory(args[1]) != "") {
			unclear = append(unclear, w)
		} else {
			break
		}
		args = args[1:]
	}
	if len(args) > 0 {
		text := strings.Join(args, " ")
		if n := len([]rune(text)); n > f.cfg.DescriptionMax {
			return bot.Tell("dialog.bad.long", "Max", f.cfg.DescriptionMax, "Len", n)
		}
		pre["text"] = text
		if pre["urgency"] != "" && pre["category"] != "" {
			pre["phoned"] = "no"
		}
	}
	if len(unclear) > 0 {
		if err := r.Say(ctx, "alert.shortcut.unclear", "Word", unclear[0]); err != nil {
			return err
		}
	}
	return f.e.StartDialog(ctx, r, "alert.concern", pre)
}

var urgencyWords = map[string][]string{
	"urgent":  {"urgent", "skubu", "skubus", "skubi", "u"},
	"today":   {"today", "siandien", "šiandien", "t"},
	"routine": {"routine", "iprasta", "įprasta", "iprastas", "r"},
}

func (f *Flow) matchUrgency(w string) string {
	w = strings.ToLower(w)
	for u, words := range urgencyWords {
		if slices.Contains(words, w) {
			return u
		}
	}
	return ""
}

// matchCategory reads a category as people type it: its ID, or a word sharing a stem of at least
// five letters with a word of its label in any language ("nepriežiūra", "smurtas", "neglect").
func (f *Flow) matchCategory(w string) string {
	w = bot.Fold(w)
	for _, c := range f.cfg.Categories {
		if c == w {
			return c
		}
		for _, l := range bot.Languages {
			for _, word := range strings.Fields(bot.Fold(f.label(l, "alert.category.", c))) {
				if word == w || commonPrefix(word, w) >= 5 {
					return c
				}
			}
		}
	}
	return ""
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// RaiseNotice sends a school's designated contact a notice that a child of the school was
// involved in an incident. Unconfirmed by the next school day's deadline, it goes to the school's
// head, and then to the coordinators.
func (f *Flow) RaiseNotice(ctx context.Context, sender, school, caseCode string, incident time.Time, present bool) (Alert, error) {
	s := f.e.Directory().Institution(school)
	if s == nil || s.Kind != "school" || s.DesignatedContact == "" {
		return Alert{}, fmt.Errorf("%w: school %q", bot.ErrInvalid, school)
	}
	now := f.e.Now()
	deadline := f.cfg.Calendar.NextSchoolDayAt(now.In(f.e.Directory().Location), f.cfg.NoticeHour, f.cfg.NoticeMinute)
	steps := []Step{
		{Audience: bot.Audience{People: []string{s.DesignatedContact}}, Until: deadline},
		{Audience: bot.Audience{People: []string{s.Head}}, Wait: time.Hour},
		{Audience: bot.Audience{Roles: []bot.Role{bot.RoleCoordinator}}, Wait: 2 * time.Hour},
	}
	if s.Head == "" {
		steps = append(steps[:1], steps[2])
	}
	inst := ""
	if p := f.e.Directory().Person(sender); p != nil {
		inst = p.Institution
	}
	a := Alert{Kind: Notice, Case: caseCode, Urgency: "today", Sender: sender, Institution: inst, Created: now, State: Open,
		School: school, Incident: incident, Present: present, Rule: "notice", Steps: steps}
	return f.create(ctx, a, sender, "N")
}
