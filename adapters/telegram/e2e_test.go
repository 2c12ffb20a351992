package telegram_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
)

// chain are the people the example config's urgent-danger rule reaches first.
var chain = []string{"aiste-r", "mindaugas-l", "ruta-g"}

func TestLinkingWithStartCodeAndCommandMenu(t *testing.T) {
	h := newHarness(t, options{})
	h.say("giedre-s", "labas")
	h.seeFor("giedre-s", "Neturite prieigos")
	h.say("giedre-s", "/start NEGALIOJA22")
	h.seeFor("giedre-s", "Kodas neteisingas")

	code, err := h.e.Invite(h.ctx, "giedre-s", "jurate-z")
	if err != nil {
		t.Fatal(err)
	}
	h.say("giedre-s", "/start "+code)
	h.seeFor("giedre-s", "Sveiki! Jūsų paskyra susieta (Giedrė Sabaliauskienė).")
	uid := strconv.FormatInt(h.user("giedre-s"), 10)
	p, err := h.e.PersonFor(h.ctx, bot.Identity{Platform: bot.Telegram, User: uid})
	if err != nil || p == nil || p.ID != "giedre-s" {
		t.Fatalf("linked person = %+v, %v", p, err)
	}
	if a, err := h.e.AddressOf(h.ctx, "giedre-s"); err != nil || a != (bot.Address{Platform: bot.Telegram, Chat: uid}) {
		t.Fatalf("direct chat = %+v, %v", a, err)
	}
	h.say("giedre-s", "/help")
	h.seeFor("giedre-s", "Jūsų komandos (Giedrė Sabaliauskienė):")

	// Start set the menu in Lithuanian (the default) and English, and left polling mode clean.
	menu := map[string]string{}
	for _, c := range h.srv.Commands() {
		menu[c.Command] = c.Description
	}
	if !strings.Contains(menu["concern"], "usirūpinim") || menu["help"] == "" || menu["cancel"] == "" || menu["lang"] == "" {
		t.Errorf("Lithuanian menu = %v", menu)
	}
	// Per scope and language: private chats get every command, groups not the private ones
	// (a concern is raised in a direct message); each in Lithuanian and English.
	menus := map[string]string{}
	for _, c := range h.srv.Calls("setMyCommands") {
		scope := "default"
		if s, ok := c.Params["scope"].(map[string]any); ok {
			scope, _ = s["type"].(string)
		}
		lang, _ := c.Params["language_code"].(string)
		menus[scope+"/"+lang] = jsonText(c.Params["commands"])
	}
	for _, key := range []string{"default/", "default/en", "all_private_chats/", "all_private_chats/en"} {
		if !reConcern.MatchString(menus[key]) {
			t.Errorf("menu %s lacks concern: %s", key, menus[key])
		}
	}
	for _, key := range []string{"all_group_chats/", "all_group_chats/en"} {
		if reConcern.MatchString(menus[key]) || !regexp.MustCompile(`(^|\s)help(\s|$)`).MatchString(menus[key]) {
			t.Errorf("group menu %s: %s", key, menus[key])
		}
	}
	if len(h.srv.Calls("deleteWebhook")) == 0 {
		t.Error("polling mode did not delete a webhook")
	}
}

// jsonText flattens decoded JSON for a loose look.
func jsonText(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			b.WriteString(x + " ")
		}
	}
	walk(v)
	return b.String()
}

// raise flags a concern as Giedrė through the whole dialog, pressing buttons; every pressed
// question must be edited to show the answer and lose its buttons.
func raise(h *harness, text string) {
	h.t.Helper()
	h.say("giedre-s", "/concern")
	h.seeFor("giedre-s", "Atvejo kodas?")
	h.say("giedre-s", "K-2026-117")
	for _, answer := range []string{"Nepriežiūros požymiai", "skubu"} {
		h.press("giedre-s", answer)
		var q telegramtest.SentMessage
		h.eventually("the question answered with "+answer+" to be edited", func() bool {
			q, _ = h.find(h.user("giedre-s"), answer)
			return q.Edits == 1 && strings.Contains(q.Text, "→ ")
		})
		if len(buttons(q)) != 0 {
			h.t.Fatalf("answered question keeps its buttons %v", buttons(q))
		}
	}
	h.seeFor("giedre-s", "Trumpai aprašykite")
	h.say("giedre-s", text)
	h.press("giedre-s", "Ne")
	confirm := h.seeFor("giedre-s", "Patikrinkite ir patvirtinkite")
	if !strings.Contains(confirm.Text, text) {
		h.t.Fatalf("summary does not show the text as typed:\n%s", confirm.Text)
	}
	h.press("giedre-s", "Išsaugoti")
	h.seeFor("giedre-s", "išsiųstas: Aistė Rimkutė, Mindaugas Lukoševičius ir Rūta Grigaitė")
}

func TestConcernDialogThroughTelegramEscapesWhatWasTyped(t *testing.T) {
	h := newHarness(t, options{link: append([]string{"giedre-s"}, chain...)})
	typed := "Sakė: <b>tėtis</b> & mama &amp; <a href=\"x\">"
	raise(h, typed)
	for _, p := range chain {
		m := h.seeFor(p, "K-2026-117")
		if !strings.Contains(m.Text, typed) {
			t.Errorf("%s's copy does not show the text as typed:\n%s", p, m.Text)
		}
		for _, e := range m.Entities {
			if e.Type != "bold" || e.Offset != 0 {
				t.Errorf("%s's copy: typed text became formatting: %+v in %q", p, e, m.Raw)
			}
		}
		if m.ParseMode != "HTML" {
			t.Errorf("parse mode %q", m.ParseMode)
		}
		if got := buttons(m); len(got) != 2 {
			t.Errorf("%s's buttons = %v", p, got)
		}
	}
	g := h.see(vtasGroup, "K-2026-117")
	if strings.Contains(g.Text, "tėtis") {
		t.Errorf("case details went to the group:\n%s", g.Text)
	}
}

func TestAcknowledgementEditsEveryCopyAndForgedPressesChangeNothing(t *testing.T) {
	h := newHarness(t, options{link: append([]string{"giedre-s"}, chain...)})
	h.say("giedre-s", "/concern")
	h.say("giedre-s", "K-2026-117")
	q, staleData := h.button(h.user("giedre-s"), "Nepriežiūros požymiai")
	h.pressData("giedre-s", q, staleData)
	h.press("giedre-s", "skubu")
	h.seeFor("giedre-s", "Trumpai aprašykite")
	h.say("giedre-s", "Reikia patikrinti")
	h.press("giedre-s", "Ne")
	h.press("giedre-s", "Išsaugoti")
	for _, p := range chain {
		h.seeFor(p, "Reikia patikrinti")
	}

	if toast := h.press("mindaugas-l", "Mačiau"); !strings.Contains(toast, "A1 patvirtintas") {
		t.Errorf("toast = %q", toast)
	}
	h.seeFor("giedre-s", "patvirtino Mindaugas Lukoševičius")
	for _, p := range chain {
		h.eventually(p+"'s copy to show the acknowledgement", func() bool {
			m, _ := h.find(h.user(p), "Reikia patikrinti")
			return strings.Contains(m.Text, "Matė Mindaugas Lukoševičius") && m.Edits > 0
		})
	}
	if m, _ := h.find(h.user("aiste-r"), "Reikia patikrinti"); len(buttons(m)) != 0 {
		t.Errorf("someone else's copy keeps buttons %v", buttons(m))
	}
	h.eventually("the group copy to be edited", func() bool {
		m, _ := h.find(vtasGroup, "K-2026-117")
		return strings.Contains(m.Text, "patvirtino Mindaugas")
	})
	h.delivered()

	mind, _ := h.find(h.user("mindaugas-l"), "Reikia patikrinti")
	_, resolveData := h.button(h.user("mindaugas-l"), "Išspręsta")
	aiste, _ := h.find(h.user("aiste-r"), "Reikia patikrinti")
	tests := []struct {
		name   string
		person string
		msg    telegramtest.SentMessage
		data   string
	}{
		{"forged token", "aiste-r", aiste, "FORGED0000000000"},
		{"someone else's button", "ruta-g", mind, resolveData},
		{"question already answered", "giedre-s", q, staleData},
	}
	chats := []int64{vtasGroup}
	for _, p := range append([]string{"giedre-s"}, chain...) {
		chats = append(chats, h.user(p))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.snapshot(chats...)
			toast := h.pressData(tt.person, tt.msg, tt.data)
			if !strings.Contains(toast, "nebegalioja") { // "no longer valid"
				t.Errorf("toast = %q", toast)
			}
			h.delivered()
			if after := h.snapshot(chats...); after != before {
				t.Errorf("a refused press changed messages:\n%s\nbefore:\n%s", after, before)
			}
			a, err := h.flow.Get(h.ctx, "A1")
			if err != nil || a.State != alerts.Acknowledged || a.AckBy != "mindaugas-l" {
				t.Errorf("alert = %+v, %v", a, err)
			}
		})
	}
}

func TestRateLimitRetryAfterIsObeyed(t *testing.T) {
	h := newHarness(t, options{link: []string{"giedre-s"}})
	chat := h.user("giedre-s")
	h.srv.FailNext(chat, 1, 429, "", 2)
	h.say("giedre-s", "/help")
	h.seeFor("giedre-s", "Jūsų komandos")
	var calls []telegramtest.Call
	h.eventually("the send to be answered", func() bool {
		calls = h.calls("sendMessage", chat)
		return len(calls) == 2 && calls[1].Code != 0
	})
	if len(calls) != 2 || calls[0].Code != 429 || calls[1].Code != 200 {
		t.Fatalf("sendMessage calls = %+v", calls)
	}
	if gap := calls[1].Time.Sub(calls[0].Time); gap < 2*time.Second {
		t.Errorf("retried %v after a 429 with retry_after 2", gap)
	}
}

func TestRestartInTheMiddleOfADialog(t *testing.T) {
	h := newHarness(t, options{link: append([]string{"giedre-s"}, chain...)})
	ids := []int{h.say("giedre-s", "/concern")}
	h.seeFor("giedre-s", "Atvejo kodas?")
	ids = append(ids, h.say("giedre-s", "K-2026-117"))
	h.button(h.user("giedre-s"), "Nepriežiūros požymiai")
	h.restart()
	// The question sent before the restart is answered after it.
	h.press("giedre-s", "Nepriežiūros požymiai")
	h.press("giedre-s", "skubu")
	h.seeFor("giedre-s", "Trumpai aprašykite")
	ids = append(ids, h.say("giedre-s", "Po perkrovimo"))
	h.press("giedre-s", "Ne")
	h.press("giedre-s", "Išsaugoti")
	h.seeFor("giedre-s", "išsiųstas")
	h.seeFor("aiste-r", "Po perkrovimo")
	for _, id := range ids {
		if n := h.timesHandled(id); n != 1 {
			t.Errorf("update %d handled %d times", id, n)
		}
	}
}

// topicMessage is a message in a forum topic of a supergroup.
func topicMessage(h *harness, chat, user int64, thread int, text string) map[string]any {
	u := h.srv.GroupMessage(chat, user, text)
	return map[string]any{"message": map[string]any{
		"message_id": u.Message.MessageID, "date": u.Message.Date, "text": text, "entities": u.Message.Entities,
		"from":              map[string]any{"id": user, "is_bot": false, "first_name": "X"},
		"chat":              map[string]any{"id": chat, "type": "supergroup", "title": "VTAS", "is_forum": true},
		"message_thread_id": thread, "is_topic_message": true,
	}}
}

func TestGroupsOnlyCommandsAddressedToTheBot(t *testing.T) {
	h := newHarness(t, options{link: []string{"ruta-g"}})
	ruta := h.user("ruta-g")
	plain := h.srv.PushUpdate(h.srv.GroupMessage(vtasGroup, ruta, "labas visiems"))
	other := h.srv.PushUpdate(h.srv.GroupMessage(vtasGroup, ruta, "/help@other_bot"))
	ours := h.srv.PushUpdate(h.srv.GroupMessage(vtasGroup, ruta, "/help@"+botName))
	h.see(vtasGroup, "Jūsų komandos")
	h.delivered()
	if n := len(h.srv.Sent(vtasGroup)); n != 1 {
		t.Fatalf("group got %d messages, want the one answer:\n%s", n, h.dump(vtasGroup))
	}
	if h.timesHandled(plain) != 0 || h.timesHandled(other) != 0 || h.timesHandled(ours) != 1 {
		t.Errorf("handled: plain %d, other bot %d, ours %d", h.timesHandled(plain), h.timesHandled(other), h.timesHandled(ours))
	}

	// A command in a forum topic is answered in that topic.
	h.srv.PushUpdate(topicMessage(h, vtasGroup, ruta, 42, "/help"))
	h.eventually("an answer in topic 42", func() bool {
		for _, c := range h.calls("sendMessage", vtasGroup) {
			if c.Params["message_thread_id"] == int64(42) && c.Code == 200 {
				return true
			}
		}
		return false
	})
}

func TestEditedMessagesDoNotRerunASteps(t *testing.T) {
	h := newHarness(t, options{link: []string{"giedre-s"}})
	h.say("giedre-s", "/concern")
	h.seeFor("giedre-s", "Atvejo kodas?")
	first := h.srv.PrivateMessage(h.user("giedre-s"), "K-2026-117")
	h.srv.PushUpdate(first)
	h.button(h.user("giedre-s"), "Nepriežiūros")
	// The person edits the answer they already gave: nothing happens.
	edited := *first.Message
	edited.Text, edited.EditDate = "K-2026-999", edited.Date+5
	editID := h.srv.PushUpdate(telegramtest.Update{EditedMessage: &edited})
	next := h.say("giedre-s", "/cancel")
	h.seeFor("giedre-s", "Nutraukta")
	h.handledUpdate(next)
	if h.timesHandled(editID) != 0 {
		t.Error("an edited message was handled")
	}
	if _, ok := h.find(h.user("giedre-s"), "K-2026-999"); ok {
		t.Error("the edit reached the dialog")
	}
}

func TestGroupMigrationIsFollowed(t *testing.T) {
	const (
		oldChat = int64(-500123)
		newChat = int64(-1009876543210)
	)
	tests := []struct {
		name  string
		setup func(h *harness)
		// oldCalls is how many sends still reach the old chat.
		oldCalls int
	}{
		{
			name:     "told by a failed send",
			setup:    func(h *harness) { h.srv.MigrateChat(oldChat, newChat) },
			oldCalls: 1,
		},
		{
			name: "told by the service message",
			setup: func(h *harness) {
				h.srv.MigrateChat(oldChat, newChat)
				id := h.srv.PushUpdate(map[string]any{"message": map[string]any{
					"message_id": 77, "date": time.Now().Unix(), "migrate_to_chat_id": newChat,
					"chat": map[string]any{"id": oldChat, "type": "group", "title": "VTAS"},
					"from": map[string]any{"id": h.user("ruta-g"), "is_bot": false, "first_name": "Rūta"},
				}})
				h.eventually("the service message to be polled", func() bool { return h.srv.Pending() == 0 })
				if h.timesHandled(id) != 0 {
					t.Error("the service message was handled as a message")
				}
			},
			oldCalls: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, options{link: []string{"ruta-g"}, groups: map[string]string{"vtas-grupe": strconv.FormatInt(oldChat, 10)}})
			tt.setup(h)
			for i, text := range []string{"Pirmas pranešimas", "Antras pranešimas"} {
				if err := h.e.NotifyGroup(h.ctx, "n"+strconv.Itoa(i), "vtas-grupe", bot.Message{Lines: []string{text}}, "", bot.Urgent); err != nil {
					t.Fatal(err)
				}
				h.see(newChat, text)
			}
			if n := len(h.calls("sendMessage", oldChat)); n != tt.oldCalls {
				t.Errorf("%d sends to the old chat, want %d", n, tt.oldCalls)
			}
			// The supergroup keeps working for commands.
			h.srv.PushUpdate(h.srv.GroupMessage(newChat, h.user("ruta-g"), "/help"))
			h.see(newChat, "Jūsų komandos")
		})
	}
}

func TestBlockedUserIsReportedToTheCoordinator(t *testing.T) {
	h := newHarness(t, options{link: []string{"jurate-z", "giedre-s"}})
	h.srv.BlockChat(h.user("giedre-s"))
	err := h.e.Notify(h.ctx, bot.Notice{ID: "x1", To: "giedre-s", Priority: bot.Urgent, Build: func(string) bot.Message {
		return bot.Message{Lines: []string{"Sveiki"}}
	}})
	if err != nil {
		t.Fatal(err)
	}
	h.seeFor("jurate-z", "užblokavo botą")
	if n := len(h.calls("sendMessage", h.user("giedre-s"))); n != 1 {
		t.Errorf("%d sends to a blocked chat, want 1 (no retries)", n)
	}
	h.delivered()
}

func TestTheSameUpdateTwiceIsHandledOnce(t *testing.T) {
	h := newHarness(t, options{webhook: true, link: []string{"giedre-s"}})
	u := h.srv.PrivateMessage(h.user("giedre-s"), "/help")
	u.UpdateID = 9001
	for range 2 {
		if code := h.postUpdate(u, "s3cret-Webhook_token"); code != 200 {
			t.Fatalf("webhook answered %d", code)
		}
	}
	h.seeFor("giedre-s", "Jūsų komandos")
	h.delivered()
	if n := len(h.calls("sendMessage", h.user("giedre-s"))); n != 1 || h.timesHandled(9001) != 1 {
		t.Errorf("a redelivered update was handled %d times, %d answers", h.timesHandled(9001), n)
	}
}

var reConcern = regexp.MustCompile(`(^|\s)concern\s`)

// When the bot is added to a group the config does not name, the coordinators get a direct
// message with the group's title, its chat ID and the config line to add; adding it to a group
// the config names, or other membership changes, tell nobody.
func TestBotAddedToAGroupTellsTheCoordinators(t *testing.T) {
	h := newHarness(t, options{})
	h.link("jurate-z")
	h.start()
	added := func(chat int64, title, oldStatus, newStatus string) {
		h.srv.PushUpdate(map[string]any{"my_chat_member": map[string]any{
			"chat":            map[string]any{"id": chat, "type": "supergroup", "title": title},
			"from":            map[string]any{"id": h.user("tomas-k"), "is_bot": false, "first_name": "Tomas"},
			"date":            1764579600,
			"old_chat_member": map[string]any{"status": oldStatus, "user": map[string]any{"id": 42, "is_bot": true, "first_name": "Tiltas"}},
			"new_chat_member": map[string]any{"status": newStatus, "user": map[string]any{"id": 42, "is_bot": true, "first_name": "Tiltas"}},
		}})
	}
	added(-1001234567890, "VTAS budintys", "left", "member") // the example's vtas-grupe: known
	added(-1009876543210, "Šiaurės seniūnija", "left", "member")
	m := h.seeFor("jurate-z", "Botas pridėtas į grupę „Šiaurės seniūnija“")
	if !strings.Contains(m.Text, "-1009876543210") || !strings.Contains(m.Text, `- {id: siaures-seniunija, name: "Šiaurės seniūnija", platform: telegram, chat: "-1009876543210"}`) {
		t.Errorf("the coordinator's message lacks the chat ID or the config line:\n%s", m.Text)
	}
	for _, msg := range h.srv.Sent(h.user("jurate-z")) {
		if strings.Contains(msg.Text, "VTAS budintys") {
			t.Errorf("told of a group the config already names:\n%s", msg.Text)
		}
	}
}
