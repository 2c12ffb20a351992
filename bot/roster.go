package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// People live in the store, in one record, the roster: everyone ever added (by the config or in
// chat), active or not, and the institutions' contacts the coordinator set. The config keeps the
// policy (institutions, groups, rules, series); the engine's directory is that policy with the
// roster's active people in it. Every replica keeps the roster it last read and its revision,
// and before it handles a message, a press or a timer it asks the store whether a newer one is
// there (one sorted-set probe): a person added or deactivated on one replica is seen by the next
// thing any replica does.

// Sources of a person.
const (
	SourceConfig = "config" // listed in the config's people: kept in line with it
	SourceChat   = "chat"   // added in chat (or the web pages, or tiltas people import)
)

// Member is a person as the roster keeps them.
type Member struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Institution string    `json:"institution,omitempty"`
	Roles       []Role    `json:"roles,omitempty"`
	Language    string    `json:"language,omitempty"`
	Areas       []string  `json:"areas,omitempty"`
	Quiet       string    `json:"quiet,omitempty"` // "22:00-07:00"
	Active      bool      `json:"active"`
	Source      string    `json:"source"`
	ConfigHash  string    `json:"config_hash,omitempty"` // the config entry last applied
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	By          string    `json:"by,omitempty"` // who made the latest change ("system": the config)
}

// Contacts are an institution's designated contact and head as the coordinator set them in
// chat; an empty one leaves the config's.
type Contacts struct {
	Contact  string `json:"contact,omitempty"`
	Head     string `json:"head,omitempty"`
	Requests string `json:"requests,omitempty"`
}

// Roster is the stored people.
type Roster struct {
	People map[string]*Member `json:"people"`
	// Erased holds the hashes of erased people's IDs: never reused, and never brought back by
	// the config.
	Erased   []string            `json:"erased,omitempty"`
	Contacts map[string]Contacts `json:"contacts,omitempty"`
	// Changes says, for the change being stored, who changed which of a person's fields: the
	// audit trail's source, replaced by every change.
	Changes []FieldChange `json:"changes,omitempty"`
	Fx      Ledger        `json:"fx"`
}

// FieldChange is one audited change: who changed which field of whom (IDs and field names only).
type FieldChange struct {
	By     string `json:"by"`
	Person string `json:"person,omitempty"`
	Inst   string `json:"inst,omitempty"`
	Kind   string `json:"kind"` // person.added, person.changed, person.deactivated, person.reactivated, institution.changed
	Fields string `json:"fields,omitempty"`
}

const (
	rosterID    = "people"
	rosterIndex = "directory:rev"
)

func erasedHash(id string) string {
	sum := sha256.Sum256([]byte("tiltas-person:" + id))
	return hex.EncodeToString(sum[:12])
}

// rosterKind keeps the roster's revision in an index, so that a replica can ask cheaply whether
// it has the newest, and turns each change into audit events and revoked accounts.
func (e *Engine) rosterKind() Kind[Roster] {
	return Kind[Roster]{Prefix: "directory/",
		Ledger: func(r *Roster) *Ledger { return &r.Fx },
		Index: func(r *Roster) []IndexOp {
			return []IndexOp{{Index: rosterIndex, Member: rosterID, Score: float64(r.Fx.Rev)}}
		},
		Effects: e.rosterEffects}
}

// rosterEffects: each field change is an audit event; a deactivated person's chat account is
// revoked, so that nothing reaches them and their buttons are refused on every replica.
func (e *Engine) rosterEffects(ctx context.Context, was, r *Roster) (Effects, error) {
	var fx Effects
	if was == r {
		return fx, nil
	}
	rec := "directory/" + rosterID
	for i, c := range r.Changes {
		fx.Audit = append(fx.Audit, AuditEvent{ID: FactID(rec, int(r.Fx.Rev)) + ":" + strconv.Itoa(i), Actor: c.By, Kind: c.Kind,
			To: c.Person, Record: rec, Reason: strings.TrimSpace(c.Inst + " " + c.Fields)})
	}
	for id, m := range r.People {
		if m.Active || was != nil && was.People[id] != nil && !was.People[id].Active {
			continue
		}
		if was == nil && m.Source == SourceConfig {
			continue
		}
		person := id
		fx.Do = append(fx.Do, func(ctx context.Context) error {
			if err := e.unlink(ctx, person); err != nil {
				return err
			}
			_, err := e.EndDeskSessions(ctx, person)
			return err
		})
	}
	return fx, nil
}

// syncDirectory reads the roster when the store has a newer one than this replica, and builds
// the directory from it. It costs one index probe when nothing changed, shared by the updates
// that arrive while another probe is on its way.
func (e *Engine) syncDirectory(ctx context.Context) error {
	return e.rosterProbe.do(ctx, e.probeRoster)
}

// probeRoster asks the store whether the roster changed since it was read (one command), and
// reads it when it did. Probes run one at a time (syncDirectory), so that the lock is held only
// to read a changed roster, never for the question: updates handled at once do not queue behind
// one another's round trips.
func (e *Engine) probeRoster(ctx context.Context) error {
	e.rosterMu.Lock()
	rev := e.rosterRev
	e.rosterMu.Unlock()
	ids, err := e.Records.Range(ctx, rosterIndex, float64(rev)+0.5, math.Inf(1), 1)
	if err != nil || len(ids) == 0 {
		return err
	}
	e.rosterMu.Lock()
	defer e.rosterMu.Unlock()
	r, err := e.people.Get(ctx, rosterID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	e.roster, e.rosterRev = &r, r.Fx.Rev
	e.compose()
	return nil
}

// Refresh brings this replica's directory up to the stored roster. Handle and Fire call it
// first; the reconcile pass too, for everything else.
func (e *Engine) Refresh(ctx context.Context) error {
	if err := e.syncDirectory(ctx); err != nil {
		return fmt.Errorf("read the people: %w", err)
	}
	return nil
}

// compose builds the directory: the policy, with the roster's active people when there is a
// roster (before the first one is stored, the config's people), and the contacts set in chat.
// The caller holds rosterMu.
func (e *Engine) compose() {
	pol := e.policy.Load()
	d := &Directory{Location: pol.Location, Language: pol.Language, Groups: pol.Groups}
	for _, in := range pol.Institutions {
		cp := *in
		if c, ok := e.roster.contacts()[in.ID]; ok {
			if c.Contact != "" {
				cp.DesignatedContact = c.Contact
			}
			if c.Head != "" {
				cp.Head = c.Head
			}
			if c.Requests != "" {
				cp.Requests = c.Requests
			}
		}
		d.Institutions = append(d.Institutions, &cp)
	}
	if e.roster == nil {
		d.People = pol.People
	} else {
		order := map[string]int{}
		for i, p := range pol.People {
			order[p.ID] = i
		}
		for _, m := range e.roster.People {
			if m.Active {
				d.People = append(d.People, m.person())
			}
		}
		// The config's people first, in its order; then the others by name.
		slices.SortFunc(d.People, func(a, b *Person) int {
			ia, oka := order[a.ID]
			ib, okb := order[b.ID]
			switch {
			case oka && okb:
				return ia - ib
			case oka:
				return -1
			case okb:
				return 1
			}
			return strings.Compare(Fold(a.Name)+a.ID, Fold(b.Name)+b.ID)
		})
	}
	e.dir.Store(d.Index())
}

func (r *Roster) contacts() map[string]Contacts {
	if r == nil {
		return nil
	}
	return r.Contacts
}

func (m *Member) person() *Person {
	p := &Person{ID: m.ID, Name: m.Name, Institution: m.Institution, Roles: slices.Clone(m.Roles), Language: m.Language, Areas: slices.Clone(m.Areas)}
	if m.Quiet != "" {
		p.Quiet, _ = ParseQuietHours(m.Quiet)
	}
	return p
}

// memberOf is a config person as a roster member.
func memberOf(p *Person) Member {
	m := Member{ID: p.ID, Name: p.Name, Institution: p.Institution, Roles: slices.Clone(p.Roles), Language: p.Language, Areas: slices.Clone(p.Areas)}
	if p.Quiet != nil {
		m.Quiet = fmt.Sprintf("%02d:%02d-%02d:%02d", int(p.Quiet.Start.Hours()), int(p.Quiet.Start.Minutes())%60, int(p.Quiet.End.Hours()), int(p.Quiet.End.Minutes())%60)
	}
	return m
}

// fields are a member's editable fields, by name, as text: what audit events name and edits compare.
func (m *Member) fields() map[string]string {
	roles := make([]string, len(m.Roles))
	for i, r := range m.Roles {
		roles[i] = string(r)
	}
	return map[string]string{"name": m.Name, "institution": m.Institution, "roles": strings.Join(roles, ","),
		"language": m.Language, "areas": strings.Join(m.Areas, ","), "quiet_hours": m.Quiet}
}

// diffFields names the fields that differ between a and b, sorted.
func diffFields(a, b *Member) []string {
	fa, fb := a.fields(), b.fields()
	var out []string
	for _, k := range slices.Sorted(maps.Keys(fa)) {
		if fa[k] != fb[k] {
			out = append(out, k)
		}
	}
	return out
}

func configHash(m Member) string {
	f := m.fields()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(f)) {
		b.WriteString(k + "=" + f[k] + "\n")
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

// changeRoster applies fn to the stored roster by compare-and-set (fn may run more than once),
// storing it first from the config's people when there is none, and brings this replica's
// directory up to it. fn records what it changed in r.Changes, and reports whether it changed
// anything at all (ErrUnchanged is returned when not).
func (e *Engine) changeRoster(ctx context.Context, fn func(r *Roster) (bool, error)) (Roster, error) {
	if _, err := e.people.Get(ctx, rosterID); errors.Is(err, ErrNotFound) {
		if _, _, err := e.people.Create(ctx, rosterID, e.seedRoster()); err != nil {
			return Roster{}, err
		}
	} else if err != nil {
		return Roster{}, err
	}
	r, err := e.people.Change(ctx, rosterID, func(r *Roster) error {
		r.Changes = nil
		if r.People == nil {
			r.People = map[string]*Member{}
		}
		changed, err := fn(r)
		if err != nil {
			return err
		}
		if !changed {
			return ErrUnchanged
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	return r, e.Refresh(ctx)
}

// seedRoster is the first roster: the config's people, as the config manages them.
func (e *Engine) seedRoster() Roster {
	r := Roster{People: map[string]*Member{}}
	now := e.Clock.Now()
	for _, p := range e.policy.Load().People {
		m := memberOf(p)
		m.Active, m.Source, m.ConfigHash, m.Created, m.Updated, m.By = true, SourceConfig, configHash(m), now, now, "system"
		r.People[m.ID] = &m
	}
	return r
}

// SyncPeople brings the stored people in line with the config's people: a person the config
// lists is added, or updated when their config entry changed since it was last applied (so that a
// coordinator's edit stands until IT changes that person's lines); a config person the config
// no longer lists is deactivated, never erased. People added in chat are left alone. serve runs
// it at start and on every reload.
func (e *Engine) SyncPeople(ctx context.Context) error {
	pol := e.policy.Load()
	_, err := e.changeRoster(ctx, func(r *Roster) (bool, error) {
		now := e.Clock.Now()
		changed := false
		listed := map[string]bool{}
		for _, p := range pol.People {
			listed[p.ID] = true
			if slices.Contains(r.Erased, erasedHash(p.ID)) {
				continue // erased: the config must drop them too (tiltas erase says so)
			}
			m := memberOf(p)
			h := configHash(m)
			cur, ok := r.People[p.ID]
			if !ok {
				m.Active, m.Source, m.ConfigHash, m.Created, m.Updated, m.By = true, SourceConfig, h, now, now, "system"
				r.People[m.ID] = &m
				r.Changes = append(r.Changes, FieldChange{By: "system", Person: m.ID, Kind: "person.added"})
				changed = true
				continue
			}
			// Listed again after the config dropped them: back, as the config has them.
			back := !cur.Active && cur.Source == SourceConfig && cur.By == "system"
			if cur.ConfigHash == h && !back {
				continue // the config entry as last applied: edits made in chat since stand
			}
			fields := diffFields(cur, &m)
			m.Active = cur.Active || back
			m.Source, m.ConfigHash, m.Created, m.Updated, m.By = SourceConfig, h, cur.Created, now, "system"
			if back {
				r.Changes = append(r.Changes, FieldChange{By: "system", Person: m.ID, Kind: "person.reactivated"})
			}
			if len(fields) > 0 {
				r.Changes = append(r.Changes, FieldChange{By: "system", Person: m.ID, Kind: "person.changed", Fields: strings.Join(fields, ",")})
			} else if !back {
				m.Updated, m.By = cur.Updated, cur.By // only the config's hash is new
			}
			r.People[m.ID] = &m
			changed = true
		}
		for _, id := range slices.Sorted(maps.Keys(r.People)) {
			m := r.People[id]
			if m.Source == SourceConfig && m.Active && !listed[id] {
				m.Active, m.Updated, m.By = false, now, "system"
				r.Changes = append(r.Changes, FieldChange{By: "system", Person: id, Kind: "person.deactivated"})
				changed = true
			}
		}
		return changed, nil
	})
	if errors.Is(err, ErrUnchanged) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("sync people: %w", err)
	}
	return e.Refresh(ctx)
}

// Members returns every stored person, active or not, by ID; before the first is stored, the
// config's people, as they will be stored.
func (e *Engine) Members(ctx context.Context) (map[string]*Member, error) {
	r, err := e.people.Get(ctx, rosterID)
	if errors.Is(err, ErrNotFound) {
		return e.seedRoster().People, nil
	}
	if err != nil {
		return nil, err
	}
	return r.People, nil
}

// Member returns one stored person, active or not.
func (e *Engine) Member(ctx context.Context, id string) (*Member, error) {
	all, err := e.Members(ctx)
	if err != nil {
		return nil, err
	}
	if m, ok := all[id]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("person %s: %w", id, ErrNotFound)
}

// Problems with a person's details, each a catalog ID the commands show.
var (
	ErrPersonName        = Tell("people.err.name")
	ErrPersonInstitution = Tell("people.err.institution")
	ErrPersonRoles       = Tell("people.err.roles")
	ErrPersonArea        = Tell("people.err.area")
	ErrPersonLanguage    = Tell("people.err.language")
	ErrPersonQuiet       = Tell("people.err.quiet")
	// ErrIDTaken: the ID is someone's, or was someone's who has been erased.
	ErrIDTaken = errors.New("person ID taken")
)

// ValidMember checks a person's details against the config's institutions, roles and areas, and
// tidies the name; the error is a Problem naming what is wrong.
func (e *Engine) ValidMember(m *Member) error { return e.validMember(m) }

// validMember checks a person's details against the policy.
func (e *Engine) validMember(m *Member) error {
	pol := e.policy.Load()
	m.Name = strings.Join(strings.Fields(m.Name), " ")
	switch {
	case m.Name == "" || len([]rune(m.Name)) > 80:
		return ErrPersonName
	case m.Institution != "" && pol.Institution(m.Institution) == nil:
		return ErrPersonInstitution
	case len(m.Roles) == 0:
		return ErrPersonRoles
	case m.Language != "" && m.Language != "lt" && m.Language != "en":
		return ErrPersonLanguage
	}
	for _, r := range m.Roles {
		if !r.Valid() {
			return ErrPersonRoles
		}
	}
	known := pol.Areas()
	for _, a := range m.Areas {
		if !slices.Contains(known, a) {
			return ErrPersonArea
		}
	}
	if m.Quiet != "" {
		if _, err := ParseQuietHours(m.Quiet); err != nil {
			return ErrPersonQuiet
		}
	}
	return nil
}

// PersonID makes an ID from a name: ASCII, lower case, dashes ("Rūta Gražienė" → "ruta-graziene"),
// with a number added when the ID is taken, or was ever taken by someone since erased.
func (r *Roster) PersonID(name string) string {
	base := groupID(name)
	if base == "" {
		base = "asmuo"
	}
	for n := 1; ; n++ {
		id := base
		if n > 1 {
			id = base + "-" + strconv.Itoa(n)
		}
		if _, taken := r.People[id]; !taken && !slices.Contains(r.Erased, erasedHash(id)) {
			return id
		}
	}
}

// AddPerson stores a new person, added by by (a coordinator, or "system" for tiltas people
// import), and returns them with the ID made from their name.
func (e *Engine) AddPerson(ctx context.Context, m Member, by string) (*Member, error) {
	if err := e.validMember(&m); err != nil {
		return nil, err
	}
	var added *Member
	_, err := e.changeRoster(ctx, func(r *Roster) (bool, error) {
		n := m
		if n.ID == "" {
			n.ID = r.PersonID(m.Name)
		} else if _, taken := r.People[n.ID]; taken || slices.Contains(r.Erased, erasedHash(n.ID)) {
			return false, fmt.Errorf("person %s: %w", n.ID, ErrIDTaken)
		}
		now := e.Clock.Now()
		n.Active, n.Source, n.Created, n.Updated, n.By = true, SourceChat, now, now, by
		r.People[n.ID] = &n
		r.Changes = append(r.Changes, FieldChange{By: by, Person: n.ID, Kind: "person.added"})
		added = &n
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

// EditPerson changes person's details with fn, by by, and reports which fields changed.
func (e *Engine) EditPerson(ctx context.Context, id, by string, fn func(m *Member)) ([]string, error) {
	var fields []string
	_, err := e.changeRoster(ctx, func(r *Roster) (bool, error) {
		cur, ok := r.People[id]
		if !ok {
			return false, fmt.Errorf("person %s: %w", id, ErrNotFound)
		}
		n := *cur
		n.Roles, n.Areas = slices.Clone(cur.Roles), slices.Clone(cur.Areas)
		fn(&n)
		if err := e.validMember(&n); err != nil {
			return false, err
		}
		fields = diffFields(cur, &n)
		if len(fields) == 0 {
			return false, nil
		}
		n.Updated, n.By = e.Clock.Now(), by
		r.People[id] = &n
		r.Changes = append(r.Changes, FieldChange{By: by, Person: id, Kind: "person.changed", Fields: strings.Join(fields, ",")})
		return true, nil
	})
	if errors.Is(err, ErrUnchanged) {
		err = nil
	}
	return fields, err
}

// SetActive deactivates (or reactivates) person: a deactivated person is in no directory, their
// account is revoked, and whatever they press or send is refused, on every replica at once.
func (e *Engine) SetActive(ctx context.Context, id, by string, active bool) (bool, error) {
	changed := false
	_, err := e.changeRoster(ctx, func(r *Roster) (bool, error) {
		changed = false
		cur, ok := r.People[id]
		if !ok {
			return false, fmt.Errorf("person %s: %w", id, ErrNotFound)
		}
		if cur.Active == active {
			return false, nil
		}
		n := *cur
		n.Active, n.Updated, n.By = active, e.Clock.Now(), by
		r.People[id] = &n
		kind := "person.deactivated"
		if active {
			kind = "person.reactivated"
		}
		r.Changes = append(r.Changes, FieldChange{By: by, Person: id, Kind: kind})
		changed = true
		return true, nil
	})
	if errors.Is(err, ErrUnchanged) {
		err = nil
	}
	return changed, err
}

// SetContacts sets an institution's designated contact, head or requests contact ("contact",
// "head", "requests") to person.
func (e *Engine) SetContacts(ctx context.Context, inst, which, person, by string) error {
	if e.Directory().Institution(inst) == nil {
		return fmt.Errorf("institution %s: %w", inst, ErrNotFound)
	}
	if e.Directory().Person(person) == nil {
		return fmt.Errorf("person %s: %w", person, ErrNotFound)
	}
	_, err := e.changeRoster(ctx, func(r *Roster) (bool, error) {
		if r.Contacts == nil {
			r.Contacts = map[string]Contacts{}
		}
		c := r.Contacts[inst]
		switch which {
		case "contact":
			if c.Contact == person {
				return false, nil
			}
			c.Contact = person
		case "head":
			if c.Head == person {
				return false, nil
			}
			c.Head = person
		case "requests":
			if c.Requests == person {
				return false, nil
			}
			c.Requests = person
		default:
			return false, fmt.Errorf("contacts %q: %w", which, ErrInvalid)
		}
		r.Contacts[inst] = c
		r.Changes = append(r.Changes, FieldChange{By: by, Person: person, Inst: inst, Kind: "institution.changed", Fields: which})
		return true, nil
	})
	if errors.Is(err, ErrUnchanged) {
		err = nil
	}
	return err
}

// erasePerson removes person from the roster and keeps only a hash of their ID, so that the ID
// is never given to anyone else and the config cannot bring them back.
func (e *Engine) erasePerson(ctx context.Context, id, by string) (bool, error) {
	found := false
	_, err := e.changeRoster(ctx, func(r *Roster) (bool, error) {
		found = false
		if _, ok := r.People[id]; !ok {
			return false, nil
		}
		found = true
		delete(r.People, id)
		for inst, c := range r.Contacts {
			if c.Contact == id {
				c.Contact = ""
			}
			if c.Head == id {
				c.Head = ""
			}
			if c.Requests == id {
				c.Requests = ""
			}
			r.Contacts[inst] = c
		}
		if h := erasedHash(id); !slices.Contains(r.Erased, h) {
			r.Erased = append(r.Erased, h)
		}
		r.Changes = append(r.Changes, FieldChange{By: by, Person: id, Kind: "person.erased"})
		return true, nil
	})
	if errors.Is(err, ErrUnchanged) {
		err = nil
	}
	return found, err
}

// FindPeople returns the active people whose ID is q, or whose name contains every word of q,
// diacritics and case aside ("ruta" finds "Rūta"), best first.
func (d *Directory) FindPeople(q string) []*Person {
	if p := d.Person(strings.TrimSpace(q)); p != nil {
		return []*Person{p}
	}
	words := strings.Fields(Fold(q))
	if len(words) == 0 {
		return nil
	}
	var out []*Person
	for _, p := range d.People {
		name := Fold(p.Name)
		all := true
		for _, w := range words {
			if !strings.Contains(name, w) {
				all = false
				break
			}
		}
		if all {
			out = append(out, p)
		}
	}
	return out
}
