package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The coordinator's people commands: who is there and linked (/people), add, edit, deactivate
// and reactivate someone (/person), invite by name (/invite), and set an institution's
// designated contact or head (/institution). A leader of an institution (or a school's head)
// may do the same for their own institution when Settings.LeadersManagePeople says so.

// invited is a person's pending invite: the hash of its code, so that it can be withdrawn.
type invited struct {
	Hash    string    `json:"hash"`
	By      string    `json:"by"`
	Expires time.Time `json:"expires"`
}

func (e *Engine) registerPeople() {
	manager := func(p *Person) bool { return e.mayManageAny(p) }
	e.Command(Command{Name: "people", Aliases: []string{"zmones"}, Help: "help.people", Private: true, Shown: manager, Run: e.peopleCommand})
	e.Command(Command{Name: "person", Aliases: []string{"asmuo"}, Help: "help.person", Private: true, Shown: manager, Run: e.personCommand})
	e.Command(Command{Name: "invite", Aliases: []string{"kviesti"}, Help: "help.invite", Private: true, Shown: manager, Run: e.inviteCommand})
	e.Command(Command{Name: "institution", Aliases: []string{"istaiga"}, Help: "help.institution", Private: true, Shown: manager, Run: e.institutionCommand})
	e.Action("people.invite", func(ctx context.Context, r *Request, a Action) error { return e.inviteOne(ctx, r, a.Ref) })
	e.Action("people.edit", func(ctx context.Context, r *Request, a Action) error { return e.startEdit(ctx, r, a.Ref) })
	e.Dialog(&Dialog{Name: "people.add", Title: "people.dlg.add", Done: e.personAdded, Summary: e.addSummary, Steps: []Step{
		{Name: "name", Kind: AskText, Prompt: "people.add.name", MaxLen: 80},
		{Name: "inst", Kind: AskChoice, Prompt: "people.add.institution", Options: e.institutionOptions},
		{Name: "roles", Kind: AskList, Max: len(Roles), More: "people.add.more_roles", MoreYes: "people.add.more_yes", MoreNo: "people.add.more_no",
			Each: []Step{{Name: "role", Kind: AskChoice, Prompt: "people.add.role", PromptAgain: "people.add.role_again", Options: e.roleOptions}}},
		{Name: "area", Kind: AskChoice, Prompt: "people.add.area", Options: e.areaOptions},
		{Name: "lang", Kind: AskChoice, Prompt: "people.add.lang", Options: langOptions},
		{Name: "confirm", Kind: AskConfirm, Prompt: "people.add.confirm"},
	}})
	e.Dialog(&Dialog{Name: "people.edit", Title: "people.dlg.edit", Done: e.personEdited, Steps: []Step{
		{Name: "field", Kind: AskChoice, Prompt: "people.edit.field", Options: e.fieldOptions},
		{Name: "name", Kind: AskText, Prompt: "people.add.name", MaxLen: 80, If: is("field", "name")},
		{Name: "inst", Kind: AskChoice, Prompt: "people.add.institution", Options: e.institutionOptions, If: is("field", "institution")},
		{Name: "roles", Kind: AskList, Max: len(Roles), More: "people.add.more_roles", MoreYes: "people.add.more_yes", MoreNo: "people.add.more_no", If: is("field", "roles"),
			Each: []Step{{Name: "role", Kind: AskChoice, Prompt: "people.add.role", PromptAgain: "people.add.role_again", Options: e.roleOptions}}},
		{Name: "area", Kind: AskChoice, Prompt: "people.add.area", Options: e.areaOptions, If: is("field", "areas")},
		{Name: "lang", Kind: AskChoice, Prompt: "people.add.lang", Options: langOptions, If: is("field", "language")},
		{Name: "quiet", Kind: AskText, Prompt: "people.edit.quiet", MaxLen: 11, If: is("field", "quiet_hours"), Check: checkQuiet},
	}})
	e.Dialog(&Dialog{Name: "people.off", Title: "people.dlg.off", Done: e.personOff, Summary: e.offSummary, Steps: []Step{
		{Name: "confirm", Kind: AskConfirm, Prompt: "people.off.confirm"},
	}})
}

func is(step, value string) func(Answers) bool {
	return func(a Answers) bool { return a[step] == value }
}

// manages reports whether p may manage the people of institution inst ("" for any): the
// coordinators, and when allowed a leader of that institution or its head.
func (e *Engine) manages(p *Person, inst string) bool {
	if p.Has(RoleCoordinator) {
		return true
	}
	if !e.Settings.LeadersManagePeople || inst == "" {
		return false
	}
	in := e.Directory().Institution(inst)
	return in != nil && (p.Institution == inst && p.Has(RoleLeader) || in.Head == p.ID)
}

// Manages reports whether p may manage the people of institution inst: the desk shows them
// only those.
func (e *Engine) Manages(p *Person, inst string) bool { return e.manages(p, inst) }

// PersonStatus says in lang whether m can be reached: linked (and where), invited, or neither;
// or deactivated.
func (e *Engine) PersonStatus(ctx context.Context, lang string, m *Member) string {
	return e.status(ctx, lang, m)
}

// InviteAs makes person's invite code as by, with the authorization /invite has: by manages
// person's institution, and person is active.
func (e *Engine) InviteAs(ctx context.Context, by *Person, person string) (string, error) {
	p := e.Directory().Person(person)
	if p == nil {
		return "", fmt.Errorf("person %s: %w", person, ErrNotFound)
	}
	if !e.manages(by, p.Institution) {
		e.Refused(ctx, by.ID, "person/"+person, "role")
		return "", ErrForbidden
	}
	return e.Invite(ctx, person, by.ID)
}

// managedInstitution is the one institution a non-coordinator manager manages ("" for a
// coordinator, who manages all).
func (e *Engine) managedInstitution(p *Person) string {
	if p.Has(RoleCoordinator) {
		return ""
	}
	for _, in := range e.Directory().Institutions {
		if e.manages(p, in.ID) {
			return in.ID
		}
	}
	return ""
}

// mayManageAny reports whether p manages anyone at all.
func (e *Engine) mayManageAny(p *Person) bool {
	return p.Has(RoleCoordinator) || e.managedInstitution(p) != ""
}

func (e *Engine) refusePeople(ctx context.Context, r *Request, record string) error {
	e.Refused(ctx, r.Person.ID, record, "role")
	return Tell("people.forbidden")
}

// peopleCommand lists the people by institution: who is linked and on which platform, who has
// an invite waiting, who has neither, and who is deactivated.
func (e *Engine) peopleCommand(ctx context.Context, r *Request) error {
	if !e.mayManageAny(r.Person) {
		return e.refusePeople(ctx, r, "command/people")
	}
	only := e.managedInstitution(r.Person)
	if len(r.Args) > 0 && r.Args[0] != "" {
		if e.Directory().Institution(r.Args[0]) == nil {
			return Tell("people.no_institution", "ID", r.Args[0])
		}
		if !e.manages(r.Person, r.Args[0]) {
			return e.refusePeople(ctx, r, "command/people")
		}
		only = r.Args[0]
	}
	members, err := e.Members(ctx)
	if err != nil {
		return err
	}
	byInst := map[string][]*Member{}
	for _, m := range members {
		if only == "" || m.Institution == only {
			byInst[m.Institution] = append(byInst[m.Institution], m)
		}
	}
	var lines []string
	institutions := slices.Clone(e.Directory().Institutions)
	institutions = append(institutions, &Institution{ID: "", Name: r.T("people.no_inst")})
	for _, in := range institutions {
		ms := byInst[in.ID]
		if len(ms) == 0 {
			continue
		}
		slices.SortFunc(ms, func(a, b *Member) int { return strings.Compare(Fold(a.Name), Fold(b.Name)) })
		lines = append(lines, "", in.Name+":")
		for _, m := range ms {
			lines = append(lines, "• "+m.Name+" ("+m.ID+") — "+e.roleNames(r.Lang, m.Roles)+" — "+e.status(ctx, r.Lang, m))
		}
	}
	if len(lines) == 0 {
		return r.Say(ctx, "people.none")
	}
	return r.Reply(ctx, Message{Title: r.T("people.title"), Lines: append(lines, "", r.T("people.hint"))})
}

// status says whether m can be reached: linked (and where), invited, or neither; or deactivated.
func (e *Engine) status(ctx context.Context, lang string, m *Member) string {
	if !m.Active {
		return e.Texts.T(lang, "people.st.off")
	}
	if a, _, err := Load[account](ctx, e.Records, "acct/"+m.ID); err == nil {
		return e.Texts.T(lang, "people.st.linked", "Platform", platformName(a.Identity.Platform))
	}
	if inv, _, err := Load[invited](ctx, e.Records, "invited/"+m.ID); err == nil && e.Clock.Now().Before(inv.Expires) {
		return e.Texts.T(lang, "people.st.invited", "Until", e.Texts.DateTime(lang, inv.Expires.In(e.Directory().Location)))
	}
	return e.Texts.T(lang, "people.st.unlinked")
}

func platformName(p Platform) string {
	switch p {
	case Telegram:
		return "Telegram"
	case Slack:
		return "Slack"
	}
	return string(p)
}

func (e *Engine) roleNames(lang string, roles []Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = e.Texts.T(lang, "role."+string(r))
	}
	return strings.Join(names, ", ")
}

// personCommand: /person add | edit ID | off ID | on ID | ID (show).
func (e *Engine) personCommand(ctx context.Context, r *Request) error {
	if !e.mayManageAny(r.Person) {
		return e.refusePeople(ctx, r, "command/person")
	}
	sub, id := "", ""
	if len(r.Args) > 0 {
		sub = strings.ToLower(r.Args[0])
	}
	if len(r.Args) > 1 {
		id = r.Args[1]
	}
	switch sub {
	case "add", "prideti":
		pre := Answers{}
		if inst := e.managedInstitution(r.Person); inst != "" {
			pre["inst"] = inst
		}
		return e.StartDialog(ctx, r, "people.add", pre)
	case "edit", "keisti":
		return e.startEdit(ctx, r, id)
	case "off", "isjungti":
		m, err := e.managedMember(ctx, r, id)
		if err != nil {
			return err
		}
		if !m.Active {
			return r.Say(ctx, "people.off.already", "Name", m.Name)
		}
		if m.Has(RoleCoordinator) && len(e.Directory().WithRole(RoleCoordinator)) <= 1 {
			return Tell("people.off.last_coordinator")
		}
		return e.StartDialog(ctx, r, "people.off", Answers{"person": m.ID})
	case "on", "ijungti":
		m, err := e.managedMember(ctx, r, id)
		if err != nil {
			return err
		}
		if _, err := e.SetActive(ctx, m.ID, r.Person.ID, true); err != nil {
			return err
		}
		return r.Say(ctx, "people.on.done", "Name", m.Name, "ID", m.ID)
	}
	return Tell("people.person_usage")
}

// managedMember finds the stored person id that r's person may manage, or says why not.
func (e *Engine) managedMember(ctx context.Context, r *Request, id string) (*Member, error) {
	if id == "" {
		return nil, Tell("people.person_usage")
	}
	m, err := e.Member(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Tell("people.unknown", "Query", id)
	}
	if err != nil {
		return nil, err
	}
	if !e.manages(r.Person, m.Institution) {
		return nil, e.refusePeople(ctx, r, "person/"+id)
	}
	return m, nil
}

func (e *Engine) startEdit(ctx context.Context, r *Request, id string) error {
	m, err := e.managedMember(ctx, r, id)
	if err != nil {
		return err
	}
	return e.StartDialog(ctx, r, "people.edit", Answers{"person": m.ID, "pname": m.Name})
}

func (e *Engine) institutionOptions(r *Request, _ Answers) []Option {
	var out []Option
	for _, in := range e.Directory().Institutions {
		if e.manages(r.Person, in.ID) {
			out = append(out, Option{Value: in.ID, Label: in.Name})
		}
	}
	return out
}

func (e *Engine) roleOptions(r *Request, a Answers) []Option {
	var out []Option
	for _, role := range Roles {
		if role == RoleCoordinator && !r.Person.Has(RoleCoordinator) {
			continue // only a coordinator makes another
		}
		out = append(out, Option{Value: string(role), Label: r.T("role." + string(role))})
	}
	return out
}

func (e *Engine) areaOptions(r *Request, a Answers) []Option {
	out := []Option{{Value: "-", Label: r.T("people.add.area_all")}}
	areas := e.Directory().Areas()
	if in := e.Directory().Institution(a["inst"]); in != nil && len(in.Areas) > 0 {
		areas = in.Areas
	}
	for _, ar := range areas {
		out = append(out, Option{Value: ar, Label: ar})
	}
	return out
}

func langOptions(r *Request, _ Answers) []Option {
	var out []Option
	for _, l := range Languages {
		out = append(out, Option{Value: l, Label: r.e.Texts.T(l, "lang.name")})
	}
	return out
}

func (e *Engine) fieldOptions(r *Request, _ Answers) []Option {
	var out []Option
	for _, f := range []string{"name", "institution", "roles", "areas", "language", "quiet_hours"} {
		out = append(out, Option{Value: f, Label: r.T("people.field." + f)})
	}
	return out
}

func checkQuiet(_ context.Context, _ *Request, v string, _ Answers) (string, error) {
	v = strings.ReplaceAll(strings.TrimSpace(v), " ", "")
	if v == "-" {
		return "", nil
	}
	if _, err := ParseQuietHours(v); err != nil {
		return "", ErrPersonQuiet
	}
	return v, nil
}

// memberFrom reads a person's details from the add (or edit) dialog's answers.
func memberFrom(a Answers, m *Member) {
	if v, ok := a["name"]; ok {
		m.Name = v
	}
	if v, ok := a["inst"]; ok {
		m.Institution = v
	}
	if items := a.List("roles"); len(items) > 0 {
		m.Roles = nil
		for _, it := range items {
			if role := Role(it["role"]); !slices.Contains(m.Roles, role) {
				m.Roles = append(m.Roles, role)
			}
		}
	}
	if v, ok := a["area"]; ok {
		m.Areas = nil
		if v != "-" {
			m.Areas = []string{v}
		}
	}
	if v, ok := a["lang"]; ok {
		m.Language = v
	}
	if v, ok := a["quiet"]; ok {
		m.Quiet = v
	}
}

func (e *Engine) addSummary(r *Request, a Answers) []string {
	var m Member
	memberFrom(a, &m)
	inst := m.Institution
	if in := e.Directory().Institution(inst); in != nil {
		inst = in.Name
	}
	area := r.T("people.add.area_all")
	if len(m.Areas) > 0 {
		area = strings.Join(m.Areas, ", ")
	}
	return []string{m.Name, inst, e.roleNames(r.Lang, m.Roles), r.T("people.sum.area", "Area", area), e.Texts.T(m.Language, "lang.name")}
}

// AddPersonAs adds m as by, with the authorization /person add has: by manages m's
// institution, and only a coordinator makes another coordinator.
func (e *Engine) AddPersonAs(ctx context.Context, by *Person, m Member) (*Member, error) {
	if !e.manages(by, m.Institution) || slices.Contains(m.Roles, RoleCoordinator) && !by.Has(RoleCoordinator) {
		e.Refused(ctx, by.ID, "command/person.add", "role")
		return nil, ErrForbidden
	}
	return e.AddPerson(ctx, m, by.ID)
}

// DeactivateAs deactivates person as by, with the authorization /person off has; the last
// coordinator stays.
func (e *Engine) DeactivateAs(ctx context.Context, by *Person, person string) (*Member, error) {
	m, err := e.Member(ctx, person)
	if err != nil {
		return nil, err
	}
	if !e.manages(by, m.Institution) {
		e.Refused(ctx, by.ID, "person/"+person, "role")
		return nil, ErrForbidden
	}
	if m.Has(RoleCoordinator) && len(e.Directory().WithRole(RoleCoordinator)) <= 1 {
		return nil, Tell("people.off.last_coordinator")
	}
	if _, err := e.SetActive(ctx, person, by.ID, false); err != nil {
		return nil, err
	}
	return m, nil
}

func (e *Engine) personAdded(ctx context.Context, r *Request, a Answers) error {
	var m Member
	memberFrom(a, &m)
	added, err := e.AddPersonAs(ctx, r.Person, m)
	if errors.Is(err, ErrForbidden) {
		return Tell("people.forbidden")
	}
	if err != nil {
		return err
	}
	return r.Reply(ctx, Message{Lines: []string{r.T("people.add.done", "Name", added.Name, "ID", added.ID)},
		Buttons: [][]Button{{Btn(r.T("people.btn.invite"), "people.invite", added.ID, "")}}})
}

func (e *Engine) personEdited(ctx context.Context, r *Request, a Answers) error {
	id := a["person"]
	m, err := e.managedMember(ctx, r, id)
	if err != nil {
		return err
	}
	if a["field"] == "institution" && !e.manages(r.Person, a["inst"]) {
		return e.refusePeople(ctx, r, "person/"+id)
	}
	fields, err := e.EditPerson(ctx, id, r.Person.ID, func(n *Member) {
		memberFrom(a, n)
		if slices.Contains(n.Roles, RoleCoordinator) && !slices.Contains(m.Roles, RoleCoordinator) && !r.Person.Has(RoleCoordinator) {
			n.Roles = m.Roles // only a coordinator makes another
		}
	})
	if err != nil {
		return err
	}
	if len(fields) == 0 {
		return r.Say(ctx, "people.edit.same")
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = r.T("people.field." + f)
	}
	return r.Say(ctx, "people.edit.done", "Name", m.Name, "Fields", strings.Join(names, ", "))
}

func (e *Engine) offSummary(r *Request, a Answers) []string {
	p := e.Directory().Person(a["person"])
	if p == nil {
		return []string{a["person"]}
	}
	return []string{p.Name + " (" + p.ID + ")"}
}

// personOff deactivates someone and lists what they were assigned to, so that the coordinator
// can hand it over: a school's contact or head, meetings they organize, open cases.
func (e *Engine) personOff(ctx context.Context, r *Request, a Answers) error {
	m, err := e.managedMember(ctx, r, a["person"])
	if err != nil {
		return err
	}
	if m.Has(RoleCoordinator) && len(e.Directory().WithRole(RoleCoordinator)) <= 1 {
		return Tell("people.off.last_coordinator")
	}
	before := e.Directory()
	if _, err := e.SetActive(ctx, m.ID, r.Person.ID, false); err != nil {
		return err
	}
	lines := []string{r.T("people.off.done", "Name", m.Name)}
	var todo []string
	for _, in := range before.Institutions {
		if in.DesignatedContact == m.ID {
			todo = append(todo, r.T("people.off.was_contact", "Inst", in.Name, "ID", in.ID))
		}
		if in.Head == m.ID {
			todo = append(todo, r.T("people.off.was_head", "Inst", in.Name, "ID", in.ID))
		}
	}
	if codes, err := e.CasesOf(ctx, m.ID); err == nil && len(codes) > 0 {
		todo = append(todo, r.T("people.off.cases", "Codes", strings.Join(codes, ", ")))
	}
	for _, fn := range e.assignmentsOf() {
		todo = append(todo, fn(ctx, r.Lang, m.ID)...)
	}
	if len(todo) > 0 {
		lines = append(append(lines, r.T("people.off.todo")), todo...)
	}
	return r.Reply(ctx, Message{Lines: lines})
}

// Has reports whether m holds role.
func (m *Member) Has(role Role) bool { return slices.Contains(m.Roles, role) }

// AssignmentsFunc lists, in lang, what a flow has person down for (a meeting series they
// organize, a visit they hold a place in), for the coordinator who deactivates them.
type AssignmentsFunc func(ctx context.Context, lang, person string) []string

// OnAssignments registers a flow's AssignmentsFunc.
func (e *Engine) OnAssignments(fn AssignmentsFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.assignments = append(e.assignments, fn)
}

func (e *Engine) assignmentsOf() []AssignmentsFunc {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return slices.Clone(e.assignments)
}

// inviteCommand: /invite NAME-or-ID finds the person (several matches are offered as buttons)
// and makes their code; /invite revoke ID withdraws a pending one.
func (e *Engine) inviteCommand(ctx context.Context, r *Request) error {
	if !e.mayManageAny(r.Person) {
		return e.refusePeople(ctx, r, "command/invite")
	}
	if len(r.Args) == 0 {
		return Tell("access.invite_usage")
	}
	if a := strings.ToLower(r.Args[0]); (a == "revoke" || a == "atsaukti") && len(r.Args) == 2 {
		return e.withdrawInvite(ctx, r, r.Args[1])
	}
	q := strings.Join(r.Args, " ")
	found := e.Directory().FindPeople(q)
	var mine []*Person
	for _, p := range found {
		if e.manages(r.Person, p.Institution) {
			mine = append(mine, p)
		}
	}
	switch {
	case len(mine) == 1:
		return e.inviteOne(ctx, r, mine[0].ID)
	case len(mine) > 1:
		var rows [][]Button
		for i, p := range mine {
			if i == 8 {
				break
			}
			label := p.Name
			if in := e.Directory().Institution(p.Institution); in != nil {
				label += " — " + in.Name
			}
			rows = append(rows, []Button{Btn(label, "people.invite", p.ID, "")})
		}
		return r.Reply(ctx, Message{Lines: []string{r.T("people.invite.which", "Query", q)}, Buttons: rows})
	}
	if m, err := e.Member(ctx, q); err == nil && !m.Active {
		return Tell("people.invite.inactive", "Name", m.Name, "ID", m.ID)
	}
	return Tell("people.unknown", "Query", q)
}

// inviteOne makes person's invite and gives it to the coordinator ready to forward: the code, the
// Telegram link, and what to type on Slack.
func (e *Engine) inviteOne(ctx context.Context, r *Request, person string) error {
	p := e.Directory().Person(person)
	if p == nil {
		if m, err := e.Member(ctx, person); err == nil && !m.Active {
			return Tell("people.invite.inactive", "Name", m.Name, "ID", m.ID)
		}
		return Tell("people.unknown", "Query", person)
	}
	if !e.manages(r.Person, p.Institution) {
		return e.refusePeople(ctx, r, "person/"+person)
	}
	code, err := e.Invite(ctx, person, r.Person.ID)
	if err != nil {
		return err
	}
	lines := []string{r.T("access.invite_code", "Code", code, "Name", p.Name, "Hours", int(e.Settings.InviteTTL.Hours()))}
	if l := e.DeepLink(code); l != "" {
		lines = append(lines, r.T("people.invite.telegram", "Link", l))
	}
	lines = append(lines, r.T("people.invite.slack", "Code", code), r.T("people.invite.forward"))
	return r.Reply(ctx, Message{Lines: lines})
}

func (e *Engine) withdrawInvite(ctx context.Context, r *Request, person string) error {
	m, err := e.managedMember(ctx, r, person)
	if err != nil {
		return err
	}
	ok, err := e.WithdrawInvite(ctx, m.ID, r.Person.ID)
	if err != nil {
		return err
	}
	if !ok {
		return r.Say(ctx, "people.invite.none", "Name", m.Name)
	}
	return r.Say(ctx, "people.invite.withdrawn", "Name", m.Name)
}

// WithdrawInvite deletes person's pending invite; false when there was none.
func (e *Engine) WithdrawInvite(ctx context.Context, person, by string) (bool, error) {
	inv, _, err := Load[invited](ctx, e.Records, "invited/"+person)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := Delete(ctx, e.Records, "invite/"+inv.Hash); err != nil {
		return false, err
	}
	if err := Delete(ctx, e.Records, "invited/"+person); err != nil {
		return false, err
	}
	if by != "" {
		e.Record(ctx, AuditEvent{Actor: by, Kind: "access.invite_withdrawn", To: person})
	}
	return e.Clock.Now().Before(inv.Expires), nil
}

// institutionCommand: /institution ID contact|head PERSON sets who an institution's notices go
// to; /institution ID shows it.
func (e *Engine) institutionCommand(ctx context.Context, r *Request) error {
	if len(r.Args) == 0 {
		return Tell("people.inst_usage")
	}
	in := e.Directory().Institution(r.Args[0])
	if in == nil {
		return Tell("people.no_institution", "ID", r.Args[0])
	}
	if !e.manages(r.Person, in.ID) {
		return e.refusePeople(ctx, r, "institution/"+in.ID)
	}
	name := func(id string) string {
		if p := e.Directory().Person(id); p != nil {
			return p.Name + " (" + id + ")"
		}
		return "—"
	}
	if len(r.Args) == 1 {
		return r.Reply(ctx, Message{Title: in.Name, Lines: []string{
			r.T("people.inst.contact", "Name", name(in.DesignatedContact)), r.T("people.inst.head", "Name", name(in.Head)),
			r.T("people.inst.requests", "Name", name(in.Requests)), r.T("people.inst_usage")}})
	}
	which := strings.ToLower(r.Args[1])
	switch which {
	case "kontaktas":
		which = "contact"
	case "vadovas":
		which = "head"
	case "prasymai":
		which = "requests"
	}
	if (which != "contact" && which != "head" && which != "requests") || len(r.Args) < 3 {
		return Tell("people.inst_usage")
	}
	found := e.Directory().FindPeople(strings.Join(r.Args[2:], " "))
	if len(found) != 1 {
		return Tell("people.unknown", "Query", strings.Join(r.Args[2:], " "))
	}
	if err := e.SetContacts(ctx, in.ID, which, found[0].ID, r.Person.ID); err != nil {
		return err
	}
	return r.Say(ctx, "people.inst.set_"+which, "Inst", in.Name, "Name", found[0].Name)
}
