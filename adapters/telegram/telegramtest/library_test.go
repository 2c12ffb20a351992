package telegramtest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
)

func newBot(t *testing.T, srv *telegramtest.Server, opts ...tg.Option) *tg.Bot {
	t.Helper()
	opts = append([]tg.Option{tg.WithServerURL(srv.URL()), tg.WithSkipGetMe()}, opts...)
	b, err := tg.New(srv.Token(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoTelegramRequestsAreValid drives the real library, whose requests
// are chunked multipart bodies with JSON-in-form fields and file parts.
func TestGoTelegramRequestsAreValid(t *testing.T) {
	srv := telegramtest.New(t, telegramtest.Options{Limits: telegramtest.Limits{Disabled: true}})
	b := newBot(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	const chat = 1001

	me, err := b.GetMe(ctx)
	if err != nil || me.Username != "tiltas_test_bot" || !me.IsBot {
		t.Fatalf("GetMe = %+v, %v", me, err)
	}

	buttons := &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{
		{{Text: "Taip", CallbackData: "answer:yes"}, {Text: "Ne", CallbackData: "answer:no"}},
		{{Text: "Daugiau", URL: "https://example.com/?a=1&b=2"}},
	}}
	msg, err := b.SendMessage(ctx, &tg.SendMessageParams{
		ChatID:             chat,
		Text:               "<b>Sveiki</b> &amp; labas",
		ParseMode:          models.ParseModeHTML,
		ReplyMarkup:        buttons,
		LinkPreviewOptions: &models.LinkPreviewOptions{IsDisabled: tg.True()},
	})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if msg.Text != "Sveiki & labas" || len(msg.Entities) != 1 || msg.Entities[0].Type != models.MessageEntityTypeBold ||
		msg.ReplyMarkup.InlineKeyboard[0][1].CallbackData != "answer:no" || msg.Chat.ID != chat {
		t.Fatalf("SendMessage = %+v", msg)
	}

	if _, err := b.EditMessageText(ctx, &tg.EditMessageTextParams{
		ChatID: chat, MessageID: msg.ID, Text: "Klausimas?", ReplyMarkup: buttons,
	}); err != nil {
		t.Fatalf("EditMessageText: %v", err)
	}

	press := srv.CallbackQuery(chat, srv.Sent(chat)[0].Message, "answer:yes")
	srv.PushUpdate(press)
	if ok, err := b.AnswerCallbackQuery(ctx, &tg.AnswerCallbackQueryParams{CallbackQueryID: press.CallbackQuery.ID, Text: "Ačiū"}); err != nil || !ok {
		t.Fatalf("AnswerCallbackQuery = %v, %v", ok, err)
	}

	if _, err := b.EditMessageReplyMarkup(ctx, &tg.EditMessageReplyMarkupParams{
		ChatID: chat, MessageID: msg.ID, ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Atsakyta", CallbackData: "done"}}}},
	}); err != nil {
		t.Fatalf("EditMessageReplyMarkup: %v", err)
	}

	doc, err := b.SendDocument(ctx, &tg.SendDocumentParams{
		ChatID:    chat,
		Document:  &models.InputFileUpload{Filename: "ataskaita.csv", Data: strings.NewReader("a,b\n1,2\n")},
		Caption:   "<i>Ataskaita</i>",
		ParseMode: models.ParseModeHTML,
	})
	if err != nil {
		t.Fatalf("SendDocument: %v", err)
	}
	if doc.Document == nil || doc.Document.FileName != "ataskaita.csv" || doc.Caption != "Ataskaita" {
		t.Fatalf("SendDocument = %+v", doc)
	}

	commands := []models.BotCommand{{Command: "start", Description: "Pradėti"}, {Command: "help", Description: "Pagalba"}}
	scope := &models.BotCommandScopeAllPrivateChats{}
	if _, err := b.SetMyCommands(ctx, &tg.SetMyCommandsParams{Commands: commands, Scope: scope}); err != nil {
		t.Fatalf("SetMyCommands: %v", err)
	}
	got, err := b.GetMyCommands(ctx, &tg.GetMyCommandsParams{Scope: scope})
	if err != nil || len(got) != 2 || got[1] != commands[1] {
		t.Fatalf("GetMyCommands = %+v, %v", got, err)
	}
	if _, err := b.SetMyCommands(ctx, &tg.SetMyCommandsParams{Commands: commands}); err != nil {
		t.Fatalf("SetMyCommands: %v", err)
	}
	if got := srv.Commands(); len(got) != 2 || got[0].Command != "start" {
		t.Fatalf("Commands = %+v", got)
	}

	if _, err := b.DeleteWebhook(ctx, &tg.DeleteWebhookParams{DropPendingUpdates: true}); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}

	sent := srv.Sent(chat)
	if len(sent) != 2 {
		t.Fatalf("Sent = %+v, want the message and the document", sent)
	}
	if m := sent[0]; m.Text != "Klausimas?" || m.Edits != 2 || m.ReplyMarkup.InlineKeyboard[0][0].CallbackData != "done" {
		t.Errorf("edited message = %+v", m)
	}
	if d := sent[1]; d.File == nil || string(d.File.Data) != "a,b\n1,2\n" || d.File.Name != "ataskaita.csv" || d.Raw != "<i>Ataskaita</i>" {
		t.Errorf("document = %+v", d)
	}

	if _, err := b.DeleteMessage(ctx, &tg.DeleteMessageParams{ChatID: chat, MessageID: msg.ID}); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	if sent := srv.Sent(chat); len(sent) != 1 || sent[0].Document == nil {
		t.Errorf("Sent after delete = %+v", sent)
	}

	call := srv.Calls("sendMessage")[0]
	if !call.Chunked || !srv.Calls("sendDocument")[0].Chunked {
		t.Errorf("the library's bodies did not arrive chunked")
	}
	kb, _ := call.Params["reply_markup"].(map[string]any)
	if rows, _ := kb["inline_keyboard"].([]any); len(rows) != 2 {
		t.Errorf("reply_markup was not decoded into the call: %#v", call.Params["reply_markup"])
	}
	if invalid := srv.Invalid(); len(invalid) != 0 {
		t.Errorf("go-telegram made invalid requests: %+v", invalid)
	}
}

func TestGoTelegramPollsUpdates(t *testing.T) {
	srv := telegramtest.New(t, telegramtest.Options{})
	got := make(chan *models.Update, 2)
	b := newBot(t, srv, tg.WithDefaultHandler(func(_ context.Context, _ *tg.Bot, u *models.Update) { got <- u }))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.Start(ctx)
	}()
	defer wg.Wait()
	defer cancel()

	srv.PushUpdate(srv.PrivateMessage(77, "/start labas"))
	srv.PushUpdate(srv.GroupMessage(-500, 77, "sveiki"))
	// The library runs handlers concurrently, so updates arrive in any order.
	texts := map[string]*models.Update{}
	for range 2 {
		select {
		case u := <-got:
			if u.Message == nil {
				t.Fatalf("update = %+v, want a message", u)
			}
			texts[u.Message.Text] = u
		case <-time.After(hang):
			t.Fatalf("updates so far %v, want two", texts)
		}
	}
	start, group := texts["/start labas"], texts["sveiki"]
	if start == nil || group == nil {
		t.Fatalf("updates = %v", texts)
	}
	if e := start.Message.Entities; len(e) != 1 || e[0].Type != models.MessageEntityTypeBotCommand || e[0].Length != 6 {
		t.Errorf("command entities = %+v", e)
	}
	if group.Message.Chat.ID != -500 || group.Message.Chat.Type != "group" {
		t.Errorf("group chat = %+v", group.Message.Chat)
	}
	waitCtx, stop := context.WithTimeout(context.Background(), hang)
	defer stop()
	// The library confirms by asking for the next offset.
	if _, err := srv.WaitFor(waitCtx, func(c telegramtest.Call) bool {
		return c.Method == "getUpdates" && c.Params["offset"] == int64(3)
	}); err != nil {
		t.Fatal(err)
	}
}

func TestGoTelegramMapsErrors(t *testing.T) {
	const chat = 42
	tests := []struct {
		name  string
		setup func(srv *telegramtest.Server)
		check func(t *testing.T, err error)
	}{
		{
			name:  "injected 429",
			setup: func(srv *telegramtest.Server) { srv.FailNext(chat, 1, 429, "", 7) },
			check: func(t *testing.T, err error) {
				var tooMany *tg.TooManyRequestsError
				if !errors.As(err, &tooMany) || tooMany.RetryAfter != 7 {
					t.Fatalf("err = %v, want TooManyRequestsError with RetryAfter 7", err)
				}
			},
		},
		{
			name:  "blocked by the user",
			setup: func(srv *telegramtest.Server) { srv.BlockChat(chat) },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, tg.ErrorForbidden) {
					t.Fatalf("err = %v, want ErrorForbidden", err)
				}
			},
		},
		{
			name:  "chat not found",
			setup: func(srv *telegramtest.Server) { srv.RemoveChat(chat) },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, tg.ErrorBadRequest) {
					t.Fatalf("err = %v, want ErrorBadRequest", err)
				}
			},
		},
		{
			name:  "group migrated",
			setup: func(srv *telegramtest.Server) { srv.MigrateChat(chat, -1001234567890) },
			check: func(t *testing.T, err error) {
				var migrate *tg.MigrateError
				if !errors.As(err, &migrate) || migrate.MigrateToChatID != -1001234567890 {
					t.Fatalf("err = %v, want MigrateError to -1001234567890", err)
				}
			},
		},
		{
			name:  "server error",
			setup: func(srv *telegramtest.Server) { srv.FailMethod("sendMessage", 1, 502) },
			check: func(t *testing.T, err error) {
				if err == nil || errors.Is(err, tg.ErrorBadRequest) {
					t.Fatalf("err = %v, want a plain error", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := telegramtest.New(t, telegramtest.Options{})
			b := newBot(t, srv)
			ctx, cancel := context.WithTimeout(context.Background(), hang)
			defer cancel()
			tt.setup(srv)
			_, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: chat, Text: "x"})
			tt.check(t, err)
			if n := len(srv.Sent(chat)); n != 0 {
				t.Errorf("Sent = %d messages, want none", n)
			}
		})
	}
}

func TestGoTelegramSeesRateLimit(t *testing.T) {
	clock := newClock()
	srv := telegramtest.New(t, telegramtest.Options{Now: clock.Now})
	b := newBot(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if _, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: 9, Text: "first"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(300 * time.Millisecond)
	_, err := b.SendMessage(ctx, &tg.SendMessageParams{ChatID: 9, Text: "second"})
	var tooMany *tg.TooManyRequestsError
	if !errors.As(err, &tooMany) || tooMany.RetryAfter != 1 {
		t.Fatalf("err = %v, want TooManyRequestsError with RetryAfter 1", err)
	}
	if srv.Count429() != 1 || len(srv.Sends()) != 1 {
		t.Fatalf("Count429 = %d, Sends = %d; want 1 and 1", srv.Count429(), len(srv.Sends()))
	}
}

// BenchmarkSendMessage measures the fake with go-telegram/bot and the rate
// limits raised out of the way; Sends gives the arrival times.
func BenchmarkSendMessage(b *testing.B) {
	srv := telegramtest.New(b, telegramtest.Options{Limits: telegramtest.Limits{Disabled: true}})
	bot, err := tg.New(srv.Token(), tg.WithServerURL(srv.URL()), tg.WithSkipGetMe())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if _, err := bot.SendMessage(ctx, &tg.SendMessageParams{ChatID: int64(i%50 + 1), Text: "<b>žinutė</b>", ParseMode: models.ParseModeHTML}); err != nil {
			b.Fatal(err)
		}
	}
	if sends := srv.Sends(); len(sends) > 1 {
		span := sends[len(sends)-1].Time.Sub(sends[0].Time).Seconds()
		if span > 0 {
			b.ReportMetric(float64(len(sends)-1)/span, "sends/s")
		}
	}
}
