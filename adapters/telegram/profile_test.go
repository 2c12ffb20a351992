package telegram_test

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/bot"
)

// What a stranger sees before pressing Start is set in both languages, within Telegram's limits
// (the fake checks every call against the Bot API spec).
func TestTheBotDescribesItselfInBothLanguages(t *testing.T) {
	srv := telegramtest.New(t, telegramtest.Options{})
	mem := memory.New(bot.SystemClock)
	ad, err := telegram.New(telegram.Config{Token: srv.Token(), APIURL: srv.URL(), BotUsername: "tiltas_test_bot"},
		telegram.Deps{Inbox: memory.NewInbox(nil), Locker: memory.NewLocker(bot.SystemClock), Records: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer ad.Close()
	e := bot.NewEngine(bot.Deps{Records: mem, Marks: mem, Outbox: mem, Timers: mem, Audit: mem.Audit(), Texts: bot.MustLoadCatalog()}, bot.Settings{}, &bot.Directory{})
	if err := ad.SetProfile(context.Background(), telegram.EngineProfile(e)); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"setMyDescription", "setMyShortDescription"} {
		langs := map[string]string{}
		for _, c := range srv.Calls(method) {
			lang, _ := c.Params["language_code"].(string)
			text, _ := c.Params["description"].(string)
			if text == "" {
				text, _ = c.Params["short_description"].(string)
			}
			langs[lang] = text
		}
		if langs[""] == "" || langs["en"] == "" || langs[""] == langs["en"] {
			t.Errorf("%s: %q", method, langs)
		}
		if method == "setMyShortDescription" && utf8.RuneCountInString(langs[""]) > 120 {
			t.Errorf("short description over 120 characters: %q", langs[""])
		}
	}
}
