//go:build loadrun

package loadrun

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The run's municipality: four areas, each with a police department, a social services centre,
// a child-rights unit and twelve schools; a probation office and the municipality's
// administration serve every area. About 310 people, one in five of them on Slack.

var areas = []string{"centras", "siaure", "pietus", "vakarai"}

const (
	schoolsPerArea = 12
	policePerArea  = 6
	socialPerArea  = 6
	rightsPerArea  = 3
	slackEvery     = 5 // every fifth person uses Slack, the others Telegram
)

// person is one member of staff and their chat account.
type person struct {
	ID, Name, Inst string
	Roles          []string
	Areas          []string
	Slack          bool
	TG             int64  // Telegram user ID (and private chat ID)
	SU             string // Slack user ID
}

// chat is where the fakes record the person's direct messages.
func (p *person) chat() string {
	if p.Slack {
		return "sl:D" + p.SU
	}
	return fmt.Sprintf("tg:%d", p.TG)
}

func (p *person) has(role string) bool { return slices.Contains(p.Roles, role) }

type institution struct {
	ID, Name, Kind string
	Areas          []string
	Contact, Head  string
}

type group struct {
	ID, Name, Area string
	Chat           int64
}

// municipality is the generated directory.
type municipality struct {
	insts  []*institution
	people []*person
	byID   map[string]*person
	byChat map[string]*person
	groups []*group
	// schoolStaff are the people who raise concerns; rights, police are each area's step
	// audiences; coordinators the last step.
	schoolStaff  []*person
	rights       map[string][]*person
	police       map[string][]*person
	social       map[string][]*person
	probation    []*person
	coordinators []*person
	leaders      []*person
	contacts     []*person // schools' designated contacts
}

var (
	firstNames = []string{"Ona", "Jonas", "Rasa", "Tomas", "Eglė", "Mindaugas", "Laura", "Petras", "Aistė", "Darius",
		"Rūta", "Vytautas", "Giedrė", "Kęstutis", "Jūratė", "Algirdas", "Lina", "Marius", "Dalia", "Saulius"}
	lastNames = []string{"Kazlauskas", "Petraitis", "Jankauskas", "Stankevičius", "Vasiliauskas", "Žukauskas", "Butkus",
		"Paulauskas", "Urbonas", "Kavaliauskas", "Navickas", "Rimkus", "Balčiūnas", "Adomaitis", "Grigas"}
)

func newMunicipality() *municipality {
	m := &municipality{byID: map[string]*person{}, byChat: map[string]*person{},
		rights: map[string][]*person{}, police: map[string][]*person{}, social: map[string][]*person{}}
	add := func(inst string, roles []string, personAreas []string) *person {
		n := len(m.people) + 1
		p := &person{ID: fmt.Sprintf("p%03d", n), Inst: inst, Roles: roles, Areas: personAreas,
			Name: firstNames[n%len(firstNames)] + " " + lastNames[(n/len(firstNames))%len(lastNames)] + fmt.Sprintf(" %03d", n),
			TG:   700000000 + int64(n), SU: fmt.Sprintf("U%07d", n), Slack: n%slackEvery == 0}
		m.people = append(m.people, p)
		m.byID[p.ID] = p
		m.byChat[p.chat()] = p
		return p
	}
	inst := func(id, name, kind string, instAreas []string) *institution {
		in := &institution{ID: id, Name: name, Kind: kind, Areas: instAreas}
		m.insts = append(m.insts, in)
		return in
	}
	adm := inst("savivaldybe", "Rajono savivaldybės administracija", "municipality", nil)
	for range 2 {
		m.coordinators = append(m.coordinators, add(adm.ID, []string{"coordinator"}, nil))
	}
	for range 6 {
		m.leaders = append(m.leaders, add(adm.ID, []string{"leader"}, nil))
	}
	prob := inst("probacija", "Probacijos tarnybos skyrius", "probation", nil)
	for range 4 {
		m.probation = append(m.probation, add(prob.ID, []string{"probation"}, nil))
	}
	for ai, area := range areas {
		pol := inst("policija-"+area, "Policijos komisariatas ("+area+")", "police", []string{area})
		for i := range policePerArea {
			roles := []string{"police"}
			if i == 0 {
				roles = append(roles, "leader")
			}
			p := add(pol.ID, roles, []string{area})
			m.police[area] = append(m.police[area], p)
			if i == 0 {
				m.leaders = append(m.leaders, p)
			}
		}
		soc := inst("socpaslaugos-"+area, "Socialinių paslaugų centras ("+area+")", "social_services", []string{area})
		for i := range socialPerArea {
			roles := []string{"social_worker"}
			if i == 0 {
				roles = append(roles, "leader")
			}
			p := add(soc.ID, roles, []string{area})
			m.social[area] = append(m.social[area], p)
			if i == 0 {
				m.leaders = append(m.leaders, p)
			}
		}
		vtas := inst("vtas-"+area, "Vaiko teisių apsaugos skyrius ("+area+")", "child_rights", []string{area})
		for range rightsPerArea {
			m.rights[area] = append(m.rights[area], add(vtas.ID, []string{"child_rights"}, []string{area}))
		}
		m.groups = append(m.groups, &group{ID: "vtas-" + area + "-grupe", Name: "VTAS budintys (" + area + ")", Area: area,
			Chat: -1001000000000 - int64(ai+1)})
		for s := range schoolsPerArea {
			sc := inst(fmt.Sprintf("mokykla-%s-%02d", area, s+1), fmt.Sprintf("Mokykla %s Nr. %d", area, s+1), "school", []string{area})
			contact := add(sc.ID, []string{"school"}, nil)
			head := add(sc.ID, []string{"school", "leader"}, nil)
			sc.Contact, sc.Head = contact.ID, head.ID
			m.contacts = append(m.contacts, contact)
			m.leaders = append(m.leaders, head)
			m.schoolStaff = append(m.schoolStaff, contact, head)
			for range 3 {
				m.schoolStaff = append(m.schoolStaff, add(sc.ID, []string{"school"}, nil))
			}
		}
	}
	return m
}

// areaOf is the area a school person's concerns are routed by: their school's.
func (m *municipality) areaOf(p *person) string {
	for _, in := range m.insts {
		if in.ID == p.Inst && len(in.Areas) > 0 {
			return in.Areas[0]
		}
	}
	return ""
}

// scenario is what the configuration schedules, in app time.
type scenario struct {
	Start        time.Time // the bot clock's start
	Speed        float64
	StepWait     time.Duration // each escalation step's wait
	Meeting      time.Time     // the one-off meeting's start
	MeetingTitle string
	Reminders    []time.Duration
	Visits       []visitSeries
	// JitterGuard widens the Telegram limiter's windows (telegram.limits.jitter_guard).
	JitterGuard string
}

type visitSeries struct {
	ID, Area  string
	Start     time.Time
	Organizer *person
	Propose   time.Duration
}

var visitReminders = []time.Duration{2 * time.Hour, 30 * time.Minute}

func durationYAML(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func list(items []string) string { return "[" + strings.Join(items, ", ") + "]" }

// yaml writes one replica's configuration: everything but http.listen is the same for all.
func (m *municipality) yaml(sc *scenario, redisURL, listen, telegramURL, slackURL string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	loc := sc.Start.Location()
	w("timezone: Europe/Vilnius")
	w("language: lt")
	w("redis: {url: %s, prefix: tiltas}", quote(redisURL))
	w("http: {listen: %s, public_url: %s}", quote(listen), quote("http://"+listen))
	w("telegram:")
	w("  token_env: TILTAS_TELEGRAM_TOKEN")
	w("  api_url: %s", quote(telegramURL))
	w("  bot_username: tiltas_test_bot")
	w("  mode: polling")
	w("  limits: {jitter_guard: %s}", sc.JitterGuard)
	w("slack:")
	w("  bot_token_env: TILTAS_SLACK_BOT_TOKEN")
	w("  signing_secret_env: TILTAS_SLACK_SIGNING_SECRET")
	w("  api_url: %s", quote(slackURL))
	w("  mode: http")
	w("delivery: {claim_timeout: 5s, max_attempts: 30}")
	w("encryption:")
	w("  keys:")
	w("    - {id: loadrun, key_env: TILTAS_LOADRUN_KEY}")
	// Dialogs and acknowledgements outlast the compressed day, so that no expiry or reminder
	// the run does not count for interferes with what it counts.
	w("dialogs: {idle_timeout: 24h}")
	w("institutions:")
	for _, in := range m.insts {
		w("  - id: %s", in.ID)
		w("    name: %s", quote(in.Name))
		w("    kind: %s", in.Kind)
		if len(in.Areas) > 0 {
			w("    areas: %s", list(in.Areas))
		}
		if in.Contact != "" {
			w("    designated_contact: %s", in.Contact)
			w("    head: %s", in.Head)
		}
	}
	w("people:")
	for _, p := range m.people {
		line := fmt.Sprintf("  - {id: %s, name: %s, institution: %s, roles: %s", p.ID, quote(p.Name), p.Inst, list(p.Roles))
		if len(p.Areas) > 0 {
			line += ", areas: " + list(p.Areas)
		}
		w("%s}", line)
	}
	w("groups:")
	for _, g := range m.groups {
		w("  - {id: %s, name: %s, platform: telegram, chat: %s}", g.ID, quote(g.Name), quote(fmt.Sprint(g.Chat)))
	}
	w("integrations:")
	for _, area := range areas {
		w("  - {id: register-%s, institution: policija-%s, token_env: TILTAS_LOADRUN_API_TOKEN_%s}", area, area, strings.ToUpper(area))
	}
	w("alerts:")
	w("  ack_timeout: 24h")
	w("  ack_grace: 1h")
	w("  rules:")
	for _, area := range areas {
		wait := durationYAML(sc.StepWait)
		w("    - name: urgent-%s", area)
		w("      urgency: [urgent]")
		w("      areas: [%s]", area)
		w("      steps:")
		w("        - {roles: [child_rights], institution: vtas-%s, groups: [vtas-%s-grupe], wait: %s}", area, area, wait)
		w("        - {roles: [police], institution: policija-%s, wait: %s}", area, wait)
		w("        - {roles: [coordinator], wait: %s}", wait)
	}
	var contacts []string
	for _, p := range m.contacts {
		contacts = append(contacts, p.ID)
	}
	var rem []string
	for _, r := range sc.Reminders {
		rem = append(rem, durationYAML(r))
	}
	w("meetings:")
	w("  - id: apkrovos-pasitarimas")
	w("    title: %s", quote(sc.MeetingTitle))
	w("    rrule: FREQ=DAILY;COUNT=1")
	w("    start: %s", quote(sc.Meeting.In(loc).Format("2006-01-02 15:04")))
	w("    duration: 60m")
	w("    place: %s", quote("Savivaldybė, 201 kab."))
	w("    invitees: {roles: [leader], people: %s}", list(contacts))
	w("    organizers: [%s]", m.coordinators[0].ID)
	w("    reminders: %s", list(rem))
	w("    rsvp_deadline: 1h")
	w("    agenda_cutoff: 2h")
	w("    holidays: ignore")
	var vrem []string
	for _, r := range visitReminders {
		vrem = append(vrem, durationYAML(r))
	}
	w("visits:")
	w("  reminders: %s", list(vrem))
	w("  deadline: 24h")
	w("  outcome_after: 30m")
	w("  outcome_nudge: 24h")
	w("  series:")
	for _, v := range sc.Visits {
		w("    - id: %s", v.ID)
		w("      rrule: FREQ=DAILY;COUNT=1")
		w("      start: %s", quote(v.Start.In(loc).Format("2006-01-02 15:04")))
		w("      duration: 2h")
		w("      area: %s", v.Area)
		w("      meeting_point: %s", quote("Policijos komisariato kiemas"))
		w("      required: {police: 1, social_worker: 1}")
		w("      invitees: {roles: [police, social_worker, probation]}")
		w("      organizer: %s", v.Organizer.ID)
		w("      propose_before: %s", durationYAML(v.Propose))
	}
	return b.String()
}

// meetingAudience is who every meeting reminder goes to: invitees and the organizer.
func (m *municipality) meetingAudience() []*person {
	var out []*person
	for _, p := range m.people {
		if p.has("leader") || slices.Contains(m.contacts, p) || p == m.coordinators[0] {
			out = append(out, p)
		}
	}
	return out
}

// visitPool is who a series invites: police, social workers and probation officers of its area
// (probation serves every area), and its organizer.
func (m *municipality) visitPool(v visitSeries) []*person {
	out := []*person{v.Organizer}
	for _, p := range m.people {
		if p == v.Organizer || !(p.has("police") || p.has("social_worker") || p.has("probation")) {
			continue
		}
		if len(p.Areas) == 0 || slices.Contains(p.Areas, v.Area) {
			out = append(out, p)
		}
	}
	return out
}
