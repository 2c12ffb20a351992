package slack_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/slack/slackfake"
	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/scheduler"
)

// telegramSide is the fake Bot API server with the Telegram adapter polling it, feeding the same
// inbox as Slack; its messages go out through its own delivery worker.
type telegramSide struct {
	w     *world
	srv   *telegramtest.Server
	ad    *telegram.Adapter
	users map[string]int64
}

func (w *world) addTelegram() *telegramSide {
	w.t.Helper()
	srv := telegramtest.New(w.t, telegramtest.Options{Limits: telegramtest.Limits{Disabled: true}})
	ad, err := telegram.New(telegram.Config{Token: srv.Token(), APIURL: srv.URL(), BotUsername: "tiltas_test_bot",
		Lease: 2 * time.Second, PollTimeout: time.Second},
		telegram.Deps{Inbox: w.inbox, Locker: memory.NewLocker(nil), Records: w.mem})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	if err := ad.Start(ctx, telegram.EngineCommands(w.engine)); err != nil {
		cancel()
		w.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ad.RunPolling(ctx) }()
	w.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("telegram polling: %v", err)
		}
		ad.Close()
	})
	w.proc.Answer[bot.Telegram] = ad
	w.addWorker(bot.Telegram, ad)
	s := &telegramSide{w: w, srv: srv, ad: ad, users: map[string]int64{}}
	for i, p := range w.engine.Directory().People {
		s.users[p.ID] = int64(1001 + i)
	}
	return s
}

func (s *telegramSide) link(people ...string) {
	s.w.t.Helper()
	for _, p := range people {
		uid := strconv.FormatInt(s.users[p], 10)
		if err := s.w.engine.Link(s.w.ctx, p, bot.Identity{Platform: bot.Telegram, User: uid}, bot.Address{Platform: bot.Telegram, Chat: uid}); err != nil {
			s.w.t.Fatal(err)
		}
	}
}

// push queues an update at the fake and waits until the adapter has it in the inbox: the
// adapter asks for the updates after it only once it has pushed it.
func (s *telegramSide) push(update telegramtest.Update) {
	s.w.t.Helper()
	id := s.srv.PushUpdate(update)
	ctx, cancel := context.WithTimeout(s.w.ctx, 20*time.Second)
	defer cancel()
	_, err := s.srv.WaitFor(ctx, func(c telegramtest.Call) bool {
		off, _ := c.Params["offset"].(int64)
		return c.Method == "getUpdates" && off > int64(id)
	})
	if err != nil {
		s.w.t.Fatalf("telegram update %d never reached the inbox: %v", id, err)
	}
	s.w.settle()
}

func (s *telegramSide) say(person, text string) {
	s.w.t.Helper()
	s.push(s.srv.PrivateMessage(s.users[person], text))
}

func (s *telegramSide) press(person, label string) {
	s.w.t.Helper()
	chat := s.users[person]
	if m, data, ok := telegramtest.NewestButton(s.srv.Sent(chat), label); ok {
		s.push(s.srv.CallbackQuery(s.users[person], m.Message, data))
		return
	}
	s.w.t.Fatalf("%s has no %q button on Telegram:\n%s", person, label, s.dump(chat))
}

func (s *telegramSide) find(chat int64, text string) (telegramtest.SentMessage, bool) {
	for _, m := range slices.Backward(s.srv.Sent(chat)) {
		if strings.Contains(m.Text+m.Caption, text) {
			return m, true
		}
	}
	return telegramtest.SentMessage{}, false
}

func (s *telegramSide) mustSee(person, text string) telegramtest.SentMessage {
	s.w.t.Helper()
	m, ok := s.find(s.users[person], text)
	if !ok {
		s.w.t.Fatalf("%s never saw %q on Telegram; their chat:\n%s", person, text, s.dump(s.users[person]))
	}
	return m
}

func (s *telegramSide) mustNotSee(person, text string) {
	s.w.t.Helper()
	if m, ok := s.find(s.users[person], text); ok {
		s.w.t.Fatalf("%s saw %q on Telegram in:\n%s", person, text, m.Text)
	}
}

func (s *telegramSide) dump(chat int64) string {
	var b strings.Builder
	for _, m := range s.srv.Sent(chat) {
		b.WriteString("--- #" + strconv.Itoa(m.MessageID) + "\n" + m.Text + m.Caption + "\n")
	}
	return b.String()
}

// TestMixedAlertEscalatesFromTelegramToSlack: a school on Telegram flags an urgent concern; child
// rights on Telegram do not answer; after ten minutes it reaches the police on Slack, and a Slack
// acknowledgement stops the chain and edits every copy on both platforms.
func TestMixedAlertEscalatesFromTelegramToSlack(t *testing.T) {
	w := newWorld(t, nil)
	tg := w.addTelegram()
	sl := w.addSlack("socket")
	tg.link("giedre-s", "aiste-r", "mindaugas-l", "ruta-g", "jurate-z")
	sl.link("tomas-k", "rasa-m", "algirdas-p")

	tg.say("giedre-s", "/concern K-2026-117 skubu nepriežiūra Niekas neatsiliepia")
	tg.press("giedre-s", "Išsaugoti")
	for _, p := range []string{"aiste-r", "mindaugas-l", "ruta-g"} {
		tg.mustSee(p, "Niekas neatsiliepia")
	}
	sl.mustNotSee("tomas-k", "Niekas neatsiliepia")
	if g, ok := tg.find(-1001234567890, "K-2026-117"); !ok || strings.Contains(g.Text, "Niekas") {
		t.Fatalf("the Telegram group got:\n%s", tg.dump(-1001234567890))
	}

	w.advance(10 * time.Minute)
	m := sl.mustSee("tomas-k", "Niekas neatsiliepia") // step 2: police, on Slack
	if len(m.Labels()) != 2 {
		t.Errorf("Slack copy buttons %v", m.Labels())
	}
	sl.press("tomas-k", "Mačiau")
	if got := strings.Join(sl.toasts("tomas-k"), "|"); !strings.Contains(got, "A1 patvirtintas") {
		t.Errorf("Slack toast %q", got)
	}
	tg.mustSee("giedre-s", "patvirtino Tomas Kazlauskas")
	for _, p := range []string{"aiste-r", "mindaugas-l", "ruta-g"} {
		if c := tg.mustSee(p, "Niekas neatsiliepia"); c.Edits == 0 || !strings.Contains(c.Text, "Matė Tomas Kazlauskas") {
			t.Errorf("%s's Telegram copy not edited:\n%s", p, c.Text)
		}
	}
	if c := sl.mustSee("rasa-m", "Niekas neatsiliepia"); c.Edits == 0 || len(c.Labels()) != 0 {
		t.Errorf("the other officer's Slack copy: edits %d, buttons %v", c.Edits, c.Labels())
	}
	w.advance(30 * time.Minute)
	tg.mustNotSee("jurate-z", "Niekas neatsiliepia") // acknowledged: the coordinator is not bothered
	if a, _ := w.alerts.Get(w.ctx, "A1"); a.AckBy != "tomas-k" {
		t.Errorf("acknowledged by %q", a.AckBy)
	}
}

// visitsConfig builds the visits flow's settings from config the way cmd/tiltas does.
func visitsConfig(c *config.Config) visits.Config {
	return c.VisitsFlow(scheduler.ParseRRule)
}

// TestMixedJointVisitPoliceOnSlackSocialWorkerOnTelegram: the coordinator plans a joint visit on
// Slack; the police officer confirms on Slack, the social worker on Telegram; both get the
// details and the reminder; the officer files the outcome on Slack and the case's people on
// Telegram receive it; the details are withdrawn from the Slack copies.
func TestMixedJointVisitPoliceOnSlackSocialWorkerOnTelegram(t *testing.T) {
	w := newWorld(t, func(e *bot.Engine, cfg *config.Config) { visits.Register(e, visitsConfig(cfg)) })
	tg := w.addTelegram()
	sl := w.addSlack("http")
	sl.link("jurate-z", "tomas-k", "algirdas-p")
	tg.link("ona-p", "egle-v", "aiste-r")
	const (
		c       = "K-2026-200"
		address = "Liepų g. 5-3"
		meeting = "Komisariato kiemas"
		note    = "Vaikai namie vieni, reikia pakartoti"
	)
	tg.say("egle-v", "/case new "+c)
	tg.say("egle-v", "/case assign "+c+" aiste-r child_rights")
	sl.command("jurate-z", "reidas")
	for _, a := range []string{"2026-12-03 18:00", "21:00", "1", meeting, c, address, "2", "1", "1", "1", "1", "taip"} {
		sl.say("jurate-z", a)
	}
	sl.mustSee("jurate-z", "suplanuotas")

	sl.press("tomas-k", "Dalyvausiu")
	tg.press("ona-p", "Dalyvausiu")
	sl.mustSee("tomas-k", "Reidas patvirtintas")
	tg.mustSee("ona-p", "Reidas patvirtintas")
	sl.mustSee("jurate-z", "Reidas patvirtintas")
	sl.mustSee("tomas-k", address)
	tg.mustSee("ona-p", meeting)
	sl.mustNotSee("algirdas-p", address) // standby or not: no details
	tg.mustNotSee("egle-v", address)

	w.advance(time.Date(2026, 12, 3, 17, 1, 0, 0, vilnius).Sub(w.clock.Now()))
	sl.mustSee("tomas-k", "Priminimas")
	tg.mustSee("ona-p", "Priminimas")

	w.advance(time.Date(2026, 12, 3, 21, 31, 0, 0, vilnius).Sub(w.clock.Now()))
	sl.mustSee("tomas-k", "Užpildykite trumpą ataskaitą")
	sl.press("tomas-k", "Ataskaita: "+c)
	for _, a := range []string{"1", "1", note, "taip"} {
		sl.say("tomas-k", a)
	}
	sl.mustSee("tomas-k", "ataskaita išsiųsta")
	for _, p := range []string{"egle-v", "aiste-r"} {
		m := tg.mustSee(p, "Reido ataskaita: atvejis "+c)
		for _, want := range []string{"Rezultatas: Aplankyta", note, "Pateikė: Tomas Kazlauskas"} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("%s's report on Telegram lacks %q:\n%s", p, want, m.Text)
			}
		}
	}
	tg.mustNotSee("ona-p", note)
	sl.mustNotSee("jurate-z", note)
	sl.mustNotSee("tomas-k", address) // withdrawn from the Slack copies once closed
}

// meetingsConfig mirrors cmd/tiltas's meetingsConfig for the example municipality.
func meetingsConfig(c *config.Config) meetings.Config {
	return c.MeetingsFlow(scheduler.ParseRRule)
}

// TestMixedMeetingInviteesOnBothPlatforms: the heads' meeting invites leaders on Slack and on
// Telegram; each answers on their own platform, the organizer on Slack sees both answers in the
// summary, and a leader on Slack gets the meeting as an .ics file through Slack's upload flow.
func TestMixedMeetingInviteesOnBothPlatforms(t *testing.T) {
	var flow *meetings.Flow
	w := newWorld(t, func(e *bot.Engine, cfg *config.Config) { flow = meetings.Register(e, meetingsConfig(cfg)) })
	tg := w.addTelegram()
	sl := w.addSlack("socket")
	sl.link("jurate-z", "dalia-s")
	tg.link("kestutis-a")
	if err := flow.Plan(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.settle()
	sl.mustSee("dalia-s", "Institucijų vadovų pasitarimas")
	tg.mustSee("kestutis-a", "Institucijų vadovų pasitarimas")

	sl.press("dalia-s", "Dalyvausiu")
	if got := strings.Join(sl.toasts("dalia-s"), "|"); !strings.Contains(got, "Įrašyta: dalyvausiu.") {
		t.Errorf("Slack toast %q", got)
	}
	if m := sl.mustSee("dalia-s", "Jūsų atsakymas: dalyvausiu."); !slices.Contains(m.Labels(), "✓ Dalyvausiu") {
		t.Errorf("her Slack copy does not mark her answer: %v", m.Labels())
	}
	tg.press("kestutis-a", "Nedalyvausiu")
	tg.mustSee("kestutis-a", "Jūsų atsakymas: nedalyvausiu.")

	sl.command("jurate-z", "meeting")
	m := sl.mustSee("jurate-z", "Kas dalyvaus:")
	for _, want := range []string{"Dalyvaus: Dalia Stankevičienė", "Nedalyvaus: Kęstutis Adomaitis"} {
		if !strings.Contains(m.Plain(), want) {
			t.Errorf("summary lacks %q:\n%s", want, m.Plain())
		}
	}

	sl.command("dalia-s", "meeting ics")
	var ics *slackfake.File
	for _, m := range sl.fake.DM(sl.user("dalia-s")) {
		for i := range m.Files {
			ics = &m.Files[i]
		}
	}
	if ics == nil || !strings.Contains(string(ics.Data), "BEGIN:VCALENDAR") || !strings.HasSuffix(ics.Name, ".ics") {
		t.Fatalf("no .ics file in her Slack DM:\n%s", sl.dump(slackfake.DMChannel(sl.user("dalia-s"))))
	}
}
