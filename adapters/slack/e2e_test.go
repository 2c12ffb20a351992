package slack_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/adapters/slack/slackfake"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/config"
)

var modes = []string{slack.ModeSocket, slack.ModeHTTP}

// chain is everyone the alerts flow involves in the example municipality.
var chain = []string{"giedre-s", "aiste-r", "mindaugas-l", "ruta-g", "tomas-k", "rasa-m", "jurate-z", "ona-p", "jurgis-b"}

// raise has Giedrė flag an urgent concern through /tiltas and confirm it with a button.
func raise(t *testing.T, s *slackSide, text string) alerts.Alert {
	t.Helper()
	s.command("giedre-s", "concern K-2026-117 skubu nepriežiūra "+text)
	q := s.mustSee("giedre-s", "Patikrinkite ir patvirtinkite")
	s.press("giedre-s", "Išsaugoti")
	// The question was edited in place: the answer shown, the buttons gone.
	for _, m := range s.fake.DM(s.user("giedre-s")) {
		if m.TS == q.TS && (m.Edits == 0 || len(m.Labels()) != 0 || !strings.Contains(m.Plain(), "→ Išsaugoti")) {
			t.Fatalf("the pressed question was not edited:\n%s", s.dump(m.Channel))
		}
	}
	a, err := s.w.alerts.Get(s.w.ctx, "A1")
	if err != nil {
		t.Fatalf("no alert A1: %v\n%s", err, s.dump(slackfake.DMChannel(s.user("giedre-s"))))
	}
	return a
}

func TestLinkingOverSlack(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, nil)
			s := w.addSlack(mode)
			tests := []struct {
				name, person string
				redeem       func(person, code string)
			}{
				{"link CODE in a direct message", "giedre-s", func(p, code string) { s.say(p, "link "+code) }},
				{"/tiltas link CODE", "aiste-r", func(p, code string) { s.command(p, "link "+code) }},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s.say(tt.person, "labas")
					s.mustSee(tt.person, "link") // strangers are told how to get access, nothing else
					code, err := w.engine.Invite(w.ctx, tt.person, "jurate-z")
					if err != nil {
						t.Fatal(err)
					}
					tt.redeem(tt.person, code)
					s.mustSee(tt.person, "Sveiki")
					p, err := w.engine.PersonFor(w.ctx, slack.Identity(s.fake.Team(), s.user(tt.person)))
					if err != nil || p == nil || p.ID != tt.person {
						t.Fatalf("linked to %+v, %v", p, err)
					}
					s.command(tt.person, "")
					s.mustSee(tt.person, "/tiltas concern") // "/tiltas" alone is help
				})
			}
			if n := len(w.audit("access.linked")); n != 2 {
				t.Errorf("links audited: %d, want 2", n)
			}
		})
	}
}

func TestConcernAcknowledgedEndToEnd(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, nil)
			s := w.addSlack(mode)
			s.link(chain...)
			s.channel("vtas-grupe", "CVTAS")
			raise(t, s, "Mėlynės ant rankų")
			for _, p := range []string{"aiste-r", "mindaugas-l", "ruta-g"} {
				m := s.mustSee(p, "Mėlynės ant rankų")
				if got := m.Labels(); len(got) != 2 {
					t.Errorf("%s buttons = %v", p, got)
				}
			}
			s.mustNotSee("tomas-k", "Mėlynės")
			// The channel hears of it without details.
			group := s.fake.Channel("CVTAS")
			if len(group) != 1 || !strings.Contains(group[0].Plain(), "K-2026-117") || strings.Contains(group[0].Plain(), "Mėlynės") {
				t.Fatalf("channel got:\n%s", s.dump("CVTAS"))
			}

			s.press("mindaugas-l", "Mačiau")
			if got := strings.Join(s.toasts("mindaugas-l"), "|"); !strings.Contains(got, "A1 patvirtintas") {
				t.Errorf("toast = %q", got)
			}
			s.mustSee("giedre-s", "patvirtino Mindaugas Lukoševičius")
			for _, p := range []string{"aiste-r", "mindaugas-l", "ruta-g"} {
				m := s.mustSee(p, "Mėlynės ant rankų")
				if m.Edits == 0 || !strings.Contains(m.Plain(), "Matė Mindaugas Lukoševičius") {
					t.Errorf("%s's copy not edited:\n%s", p, m.Plain())
				}
			}
			if got := s.mustSee("aiste-r", "Mėlynės ant rankų").Labels(); len(got) != 0 {
				t.Errorf("someone else's copy keeps buttons %v", got)
			}
			if g := s.fake.Channel("CVTAS"); g[0].Edits == 0 || !strings.Contains(g[0].Plain(), "patvirtino Mindaugas") {
				t.Errorf("channel copy not edited:\n%s", g[0].Plain())
			}
			w.advance(30 * time.Minute)
			s.mustNotSee("tomas-k", "Mėlynės") // acknowledged: no escalation
			if strings.Contains(w.logs.String(), "Mėlynės") {
				t.Error("what people wrote reached the logs")
			}
			for _, c := range s.fake.Calls("chat.update") {
				if _, ok := c.Params["blocks"]; !ok {
					t.Errorf("chat.update without blocks: %v", c.Params)
				}
			}
		})
	}
}

func TestForgedAndForeignPressesAreRefused(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, nil)
			s := w.addSlack(mode)
			s.link(chain...)
			raise(t, s, "Padirbta")
			copyOf := s.mustSee("aiste-r", "Padirbta")
			tests := []struct {
				name, person, channel string
				button                slackfake.Button
			}{
				{"a made-up token", "tomas-k", slackfake.DMChannel(s.user("tomas-k")), slackfake.Button{ActionID: "b0-0", Value: "forgedtoken00000", Label: "Patvirtinti"}},
				{"someone else's button", "tomas-k", copyOf.Channel, copyOf.Blocks[len(copyOf.Blocks)-1].Buttons[0]},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					before := len(s.toasts(tt.person))
					if err := s.fake.PressButton(s.user(tt.person), tt.channel, copyOf.TS, tt.button); err != nil {
						t.Fatal(err)
					}
					w.settle()
					toasts := s.toasts(tt.person)
					if len(toasts) != before+1 {
						t.Fatalf("toasts = %q", toasts)
					}
					if a, _ := w.alerts.Get(w.ctx, "A1"); a.State != alerts.Open {
						t.Fatalf("a refused press changed the alert: %s", a.State)
					}
				})
			}
			if n := len(w.audit("access.refused")); n < 2 {
				t.Errorf("refusals audited: %d, want 2", n)
			}
			if m := s.mustSee("aiste-r", "Padirbta"); m.Edits != 0 {
				t.Errorf("a refused press edited the copy:\n%s", m.Plain())
			}
		})
	}
}

func TestRateLimitIsObeyedAndTheMessageArrives(t *testing.T) {
	w := newWorld(t, nil)
	s := w.addSlack(slack.ModeSocket)
	s.link(chain...)
	dm := slackfake.DMChannel(s.user("aiste-r"))
	s.fake.Fail(slackfake.Fault{Method: "chat.postMessage", Channel: dm, Status: 429, RetryAfter: 1})
	raise(t, s, "Per greitai")
	s.mustNotSee("aiste-r", "Per greitai")
	s.mustSee("ruta-g", "Per greitai") // other conversations go on
	w.advance(2 * time.Second)         // the retry is due on the clock; the limiter waits out the real second
	s.mustSee("aiste-r", "Per greitai")
	// The fake fails the test if anything reached the channel before its Retry-After passed.
	var calls int
	for _, c := range s.fake.Calls("chat.postMessage") {
		if c.Channel == dm {
			calls++
		}
	}
	if calls != 2 {
		t.Errorf("posts to %s: %d, want the refused one and the retry", dm, calls)
	}
}

func TestUserTextCannotMentionOrLink(t *testing.T) {
	w := newWorld(t, nil)
	s := w.addSlack(slack.ModeHTTP)
	s.link(chain...)
	note := "<!channel> <@U123> <http://x|y> & <!here>"
	raise(t, s, note)
	m := s.mustSee("aiste-r", "<!channel>")
	var sections []string
	for _, b := range m.Blocks {
		sections = append(sections, b.Text)
	}
	mrkdwn := strings.Join(sections, "\n")
	if strings.ContainsAny(mrkdwn, "<>") {
		t.Fatalf("sections carry markup:\n%s", mrkdwn)
	}
	if !strings.Contains(mrkdwn, "&lt;!channel&gt; &lt;@U123&gt; &lt;http://x|y&gt; &amp; &lt;!here&gt;") {
		t.Errorf("note not escaped as expected:\n%s", mrkdwn)
	}
	if !strings.Contains(m.RawBlocks, `"verbatim":true`) {
		t.Errorf("mrkdwn without verbatim: Slack would turn bare names into mentions:\n%s", m.RawBlocks)
	}
	if strings.ContainsAny(strings.NewReplacer("&lt;", "", "&gt;", "", "&amp;", "").Replace(m.Text), "<>") {
		t.Errorf("fallback text carries markup: %q", m.Text)
	}
}

func TestLongContentIsSplit(t *testing.T) {
	long := strings.Repeat("ilgas tekstas ", 700) // 9800 characters: four sections
	many := make([]string, 60)
	for i := range many {
		many[i] = strings.Repeat("x", 2900)
	}
	w := newWorld(t, func(e *bot.Engine, _ *config.Config) {
		e.Command(bot.Command{Name: "long", Run: func(ctx context.Context, r *bot.Request) error {
			return r.Reply(ctx, bot.Message{Title: "Ilgas", Lines: []string{long}})
		}})
		e.Command(bot.Command{Name: "many", Run: func(ctx context.Context, r *bot.Request) error {
			return r.Reply(ctx, bot.Message{Lines: many, Buttons: [][]bot.Button{{bot.Btn("Gerai", "lang", "", "lt")}}})
		}})
	})
	s := w.addSlack(slack.ModeSocket)
	s.link("jurate-z")
	s.command("jurate-z", "long")
	m := s.mustSee("jurate-z", "Ilgas")
	if len(m.Blocks) != 5 {
		t.Errorf("a 9800-character line in %d blocks, want a title and four sections", len(m.Blocks))
	}
	if got := strings.ReplaceAll(strings.TrimPrefix(m.Plain(), "Ilgas\n"), "\n", ""); got != strings.TrimSpace(long) && got != long {
		t.Errorf("text lost in the split: %d characters, want %d", len(got), len(long))
	}
	s.command("jurate-z", "many")
	msgs := s.fake.DM(s.user("jurate-z"))
	tail := msgs[len(msgs)-2:]
	if n := len(tail[0].Blocks) + len(tail[1].Blocks); n != 61 || len(tail[0].Labels()) != 0 || len(tail[1].Labels()) != 1 {
		t.Fatalf("60 long lines and a button: %d+%d blocks, buttons %v %v", len(tail[0].Blocks), len(tail[1].Blocks), tail[0].Labels(), tail[1].Labels())
	}
	s.press("jurate-z", "Gerai") // the buttons are on the last part, whose ref the engine keeps
}

// TestChannelsHearCommandsAndMentionsOnlyAndNeverDetails: in a channel, only what is addressed
// to the bot counts, private commands point to the DM, and a press on a channel's button is
// answered to the presser alone.
func TestChannelsHearCommandsAndMentionsOnlyAndNeverDetails(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, nil)
			s := w.addSlack(mode)
			s.link(chain...)
			s.channel("vtas-grupe", "CVTAS")
			tomas := s.user("tomas-k")
			if err := s.fake.SayIn("CVTAS", tomas, "/concern K-2026-117 skubu smurtas Kaimynai girdėjo"); err != nil {
				t.Fatal(err)
			}
			w.settle()
			if got := s.fake.Channel("CVTAS"); len(got) != 0 {
				t.Fatalf("channel chatter was answered:\n%s", s.dump("CVTAS"))
			}
			if err := s.fake.Mention("CVTAS", tomas, "concern K-2026-117 skubu smurtas Kaimynai girdėjo"); err != nil {
				t.Fatal(err)
			}
			w.settle()
			got := s.fake.Channel("CVTAS")
			if len(got) != 1 || got[0].Thread == "" || strings.Contains(got[0].Plain(), "Kaimynai") {
				t.Fatalf("a mention with a private command: %+v\n%s", got, s.dump("CVTAS"))
			}
			if err := s.fake.Command("CVTAS", tomas, "help"); err != nil {
				t.Fatal(err)
			}
			w.settle()
			if got := s.fake.Channel("CVTAS"); len(got) != 2 || !strings.Contains(got[1].Plain(), "/tiltas concern") {
				t.Fatalf("/tiltas help in the channel:\n%s", s.dump("CVTAS"))
			}
			if _, err := w.alerts.Get(w.ctx, "A1"); err == nil {
				t.Fatal("an alert was raised from a channel")
			}

			raise(t, s, "Grupėje")
			before := len(s.fake.Channel("CVTAS"))
			s.pressIn("tomas-k", "CVTAS", "Mačiau") // police: not in the chain yet
			if got := strings.Join(s.toasts("tomas-k"), "|"); !strings.Contains(got, "nebuvo siųstas") {
				t.Errorf("outsider toast = %q", got)
			}
			if got := s.fake.Channel("CVTAS"); len(got) != before {
				t.Errorf("the refusal was posted in the channel:\n%s", s.dump("CVTAS"))
			}
			s.pressIn("ruta-g", "CVTAS", "Mačiau")
			if a, _ := w.alerts.Get(w.ctx, "A1"); a.State != alerts.Acknowledged || a.AckBy != "ruta-g" {
				t.Fatalf("acknowledged from the channel: %+v", a)
			}
			for _, m := range s.fake.Channel("CVTAS") {
				if strings.Contains(m.Plain(), "Grupėje") || strings.Contains(m.Plain(), "Kaimynai") {
					t.Errorf("case details in the channel:\n%s", m.Plain())
				}
			}
		})
	}
}

// On Slack, commands are named as Slack lets people type them: "/tiltas concern", never a bare
// "/concern" the composer would refuse; in a direct message the command words work without a
// slash ("concern", "susirupinimas", "help"), except inside an open dialog, where a bare word is
// the answer to its question.
func TestCommandsAreNativeToSlack(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, nil)
			s := w.addSlack(mode)
			s.link(chain...)
			s.say("giedre-s", "help")
			help := s.mustSee("giedre-s", "/tiltas concern")
			s.say("giedre-s", "susirupinimas")
			s.mustSee("giedre-s", "Naujas susirūpinimas")
			// Inside the dialog a bare command word is an answer, not a command: the case-code
			// question refuses it as a case code.
			s.say("giedre-s", "help")
			s.mustSee("giedre-s", "Tai ne atvejo kodas")
			s.say("giedre-s", "cancel")
			s.mustSee("giedre-s", "Tai ne atvejo kodas")
			s.command("giedre-s", "cancel")
			s.mustSee("giedre-s", "Nutraukta. Niekas neišsaugota.")
			s.say("giedre-s", "concern K-2026-117 skubu nepriežiūra Alkanas")
			s.mustSee("giedre-s", "Patikrinkite ir patvirtinkite")
			re := regexp.MustCompile(`(^|[\s(„“"'])/([a-z_]+)\b`)
			for _, m := range s.fake.DM(s.user("giedre-s")) {
				for _, sub := range re.FindAllStringSubmatch(m.Plain(), -1) {
					if sub[2] != "tiltas" {
						t.Errorf("a message names /%s, which Slack would refuse:\n%s", sub[2], m.Plain())
					}
				}
			}
			if !strings.Contains(help.Plain(), "/tiltas help") && !strings.Contains(help.Plain(), "/tiltas cancel") {
				t.Errorf("help does not name commands as /tiltas …:\n%s", help.Plain())
			}
		})
	}
}

func TestAppInvitedToAChannelTellsTheCoordinators(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, nil)
			s := w.addSlack(mode)
			s.link("jurate-z") // the coordinator
			s.channel("vtas-grupe", "C0VTAS")
			join := func(channel, user, inviter string) {
				t.Helper()
				if err := s.fake.Join(channel, user, inviter); err != nil {
					t.Fatal(err)
				}
				w.settle()
			}
			join("C0VTAS", s.fake.BotUser(), "UTOMASK")      // a channel the config names
			join("C0NEW", "UTOMASK", "")                     // someone else joins
			join("G0SENIUNIJA", s.fake.BotUser(), "UTOMASK") // the app, to a channel the config lacks
			m := s.mustSee("jurate-z", "Botas pridėtas į grupę „g0seniunija“")
			want := `- {id: g0seniunija, name: "g0seniunija", platform: slack, team: ` + s.fake.Team() + `, chat: "G0SENIUNIJA"}`
			if !strings.Contains(m.Plain(), want) {
				t.Errorf("the coordinator's message lacks the config line %s:\n%s", want, m.Plain())
			}
			for _, msg := range s.fake.DM(s.user("jurate-z")) {
				if strings.Contains(msg.Plain(), "C0VTAS") || strings.Contains(msg.Plain(), "C0NEW") {
					t.Errorf("told of a channel the config names or of someone else's joining:\n%s", msg.Plain())
				}
			}
		})
	}
}
