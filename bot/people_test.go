package bot_test

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// People are managed in chat while the service runs, on real Redis: these are the coordinator's
// stories.

func peopleHarness(t *testing.T, o flowtest.Options) *flowtest.Harness {
	t.Helper()
	o.Redis, o.AllFlows = o.Stores == nil, true
	o.Platforms = []bot.Platform{bot.Telegram, bot.Slack}
	h := flowtest.New(t, o)
	if err := h.App.Plan(h.Ctx); err != nil { // as serve starts: the config's people stored
		t.Fatal(err)
	}
	h.Settle()
	return h
}

var reCode = regexp.MustCompile(`: ([A-Z2-9]{10}) \(`)

// inviteCode is the code in the coordinator's newest invite message.
func inviteCode(t *testing.T, h *flowtest.Harness, coordinator string) string {
	t.Helper()
	m := h.MustSee(coordinator, "kvietimo kodas")
	c := reCode.FindStringSubmatch(m.Text())
	if c == nil {
		t.Fatalf("no code in %q", m.Text())
	}
	return c[1]
}

// addPerson runs /person add as the coordinator.
func addPerson(h *flowtest.Harness, by, name, inst, role, area string) {
	h.Say(by, "/person add")
	h.Say(by, name)
	h.Press(by, inst)
	h.Press(by, role)
	h.Press(by, "Ne")
	h.Press(by, area)
	h.Press(by, "Lietuvių")
	h.Press(by, "Išsaugoti")
}

func TestCoordinatorAddsInvitesAndDeactivatesPeople(t *testing.T) {
	h := peopleHarness(t, flowtest.Options{})
	addPerson(h, "jurate-z", "Jonas Naujokas", "Vaiko teisių apsaugos skyrius", "vaiko teisių specialistas", "Visos teritorijos")
	h.MustSee("jurate-z", "Pridėta: Jonas Naujokas (ID: jonas-naujokas)")
	addPerson(h, "jurate-z", "Rūta Žemaitė", "Socialinių paslaugų centras", "socialinis darbuotojas", "centras")
	h.MustSee("jurate-z", "Pridėta: Rūta Žemaitė (ID: ruta-zemaite)")
	addPerson(h, "jurate-z", "Aušra Kalnienė", "Saulės progimnazija", "mokykla", "Visos teritorijos")

	// Invited by name, typed without its diacritics; linked on Telegram and on Slack.
	jonasID, jonasDM := bot.Identity{Platform: bot.Telegram, User: "5001"}, bot.Address{Platform: bot.Telegram, Chat: "5001"}
	rutaID, rutaDM := bot.Identity{Platform: bot.Slack, Team: "T1", User: "U0RUTA"}, bot.Address{Platform: bot.Slack, Team: "T1", Chat: "D0RUTA", User: "U0RUTA"}
	h.Say("jurate-z", "/invite jonas naujokas")
	h.SayAs(jonasID, jonasDM, "/start "+inviteCode(t, h, "jurate-z"))
	h.Say("jurate-z", "/invite ruta zemaite")
	h.SayAs(rutaID, rutaDM, "link "+inviteCode(t, h, "jurate-z"))
	h.Say("jurate-z", "/invite Ausra")
	h.SayAs(flowtest.Identity("ausra-kalniene"), flowtest.DM("ausra-kalniene"), "link "+inviteCode(t, h, "jurate-z"))
	for _, chat := range []string{"5001", "D0RUTA", "dm:ausra-kalniene"} {
		if !strings.Contains(dump(h, chat), "Sveiki!") {
			t.Fatalf("%s was not linked:\n%s", chat, dump(h, chat))
		}
	}
	h.Say("jurate-z", "/people")
	list := h.Last("jurate-z").Text()
	for _, want := range []string{"Jonas Naujokas (jonas-naujokas) — vaiko teisių specialistas — susietas (Telegram)", "Rūta Žemaitė (ruta-zemaite) — socialinis darbuotojas — susietas (Slack)"} {
		if !strings.Contains(list, want) {
			t.Errorf("/people lacks %q:\n%s", want, list)
		}
	}

	// Alerts find them by role and area: urgent danger reaches child rights; an urgent absence
	// at a school in the centre reaches the centre's social workers, not the south's.
	h.Say("giedre-s", "/concern K-2026-201 skubu smurtas Vaikas pasakojo apie smurtą")
	h.Press("giedre-s", "Išsaugoti")
	if !strings.Contains(dump(h, "5001"), "K-2026-201") {
		t.Errorf("the child-rights specialist added in chat got no alert:\n%s", dump(h, "5001"))
	}
	h.Say("giedre-s", "/concern K-2026-202 skubu nelankymas Nelanko trečią dieną")
	h.Press("giedre-s", "Išsaugoti")
	if !strings.Contains(dump(h, "D0RUTA"), "K-2026-202") {
		t.Errorf("the social worker added in chat got no alert:\n%s", dump(h, "D0RUTA"))
	}

	// Made the school's designated contact: the next police notice reaches her.
	h.Say("jurate-z", "/institution saules-progimnazija contact Ausra Kalniene")
	h.MustSee("jurate-z", "Saulės progimnazija: pranešimai dabar siunčiami Aušra Kalnienė.")
	h.Say("tomas-k", "/notice")
	h.Press("tomas-k", "Saulės progimnazija")
	h.Say("tomas-k", "K-2026-203")
	h.Say("tomas-k", "20:30")
	h.Press("tomas-k", "Taip")
	h.Press("tomas-k", "Išsaugoti")
	h.MustSee("ausra-kalniene", "K-2026-203")
	h.MustNotSee("giedre-s", "K-2026-203")

	// Deactivated: his old button is refused and changes nothing, and nothing more reaches him.
	h.Say("jurate-z", "/person off jonas-naujokas")
	h.Press("jurate-z", "Išsaugoti")
	h.MustSee("jurate-z", "Išjungta: Jonas Naujokas.")
	before := len(h.Chats.Chat("5001"))
	r := h.PressAs(jonasID, jonasDM, "Mačiau")
	if r.Toast == "" || !strings.Contains(r.Toast, "Neturite prieigos") {
		t.Errorf("a deactivated person's press: toast %q", r.Toast)
	}
	if n := len(h.Audit("alert.acked")); n != 0 {
		t.Errorf("a deactivated person acknowledged: %d acks", n)
	}
	h.Say("giedre-s", "/concern K-2026-204 skubu smurtas Vėl smurtas")
	h.Press("giedre-s", "Išsaugoti")
	if got := len(h.Chats.Chat("5001")); got != before {
		t.Errorf("a deactivated person still gets messages:\n%s", dump(h, "5001"))
	}

	// Every change is in the audit stream: IDs and field names, never names.
	kinds := map[string]int{}
	for _, ev := range h.Audit("") {
		if strings.HasPrefix(ev.Kind, "person.") || ev.Kind == "institution.changed" {
			kinds[ev.Kind]++
			if ev.Actor != "jurate-z" && ev.Actor != "system" || strings.Contains(ev.Reason, "Aušra") || strings.Contains(ev.Reason, "Jonas") {
				t.Errorf("audit event %+v", ev)
			}
		}
	}
	if kinds["person.added"] != 3 || kinds["institution.changed"] != 1 || kinds["person.deactivated"] != 1 {
		t.Errorf("audit: %v", kinds)
	}
}

func dump(h *flowtest.Harness, chat string) string {
	var b strings.Builder
	for _, m := range h.Chats.Chat(chat) {
		b.WriteString(m.Text() + "\n---\n")
	}
	return b.String()
}

// Two replicas on one Redis: what one does to the people, the other sees with the next message,
// press or timer, without a reload.
func TestAnotherReplicaSeesPeopleChangesAtOnce(t *testing.T) {
	a := peopleHarness(t, flowtest.Options{})
	b := peopleHarness(t, flowtest.Options{Stores: &a.Stores})
	added, err := a.Engine.AddPerson(a.Ctx, bot.Member{Name: "Jonas Naujokas", Institution: "vtas", Roles: []bot.Role{bot.RoleChildRights}}, "jurate-z")
	if err != nil {
		t.Fatal(err)
	}
	code, err := a.Engine.Invite(a.Ctx, added.ID, "jurate-z")
	if err != nil {
		t.Fatal(err)
	}
	id, dm := flowtest.Identity(added.ID), flowtest.DM(added.ID)
	b.SayAs(id, dm, "/start "+code)
	if !strings.Contains(dump(b, dm.Chat), "Sveiki! Jūsų paskyra susieta (Jonas Naujokas)") {
		t.Fatalf("replica B did not know the person A added:\n%s", dump(b, dm.Chat))
	}
	// A timer on B: an urgent concern raised on A escalates on B, where the person A added is
	// in the chain's first step already.
	a.Say("giedre-s", "/concern K-2026-301 skubu smurtas Smurtas")
	a.Press("giedre-s", "Išsaugoti")
	if _, err := a.Engine.EditPerson(a.Ctx, added.ID, "jurate-z", func(m *bot.Member) { m.Name = "Jonas Naujokas-Kairys" }); err != nil {
		t.Fatal(err)
	}
	b.Advance(11 * time.Minute) // B's runner fires the escalation
	if p := b.Engine.Directory().Person(added.ID); p == nil || p.Name != "Jonas Naujokas-Kairys" {
		t.Errorf("after a timer on B, B's directory has %+v", p)
	}
	// Deactivated on A: refused on B at once.
	if _, err := a.Engine.SetActive(a.Ctx, added.ID, "jurate-z", false); err != nil {
		t.Fatal(err)
	}
	before := len(b.Chats.Chat(dm.Chat))
	b.SayAs(id, dm, "/help")
	if after := b.Chats.Chat(dm.Chat); len(after) != before+1 || !strings.Contains(after[len(after)-1].Text(), "Neturite prieigos") {
		t.Errorf("B answered a deactivated person as if linked:\n%s", dump(b, dm.Chat))
	}
	if p := b.Engine.Directory().Person(added.ID); p != nil {
		t.Errorf("B still has the deactivated person: %+v", p)
	}
}

// Two coordinators change the same person at the same moment: both changes land.
func TestConcurrentEditsBothLand(t *testing.T) {
	a := peopleHarness(t, flowtest.Options{})
	b := peopleHarness(t, flowtest.Options{Stores: &a.Stores})
	for round := range 5 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		name := "Tomas Kazlauskas " + string(rune('A'+round))
		quiet := []string{"22:00-07:00", "21:00-06:00", "23:00-07:00", "20:00-08:00", "22:30-06:30"}[round]
		for i, edit := range []func() error{
			func() error {
				_, err := a.Engine.EditPerson(a.Ctx, "tomas-k", "jurate-z", func(m *bot.Member) { m.Name = name })
				return err
			},
			func() error {
				_, err := b.Engine.EditPerson(b.Ctx, "tomas-k", "ruta-g", func(m *bot.Member) { m.Quiet = quiet })
				return err
			},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = edit()
			}()
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		m, err := a.Engine.Member(a.Ctx, "tomas-k")
		if err != nil {
			t.Fatal(err)
		}
		if m.Name != name || m.Quiet != quiet {
			t.Fatalf("round %d: a change was lost: name %q (want %q), quiet %q (want %q)", round, m.Name, name, m.Quiet, quiet)
		}
	}
}

// A reload leaves people added in chat alone, deactivates a config person the file dropped, and
// lets a coordinator's edit stand until IT changes that person's lines.
func TestReloadKeepsPeopleAddedInChat(t *testing.T) {
	h := peopleHarness(t, flowtest.Options{})
	added, err := h.Engine.AddPerson(h.Ctx, bot.Member{Name: "Jonas Naujokas", Institution: "vtas", Roles: []bot.Role{bot.RoleChildRights}}, "jurate-z")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Engine.EditPerson(h.Ctx, "rasa-m", "jurate-z", func(m *bot.Member) { m.Language = "en" }); err != nil {
		t.Fatal(err)
	}
	reload := func(raw string) {
		t.Helper()
		cfg, err := config.Parse(strings.NewReader(raw), config.ExampleEnv)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.App.Reload(h.Ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	ex := string(config.Example())
	reload(ex) // unchanged: the edit stands
	if m, _ := h.Engine.Member(h.Ctx, "rasa-m"); m.Language != "en" {
		t.Errorf("a reload of the same file undid the coordinator's edit: %+v", m)
	}
	// IT drops Kęstutis and renames Rasa.
	ex = regexp.MustCompile(`(?m)^  - \{id: kestutis-a.*\n`).ReplaceAllString(ex, "")
	ex = strings.Replace(ex, "name: Rasa Marcinkevičienė", "name: Rasa Marcinkevičienė-Petrauskienė", 1)
	reload(ex)
	if p := h.Engine.Directory().Person("kestutis-a"); p != nil {
		t.Error("a person the config dropped is still active")
	}
	if m, err := h.Engine.Member(h.Ctx, "kestutis-a"); err != nil || m.Active {
		t.Errorf("the dropped person was erased, not deactivated: %+v %v", m, err)
	}
	if m, _ := h.Engine.Member(h.Ctx, "rasa-m"); m.Name != "Rasa Marcinkevičienė-Petrauskienė" || m.Language == "en" {
		t.Errorf("IT changed Rasa's lines: the config's version wins, got %+v", m)
	}
	if p := h.Engine.Directory().Person(added.ID); p == nil || p.Name != "Jonas Naujokas" {
		t.Errorf("the reload touched a person added in chat: %+v", p)
	}
}

// Who may not: someone who is not a coordinator; a leader, for another institution; an invite
// for someone deactivated; an erased person's ID.
func TestPeopleRefusals(t *testing.T) {
	h := peopleHarness(t, flowtest.Options{Settings: func(s *bot.Settings) { s.LeadersManagePeople = true }})
	h.Say("tomas-k", "/person add")
	h.MustSee("tomas-k", "To daryti negalite")
	h.Say("dalia-s", "/person edit tomas-k") // a leader of the social services centre
	h.MustSee("dalia-s", "To daryti negalite")
	h.Say("dalia-s", "/person edit ona-p")
	h.MustSee("dalia-s", "Ką keisti?")
	h.Say("dalia-s", "/cancel")
	if n := len(h.Audit("access.refused")); n < 2 {
		t.Errorf("refusals audited: %d", n)
	}

	h.Say("jurate-z", "/person off ona-p")
	h.Press("jurate-z", "Išsaugoti")
	h.Say("jurate-z", "/invite ona-p")
	h.MustSee("jurate-z", "Ona Petraitienė išjungtas. Pirmiausia įjunkite: /person on ona-p")
	h.Say("jurate-z", "/invite Nėra Tokio")
	h.MustSee("jurate-z", "Asmens „Nėra Tokio“ nerasta")

	added, err := h.Engine.AddPerson(h.Ctx, bot.Member{Name: "Jonas Naujokas", Institution: "vtas", Roles: []bot.Role{bot.RoleChildRights}}, "jurate-z")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Engine.Erase(h.Ctx, bot.Subject{Person: added.ID}, "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Engine.Member(h.Ctx, added.ID); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("erased, but still stored: %v", err)
	}
	again, err := h.Engine.AddPerson(h.Ctx, bot.Member{Name: "Jonas Naujokas", Institution: "vtas", Roles: []bot.Role{bot.RoleChildRights}}, "jurate-z")
	if err != nil || again.ID == added.ID {
		t.Errorf("a new Jonas Naujokas got %v, %v: the erased person's ID is reused", again, err)
	}
	if _, err := h.Engine.AddPerson(h.Ctx, bot.Member{ID: added.ID, Name: "Kitas", Institution: "vtas", Roles: []bot.Role{bot.RoleChildRights}}, "cli"); !errors.Is(err, bot.ErrIDTaken) {
		t.Errorf("importing someone under an erased ID: %v", err)
	}

	h.Say("jurate-z", "/person off jurate-z") // the only coordinator
	h.MustSee("jurate-z", "Tai paskutinis koordinatorius")
	// A second coordinator may go: the handover list names the meeting she organizes.
	if _, err := h.Engine.EditPerson(h.Ctx, "kestutis-a", "jurate-z", func(m *bot.Member) { m.Roles = append(m.Roles, bot.RoleCoordinator) }); err != nil {
		t.Fatal(err)
	}
	h.Say("kestutis-a", "/person off jurate-z")
	h.Press("kestutis-a", "Išsaugoti")
	h.MustSee("kestutis-a", "organizuoja posėdį „Institucijų vadovų pasitarimas“")
}

// Deactivating the organizer of a coming visit lists it for handing over.
func TestDeactivationListsVisitsForHandover(t *testing.T) {
	h := peopleHarness(t, flowtest.Options{Start: time.Date(2026, 12, 5, 9, 0, 0, 0, flowtest.Vilnius)})
	h.Say("jurate-z", "/person off ona-p")
	h.Press("jurate-z", "Išsaugoti")
	m := h.MustSee("jurate-z", "Išjungta: Ona Petraitienė.")
	if !strings.Contains(m.Text(), "Perduokite kitam:") || !strings.Contains(m.Text(), "organizuoja reidą V1") {
		t.Errorf("the handover list:\n%s", m.Text())
	}
}
