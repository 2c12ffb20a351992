package meetings_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// forge stores a button for person as if the bot had sent it to them, with whatever payload an
// attacker would like: the engine lets the press through, so only the flow's own checks stand.
func forge(h *harness, person string, a bot.Action) string {
	h.T.Helper()
	a.For = person
	data, err := json.Marshal(a)
	if err != nil {
		h.T.Fatal(err)
	}
	token := "forged" + bot.NewID()[:10]
	if _, err := h.Stores.Records.Write(h.Ctx, bot.Write{Key: "btn/" + token, Data: data, Version: bot.Any}); err != nil {
		h.T.Fatal(err)
	}
	return token
}

func TestOnlyInviteesAnswerAndOnlyOrganizersChange(t *testing.T) {
	occ := bot.Action{Ref: dec3}
	with := func(name, arg string) bot.Action { a := occ; a.Name, a.Arg = name, arg; return a }
	tests := []struct {
		name   string
		person string
		action bot.Action
		record string
		reason string
	}{
		{name: "someone not invited cannot answer", person: "ona-p", action: with("meetings.rsvp", "yes"), record: "meeting/" + dec3, reason: "not_invitee"},
		{name: "someone not invited cannot send a deputy", person: "ona-p", action: with("meetings.rsvp", "deputy"), record: "meeting/" + dec3, reason: "not_invitee"},
		{name: "someone not invited cannot propose agenda items", person: "ona-p", action: with("meetings.agenda.add", ""), record: "meeting/" + dec3, reason: "not_invitee"},
		{name: "someone not invited cannot get the meeting as .ics", person: "ona-p", action: with("meetings.ics", ""), record: "meeting/" + dec3, reason: "not_invitee"},
		{name: "an invitee cannot cancel the meeting", person: "dalia-s", action: with("meetings.cancel", ""), record: "meeting/" + dec3, reason: "not_organizer"},
		{name: "an invitee cannot move the meeting", person: "dalia-s", action: with("meetings.move", ""), record: "meeting/" + dec3, reason: "not_organizer"},
		{name: "an invitee cannot change the series", person: "dalia-s", action: bot.Action{Name: "meetings.series", Ref: "vadovu-pasitarimas"}, record: "meetingseries/vadovu-pasitarimas", reason: "not_organizer"},
		{name: "an invitee cannot see the attendance summary", person: "dalia-s", action: with("meetings.summary", ""), record: "meeting/" + dec3, reason: "not_organizer"},
		{name: "an invitee cannot see the agenda editor", person: "dalia-s", action: with("meetings.agenda", ""), record: "meeting/" + dec3, reason: "not_organizer"},
		{name: "an invitee cannot drop agenda items", person: "dalia-s", action: with("meetings.agenda.drop", "1"), record: "meeting/" + dec3, reason: "not_organizer"},
		{name: "an invitee cannot reorder agenda items", person: "dalia-s", action: with("meetings.agenda.up", "2"), record: "meeting/" + dec3, reason: "not_organizer"},
		{name: "an invitee cannot edit agenda items", person: "dalia-s", action: with("meetings.agenda.edit", "1"), record: "meeting/" + dec3, reason: "not_organizer"},
		{name: "an invitee cannot post minutes", person: "dalia-s", action: with("meetings.minutes", ""), record: "meeting/" + dec3, reason: "not_organizer"},
		{name: "an organizer who is not invited cannot answer", person: "jurate-z", action: with("meetings.rsvp", "yes"), record: "meeting/" + dec3, reason: "not_invitee"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, flowtest.Options{})
			h.Press("petras-n", "Siūlyti darbotvarkės klausimą")
			h.Say("petras-n", "Lankomumas")
			h.Press("giedre-s", "Siūlyti darbotvarkės klausimą")
			h.Say("giedre-s", "Patyčios")
			before := len(h.Inbox(tt.person))
			r := h.PressToken(tt.person, forge(h, tt.person, tt.action))
			if r.Toast != "Šio veiksmo su šiuo posėdžiu atlikti negalite." {
				t.Errorf("toast = %q", r.Toast)
			}
			if !refused(h, tt.person, tt.record, tt.reason) {
				t.Errorf("refusal not audited: %+v", h.Audit("access.refused"))
			}
			if got := len(h.Inbox(tt.person)); got != before {
				t.Errorf("refused press still sent %s something:\n%s", tt.person, h.Chats.Dump("dm:"+tt.person))
			}
			if a, _ := h.flow.Answer(h.Ctx, dec3, tt.person); a != "" {
				t.Errorf("answer recorded: %q", a)
			}
			if c, _ := h.flow.Cancelled(h.Ctx, dec3); c {
				t.Error("meeting cancelled")
			}
			if agenda, _ := h.flow.Agenda(h.Ctx, dec3); len(agenda) != 2 || agenda[0] != "Lankomumas" {
				t.Errorf("agenda changed: %q", agenda)
			}
		})
	}
}

func TestSomeoneElsesButtonChangesNothing(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	r := h.PressOn("ona-p", "dm:dalia-s", "Dalyvausiu")
	if r.Toast == "" || strings.Contains(r.Toast, "Įrašyta") {
		t.Errorf("toast = %q", r.Toast)
	}
	if a, _ := h.flow.Answer(h.Ctx, dec3, "dalia-s"); a != "" {
		t.Errorf("dalia-s's answer = %q after ona-p pressed her button", a)
	}
	if a, _ := h.flow.Answer(h.Ctx, dec3, "ona-p"); a != "" {
		t.Errorf("ona-p's answer = %q", a)
	}
	if !refused(h, "ona-p", dec3, "foreign_button") {
		t.Errorf("foreign press not audited: %+v", h.Audit("access.refused"))
	}
	if r := h.PressToken("ona-p", "no-such-token"); !strings.Contains(r.Toast, "nebegalioja") {
		t.Errorf("stale token toast = %q", r.Toast)
	}
}

func TestInvitationIsCheckedWhenTheButtonIsPressed(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	// Dalia stops being a head of an institution after her reminder was sent: her own button
	// no longer lets her answer.
	dir := h.Config.Directory()
	dir.Person("dalia-s").Roles = nil
	h.Engine.SetDirectory(dir)
	if r := h.Press("dalia-s", "Dalyvausiu"); r.Toast != "Šio veiksmo su šiuo posėdžiu atlikti negalite." {
		t.Errorf("toast = %q", r.Toast)
	}
	if a, _ := h.flow.Answer(h.Ctx, dec3, "dalia-s"); a != "" {
		t.Errorf("answer = %q", a)
	}
	if !refused(h, "dalia-s", "meeting/"+dec3, "not_invitee") {
		t.Errorf("refusal not audited: %+v", h.Audit("access.refused"))
	}
}

func TestOnlyCoordinatorsCreateSeries(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	h.Say("dalia-s", "/meeting new")
	h.MustSee("dalia-s", "Šio veiksmo su šiuo posėdžiu atlikti negalite.")
	h.MustNotSee("dalia-s", "Posėdžio pavadinimas?")
	if !refused(h, "dalia-s", "command/meeting.new", "role") {
		t.Errorf("refusal not audited: %+v", h.Audit("access.refused"))
	}
	// Nor can a dialog begun elsewhere end in a new series: the finish checks again.
	h.Say("jurate-z", "/meeting new")
	h.MustSee("jurate-z", "Posėdžio pavadinimas?")
}

func TestMeetingsAreSeenOnlyByThoseTheyConcern(t *testing.T) {
	h := newHarness(t, flowtest.Options{})
	for _, p := range []string{"ona-p", "aiste-r", "egle-v"} {
		h.Say(p, "/meeting")
		h.MustSee(p, "Artimiausių posėdžių, kuriuose dalyvaujate, nėra.")
		h.MustNotSee(p, "Institucijų vadovų pasitarimas")
		h.Say(p, "/meeting agenda")
		h.MustNotSee(p, "Kokį klausimą siūlote")
	}
	h.Say("dalia-s", "/meeting")
	h.MustNotSee("dalia-s", "Kas dalyvaus:")
	h.SayIn("vtas-grupe", "ruta-g", "/meeting")
	if msgs := h.Chats.Chat("group:vtas-grupe"); len(msgs) != 1 || strings.Contains(msgs[0].Text(), "pasitarimas") {
		t.Errorf("group chat got meeting details: %v", msgs)
	}
}
