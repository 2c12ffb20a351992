package bot_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// registerForm registers a test dialog with a choice (button) step, a branch, a date-time step,
// a free-text step and a confirmation, and records what each finished dialog answered.
func registerForm(done *[]bot.Answers, mu *sync.Mutex) func(e *bot.Engine, _ *config.Config) {
	return func(e *bot.Engine, _ *config.Config) {
		e.Dialog(&bot.Dialog{
			Name: "test.form", Title: "case.title",
			Steps: []bot.Step{
				{Name: "case", Kind: bot.AskCase, Prompt: "dialog.hint.case"},
				{Name: "answer", Kind: bot.AskChoice, Prompt: "lang.choose", Options: func(r *bot.Request, _ bot.Answers) []bot.Option {
					return []bot.Option{{Value: "yes", Label: r.T("dialog.confirm")}, {Value: "no", Label: r.T("dialog.cancel")}}
				}},
				{Name: "reason", Kind: bot.AskText, Prompt: "dialog.hint.text", MaxLen: 20, If: func(a bot.Answers) bool { return a["answer"] == "no" }},
				{Name: "when", Kind: bot.AskDateTime, Prompt: "dialog.hint.datetime"},
				{Name: "ok", Kind: bot.AskConfirm, Prompt: "help.help"},
			},
			Summary: func(r *bot.Request, a bot.Answers) []string { return []string{"case " + a["case"]} },
			Done: func(ctx context.Context, r *bot.Request, a bot.Answers) error {
				mu.Lock()
				*done = append(*done, a)
				mu.Unlock()
				return r.Say(ctx, "dialog.cancelled")
			},
		})
		e.Command(bot.Command{Name: "form", Run: func(ctx context.Context, r *bot.Request) error {
			return e.StartDialog(ctx, r, "test.form", nil)
		}})
	}
}

func TestDialogWithButtonDateAndTextSteps(t *testing.T) {
	var done []bot.Answers
	var mu sync.Mutex
	h := flowtest.New(t, flowtest.Options{Register: registerForm(&done, &mu)})
	h.Say("ona-p", "/form")
	h.Say("ona-p", "Jonas Jonaitis")
	h.MustSee("ona-p", "Tai ne atvejo kodas")
	h.Say("ona-p", "k-2026-117")
	h.Press("ona-p", "Nutraukti") // the choice step's "no" button → branch to the reason step
	h.Say("ona-p", strings.Repeat("x", 21))
	h.MustSee("ona-p", "Tekstas per ilgas (simbolių: 21, leidžiama ne daugiau kaip 20)")
	h.Say("ona-p", "nėra namie")
	h.Say("ona-p", "rytoj 18:00")
	h.Press("ona-p", "Išsaugoti")
	if len(done) != 1 {
		t.Fatalf("dialog finished %d times", len(done))
	}
	a := done[0]
	if a["case"] != "K-2026-117" || a["answer"] != "no" || a["reason"] != "nėra namie" || a["when"] != "2026-12-02T18:00:00+02:00" {
		t.Errorf("answers = %v", a)
	}
	// The pressed question was edited to show the answer, and lost its buttons.
	for _, m := range h.Inbox("ona-p") {
		if m.Edits > 0 && len(m.Buttons()) > 0 {
			t.Errorf("an answered question still has buttons: %s", m.Text())
		}
	}
}

func TestDialogSurvivesRestart(t *testing.T) {
	var done []bot.Answers
	var mu sync.Mutex
	h := flowtest.New(t, flowtest.Options{Register: registerForm(&done, &mu)})
	h.Say("ona-p", "/form")
	h.Say("ona-p", "K-2026-001")
	// A new engine over the same stores: as after a restart.
	h2 := flowtest.New(t, flowtest.Options{Register: registerForm(&done, &mu), Stores: &h.Stores, Start: h.Clock.Now()})
	h2.Chats = h.Chats
	h2.PressOn("ona-p", "dm:ona-p", "Išsaugoti")
	h2.Say("ona-p", "gruodžio 5 10:00")
	h2.Say("ona-p", "taip")
	if len(done) != 1 || done[0]["case"] != "K-2026-001" || done[0]["answer"] != "yes" {
		t.Fatalf("after restart: %v", done)
	}
}

func TestDialogConcurrentInputStaysConsistent(t *testing.T) {
	var done []bot.Answers
	var mu sync.Mutex
	h := flowtest.New(t, flowtest.Options{Register: registerForm(&done, &mu)})
	h.Say("ona-p", "/form")
	h.Say("ona-p", "K-2026-002")
	h.Say("ona-p", "1")
	h.Say("ona-p", "rytoj 10:00")
	// Both goroutines confirm at once: the dialog must finish exactly once.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.Engine.Handle(h.Ctx, bot.Incoming{ID: fmt.Sprint("c", i), From: flowtest.Identity("ona-p"), Chat: flowtest.DM("ona-p"), Text: "taip"})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(done) != 1 {
		t.Fatalf("dialog finished %d times, want once", len(done))
	}
}

func TestDialogExpiresAndSaysSo(t *testing.T) {
	var done []bot.Answers
	var mu sync.Mutex
	h := flowtest.New(t, flowtest.Options{Register: registerForm(&done, &mu)})
	h.Say("ona-p", "/form")
	h.Advance(31 * time.Minute)
	h.MustSee("ona-p", "nutrauktas, nes ilgai nebuvo atsakymo")
	h.Say("ona-p", "K-2026-003")
	h.MustSee("ona-p", "Nesupratau")
	if len(done) != 0 {
		t.Fatal("an expired dialog finished")
	}
}

func TestCancelAtAnyStep(t *testing.T) {
	var done []bot.Answers
	var mu sync.Mutex
	h := flowtest.New(t, flowtest.Options{Register: registerForm(&done, &mu)})
	h.Say("ona-p", "/form")
	h.Say("ona-p", "K-2026-004")
	h.Say("ona-p", "/cancel")
	h.MustSee("ona-p", "Nutraukta")
	h.Say("ona-p", "1")
	h.MustSee("ona-p", "Nesupratau")
	if len(done) != 0 {
		t.Fatal("cancelled dialog finished")
	}
}

func TestForgedStaleAndForeignButtonsChangeNothing(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{})
	h.Say("ona-p", "/lang")
	if r := h.PressToken("ona-p", "forgedtoken12345"); !strings.Contains(r.Toast, "nebegalioja") {
		t.Errorf("forged token toast = %q", r.Toast)
	}
	// Tomas presses the button sent to Ona.
	if r := h.PressOn("tomas-k", "dm:ona-p", "English"); !strings.Contains(r.Toast, "nebegalioja") {
		t.Errorf("foreign press toast = %q", r.Toast)
	}
	if h.Engine.Language(h.Ctx, h.Engine.Directory().Person("ona-p")) != "lt" || h.Engine.Language(h.Ctx, h.Engine.Directory().Person("tomas-k")) != "lt" {
		t.Fatal("a refused press changed a language")
	}
	if n := len(h.Audit("access.refused")); n != 2 {
		t.Errorf("refusals audited: %d, want 2", n)
	}
	h.Press("ona-p", "English")
	if h.Engine.Language(h.Ctx, h.Engine.Directory().Person("ona-p")) != "en" {
		t.Fatal("own press did not work")
	}
}

func TestStrangersGetOneShortMessageAndNothingElse(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{Unlinked: []string{"ona-p"}})
	h.Say("ona-p", "/case K-2026-117")
	h.Say("ona-p", "/help")
	in := h.Inbox("ona-p")
	if len(in) != 1 || !strings.Contains(in[0].Text(), "Neturite prieigos") {
		t.Fatalf("stranger got:\n%s", h.Chats.Dump("dm:ona-p"))
	}
	if strings.Contains(in[0].Text(), "Ona") || strings.Contains(in[0].Text(), "K-2026") {
		t.Errorf("the refusal reveals data: %s", in[0].Text())
	}
}

// gateFunc is a bot.Gate that records what it is told.
type gateFunc func(kind, source string) time.Duration

func (g gateFunc) Refuse(kind, source string) time.Duration { return g(kind, source) }

// A crowd of strangers costs the audit stream nothing (the gate sums them up) and Redis a few
// keys: each is told how to get access at most once an hour, and only the first 60 a minute.
func TestACrowdOfStrangersIsSummedUpNotRecordedOneByOne(t *testing.T) {
	var refused []string
	h := flowtest.New(t, flowtest.Options{Unlinked: []string{"ona-p"}})
	h.Engine.Gate = gateFunc(func(kind, source string) time.Duration {
		refused = append(refused, kind+" "+source)
		return 0
	})
	for i := range 100 {
		id := bot.Identity{Platform: bot.Console, User: fmt.Sprintf("stranger-%d", i)}
		resp, err := h.Engine.Handle(h.Ctx, bot.Incoming{ID: fmt.Sprintf("s%d", i), From: id, Chat: bot.Address{Platform: bot.Console, Chat: "dm:" + id.User}, Text: "/help"})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Forget {
			t.Fatal("a stranger's refused update is to be forgotten (no seen mark kept for days)")
		}
	}
	if resp := h.Say(h.Config.People[0].ID, "/help"); resp.Forget {
		t.Error("a linked person's update is forgotten: a redelivery would be handled twice")
	}
	h.Settle()
	told := 0
	for i := range 100 {
		if len(h.Chats.Chat(fmt.Sprintf("dm:stranger-%d", i))) > 0 {
			told++
		}
	}
	if told != 60 {
		t.Errorf("%d strangers told how to get access, want the first 60 of the minute", told)
	}
	if len(refused) != 100 || refused[0] != "chat.not_linked console::stranger-0" {
		t.Errorf("gate told of %d refusals (first %q), want 100 chat.not_linked", len(refused), refused[0])
	}
	if n := len(h.Audit("access.refused")); n != 0 {
		t.Errorf("%d strangers' refusals in the audit stream, want none", n)
	}
}

func TestInviteIsSingleUseExpiresAndThrottlesGuesses(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{Unlinked: []string{"ona-p"}})
	code, err := h.Engine.Invite(h.Ctx, "ona-p", "jurate-z")
	if err != nil {
		t.Fatal(err)
	}
	stranger := func(user string) bot.Incoming {
		return bot.Incoming{From: bot.Identity{Platform: bot.Console, User: user}, Chat: bot.Address{Platform: bot.Console, Chat: "dm:" + user}}
	}
	in := stranger("new-phone")
	in.Text = "/start " + code
	if _, err := h.Engine.Handle(h.Ctx, in); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	if p, _ := h.Engine.PersonFor(h.Ctx, in.From); p == nil || p.ID != "ona-p" {
		t.Fatalf("linked as %v", p)
	}
	// The same code again, from someone else: refused.
	other := stranger("someone-else")
	other.Text = "link " + code
	_, _ = h.Engine.Handle(h.Ctx, other)
	if p, _ := h.Engine.PersonFor(h.Ctx, other.From); p != nil {
		t.Fatal("an invite code worked twice")
	}
	// An expired code.
	code2, _ := h.Engine.Invite(h.Ctx, "tomas-k", "jurate-z")
	h.Advance(73 * time.Hour)
	late := stranger("late")
	late.Text = "link " + code2
	_, _ = h.Engine.Handle(h.Ctx, late)
	if p, _ := h.Engine.PersonFor(h.Ctx, late.From); p != nil {
		t.Fatal("an expired code worked")
	}
	// Guessing: after five wrong codes even the right one is refused for the hour.
	code3, _ := h.Engine.Invite(h.Ctx, "rasa-m", "jurate-z")
	g := stranger("guesser")
	for i := range 6 {
		g.Text = fmt.Sprintf("link WRONG%d", i)
		_, _ = h.Engine.Handle(h.Ctx, g)
	}
	g.Text = "link " + code3
	_, _ = h.Engine.Handle(h.Ctx, g)
	if p, _ := h.Engine.PersonFor(h.Ctx, g.From); p != nil {
		t.Fatal("guessing was not throttled")
	}
	h.Settle()
	if !strings.Contains(h.Chats.Dump("dm:guesser"), "Per daug bandymų") {
		t.Errorf("guesser not told: %s", h.Chats.Dump("dm:guesser"))
	}
}

func TestRemovedFromConfigLosesAccessAtOnce(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{})
	h.Say("ona-p", "/help")
	h.MustSee("ona-p", "Jūsų komandos")
	d := h.Engine.Directory()
	nd := &bot.Directory{Location: d.Location, Language: d.Language, Institutions: d.Institutions, Groups: d.Groups}
	for _, p := range d.People {
		if p.ID != "ona-p" {
			nd.People = append(nd.People, p)
		}
	}
	h.Engine.SetDirectory(nd.Index())
	h.Say("ona-p", "/case")
	h.MustSee("ona-p", "Neturite prieigos")
}

func TestRolesAreCheckedOnTheServer(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{})
	h.Say("giedre-s", "/invite tomas-k")
	h.MustSee("giedre-s", "negalite")
	h.Say("giedre-s", "/case new K-2026-500")
	h.MustSee("giedre-s", "negalite")
	if _, err := h.Engine.Case(h.Ctx, "K-2026-500"); err == nil {
		t.Fatal("a school user created a case")
	}
	h.Say("ona-p", "/case new K-2026-500")
	h.Say("tomas-k", "/case K-2026-500")
	h.MustSee("tomas-k", "nėra arba jis jums nepriskirtas")
}

func TestGroupsHearOnlyCommandsAndNoCaseDetails(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{})
	h.SayIn("vtas-grupe", "aiste-r", "labas visiems")
	h.SayIn("vtas-grupe", "aiste-r", "/case K-2026-117")
	got := h.Chats.Chat("group:vtas-grupe")
	if len(got) != 1 || !strings.Contains(got[0].Text(), "asmeniniame pokalbyje") {
		t.Fatalf("group got:\n%s", h.Chats.Dump("group:vtas-grupe"))
	}
}

// TestPickedPersonShowsByName: once answered, a person question shows the name picked, even when
// the option list leaves out people already picked.
func TestPickedPersonShowsByName(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{Register: func(e *bot.Engine, _ *config.Config) {
		pick := func(r *bot.Request, a bot.Answers) []bot.Option {
			var out []bot.Option
			for _, p := range e.Directory().WithRole(bot.RolePolice) {
				if a["who"] != p.ID {
					out = append(out, bot.Option{Value: p.ID, Label: p.Name})
				}
			}
			return out
		}
		e.Dialog(&bot.Dialog{Name: "test.pick", Title: "case.title",
			Steps: []bot.Step{{Name: "who", Kind: bot.AskPerson, Prompt: "lang.choose", Options: pick}, {Name: "note", Kind: bot.AskText, Prompt: "dialog.hint.case"}},
			Done:  func(context.Context, *bot.Request, bot.Answers) error { return nil }})
		e.Command(bot.Command{Name: "pick", Run: func(ctx context.Context, r *bot.Request) error { return e.StartDialog(ctx, r, "test.pick", nil) }})
	}})
	h.Say("ona-p", "/pick")
	h.Press("ona-p", "Tomas Kazlauskas")
	h.MustSee("ona-p", "→ Tomas Kazlauskas")
	h.MustNotSee("ona-p", "→ tomas-k")
}

// recordingQueue notes every message queued.
type recordingQueue struct {
	bot.DeliveryQueue
	mu  sync.Mutex
	out []bot.Outgoing
}

func (q *recordingQueue) Enqueue(ctx context.Context, msgs ...bot.Outgoing) error {
	q.mu.Lock()
	q.out = append(q.out, msgs...)
	q.mu.Unlock()
	return q.DeliveryQueue.Enqueue(ctx, msgs...)
}

// TestEditAfterAGroupPressIsAGroupSend: the edit after a button pressed in a group goes out as a
// group message, so that it counts in the group's rate-limit window.
func TestEditAfterAGroupPressIsAGroupSend(t *testing.T) {
	base := flowtest.New(t, flowtest.Options{})
	q := &recordingQueue{DeliveryQueue: base.Stores.Queue}
	st := base.Stores
	st.Queue = q
	h := flowtest.New(t, flowtest.Options{Stores: &st})
	h.SayIn("vtas-grupe", "aiste-r", "/lang")
	h.PressOn("aiste-r", "group:vtas-grupe", "English")
	for _, o := range q.out {
		if o.Op == bot.OpEdit {
			if !o.To.Group || o.To.Chat != "group:vtas-grupe" {
				t.Fatalf("edit after a group press addressed %+v", o.To)
			}
			return
		}
	}
	t.Fatal("no edit after the press")
}

// A list step asks its questions for one item after another until the person says there are no
// more, the list is full, or nobody is left to pick; the answers come back item by item.
func TestDialogListStepAsksAgainUntilDone(t *testing.T) {
	tests := []struct {
		name    string
		answers []string
		want    [][2]string // code, note per item
	}{
		{name: "two items, then no more", answers: []string{"K-2026-001", "pirmas", "1", "K-2026-002", "-", "2"},
			want: [][2]string{{"K-2026-001", "pirmas"}, {"K-2026-002", ""}}},
		{name: "the list is full at three: no question after the third", answers: []string{"K-2026-001", "a", "1", "K-2026-002", "b", "1", "K-2026-003", "c"},
			want: [][2]string{{"K-2026-001", "a"}, {"K-2026-002", "b"}, {"K-2026-003", "c"}}},
		{name: "a code given twice is asked again", answers: []string{"K-2026-001", "a", "1", "K-2026-001", "K-2026-009", "b", "2"},
			want: [][2]string{{"K-2026-001", "a"}, {"K-2026-009", "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []bot.Answers
			h := flowtest.New(t, flowtest.Options{Register: func(e *bot.Engine, _ *config.Config) {
				e.Dialog(&bot.Dialog{Name: "test.list", Title: "case.title", Steps: []bot.Step{
					{Name: "items", Kind: bot.AskList, Max: 3, More: "lang.choose", MoreYes: "dialog.confirm", MoreNo: "dialog.cancel",
						Each: []bot.Step{
							{Name: "code", Kind: bot.AskCase, Prompt: "dialog.hint.case", Check: func(_ context.Context, _ *bot.Request, v string, a bot.Answers) (string, error) {
								for _, it := range a.List("items") {
									if it["code"] == v {
										return "", bot.Tell("dialog.bad.case")
									}
								}
								return v, nil
							}},
							{Name: "note", Kind: bot.AskText, Prompt: "dialog.hint.text", Optional: true, MaxLen: 20},
						}},
				}, Done: func(ctx context.Context, r *bot.Request, a bot.Answers) error {
					got = append(got, a)
					return r.Say(ctx, "dialog.cancelled")
				}})
				e.Command(bot.Command{Name: "list", Run: func(ctx context.Context, r *bot.Request) error {
					return e.StartDialog(ctx, r, "test.list", nil)
				}})
			}})
			h.Say("ona-p", "/list")
			for _, a := range tt.answers {
				h.Say("ona-p", a)
			}
			if len(got) != 1 {
				t.Fatalf("dialog finished %d times:\n%s", len(got), h.Chats.Dump("dm:ona-p"))
			}
			items := got[0].List("items")
			if len(items) != len(tt.want) {
				t.Fatalf("items %v, want %v", items, tt.want)
			}
			for i, w := range tt.want {
				if items[i]["code"] != w[0] || items[i]["note"] != w[1] {
					t.Errorf("item %d = %v, want %v", i+1, items[i], w)
				}
			}
		})
	}
}
