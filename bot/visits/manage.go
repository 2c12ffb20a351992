package visits

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

func (f *Flow) registerDialogs() {
	e := f.e
	e.Dialog(f.planDialog())
	e.Dialog(&bot.Dialog{Name: "visits.decline", Title: "visits.dlg.decline", Done: f.declined, Steps: []bot.Step{
		{Name: "reason", Kind: bot.AskChoice, Prompt: "visits.decline.reason", Options: func(r *bot.Request, _ bot.Answers) []bot.Option {
			var out []bot.Option
			for _, c := range []string{"busy", "leave", "area", "other"} {
				out = append(out, bot.Option{Value: c, Label: r.T("visits.reason." + c)})
			}
			return out
		}},
		{Name: "note", Kind: bot.AskText, Prompt: "visits.decline.note", MaxLen: 200, If: func(a bot.Answers) bool { return a["reason"] == "other" }},
	}})
	e.Dialog(&bot.Dialog{Name: "visits.suggest", Title: "visits.dlg.suggest", Done: f.suggested, Steps: []bot.Step{
		{Name: "when", Kind: bot.AskDateTime, Prompt: "visits.suggest.when", Check: f.future},
	}})
	e.Dialog(&bot.Dialog{Name: "visits.withdraw", Title: "visits.dlg.withdraw", Done: f.withdrew, Summary: f.whichVisit, Steps: []bot.Step{
		{Name: "note", Kind: bot.AskText, Prompt: "visits.withdraw.note", MaxLen: 200, Optional: true},
		{Name: "confirm", Kind: bot.AskConfirm, Prompt: "visits.withdraw.confirm"},
	}})
	e.Dialog(&bot.Dialog{Name: "visits.reschedule", Title: "visits.dlg.reschedule", Done: f.rescheduled, Summary: f.moveSummary, Steps: []bot.Step{
		{Name: "start", Kind: bot.AskDateTime, Prompt: "visits.plan.start", Check: f.future},
		{Name: "end", Kind: bot.AskClock, Prompt: "visits.plan.end", Check: f.endCheck},
		{Name: "confirm", Kind: bot.AskConfirm, Prompt: "visits.reschedule.confirm"},
	}})
	e.Dialog(&bot.Dialog{Name: "visits.cancel", Title: "visits.dlg.cancel", Done: f.cancelled, Summary: f.whichVisit, Steps: []bot.Step{
		{Name: "confirm", Kind: bot.AskConfirm, Prompt: "visits.cancel.confirm"},
	}})
	e.Dialog(&bot.Dialog{Name: "visits.widen", Title: "visits.dlg.widen", Done: f.widened, Steps: []bot.Step{
		{Name: "pool", Kind: bot.AskChoice, Prompt: "visits.widen.pool", Options: f.widenOptions},
		{Name: "person", Kind: bot.AskPerson, Prompt: "visits.plan.pick", If: func(a bot.Answers) bool { return a["pool"] == "pick" },
			Options: func(_ *bot.Request, a bot.Answers) []bot.Option {
				var out []bot.Option
				for _, p := range f.candidates(a) {
					out = append(out, bot.Option{Value: p.ID, Label: f.personLabel(p)})
				}
				return out
			}},
	}})
	e.Dialog(&bot.Dialog{Name: "visits.addcase", Title: "visits.dlg.addcase", Done: f.caseAdded, Steps: []bot.Step{
		{Name: "case", Kind: bot.AskCase, Prompt: "visits.plan.case", Check: f.newCase},
		{Name: "addr", Kind: bot.AskText, Prompt: "visits.plan.address", Optional: true, MaxLen: f.cfg.NoteMax},
	}})
	e.Dialog(&bot.Dialog{Name: "visits.report", Title: "visits.dlg.report", Done: f.reported, Summary: f.reportSummary, Steps: []bot.Step{
		{Name: "result", Kind: bot.AskChoice, Prompt: "visits.report.result", Options: func(r *bot.Request, _ bot.Answers) []bot.Option {
			var out []bot.Option
			for _, c := range results {
				out = append(out, bot.Option{Value: c, Label: r.T("visits.result." + c)})
			}
			return out
		}},
		{Name: "followup", Kind: bot.AskChoice, Prompt: "visits.report.followup", Options: f.yesNo("visits.report.followup_yes", "visits.report.followup_no")},
		{Name: "note", Kind: bot.AskText, Prompt: "visits.report.note", MaxLen: f.cfg.NoteMax, Optional: true},
		{Name: "confirm", Kind: bot.AskConfirm, Prompt: "visits.report.confirm"},
	}})
}

// prefill is what a dialog about v starts with: the visit, and what its options need to know.
func (f *Flow) prefill(v Visit, dialog string) bot.Answers {
	a := bot.Answers{"visit": v.ID, "no": v.No, "vstart": v.Start.Format(time.RFC3339), "vend": v.End.Format(time.RFC3339)}
	switch dialog {
	case "visits.widen":
		var roles []string
		for _, n := range v.Needs {
			roles = append(roles, string(n.Role))
		}
		a["area"], a["roles"], a["have"] = v.Area, strings.Join(roles, ","), strings.Join(v.Pool, ",")
	case "visits.addcase":
		var codes []string
		for _, c := range v.Cases {
			codes = append(codes, c.Code)
		}
		a["have"] = strings.Join(codes, ",")
	}
	return a
}

func (f *Flow) whichVisit(r *bot.Request, a bot.Answers) []string {
	loc := f.e.Directory().Location
	return []string{f.T(r.Lang, "visits.title", "Visit", a["no"]),
		f.T(r.Lang, "visits.card.when", "When", f.e.Catalog().Span(r.Lang, a.Time("vstart", loc), a.Time("vend", loc)))}
}

func (f *Flow) moveSummary(r *bot.Request, a bot.Answers) []string {
	loc := f.e.Directory().Location
	return []string{
		f.T(r.Lang, "visits.reschedule.new", "When", f.e.Catalog().Span(r.Lang, a.Time("start", loc), a.Time("end", loc))),
		f.T(r.Lang, "visits.reschedule.was", "When", f.e.Catalog().Span(r.Lang, a.Time("vstart", loc), a.Time("vend", loc))),
	}
}

// reschedule opens the reschedule dialog; from a suggestion the new time is already known.
func (f *Flow) reschedule(ctx context.Context, r *bot.Request, a bot.Action) error {
	v, err := f.load(ctx, a.Ref)
	if err != nil {
		return f.refuse(ctx, r, a.Ref, err)
	}
	if err := f.manageable(&v, r.Person); err != nil {
		return f.refuse(ctx, r, v.ID, err)
	}
	pre := f.prefill(v, "visits.reschedule")
	if sec, err := strconv.ParseInt(a.Arg, 10, 64); err == nil {
		start := time.Unix(sec, 0).In(f.e.Directory().Location)
		pre["start"] = start.Format(time.RFC3339)
		pre["end"] = start.Add(v.End.Sub(v.Start)).Format(time.RFC3339)
	}
	return f.e.StartDialog(ctx, r, "visits.reschedule", pre)
}

// rescheduled moves the visit. Participants and standby keep their places (they are told and
// can withdraw); those who declined or suggested another time are asked again; the deadline
// keeps its lead before the start.
func (f *Flow) rescheduled(ctx context.Context, r *bot.Request, a bot.Answers) error {
	loc := f.e.Directory().Location
	start, end := a.Time("start", loc), a.Time("end", loc)
	now := f.e.Now()
	_, v, err := f.change(ctx, a["visit"], r.Person.ID, func(v *Visit) error {
		if err := f.manageable(v, r.Person); err != nil {
			return err
		}
		if !start.After(now) || !end.After(start) {
			return bot.Tell("visits.plan.past")
		}
		if start.Equal(v.Start) && end.Equal(v.End) {
			return bot.Tell("visits.reschedule.same")
		}
		lead := v.Start.Sub(v.Deadline)
		v.Start, v.End = start, end
		v.Deadline = start.Add(-lead)
		if !v.Deadline.After(now) {
			v.Deadline = now.Add(start.Sub(now) / 2).Truncate(time.Minute)
		}
		v.Short, v.DeadlinePassed = false, false
		v.Reminders = f.reminders(start, now)
		for p, rep := range v.Replies {
			if rep.State != Joined && rep.State != Standby {
				delete(v.Replies, p)
			}
		}
		v.settle()
		return nil
	})
	if err != nil {
		return f.refuse(ctx, r, a["visit"], err)
	}
	return r.Say(ctx, "visits.said.moved", "Visit", v.No, "When", f.e.Catalog().Span(r.Lang, v.Start, v.End))
}

func (f *Flow) cancelled(ctx context.Context, r *bot.Request, a bot.Answers) error {
	_, v, err := f.change(ctx, a["visit"], r.Person.ID, func(v *Visit) error {
		if err := f.manageable(v, r.Person); err != nil {
			return err
		}
		v.Status = Cancelled
		return nil
	})
	if err != nil {
		return f.refuse(ctx, r, a["visit"], err)
	}
	return r.Say(ctx, "visits.said.cancelled", "Visit", v.No)
}

// widenRoles are the roles a pool can be widened by: the required ones, and probation.
func widenRoles(a bot.Answers) []bot.Role {
	var out []bot.Role
	for _, r := range strings.Split(a["roles"], ",") {
		if r != "" {
			out = append(out, bot.Role(r))
		}
	}
	if !slices.Contains(out, bot.RoleProbation) {
		out = append(out, bot.RoleProbation)
	}
	return out
}

// candidates are the people not yet invited who hold a role the visit could use, the area's first.
func (f *Flow) candidates(a bot.Answers) []*bot.Person {
	have := strings.Split(a["have"], ",")
	var near, far []*bot.Person
	for _, p := range f.e.Directory().Select(widenRoles(a), "", "") {
		if slices.Contains(have, p.ID) {
			continue
		}
		if len(p.Areas) == 0 || slices.Contains(p.Areas, a["area"]) {
			near = append(near, p)
		} else {
			far = append(far, p)
		}
	}
	return append(near, far...)
}

// widenSets are the groups of not-yet-invited people offered: a role in the area, a role anywhere.
func (f *Flow) widenSets(a bot.Answers) map[string][]string {
	have := strings.Split(a["have"], ",")
	dir := f.e.Directory()
	out := map[string][]string{}
	for _, role := range widenRoles(a) {
		for _, scope := range []string{"area", "all"} {
			area := a["area"]
			if scope == "all" {
				area = ""
			}
			var ids []string
			for _, p := range dir.Select([]bot.Role{role}, "", area) {
				if !slices.Contains(have, p.ID) {
					ids = append(ids, p.ID)
				}
			}
			if len(ids) > 0 {
				out[scope+":"+string(role)] = ids
			}
		}
	}
	return out
}

func (f *Flow) widenOptions(r *bot.Request, a bot.Answers) []bot.Option {
	sets := f.widenSets(a)
	var out []bot.Option
	for _, role := range widenRoles(a) {
		who := r.T("visits.all." + string(role))
		inArea := sets["area:"+string(role)]
		if len(inArea) > 0 {
			out = append(out, bot.Option{Value: "area:" + string(role),
				Label: r.T("visits.widen.area", "Who", who, "Area", a["area"], "Names", f.e.Catalog().Join(r.Lang, f.names(inArea)))})
		}
		if all := sets["all:"+string(role)]; len(all) > len(inArea) {
			out = append(out, bot.Option{Value: "all:" + string(role), Label: r.T("visits.widen.all", "Who", who, "Names", f.e.Catalog().Join(r.Lang, f.names(all)))})
		}
	}
	if len(f.candidates(a)) > 0 {
		out = append(out, bot.Option{Value: "pick", Label: r.T("visits.pool.pick")})
	}
	return out
}

func (f *Flow) mayWiden(ctx context.Context, r *bot.Request, v *Visit) error {
	if err := f.manageable(v, r.Person); err != nil {
		return err
	}
	if len(f.candidates(f.prefill(*v, "visits.widen"))) == 0 {
		return bot.Tell("visits.widen.nobody")
	}
	return nil
}

func (f *Flow) widened(ctx context.Context, r *bot.Request, a bot.Answers) error {
	more := f.widenSets(a)[a["pool"]]
	if a["pool"] == "pick" {
		more = []string{a["person"]}
	}
	var added []string
	_, v, err := f.change(ctx, a["visit"], r.Person.ID, func(v *Visit) error {
		if err := f.manageable(v, r.Person); err != nil {
			return err
		}
		added = added[:0]
		for _, p := range more {
			if f.e.Directory().Person(p) != nil && !v.invited(p) {
				v.Pool = append(v.Pool, p)
				added = append(added, p)
			}
		}
		if len(added) == 0 {
			return bot.Tell("visits.widen.nobody")
		}
		return nil
	})
	if err != nil {
		return f.refuse(ctx, r, a["visit"], err)
	}
	return r.Say(ctx, "visits.said.widened", "Visit", v.No, "Names", f.e.Catalog().Join(r.Lang, f.names(added)))
}

func (f *Flow) caseAdded(ctx context.Context, r *bot.Request, a bot.Answers) error {
	c := CaseVisit{Code: a["case"], Address: a["addr"]}
	_, v, err := f.change(ctx, a["visit"], r.Person.ID, func(v *Visit) error {
		if err := f.manageable(v, r.Person); err != nil {
			return err
		}
		if v.caseIndex(c.Code) >= 0 {
			return bot.Tell("visits.plan.case_twice", "Case", c.Code)
		}
		v.Cases = append(v.Cases, c)
		return nil
	})
	if err != nil {
		return f.refuse(ctx, r, a["visit"], err)
	}
	return r.Say(ctx, "visits.said.case_added", "Visit", v.No, "Case", c.Code)
}

// open sends the person their own current copy of a visit from the overview.
func (f *Flow) open(ctx context.Context, r *bot.Request, a bot.Action) error {
	v, err := f.load(ctx, a.Ref)
	if err != nil {
		return f.refuse(ctx, r, a.Ref, err)
	}
	if !f.sees(r.Person, v) {
		return f.refuse(ctx, r, v.ID, &refusal{"not_involved"})
	}
	_, err = f.e.Copies(key(v.ID)).Send(ctx, "visit:"+v.ID+":open:"+bot.NewID(), []string{r.Person.ID}, bot.Notice{Priority: bot.Urgent}, f.card(v))
	if errors.Is(err, bot.ErrNotLinked) {
		return nil
	}
	return err
}

// sees: coordinators see every visit in the overview, others the ones they organize or are invited to.
func (f *Flow) sees(p *bot.Person, v Visit) bool {
	return p.Has(bot.RoleCoordinator) || p.ID == v.Organizer || v.invited(p.ID)
}

// overview is /visits: upcoming visits, their status and what each is short of.
func (f *Flow) overview(ctx context.Context, r *bot.Request) error {
	live, err := f.visits.Live(ctx, 0, math.Inf(1))
	if err != nil {
		return err
	}
	m := bot.Message{Title: r.T("visits.overview.title")}
	for _, v := range live {
		if !f.sees(r.Person, v) || v.Status == Cancelled || v.Status == Closed {
			continue
		}
		m.Lines = append(m.Lines, r.T("visits.overview.line", "Visit", v.No, "When", f.e.Catalog().Span(r.Lang, v.Start, v.End),
			"Area", v.Area, "Status", f.overviewStatus(r.Lang, v)))
		if len(m.Buttons) < 10 {
			m.Buttons = append(m.Buttons, []bot.Button{bot.Btn(r.T("visits.btn.open", "Visit", v.No), "visits.open", v.ID, "")})
		}
	}
	if len(m.Lines) == 0 {
		m.Lines = append(m.Lines, r.T("visits.overview.none"))
	}
	return r.Reply(ctx, m)
}

func (f *Flow) overviewStatus(lang string, v Visit) string {
	switch v.Status {
	case Confirmed:
		return f.T(lang, "visits.overview.confirmed")
	case Reporting:
		return f.e.Catalog().N(lang, "visits.overview.reporting", len(v.pendingCases()))
	}
	if v.Short || !f.e.Now().Before(v.Deadline) {
		return f.T(lang, "visits.overview.short", "Missing", f.needs(lang, v.Missing()))
	}
	return f.T(lang, "visits.overview.open", "Missing", f.needs(lang, v.Missing()), "Deadline", f.e.Catalog().DateTime(lang, v.Deadline))
}

// Upcoming returns the visits that start in [from, to) and are neither cancelled nor closed, by
// start, for the desk.
func (f *Flow) Upcoming(ctx context.Context, from, to time.Time) ([]Visit, error) {
	live, err := f.visits.Live(ctx, float64(from.Unix()), float64(to.Unix())) // the open index is by start
	if err != nil {
		return nil, err
	}
	var out []Visit
	for _, v := range live {
		if v.Status == Cancelled || v.Status == Closed || v.Start.Before(from) || !v.Start.Before(to) {
			continue
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Visit) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// Filled is how many of role have confirmed v.
func (v *Visit) Filled(role bot.Role) int { return v.filled(role) }

// Team is who has joined v, by role, in the order they joined.
func (v *Visit) Team() map[bot.Role][]string {
	type j struct {
		who   string
		order int64
	}
	by := map[bot.Role][]j{}
	for who, r := range v.Replies {
		if r.State == Joined {
			by[r.Role] = append(by[r.Role], j{who, r.Order})
		}
	}
	out := map[bot.Role][]string{}
	for role, js := range by {
		slices.SortFunc(js, func(a, b j) int { return int(a.order - b.order) })
		for _, x := range js {
			out[role] = append(out[role], x.who)
		}
	}
	return out
}

// assignments lists the coming visits person organizes or has a place in, for the coordinator
// who deactivates them, so that the places are filled by someone else.
func (f *Flow) assignments(ctx context.Context, lang, person string) []string {
	now := f.e.Now()
	vs, err := f.Upcoming(ctx, now, now.AddDate(1, 0, 0))
	if err != nil {
		return nil
	}
	var out []string
	for _, v := range vs {
		when := f.e.Catalog().Span(lang, v.Start, v.End)
		switch r, ok := v.Replies[person]; {
		case v.Organizer == person:
			out = append(out, f.T(lang, "visits.assigned.organizer", "Visit", v.No, "When", when))
		case ok && r.State == Joined:
			out = append(out, f.T(lang, "visits.assigned.place", "Visit", v.No, "When", when))
		}
	}
	return out
}
