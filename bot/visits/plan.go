package visits

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// The plan dialog asks for up to maxCases cases and, per role, up to maxPicks named people.
const (
	maxCases = 5
	maxPicks = 3
)

// dialogRoles are the roles a proposer can ask for; series may need any role.
var dialogRoles = []bot.Role{bot.RolePolice, bot.RoleSocialWorker, bot.RoleProbation}

// caseRoles are the roles that make a proposer the assignee of a case the visit creates.
var caseRoles = []bot.Role{bot.RoleSocialWorker, bot.RoleChildRights, bot.RoleCaseManager}

func (f *Flow) yesNo(yes, no string) func(*bot.Request, bot.Answers) []bot.Option {
	return func(r *bot.Request, _ bot.Answers) []bot.Option {
		return []bot.Option{{Value: "yes", Label: r.T(yes)}, {Value: "no", Label: r.T(no)}}
	}
}

func (f *Flow) planDialog() *bot.Dialog {
	steps := []bot.Step{
		{Name: "start", Kind: bot.AskDateTime, Prompt: "visits.plan.start", Check: f.future},
		{Name: "end", Kind: bot.AskClock, Prompt: "visits.plan.end", Check: f.endCheck},
		{Name: "area", Kind: bot.AskChoice, Prompt: "visits.plan.area", Options: f.areaOptions},
		{Name: "meet", Kind: bot.AskText, Prompt: "visits.plan.meet", MaxLen: 200},
	}
	steps = append(steps, bot.Step{Name: "cases", Kind: bot.AskList, Max: maxCases,
		More: "visits.plan.more", MoreYes: "visits.plan.more_yes", MoreNo: "visits.plan.more_no",
		Each: []bot.Step{
			{Name: "case", Kind: bot.AskCase, Prompt: "visits.plan.case", PromptAgain: "visits.plan.case_next", Check: f.newCase},
			{Name: "addr", Kind: bot.AskText, Prompt: "visits.plan.address", Optional: true, MaxLen: f.cfg.NoteMax},
		}})
	custom := func(a bot.Answers) bool { return a["needs"] == "custom" }
	steps = append(steps,
		bot.Step{Name: "needs", Kind: bot.AskChoice, Prompt: "visits.plan.needs", Options: f.needsOptions},
		bot.Step{Name: "n_police", Kind: bot.AskCount, Prompt: "visits.plan.n_police", Min: 0, Max: 5, If: custom},
		bot.Step{Name: "n_social_worker", Kind: bot.AskCount, Prompt: "visits.plan.n_social_worker", Min: 0, Max: 5, If: custom},
		bot.Step{Name: "n_probation", Kind: bot.AskCount, Prompt: "visits.plan.n_probation", Min: 0, Max: 3, If: custom,
			Check: func(_ context.Context, _ *bot.Request, v string, a bot.Answers) (string, error) {
				if a.Int("n_police")+a.Int("n_social_worker") == 0 && v == "0" {
					return "", bot.Tell("visits.plan.needs_none")
				}
				return v, nil
			}},
		bot.Step{Name: "self", Kind: bot.AskChoice, Prompt: "visits.plan.self", Options: f.yesNo("visits.plan.self_yes", "visits.plan.self_no"),
			If: func(a bot.Answers) bool { return f.selfRole(a) != "" }},
	)
	for _, role := range dialogRoles {
		pool := "pool_" + string(role)
		someone := func(a bot.Answers) bool { return len(f.pickable(role, a)) > 0 }
		steps = append(steps,
			bot.Step{Name: pool, Kind: bot.AskChoice, Prompt: "visits.plan.pool_" + string(role),
				Options: f.poolOptions(role), If: func(a bot.Answers) bool { return f.toInvite(a, role) > 0 }},
			bot.Step{Name: "pick_" + string(role), Kind: bot.AskList, Max: maxPicks, While: someone,
				If:   func(a bot.Answers) bool { return a[pool] == "pick" && someone(a) },
				More: "visits.plan.pick_more", MoreYes: "visits.plan.pick_more_yes", MoreNo: "visits.plan.pick_more_no",
				Each: []bot.Step{{Name: "person", Kind: bot.AskPerson, Prompt: "visits.plan.pick", Options: f.pickOptions(role)}}})
	}
	steps = append(steps,
		bot.Step{Name: "deadline", Kind: bot.AskChoice, Prompt: "visits.plan.deadline", Options: f.deadlineOptions},
		bot.Step{Name: "confirm", Kind: bot.AskConfirm, Prompt: "visits.plan.confirm"})
	return &bot.Dialog{Name: "visits.plan", Title: "visits.dlg.plan", Steps: steps, Summary: f.planSummary, Done: f.create}
}

// endCheck turns the end's clock time into a time on the start's day (or the next day, for a
// window across midnight).
func (f *Flow) endCheck(_ context.Context, _ *bot.Request, v string, a bot.Answers) (string, error) {
	loc := f.e.Directory().Location
	start := a.Time("start", loc)
	h, m, err := bot.ParseClock(v)
	if err != nil || start.IsZero() {
		return "", bot.Tell("dialog.bad.clock")
	}
	end := time.Date(start.Year(), start.Month(), start.Day(), h, m, 0, 0, loc)
	if !end.After(start) {
		end = time.Date(start.Year(), start.Month(), start.Day()+1, h, m, 0, 0, loc)
	}
	if end.Sub(start) > 12*time.Hour {
		return "", bot.Tell("visits.plan.too_long")
	}
	return end.Format(time.RFC3339), nil
}

func (f *Flow) areaOptions(_ *bot.Request, _ bot.Answers) []bot.Option {
	var out []bot.Option
	for _, a := range f.e.Directory().Areas() {
		out = append(out, bot.Option{Value: a, Label: a})
	}
	return out
}

func caseCodes(a bot.Answers) []string {
	var out []string
	for _, c := range a.List("cases") {
		out = append(out, c["case"])
	}
	return out
}

func (f *Flow) newCase(_ context.Context, _ *bot.Request, v string, a bot.Answers) (string, error) {
	if slices.Contains(caseCodes(a), v) || slices.Contains(strings.Split(a["have"], ","), v) {
		return "", bot.Tell("visits.plan.case_twice", "Case", v)
	}
	return v, nil
}

var needPresets = []string{"police:1,social_worker:1", "police:1,social_worker:1,probation:1", "police:2,social_worker:1"}

func parseNeeds(s string) []Need {
	var out []Need
	for _, part := range strings.Split(s, ",") {
		role, n, ok := strings.Cut(part, ":")
		k, err := strconv.Atoi(n)
		if ok && err == nil && k > 0 {
			out = append(out, Need{Role: bot.Role(role), Count: k})
		}
	}
	return out
}

func needsOf(a bot.Answers) []Need {
	if a["needs"] != "custom" {
		return parseNeeds(a["needs"])
	}
	var out []Need
	for _, r := range dialogRoles {
		if n := a.Int("n_" + string(r)); n > 0 {
			out = append(out, Need{Role: r, Count: n})
		}
	}
	return out
}

func (f *Flow) needsOptions(r *bot.Request, _ bot.Answers) []bot.Option {
	var out []bot.Option
	for _, p := range needPresets {
		out = append(out, bot.Option{Value: p, Label: f.needs(r.Lang, parseNeeds(p))})
	}
	return append(out, bot.Option{Value: "custom", Label: r.T("visits.plan.needs_custom")})
}

// selfRole is the required role the proposer could fill, or "".
func (f *Flow) selfRole(a bot.Answers) bot.Role {
	if _, ok := a["needs"]; !ok {
		return ""
	}
	if a["needs"] == "custom" {
		if _, ok := a["n_probation"]; !ok {
			return ""
		}
	}
	v := Visit{Needs: needsOf(a)}
	return v.slot(f.e.Directory().Person(a["by"]))
}

// toInvite is how many people of role the visit still needs once the proposer counts themselves.
func (f *Flow) toInvite(a bot.Answers, role bot.Role) int {
	if _, ok := a["self"]; !ok && f.selfRole(a) != "" {
		return 0 // not yet known
	}
	n := 0
	for _, nd := range needsOf(a) {
		if nd.Role == role {
			n = nd.Count
		}
	}
	if a["self"] == "yes" && f.selfRole(a) == role {
		n--
	}
	return n
}

// pools are the sensible groups to invite for a role: everyone of the area, everyone of one
// institution, everyone; the proposer is never in them.
func (f *Flow) pools(role bot.Role, a bot.Answers) []struct {
	value  string
	inst   string
	people []string
} {
	dir := f.e.Directory()
	ids := func(ps []*bot.Person) []string {
		var out []string
		for _, p := range ps {
			if p.ID != a["by"] {
				out = append(out, p.ID)
			}
		}
		return out
	}
	type pool = struct {
		value  string
		inst   string
		people []string
	}
	var out []pool
	seen := map[string]bool{}
	push := func(p pool) {
		k := strings.Join(p.people, ",")
		if len(p.people) == 0 || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, p)
	}
	push(pool{value: "area", people: ids(dir.Select([]bot.Role{role}, "", a["area"]))})
	for _, in := range dir.Institutions {
		push(pool{value: "inst:" + in.ID, inst: in.Name, people: ids(dir.Select([]bot.Role{role}, in.ID, ""))})
	}
	push(pool{value: "all", people: ids(dir.Select([]bot.Role{role}, "", ""))})
	return out
}

func (f *Flow) poolOptions(role bot.Role) func(*bot.Request, bot.Answers) []bot.Option {
	return func(r *bot.Request, a bot.Answers) []bot.Option {
		var out []bot.Option
		for _, p := range f.pools(role, a) {
			names := f.e.Catalog().Join(r.Lang, f.names(p.people))
			if len(p.people) > 2 {
				names = f.e.Catalog().N(r.Lang, "people", len(p.people))
			}
			label := ""
			switch {
			case p.value == "area":
				label = r.T("visits.pool.area", "Area", a["area"], "Names", names)
			case p.value == "all":
				label = r.T("visits.pool.all", "Names", names)
			default:
				label = r.T("visits.pool.inst", "Institution", p.inst, "Names", names)
			}
			out = append(out, bot.Option{Value: p.value, Label: label})
		}
		if len(f.pickable(role, a)) > 0 {
			out = append(out, bot.Option{Value: "pick", Label: r.T("visits.pool.pick")})
		}
		if len(out) == 0 {
			out = append(out, bot.Option{Value: "none", Label: r.T("visits.pool.none")})
		}
		return out
	}
}

// picked are the people named so far, of every role.
func picked(a bot.Answers) []string {
	var out []string
	for _, role := range dialogRoles {
		for _, it := range a.List("pick_" + string(role)) {
			out = append(out, it["person"])
		}
	}
	return out
}

// pickable lists the people of role that can still be named, the area's first.
func (f *Flow) pickable(role bot.Role, a bot.Answers) []*bot.Person {
	dir := f.e.Directory()
	taken := picked(a)
	var near, far []*bot.Person
	for _, p := range dir.Select([]bot.Role{role}, "", "") {
		if p.ID == a["by"] || slices.Contains(taken, p.ID) {
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

func (f *Flow) personLabel(p *bot.Person) string {
	if in := f.e.Directory().Institution(p.Institution); in != nil {
		return p.Name + " (" + in.Name + ")"
	}
	return p.Name
}

func (f *Flow) pickOptions(role bot.Role) func(*bot.Request, bot.Answers) []bot.Option {
	return func(_ *bot.Request, a bot.Answers) []bot.Option {
		var out []bot.Option
		for _, p := range f.pickable(role, a) {
			out = append(out, bot.Option{Value: p.ID, Label: f.personLabel(p)})
		}
		return out
	}
}

// deadlineChoices are the offered confirmation deadlines: the configured one first, then others
// that still lie ahead; all derive from the start only, so that a button pressed a minute later
// still matches.
func (f *Flow) deadlineChoices(start time.Time) []time.Duration {
	var out []time.Duration
	for _, d := range []time.Duration{f.cfg.Deadline, 48 * time.Hour, 12 * time.Hour, 3 * time.Hour, time.Hour, 30 * time.Minute} {
		if !slices.Contains(out, d) && start.Add(-d).After(f.e.Now()) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		out = append(out, 0)
	}
	return out
}

func (f *Flow) deadlineOptions(r *bot.Request, a bot.Answers) []bot.Option {
	start := a.Time("start", f.e.Directory().Location)
	var out []bot.Option
	for _, d := range f.deadlineChoices(start) {
		t := start.Add(-d)
		var label string
		switch {
		case d == 0:
			label = r.T("visits.plan.deadline_start", "When", f.e.Catalog().DateTime(r.Lang, t))
		case d%time.Hour == 0:
			label = r.T("visits.plan.deadline_h", "Hours", int(d/time.Hour), "When", f.e.Catalog().DateTime(r.Lang, t))
		default:
			label = r.T("visits.plan.deadline_m", "Minutes", int(d/time.Minute), "When", f.e.Catalog().DateTime(r.Lang, t))
		}
		if d == f.cfg.Deadline {
			label += " " + r.T("visits.plan.deadline_default")
		}
		out = append(out, bot.Option{Value: t.Format(time.RFC3339), Label: label})
	}
	return out
}

// plan is what a finished plan dialog says.
type plan struct {
	start, end, deadline time.Time
	area, meet           string
	cases                []CaseVisit
	needs                []Need
	self                 bool
	pool                 []string
}

func (f *Flow) planOf(a bot.Answers) plan {
	loc := f.e.Directory().Location
	pl := plan{start: a.Time("start", loc), end: a.Time("end", loc), deadline: a.Time("deadline", loc),
		area: a["area"], meet: a["meet"], needs: needsOf(a), self: a["self"] == "yes"}
	for _, c := range a.List("cases") {
		pl.cases = append(pl.cases, CaseVisit{Code: c["case"], Address: c["addr"]})
	}
	add := func(ids ...string) {
		for _, id := range ids {
			if id != a["by"] && !slices.Contains(pl.pool, id) {
				pl.pool = append(pl.pool, id)
			}
		}
	}
	for _, role := range dialogRoles {
		choice := a["pool_"+string(role)]
		switch {
		case choice == "pick":
			for _, it := range a.List("pick_" + string(role)) {
				add(it["person"])
			}
		case choice != "" && choice != "none":
			for _, p := range f.pools(role, a) {
				if p.value == choice {
					add(p.people...)
				}
			}
		}
	}
	return pl
}

func (f *Flow) planSummary(r *bot.Request, a bot.Answers) []string {
	pl := f.planOf(a)
	lang := r.Lang
	out := []string{
		f.T(lang, "visits.card.when", "When", f.e.Catalog().Span(lang, pl.start, pl.end)),
		f.T(lang, "visits.card.area", "Area", pl.area),
		f.T(lang, "visits.brief.meet", "Place", pl.meet),
		f.T(lang, "visits.brief.cases"),
	}
	for _, c := range pl.cases {
		if c.Address == "" {
			out = append(out, "• "+f.T(lang, "visits.brief.case_noaddr", "Case", c.Code))
		} else {
			out = append(out, "• "+f.T(lang, "visits.brief.case", "Case", c.Code, "Address", c.Address))
		}
	}
	out = append(out, f.T(lang, "visits.card.needs", "Needs", f.needs(lang, pl.needs)))
	if pl.self {
		out = append(out, f.T(lang, "visits.plan.sum_self"))
	}
	out = append(out,
		f.T(lang, "visits.plan.sum_invited", "Names", f.e.Catalog().Join(lang, f.names(pl.pool))),
		f.T(lang, "visits.plan.sum_deadline", "When", f.e.Catalog().DateTime(lang, pl.deadline)))
	return out
}

// propose is /visit: the plan dialog.
func (f *Flow) propose(ctx context.Context, r *bot.Request) error {
	return f.e.StartDialog(ctx, r, "visits.plan", bot.Answers{"by": r.Person.ID})
}

func (f *Flow) nextNo(ctx context.Context) (string, error) {
	n, err := f.e.Number(ctx, "visits")
	if err != nil {
		return "", fmt.Errorf("number visit: %w", err)
	}
	return "V" + strconv.FormatInt(n, 10), nil
}

// create stores the planned visit and invites the pool.
func (f *Flow) create(ctx context.Context, r *bot.Request, a bot.Answers) error {
	pl := f.planOf(a)
	now := f.e.Now()
	if !pl.start.After(now) {
		return bot.Tell("visits.plan.past")
	}
	if !pl.deadline.After(now) || pl.deadline.After(pl.start) {
		pl.deadline = f.deadlineFor(pl.start)
	}
	no, err := f.nextNo(ctx)
	if err != nil {
		return err
	}
	me := r.Person.ID
	v := Visit{ID: no, No: no, Organizer: me, Created: now, Start: pl.start, End: pl.end, Area: pl.area, MeetingPoint: pl.meet,
		Needs: pl.needs, Cases: pl.cases, Pool: pl.pool, Deadline: pl.deadline, Status: Open, By: me, Reminders: f.reminders(pl.start, now)}
	if pl.self {
		v.Pool = append([]string{me}, v.Pool...)
		v.join(r.Person, now)
	}
	v.settle()
	v, _, err = f.visits.Create(ctx, v.ID, v)
	if err != nil {
		return fmt.Errorf("store visit %s: %w", no, err)
	}
	unreached := f.unreached(ctx, v)
	invited := len(v.Pool)
	if pl.self {
		invited--
	}
	if err := r.Say(ctx, "visits.said.created", "Visit", v.No, "Invited", f.e.Catalog().N(r.Lang, "people", invited)); err != nil {
		return err
	}
	if len(unreached) > 0 {
		return r.Say(ctx, "visits.said.unreached", "Names", f.e.Catalog().Join(r.Lang, f.names(unreached)))
	}
	return nil
}

// deadlineFor is the configured confirmation deadline before start, or halfway there when that
// has passed.
func (f *Flow) deadlineFor(start time.Time) time.Time {
	now := f.e.Now()
	if d := start.Add(-f.cfg.Deadline); d.After(now) {
		return d
	}
	return now.Add(start.Sub(now) / 2).Truncate(time.Minute)
}

// Plan proposes the visits of every series whose time to propose has come, and sets a timer for
// each series' next proposal, so that the series keeps going by itself. It is idempotent (visit
// IDs derive from the series and the date): cmd calls it at start and daily.
func (f *Flow) Plan(ctx context.Context) error {
	var errs []error
	for i := range f.cfg.Series {
		if err := f.planSeries(ctx, &f.cfg.Series[i]); err != nil {
			errs = append(errs, fmt.Errorf("plan visit series %s: %w", f.cfg.Series[i].ID, err))
		}
	}
	return errors.Join(errs...)
}

func (f *Flow) seriesTimer(ctx context.Context, t bot.Timer) error {
	for i := range f.cfg.Series {
		if s := &f.cfg.Series[i]; s.ID == t.Ref {
			return f.planSeries(ctx, s)
		}
	}
	return nil // the series left the config
}

func (f *Flow) planSeries(ctx context.Context, s *Series) error {
	return f.e.PlanSeries(ctx, bot.SeriesPlan{Timer: "visits:series:" + s.ID, Kind: kindSeries, Ref: s.ID,
		Rule: bot.Rule{RRule: s.Rule, Start: s.Start, Holidays: bot.HolidaysIgnore, Parse: f.cfg.Recurrence}, Lead: s.ProposeBefore,
		Plant: func(ctx context.Context, sl bot.Slot) error { return f.proposeOccurrence(ctx, s, sl.Start) }})
}

// proposeOccurrence creates the series' visit at t unless it exists; its invitations follow.
func (f *Flow) proposeOccurrence(ctx context.Context, s *Series, t time.Time) error {
	id := s.ID + "-" + t.Format("20060102")
	if _, err := f.load(ctx, id); !errors.Is(err, bot.ErrNotFound) {
		return err // proposed before (its effects are the mechanism's to apply), or a read error
	}
	no, err := f.nextNo(ctx)
	if err != nil {
		return err
	}
	now := f.e.Now()
	v := Visit{ID: id, No: no, Series: s.ID, Organizer: s.Organizer, Created: now, Start: t, End: t.Add(s.Duration),
		Area: s.Area, MeetingPoint: s.MeetingPoint, Needs: slices.Clone(s.Needs), Pool: f.seriesPool(s),
		Deadline: f.deadlineFor(t), Status: Open, By: "system", Reminders: f.reminders(t, now)}
	if _, _, err := f.visits.Create(ctx, id, v); err != nil {
		return fmt.Errorf("store visit %s: %w", id, err)
	}
	return nil
}

// seriesPool is the series' audience; people picked by role or institution must work in the
// series' area (or in every area), people named are invited wherever they work.
func (f *Flow) seriesPool(s *Series) []string {
	dir := f.e.Directory()
	var out []string
	for _, id := range dir.Resolve(s.Invitees) {
		p := dir.Person(id)
		if slices.Contains(s.Invitees.People, id) || len(p.Areas) == 0 || slices.Contains(p.Areas, s.Area) {
			out = append(out, id)
		}
	}
	return out
}
