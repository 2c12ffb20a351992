package bot

import "slices"

// Audience names people directly, by role, or by institution; roles and institutions together
// mean "these roles in these institutions".
type Audience struct {
	People       []string `json:"people,omitempty"`
	Roles        []Role   `json:"roles,omitempty"`
	Institutions []string `json:"institutions,omitempty"`
}

// Resolve returns the IDs of everyone the audience names, in directory order, each once.
func (d *Directory) Resolve(a Audience) []string {
	var out []string
	for _, p := range d.People {
		named := slices.Contains(a.People, p.ID)
		byRole := len(a.Roles) > 0 && p.HasAny(a.Roles...) && (len(a.Institutions) == 0 || slices.Contains(a.Institutions, p.Institution))
		byInst := len(a.Roles) == 0 && slices.Contains(a.Institutions, p.Institution)
		if named || byRole || byInst {
			out = append(out, p.ID)
		}
	}
	return out
}
