package visits

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Status is where a visit stands.
type Status string

// Statuses. A visit is active while Open or Confirmed; after the window it is Reporting until
// every case has its outcome, then Closed.
const (
	Open      Status = "open"      // collecting confirmations
	Confirmed Status = "confirmed" // every required role's count is met
	Cancelled Status = "cancelled"
	Reporting Status = "reporting" // the window is over; outcome reports are missing
	Closed    Status = "closed"
)

// Reply states of an invitee.
const (
	Joined    = "confirmed" // takes part, filling Role
	Standby   = "standby"   // confirmed after the role was full: first in line if someone drops out
	Declined  = "declined"
	Suggested = "suggested" // asked for another time
	Withdrawn = "withdrawn" // confirmed, then withdrew
)

// Need is how many people of a role a visit needs.
type Need struct {
	Role  bot.Role `json:"role"`
	Count int      `json:"count"`
}

// Reply is one invitee's answer.
type Reply struct {
	State string   `json:"state"`
	Role  bot.Role `json:"role,omitempty"` // the role a participant fills
	// Extra participants hold none of the required roles (an optional probation officer): they
	// join without counting towards quorum.
	Extra   bool      `json:"extra,omitempty"`
	Order   int64     `json:"order,omitempty"` // first come, first served
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"` // a code: busy, leave, area, other
	Note    string    `json:"note,omitempty"`   // free text, kept in the record only
	Suggest time.Time `json:"suggest,omitzero"`
}

// Outcome is a visit's short structured report on one case.
type Outcome struct {
	Result   string    `json:"result"` // visited, nobody_home, refused
	FollowUp bool      `json:"follow_up"`
	Note     string    `json:"note,omitempty"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	// To are the case's people it is sent to, as the case had them when it was filed.
	To []string `json:"to,omitempty"`
}

// Reminder is one reminder of the confirmed participants before the start; those whose time had
// passed when the visit was planned or moved are left out.
type Reminder struct {
	Before time.Duration `json:"before"`
	Due    time.Time     `json:"due"`
	Sent   bool          `json:"sent,omitempty"`
}

// CaseVisit is one case the visit goes to. Address is free text and sensitive: it is shown to
// confirmed participants only, in direct messages.
type CaseVisit struct {
	Code    string   `json:"code"`
	Address string   `json:"address,omitempty"`
	Outcome *Outcome `json:"outcome,omitempty"`
}

// Visit is one joint home visit, stored at "visit/<ID>" (encrypted at rest by the store).
type Visit struct {
	ID           string           `json:"id"`
	No           string           `json:"no"` // what people call it: "V7"
	Series       string           `json:"series,omitempty"`
	Organizer    string           `json:"organizer"`
	Created      time.Time        `json:"created"`
	Start        time.Time        `json:"start"`
	End          time.Time        `json:"end"`
	Area         string           `json:"area"`
	MeetingPoint string           `json:"meeting_point,omitempty"`
	Needs        []Need           `json:"needs"`
	Cases        []CaseVisit      `json:"cases,omitempty"`
	Pool         []string         `json:"pool"` // invitees, in the order invited
	Replies      map[string]Reply `json:"replies,omitempty"`
	Deadline     time.Time        `json:"deadline"`
	// DeadlinePassed is set when the deadline came; Short when it came without quorum.
	DeadlinePassed bool       `json:"deadline_passed,omitempty"`
	Short          bool       `json:"short,omitempty"`
	Reminders      []Reminder `json:"reminders,omitempty"`
	Status         Status     `json:"status"`
	Reporter       string     `json:"reporter,omitempty"`
	// AskedAt is when the report was first asked for; Nudges how often it was asked again.
	AskedAt time.Time `json:"asked_at,omitzero"`
	Nudges  int       `json:"nudges,omitempty"`
	Seq     int64     `json:"seq"` // orders confirmations
	// By is who made the latest change: news name them and do not tell them.
	By string     `json:"by,omitempty"`
	Fx bot.Ledger `json:"fx"`
}

// Rev counts the visit's changes: message IDs derive from it.
func (v *Visit) Rev() int64 { return v.Fx.Rev }

func key(id string) string { return "visit/" + id }

const openIndex = "visits:open"

func (v *Visit) clone() Visit {
	c := *v
	c.Needs = slices.Clone(v.Needs)
	c.Pool = slices.Clone(v.Pool)
	c.Replies = maps.Clone(v.Replies)
	c.Cases = slices.Clone(v.Cases)
	c.Reminders = slices.Clone(v.Reminders)
	for i := range c.Cases {
		if o := c.Cases[i].Outcome; o != nil {
			oc := *o
			c.Cases[i].Outcome = &oc
		}
	}
	return c
}

// Active reports whether the visit still takes answers and changes.
func (v *Visit) Active() bool { return v.Status == Open || v.Status == Confirmed }

func (v *Visit) index() []bot.IndexOp {
	if v.Status == Cancelled || v.Status == Closed {
		return []bot.IndexOp{{Index: openIndex, Member: v.ID, Remove: true}}
	}
	return []bot.IndexOp{{Index: openIndex, Member: v.ID, Score: float64(v.Start.Unix())}}
}

func (v *Visit) invited(person string) bool { return slices.Contains(v.Pool, person) }

func (v *Visit) state(person string) string { return v.Replies[person].State }

// by returns the people in state, first come first.
func (v *Visit) by(state string) []string {
	var out []string
	for p, r := range v.Replies {
		if r.State == state {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(cmp.Compare(v.Replies[a].Order, v.Replies[b].Order), cmp.Compare(a, b))
	})
	return out
}

// Participants are the confirmed people, first come first.
func (v *Visit) Participants() []string { return v.by(Joined) }

func (v *Visit) filled(role bot.Role) int {
	n := 0
	for _, r := range v.Replies {
		if r.State == Joined && !r.Extra && r.Role == role {
			n++
		}
	}
	return n
}

// Missing is what the visit is short of, role by role.
func (v *Visit) Missing() []Need {
	var out []Need
	for _, n := range v.Needs {
		if k := n.Count - v.filled(n.Role); k > 0 {
			out = append(out, Need{Role: n.Role, Count: k})
		}
	}
	return out
}

func (v *Visit) quorum() bool { return len(v.Missing()) == 0 }

// slot returns a required role p holds that still has room, or "".
func (v *Visit) slot(p *bot.Person) bot.Role {
	for _, n := range v.Needs {
		if p.Has(n.Role) && v.filled(n.Role) < n.Count {
			return n.Role
		}
	}
	return ""
}

func (v *Visit) needs(p *bot.Person) bool {
	return slices.ContainsFunc(v.Needs, func(n Need) bool { return p.Has(n.Role) })
}

func (v *Visit) caseIndex(code string) int {
	return slices.IndexFunc(v.Cases, func(c CaseVisit) bool { return c.Code == code })
}

func (v *Visit) pendingCases() []string {
	var out []string
	for _, c := range v.Cases {
		if c.Outcome == nil {
			out = append(out, c.Code)
		}
	}
	return out
}

// errSame stops a compare-and-set without writing: the change was already made, or is moot.
var errSame = errors.New("unchanged")

// join records p's confirmation: a free slot of a required role they hold, else the standby
// list; people holding no required role join as extra participants. It reports the new state.
func (v *Visit) join(p *bot.Person, now time.Time) string {
	v.Seq++
	r := Reply{Order: v.Seq, At: now}
	switch role := v.slot(p); {
	case role != "":
		r.State, r.Role = Joined, role
	case v.needs(p):
		r.State = Standby
	default:
		r.State, r.Extra = Joined, true
		if len(p.Roles) > 0 {
			r.Role = p.Roles[0]
		}
	}
	v.Replies = ensure(v.Replies)
	v.Replies[p.ID] = r
	v.settle()
	return r.State
}

// leave takes a participant or standby off the visit and fills the free place from standby.
func (v *Visit) leave(person string, now time.Time, note string, dir *bot.Directory) {
	r := v.Replies[person]
	r.State, r.At, r.Note, r.Extra, r.Role = Withdrawn, now, note, false, ""
	v.Replies[person] = r
	v.promote(dir)
}

// settle sets the status from the quorum.
func (v *Visit) settle() {
	if !v.Active() {
		return
	}
	if v.quorum() {
		v.Status = Confirmed
	} else {
		v.Status = Open
	}
}

// promote fills free slots from the standby list, first come first; people come from dir.
func (v *Visit) promote(dir *bot.Directory) {
	for _, id := range v.by(Standby) {
		p := dir.Person(id)
		if p == nil {
			continue
		}
		if role := v.slot(p); role != "" {
			r := v.Replies[id]
			r.State, r.Role = Joined, role
			v.Replies[id] = r
		}
	}
	v.settle()
}

func ensure(m map[string]Reply) map[string]Reply {
	if m == nil {
		return map[string]Reply{}
	}
	return m
}
