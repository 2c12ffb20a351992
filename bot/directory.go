package bot

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is what a person does in the cooperation. A person may hold several.
type Role string

// The roles every municipality has.
const (
	RoleLeader       Role = "leader"
	RolePolice       Role = "police"
	RoleSocialWorker Role = "social_worker"
	RoleProbation    Role = "probation"
	RoleChildRights  Role = "child_rights"
	RoleSchool       Role = "school"
	RoleCoordinator  Role = "coordinator"
	RoleCaseManager  Role = "case_manager"
)

// Roles lists the known roles in a stable order.
var Roles = []Role{RoleLeader, RolePolice, RoleSocialWorker, RoleProbation, RoleChildRights, RoleSchool, RoleCoordinator, RoleCaseManager}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Institution is a police commissariat, a social services centre, a school and so on.
type Institution struct {
	ID    string
	Name  string
	Kind  string // police, social_services, probation, child_rights, school, municipality, health, ngo
	Areas []string
	// DesignatedContact and Head are set for schools: notices go to the contact and escalate
	// to the head.
	DesignatedContact string
	Head              string
	// Requests is who the institution's information requests go to, when the coordinator set
	// someone (otherwise its designated contact, or its leaders).
	Requests string
}

// QuietHours is a daily span in local time during which routine messages wait. Start may be
// after End (22:00–07:00 spans midnight).
type QuietHours struct {
	Start, End time.Duration // since local midnight
}

// Contains reports whether local time t falls in the quiet span.
func (q *QuietHours) Contains(t time.Time) bool {
	if q == nil || q.Start == q.End {
		return false
	}
	d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	if q.Start < q.End {
		return d >= q.Start && d < q.End
	}
	return d >= q.Start || d < q.End
}

// After returns the first moment at or after t that lies outside the quiet span.
func (q *QuietHours) After(t time.Time) time.Time {
	if !q.Contains(t) {
		return t
	}
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	end := day.Add(q.End)
	if !end.After(t) {
		end = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location()).Add(q.End)
	}
	return end
}

// ParseQuietHours reads "22:00-07:00".
func ParseQuietHours(s string) (*QuietHours, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return nil, fmt.Errorf("want HH:MM-HH:MM, got %q", s)
	}
	start, err := parseClock(strings.TrimSpace(a))
	if err != nil {
		return nil, err
	}
	end, err := parseClock(strings.TrimSpace(b))
	if err != nil {
		return nil, err
	}
	return &QuietHours{Start: start, End: end}, nil
}

func parseClock(s string) (time.Duration, error) {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || h < 0 || h > 23 || m < 0 || m > 59 || len(s) != 5 {
		return 0, fmt.Errorf("want HH:MM, got %q", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// Person is a member of staff. Staff are named in the directory; children and families never are.
type Person struct {
	ID          string
	Name        string
	Institution string
	Roles       []Role
	Language    string
	Areas       []string
	Quiet       *QuietHours
}

// Has reports whether p holds role r.
func (p *Person) Has(r Role) bool { return p != nil && slices.Contains(p.Roles, r) }

// HasAny reports whether p holds one of rs.
func (p *Person) HasAny(rs ...Role) bool {
	for _, r := range rs {
		if p.Has(r) {
			return true
		}
	}
	return false
}

// Group is a configured group chat (for example the child-rights unit's Telegram group). Only
// notices without case details go there.
type Group struct {
	ID      string
	Name    string
	Address Address
}

// Directory is the configured membership: who exists, where they work and what they do. It is
// immutable; a reload swaps in a new one, so that a person removed from config loses access at once.
type Directory struct {
	Location     *time.Location
	Language     string
	Institutions []*Institution
	People       []*Person
	Groups       []*Group

	people       map[string]*Person
	institutions map[string]*Institution
	groups       map[string]*Group
}

// Index builds the lookup maps; call it once after filling the slices.
func (d *Directory) Index() *Directory {
	d.people = make(map[string]*Person, len(d.People))
	for _, p := range d.People {
		d.people[p.ID] = p
	}
	d.institutions = make(map[string]*Institution, len(d.Institutions))
	for _, i := range d.Institutions {
		d.institutions[i.ID] = i
	}
	d.groups = make(map[string]*Group, len(d.Groups))
	for _, g := range d.Groups {
		d.groups[g.ID] = g
	}
	if d.Location == nil {
		d.Location = time.UTC
	}
	if d.Language == "" {
		d.Language = "lt"
	}
	return d
}

// Person returns the person with id, or nil.
func (d *Directory) Person(id string) *Person { return d.people[id] }

// Institution returns the institution with id, or nil.
func (d *Directory) Institution(id string) *Institution { return d.institutions[id] }

// Group returns the group with id, or nil.
func (d *Directory) Group(id string) *Group { return d.groups[id] }

// GroupAt returns the configured group at address a, or nil.
func (d *Directory) GroupAt(a Address) *Group {
	for _, g := range d.Groups {
		if g.Address.Platform == a.Platform && g.Address.Chat == a.Chat {
			return g
		}
	}
	return nil
}

// Select returns the people who hold one of roles (any role when empty), optionally limited to
// one institution and one area, in directory order.
func (d *Directory) Select(roles []Role, institution, area string) []*Person {
	var out []*Person
	for _, p := range d.People {
		if len(roles) > 0 && !p.HasAny(roles...) {
			continue
		}
		if institution != "" && p.Institution != institution {
			continue
		}
		if area != "" && len(p.Areas) > 0 && !slices.Contains(p.Areas, area) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// WithRole returns everyone holding r.
func (d *Directory) WithRole(r Role) []*Person { return d.Select([]Role{r}, "", "") }

// Areas lists every area named by an institution or a person, sorted.
func (d *Directory) Areas() []string {
	var out []string
	for _, i := range d.Institutions {
		out = append(out, i.Areas...)
	}
	for _, p := range d.People {
		out = append(out, p.Areas...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
