package telegram_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tg "github.com/go-telegram/bot"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/logbuf"
)

// messenger is an adapter used directly, as the delivery worker uses it.
type messenger struct {
	*telegram.Adapter
	srv  *telegramtest.Server
	mem  *memory.Store
	logs *logbuf.Buffer
	ctx  context.Context
}

func newMessenger(t *testing.T, opts telegramtest.Options) *messenger {
	t.Helper()
	if opts.Limits == (telegramtest.Limits{}) {
		opts.Limits.Disabled = true
	}
	srv := telegramtest.New(t, opts)
	mem := memory.New(nil)
	logs := &logbuf.Buffer{}
	ad, err := telegram.New(telegram.Config{Token: srv.Token(), APIURL: srv.URL(), BotUsername: botName},
		telegram.Deps{Inbox: memory.NewInbox(nil), Locker: memory.NewLocker(nil), Records: mem, Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	t.Cleanup(func() {
		cancel()
		ad.Close()
		if strings.Contains(logs.String(), srv.Token()) {
			t.Error("the token appeared in the logs")
		}
	})
	return &messenger{Adapter: ad, srv: srv, mem: mem, logs: logs, ctx: ctx}
}

func dm(chat int64) bot.Address {
	return bot.Address{Platform: bot.Telegram, Chat: strconv.FormatInt(chat, 10)}
}

func btn(label, token string) bot.Button { return bot.Button{Label: label, Token: token} }

func TestSendFormatsSafely(t *testing.T) {
	tests := []struct {
		name  string
		to    bot.Address
		msg   bot.Message
		chat  int64
		text  string // as the person reads it
		bold  string // the text of the one bold entity ("" for none)
		check func(t *testing.T, c telegramtest.Call, m telegramtest.SentMessage)
	}{
		{
			name: "markup in every string shows as typed",
			to:   dm(1001),
			msg:  bot.Message{Title: "Antraštė <b>&</b>", Lines: []string{"a < b > c & d", "&amp; &lt;i&gt;", `<a href="https://x">nuoroda</a>`}},
			chat: 1001,
			text: "Antraštė <b>&</b>\na < b > c & d\n&amp; &lt;i&gt;\n<a href=\"https://x\">nuoroda</a>",
			bold: "Antraštė <b>&</b>",
		},
		{
			name: "lines only, no formatting",
			to:   dm(1001),
			msg:  bot.Message{Lines: []string{"Labas", "", "rytas"}},
			chat: 1001,
			text: "Labas\n\nrytas",
		},
		{
			name: "buttons carry their tokens",
			to:   dm(1002),
			msg:  bot.Message{Lines: []string{"Ar ateisite?"}, Buttons: [][]bot.Button{{btn("Taip", "tok-yes"), btn("Ne", "tok-no")}, {btn("Vėliau", "tok-later")}}},
			chat: 1002,
			text: "Ar ateisite?",
			check: func(t *testing.T, _ telegramtest.Call, m telegramtest.SentMessage) {
				kb := m.ReplyMarkup.InlineKeyboard
				if len(kb) != 2 || kb[0][1].CallbackData != "tok-no" || kb[1][0].Text != "Vėliau" {
					t.Errorf("keyboard = %+v", kb)
				}
			},
		},
		{
			name: "buttons without a usable token are left out",
			to:   dm(1003),
			msg:  bot.Message{Lines: []string{"x"}, Buttons: [][]bot.Button{{btn("Tuščias", ""), btn("Per ilgas", strings.Repeat("t", 65))}, {btn("Geras", "ok")}}},
			chat: 1003,
			text: "x",
			check: func(t *testing.T, _ telegramtest.Call, m telegramtest.SentMessage) {
				if kb := m.ReplyMarkup.InlineKeyboard; len(kb) != 1 || kb[0][0].CallbackData != "ok" {
					t.Errorf("keyboard = %+v", kb)
				}
			},
		},
		{
			name: "forum topic",
			to:   bot.Address{Platform: bot.Telegram, Chat: "-1001234567890", Thread: "42", Group: true},
			msg:  bot.Message{Lines: []string{"Temoje"}},
			chat: -1001234567890,
			text: "Temoje",
			check: func(t *testing.T, c telegramtest.Call, _ telegramtest.SentMessage) {
				if c.Params["message_thread_id"] != int64(42) {
					t.Errorf("message_thread_id = %v", c.Params["message_thread_id"])
				}
			},
		},
		{
			name: "direct message by user",
			to:   bot.Address{Platform: bot.Telegram, User: "1004"},
			msg:  bot.Message{Lines: []string{"Tiesiogiai"}},
			chat: 1004,
			text: "Tiesiogiai",
		},
	}
	m := newMessenger(t, telegramtest.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, err := m.Send(m.ctx, tt.to, tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			sent := m.srv.Sent(tt.chat)
			got := sent[len(sent)-1]
			if ref.Chat != strconv.FormatInt(tt.chat, 10) || ref.ID != strconv.Itoa(got.MessageID) || ref.Platform != bot.Telegram {
				t.Errorf("ref = %+v, message %d", ref, got.MessageID)
			}
			if got.Text != tt.text || got.ParseMode != "HTML" {
				t.Errorf("text = %q (%s), want %q", got.Text, got.ParseMode, tt.text)
			}
			var bold []string
			for _, e := range got.Entities {
				u := utf16Slice(got.Text, e.Offset, e.Length)
				if e.Type != "bold" {
					t.Errorf("entity %s over %q", e.Type, u)
				}
				bold = append(bold, u)
			}
			if strings.Join(bold, "|") != tt.bold {
				t.Errorf("bold = %q, want %q", bold, tt.bold)
			}
			if tt.check != nil {
				calls := m.srv.Calls("sendMessage")
				tt.check(t, calls[len(calls)-1], got)
			}
		})
	}
}

// utf16Slice cuts s by UTF-16 offsets, as entities count.
func utf16Slice(s string, off, n int) string {
	var b strings.Builder
	pos := 0
	for _, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if pos >= off && pos < off+n {
			b.WriteRune(r)
		}
		pos += w
	}
	return b.String()
}

func TestSendSplitsLongMessagesAtLineBoundaries(t *testing.T) {
	numbered := func(n, width int) []string {
		var out []string
		for i := range n {
			l := fmt.Sprintf("%03d <b>&amp;</b> eilutė", i)
			out = append(out, l+strings.Repeat("ž", width-utf8.RuneCountInString(l)))
		}
		return out
	}
	words := strings.TrimSpace(strings.Repeat("žodis & <i> ", 834)) // one line of 10,000 characters
	tests := []struct {
		name  string
		msg   bot.Message
		parts int
		// whole says every part is made of whole lines of the message.
		whole bool
	}{
		{"200 lines of 50 characters", bot.Message{Title: "Ataskaita <K-2026-117>", Lines: numbered(200, 49)}, 3, true},
		{"one long line breaks between words", bot.Message{Lines: []string{words}}, 3, false},
		{"one long word breaks between characters", bot.Message{Lines: []string{strings.Repeat("ą", 10000)}}, 3, false},
		{"characters outside the BMP count twice", bot.Message{Lines: []string{strings.Repeat("😀", 5000)}}, 3, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMessenger(t, telegramtest.Options{})
			chat := int64(2001 + i)
			tt.msg.Buttons = [][]bot.Button{{btn("Gerai", "tok-ok")}}
			ref, err := m.Send(m.ctx, dm(chat), tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			sent := m.srv.Sent(chat)
			if len(sent) != tt.parts {
				t.Fatalf("%d messages, want %d", len(sent), tt.parts)
			}
			var texts []string
			for j, s := range sent {
				if n := len16(s.Text); n > 4096 {
					t.Errorf("part %d has %d UTF-16 units", j, n)
				}
				if hasButtons := s.ReplyMarkup != nil; hasButtons != (j == len(sent)-1) {
					t.Errorf("part %d buttons: %v", j, hasButtons)
				}
				texts = append(texts, s.Text)
			}
			if ref.ID != strconv.Itoa(sent[len(sent)-1].MessageID) {
				t.Errorf("ref %s is not the part with the buttons", ref.ID)
			}
			full := tt.msg.Text()
			if tt.whole {
				if strings.Join(texts, "\n") != full {
					t.Error("the parts do not add up to the message")
				}
				lines := map[string]bool{tt.msg.Title: true}
				for _, l := range tt.msg.Lines {
					lines[l] = true
				}
				for _, txt := range texts {
					for _, l := range strings.Split(txt, "\n") {
						if !lines[l] {
							t.Fatalf("a part has a broken line %q", l)
						}
					}
				}
				if e := sent[0].Entities; len(e) != 1 || e[0].Type != "bold" || utf16Slice(sent[0].Text, e[0].Offset, e[0].Length) != tt.msg.Title {
					t.Errorf("title entities = %+v", e)
				}
				return
			}
			joined := strings.ReplaceAll(strings.Join(texts, ""), " ", "")
			if joined != strings.ReplaceAll(full, " ", "") {
				t.Error("the parts lose or change text")
			}
		})
	}
}

func len16(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

func TestEdit(t *testing.T) {
	m := newMessenger(t, telegramtest.Options{})
	const chat = 3001
	ref, err := m.Send(m.ctx, dm(chat), bot.Message{Title: "Klausimas", Lines: []string{"Ar ateisite?"}, Buttons: [][]bot.Button{{btn("Taip", "t1")}}})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := m.Send(m.ctx, dm(chat), bot.Message{Lines: []string{"Kvietimas <.ics>"}, File: &bot.File{Name: "susitikimas.ics", Type: "text/calendar", Data: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")}, Buttons: [][]bot.Button{{btn("Ateisiu", "t2")}}})
	if err != nil {
		t.Fatal(err)
	}
	if d := m.srv.Sent(chat)[1]; d.Document == nil || d.File.Name != "susitikimas.ics" || d.Caption != "Kvietimas <.ics>" || d.ReplyMarkup == nil {
		t.Fatalf("document = %+v", d)
	}
	tests := []struct {
		name    string
		ref     bot.MessageRef
		msg     bot.Message
		text    string
		buttons int
		edits   int
	}{
		{"new text, buttons removed", ref, bot.Message{Title: "Klausimas", Lines: []string{"→ Taip <b>"}}, "Klausimas\n→ Taip <b>", 0, 1},
		{"the same again is not modified, and fine", ref, bot.Message{Title: "Klausimas", Lines: []string{"→ Taip <b>"}}, "Klausimas\n→ Taip <b>", 0, 1},
		{"new buttons", ref, bot.Message{Lines: []string{"Dar kartą?"}, Buttons: [][]bot.Button{{btn("Taip", "t3"), btn("Ne", "t4")}}}, "Dar kartą?", 2, 2},
		{"a document's caption", doc, bot.Message{Lines: []string{"Kvietimas atšauktas"}}, "Kvietimas atšauktas", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := m.Edit(m.ctx, tt.ref, tt.msg); err != nil {
				t.Fatal(err)
			}
			var got telegramtest.SentMessage
			for _, s := range m.srv.Sent(chat) {
				if strconv.Itoa(s.MessageID) == tt.ref.ID {
					got = s
				}
			}
			if got.Text+got.Caption != tt.text || len(buttons(got)) != tt.buttons || got.Edits != tt.edits {
				t.Errorf("message = %q %v, %d edits", got.Text+got.Caption, buttons(got), got.Edits)
			}
		})
	}
	err = m.Edit(m.ctx, bot.MessageRef{Platform: bot.Telegram, Chat: "3001", ID: "999"}, bot.Message{Lines: []string{"x"}})
	var de *bot.DeliveryError
	if !errors.As(err, &de) || !de.Permanent {
		t.Errorf("editing a missing message: %v", err)
	}
}

func TestSendLongTextWithAFile(t *testing.T) {
	m := newMessenger(t, telegramtest.Options{})
	const chat = 3101
	lines := strings.Split(strings.Repeat("Eilutė apie susitikimą\n", 100), "\n")
	ref, err := m.Send(m.ctx, dm(chat), bot.Message{Lines: lines, File: &bot.File{Name: "a.ics", Data: []byte("x")}, Buttons: [][]bot.Button{{btn("Ateisiu", "t")}}})
	if err != nil {
		t.Fatal(err)
	}
	sent := m.srv.Sent(chat)
	if len(sent) != 2 || sent[0].Text == "" || sent[0].ReplyMarkup != nil || sent[1].Document == nil || sent[1].ReplyMarkup == nil || ref.ID != strconv.Itoa(sent[1].MessageID) {
		t.Fatalf("sent = %+v", sent)
	}
}

// TestRequestsGoInOnePiece: the library streams its forms chunked, a write per form part; the
// adapter sends each request whole, with a Content-Length, and the fake still reads every field
// and the file.
func TestRequestsGoInOnePiece(t *testing.T) {
	m := newMessenger(t, telegramtest.Options{})
	const chat = 3102
	lines := strings.Split(strings.Repeat("Susitikimas <b>\n", 100), "\n")
	if _, err := m.Send(m.ctx, dm(chat), bot.Message{Lines: lines, File: &bot.File{Name: "a.ics", Data: []byte("BEGIN:VCALENDAR")}, Buttons: [][]bot.Button{{btn("Ateisiu", "t")}}}); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"sendMessage", "sendDocument"} {
		calls := m.srv.Calls(method)
		if len(calls) != 1 || calls[0].Chunked || calls[0].Invalid {
			t.Fatalf("%s calls = %+v", method, calls)
		}
	}
	if doc := m.srv.Calls("sendDocument")[0].Files["document"]; doc == nil || string(doc.Data) != "BEGIN:VCALENDAR" {
		t.Fatalf("document = %+v", doc)
	}
}

func TestDeliveryErrors(t *testing.T) {
	const chat = 4001
	tests := []struct {
		name       string
		setup      func(srv *telegramtest.Server)
		permanent  bool
		reason     string
		retryAfter time.Duration
		migrateTo  string
		library    any // the go-telegram error errors.As must still find
	}{
		{name: "429", setup: func(s *telegramtest.Server) { s.FailNext(chat, 1, 429, "", 7) }, reason: "rate_limited", retryAfter: 7 * time.Second, library: new(*tg.TooManyRequestsError)},
		{name: "blocked", setup: func(s *telegramtest.Server) { s.BlockChat(chat) }, permanent: true, reason: "blocked"},
		{name: "chat not found", setup: func(s *telegramtest.Server) { s.RemoveChat(chat) }, permanent: true, reason: "chat_not_found"},
		{name: "token revoked", setup: func(s *telegramtest.Server) { s.FailNext(chat, 1, 401, "Unauthorized", 0) }, permanent: true, reason: "unauthorized"},
		{name: "group migrated", setup: func(s *telegramtest.Server) { s.MigrateChat(chat, -1005550000001) }, reason: "migrated", migrateTo: "-1005550000001", library: new(*tg.MigrateError)},
		{name: "bad gateway", setup: func(s *telegramtest.Server) { s.FailMethod("sendMessage", 1, 502) }, reason: "unavailable"},
		{name: "other bad request", setup: func(s *telegramtest.Server) { s.FailNext(chat, 1, 400, "Bad Request: BUTTON_DATA_INVALID", 0) }, permanent: true, reason: "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMessenger(t, telegramtest.Options{})
			tt.setup(m.srv)
			_, err := m.Send(m.ctx, dm(chat), bot.Message{Lines: []string{"x"}})
			// The worker may see it wrapped; errors.As must still find everything.
			err = fmt.Errorf("deliver m1: %w", err)
			var de *bot.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a DeliveryError", err)
			}
			if de.Permanent != tt.permanent || de.Reason != tt.reason || de.RetryAfter != tt.retryAfter || de.MigrateTo != tt.migrateTo {
				t.Errorf("DeliveryError = %+v", de)
			}
			if tt.library != nil {
				switch target := tt.library.(type) {
				case **tg.TooManyRequestsError:
					if !errors.As(err, target) {
						t.Error("the library's TooManyRequestsError is not in the chain")
					}
				case **tg.MigrateError:
					if !errors.As(err, target) {
						t.Error("the library's MigrateError is not in the chain")
					}
				}
			}
			if strings.Contains(err.Error(), m.srv.Token()) {
				t.Error("the token is in the error")
			}
		})
	}
}

func TestMigrationIsRememberedForTheNextSend(t *testing.T) {
	m := newMessenger(t, telegramtest.Options{})
	const oldChat, newChat = int64(-4002), int64(-1004440000001)
	m.srv.MigrateChat(oldChat, newChat)
	group := bot.Address{Platform: bot.Telegram, Chat: strconv.FormatInt(oldChat, 10), Group: true}
	if _, err := m.Send(m.ctx, group, bot.Message{Lines: []string{"pirmas"}}); err == nil {
		t.Fatal("the first send to a migrated group succeeded")
	}
	ref, err := m.Send(m.ctx, group, bot.Message{Lines: []string{"antras"}})
	if err != nil || ref.Chat != strconv.FormatInt(newChat, 10) {
		t.Fatalf("second send: %+v, %v", ref, err)
	}
	if err := m.Edit(m.ctx, bot.MessageRef{Platform: bot.Telegram, Chat: strconv.FormatInt(oldChat, 10), ID: ref.ID}, bot.Message{Lines: []string{"pataisytas"}}); err != nil {
		t.Fatalf("edit through the old chat ID: %v", err)
	}
}

func TestTokenStaysOutOfNetworkErrors(t *testing.T) {
	dead := httptest.NewServer(nil)
	url := dead.URL
	dead.Close()
	const token = "987654321:SECRET-token-never-shown"
	logs := &logbuf.Buffer{}
	ad, err := telegram.New(telegram.Config{Token: token, APIURL: url, Lease: 2 * time.Second},
		telegram.Deps{Inbox: memory.NewInbox(nil), Locker: memory.NewLocker(nil), Records: memory.New(nil), Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer ad.Close()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	_, sendErr := ad.Send(ctx, dm(1), bot.Message{Lines: []string{"x"}})
	editErr := ad.Edit(ctx, bot.MessageRef{Platform: bot.Telegram, Chat: "1", ID: "1"}, bot.Message{Lines: []string{"x"}})
	startErr := ad.Start(ctx, []telegram.Command{{Name: "help", DescriptionLT: "Pagalba", DescriptionEN: "Help"}})
	answerErr := ad.Answer(ctx, bot.Incoming{Callback: "1"}, bot.Response{Toast: "x"})
	pollCtx, stop := context.WithTimeout(ctx, 1500*time.Millisecond)
	if err := ad.RunPolling(pollCtx); err != nil {
		t.Errorf("RunPolling: %v", err)
	}
	stop()
	for name, err := range map[string]error{"send": sendErr, "edit": editErr, "start": startErr, "answer": answerErr} {
		if err == nil {
			t.Errorf("%s to a dead server succeeded", name)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s error shows the token: %v", name, err)
		}
	}
	var de *bot.DeliveryError
	if !errors.As(sendErr, &de) || de.Permanent || de.Reason != "unavailable" {
		t.Errorf("a network error is not transient: %v", sendErr)
	}
	if !strings.Contains(logs.String(), "polling failed") {
		t.Errorf("polling failure not logged:\n%s", logs)
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("the token is in the logs:\n%s", logs)
	}
}

func TestAnswerStopsTheSpinnerWithAShortToast(t *testing.T) {
	m := newMessenger(t, telegramtest.Options{})
	sentRef, err := m.Send(m.ctx, dm(5001), bot.Message{Lines: []string{"x"}, Buttons: [][]bot.Button{{btn("Spausk", "tok")}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = sentRef
	long := strings.Repeat("ą", 150) + strings.Repeat("😀", 100)
	tests := []struct {
		name, toast, want string
	}{
		{"short", "Ačiū", "Ačiū"},
		{"empty", "", ""},
		{"cut on a character boundary", long, strings.Repeat("ą", 150) + strings.Repeat("😀", 24) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := m.srv.CallbackQuery(5001, m.srv.Sent(5001)[0].Message, "tok")
			m.srv.PushUpdate(q)
			if err := m.Answer(m.ctx, bot.Incoming{Callback: q.CallbackQuery.ID}, bot.Response{Toast: tt.toast}); err != nil {
				t.Fatal(err)
			}
			calls := m.srv.Calls("answerCallbackQuery")
			got, _ := calls[len(calls)-1].Params["text"].(string)
			if got != tt.want {
				t.Errorf("toast = %q (%d UTF-16 units), want %q", got, len16(got), tt.want)
			}
		})
	}
	if err := m.Answer(m.ctx, bot.Incoming{ID: "tg:1"}, bot.Response{Toast: "x"}); err != nil || len(m.srv.Calls("answerCallbackQuery")) != 3 {
		t.Errorf("a message that is not a press was answered: %v", err)
	}
}
