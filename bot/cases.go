package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Case is a case code and the people assigned to it by role. No child's or family's name is ever
// part of it: need-to-know checks in every flow use these assignments.
type Case struct {
	Code    string       `json:"code"`
	Created time.Time    `json:"created"`
	By      string       `json:"by"`
	Members []CaseMember `json:"members"`
	// ChangedBy made the latest change (an unassignment's actor).
	ChangedBy string `json:"changed_by,omitempty"`
	Fx        Ledger `json:"fx"`
}

// CaseMember is one person's role in a case, and who gave it.
type CaseMember struct {
	Person string `json:"person"`
	Role   Role   `json:"role"`
	By     string `json:"by,omitempty"`
}

// Has reports whether person is assigned to the case.
func (c *Case) Has(person string) bool {
	return slices.ContainsFunc(c.Members, func(m CaseMember) bool { return m.Person == person })
}

// People returns the assigned people's IDs, each once.
func (c *Case) People() []string {
	var out []string
	for _, m := range c.Members {
		if !slices.Contains(out, m.Person) {
			out = append(out, m.Person)
		}
	}
	return out
}

// caseManagers may create cases and assign people.
var caseManagers = []Role{RoleSocialWorker, RoleChildRights, RoleCoordinator, RoleCaseManager}

func caseKey(code string) string { return "case/" + code }

// MaxCaseCode is the longest case code taken anywhere (commands, dialogs, the integration API,
// the command line), whatever cases.code_pattern allows: a code is part of key names and
// messages.
const MaxCaseCode = 64

// ValidCaseCode reports whether code looks like a case code (and therefore not like a name).
func (e *Engine) ValidCaseCode(code string) bool { return e.Settings.ValidCaseCode(code) }

// ValidCaseCode reports whether code is at most MaxCaseCode bytes and matches the pattern.
func (s Settings) ValidCaseCode(code string) bool {
	return len(code) <= MaxCaseCode && s.CaseCode != nil && s.CaseCode.MatchString(code)
}

// Case returns the case with code, or ErrNotFound.
func (e *Engine) Case(ctx context.Context, code string) (Case, error) {
	return e.cases.Get(ctx, code)
}

// caseKind keeps a case's indexes (all cases; each assigned person's cases) and records its
// creation and every assignment in the audit stream, as effects of the change.
func (e *Engine) caseKind() Kind[Case] {
	return Kind[Case]{Prefix: "case/",
		Ledger: func(c *Case) *Ledger { return &c.Fx },
		Index: func(c *Case) []IndexOp {
			score := float64(c.Created.Unix())
			ops := []IndexOp{{Index: "cases", Member: c.Code, Score: score}}
			for _, p := range c.People() {
				ops = append(ops, IndexOp{Index: "cases:person:" + p, Member: c.Code, Score: score})
			}
			return ops
		},
		Effects: func(_ context.Context, was, c *Case) (Effects, error) {
			var fx Effects
			if was == c {
				return fx, nil
			}
			id := FactID(caseKey(c.Code), int(c.Fx.Rev))
			add := func(actor, kind, to, reason string) {
				fx.Audit = append(fx.Audit, AuditEvent{ID: id + ":" + kind + ":" + to + ":" + reason, Actor: actor, Kind: kind, Case: c.Code, To: to, Reason: reason})
			}
			if was == nil {
				// Once per case, whichever change first applies it (a creation whose effects
				// were deferred is applied together with the next change).
				fx.Audit = append(fx.Audit, AuditEvent{ID: caseKey(c.Code) + ":case.created", Actor: c.By, Kind: "case.created", Case: c.Code})
				was = &Case{}
			}
			for _, m := range c.Members {
				if !slices.ContainsFunc(was.Members, func(o CaseMember) bool { return o.Person == m.Person && o.Role == m.Role }) {
					add(m.By, "case.assigned", m.Person, string(m.Role))
				}
			}
			for _, p := range was.People() {
				if !c.Has(p) {
					add(c.ChangedBy, "case.unassigned", p, "")
				}
			}
			return fx, nil
		}}
}

// EnsureCase returns the case with code, creating it (with nobody assigned) if it does not exist.
func (e *Engine) EnsureCase(ctx context.Context, code, by string) (Case, bool, error) {
	return e.cases.Create(ctx, code, Case{Code: code, Created: e.Clock.Now(), By: by, ChangedBy: by})
}

// Assign puts person on the case in role; assigning again changes nothing.
func (e *Engine) Assign(ctx context.Context, code, person string, role Role, by string) error {
	if e.Directory().Person(person) == nil {
		return fmt.Errorf("assign %s: %w", person, ErrNotFound)
	}
	_, err := e.cases.Change(ctx, code, func(c *Case) error {
		if slices.ContainsFunc(c.Members, func(m CaseMember) bool { return m.Person == person && m.Role == role }) {
			return ErrUnchanged
		}
		c.Members = append(c.Members, CaseMember{Person: person, Role: role, By: by})
		c.ChangedBy = by
		return nil
	})
	return err
}

// Unassign takes person off the case.
func (e *Engine) Unassign(ctx context.Context, code, person, by string) error {
	_, err := e.cases.Change(ctx, code, func(c *Case) error {
		if !c.Has(person) {
			return ErrUnchanged
		}
		c.Members = slices.DeleteFunc(c.Members, func(m CaseMember) bool { return m.Person == person })
		c.ChangedBy = by
		return nil
	})
	return err
}

// CasesOf lists the codes of the cases person is assigned to.
func (e *Engine) CasesOf(ctx context.Context, person string) ([]string, error) {
	return e.Records.Range(ctx, "cases:person:"+person, 0, 1e18, 0)
}

func (e *Engine) registerCases() {
	e.Command(Command{Name: "case", Aliases: []string{"atvejis"}, Help: "help.case", Private: true, Run: e.caseCommand})
}

func (e *Engine) caseCommand(ctx context.Context, r *Request) error {
	if len(r.Args) == 0 {
		codes, err := e.CasesOf(ctx, r.Person.ID)
		if err != nil {
			return err
		}
		if len(codes) == 0 {
			return r.Say(ctx, "case.none")
		}
		return r.Reply(ctx, Message{Title: r.T("case.mine"), Lines: codes})
	}
	manage := func() error {
		if !r.Person.HasAny(caseManagers...) {
			e.Refused(ctx, r.Person.ID, "case", "role")
			return Tell("core.forbidden")
		}
		return nil
	}
	switch sub := strings.ToLower(r.Args[0]); sub {
	case "new", "naujas":
		if err := manage(); err != nil {
			return err
		}
		code := ""
		if len(r.Args) > 1 {
			code = strings.ToUpper(r.Args[1])
		} else {
			n, err := e.Marks.Count(ctx, fmt.Sprintf("casecode/%d", e.Now().Year()), 0)
			if err != nil {
				return err
			}
			code = fmt.Sprintf("%s-%d-%03d", e.Settings.CasePrefix, e.Now().Year(), n)
		}
		if !e.ValidCaseCode(code) {
			return Tell("dialog.bad.case")
		}
		_, created, err := e.EnsureCase(ctx, code, r.Person.ID)
		if err != nil {
			return err
		}
		if !created {
			return r.Say(ctx, "case.exists", "Code", code)
		}
		for _, role := range []Role{RoleSocialWorker, RoleChildRights, RoleCaseManager} {
			if r.Person.Has(role) {
				if err := e.Assign(ctx, code, r.Person.ID, role, r.Person.ID); err != nil {
					return err
				}
				break
			}
		}
		return r.Say(ctx, "case.created", "Code", code)
	case "assign", "priskirti", "unassign", "atskirti":
		if err := manage(); err != nil {
			return err
		}
		if len(r.Args) < 3 || (sub == "assign" || sub == "priskirti") && len(r.Args) < 4 {
			return Tell("case.usage")
		}
		code, person := strings.ToUpper(r.Args[1]), r.Args[2]
		p := e.Directory().Person(person)
		if p == nil {
			return Tell("case.unknown_person", "ID", person)
		}
		if _, err := e.Case(ctx, code); errors.Is(err, ErrNotFound) {
			return Tell("case.unknown", "Code", code)
		} else if err != nil {
			return err
		}
		if sub == "unassign" || sub == "atskirti" {
			if err := e.Unassign(ctx, code, person, r.Person.ID); err != nil {
				return err
			}
			return r.Say(ctx, "case.unassigned", "Code", code, "Name", p.Name)
		}
		role := Role(r.Args[3])
		if !role.Valid() {
			return Tell("case.unknown_role", "Role", r.Args[3])
		}
		if err := e.Assign(ctx, code, person, role, r.Person.ID); err != nil {
			return err
		}
		return r.Say(ctx, "case.assigned", "Code", code, "Name", p.Name, "Role", r.T("role."+string(role)))
	default:
		code := strings.ToUpper(sub)
		c, err := e.Case(ctx, code)
		if errors.Is(err, ErrNotFound) {
			return Tell("case.unknown", "Code", code)
		}
		if err != nil {
			return err
		}
		if !c.Has(r.Person.ID) && !r.Person.Has(RoleCoordinator) {
			e.Refused(ctx, r.Person.ID, "case/"+code, "need_to_know")
			return Tell("case.unknown", "Code", code)
		}
		m := Message{Title: r.T("case.title", "Code", code)}
		for _, mem := range c.Members {
			name := mem.Person
			if p := e.Directory().Person(mem.Person); p != nil {
				name = p.Name
			}
			m.Lines = append(m.Lines, r.T("case.member", "Name", name, "Role", r.T("role."+string(mem.Role))))
		}
		if len(c.Members) == 0 {
			m.Lines = append(m.Lines, r.T("case.nobody"))
		}
		return r.Reply(ctx, m)
	}
}
