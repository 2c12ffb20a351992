package telegram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	tg "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/tiltas/tiltas/bot"
)

// Telegram's limits: message text and captions in characters after entity parsing (counted
// here in UTF-16 code units, which is never less than Telegram's count), callback data in bytes.
const (
	maxText     = 4096
	maxCaption  = 1024
	maxCallback = 64
	maxToast    = 200
)

// chunkRetries bounds how often a later part of a split message is tried again in place, so
// that a rate limit or a blip after the first part does not send the first part twice.
const chunkRetries = 3

var noPreview = &models.LinkPreviewOptions{IsDisabled: tg.True()}

// Send delivers m to a chat: HTML with every string escaped, split into several messages at line
// boundaries when too long (buttons on the last), a document when m has a file. The returned ref
// is the message that carries the buttons.
func (a *Adapter) Send(ctx context.Context, to bot.Address, m bot.Message) (bot.MessageRef, error) {
	target := to.Chat
	if target == "" {
		target = to.User // a private chat's ID is the user's
	}
	chat, err := a.chatID(ctx, target)
	if err != nil {
		return bot.MessageRef{}, err
	}
	thread, _ := strconv.Atoi(to.Thread)
	kb := a.keyboard(m.Buttons)
	if m.File != nil {
		return a.sendFile(ctx, chat, thread, m, kb)
	}
	parts := chunks(m, maxText)
	if len(parts) == 0 {
		return bot.MessageRef{}, &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: errors.New("telegram: empty message")}
	}
	var ref bot.MessageRef
	for i, p := range parts {
		params := &tg.SendMessageParams{ChatID: chat, MessageThreadID: thread, Text: render(p), ParseMode: models.ParseModeHTML, LinkPreviewOptions: noPreview}
		if i == len(parts)-1 && kb != nil {
			params.ReplyMarkup = kb
		}
		msg, err := a.retryPart(ctx, i, func() (*models.Message, error) { return a.tg.SendMessage(ctx, params) })
		if err != nil {
			return ref, a.deliveryError(ctx, chat, err)
		}
		ref = a.ref(msg)
	}
	return ref, nil
}

// retryPart sends part i. The first part fails like any send; later ones wait out a rate limit
// or retry a transient failure a few times here, because the earlier parts are already out.
func (a *Adapter) retryPart(ctx context.Context, i int, send func() (*models.Message, error)) (*models.Message, error) {
	for attempt := 0; ; attempt++ {
		msg, err := send()
		if err == nil || i == 0 || attempt >= chunkRetries || ctx.Err() != nil {
			return msg, err
		}
		var de *bot.DeliveryError
		if !errors.As(a.classify(err), &de) || de.Permanent || de.MigrateTo != "" {
			return msg, err
		}
		wait := max(de.RetryAfter, time.Duration(attempt+1)*time.Second)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return msg, err
		case <-t.C:
		}
	}
}

func (a *Adapter) sendFile(ctx context.Context, chat any, thread int, m bot.Message, kb *models.InlineKeyboardMarkup) (bot.MessageRef, error) {
	caption := ""
	if parts := chunks(m, maxCaption); len(parts) == 1 {
		caption = render(parts[0])
	} else if len(parts) > 1 {
		// Too long for a caption: the text goes first as messages, then the file.
		text := m
		text.File, text.Buttons = nil, nil
		if _, err := a.Send(ctx, bot.Address{Platform: bot.Telegram, Chat: fmt.Sprint(chat), Thread: threadString(thread)}, text); err != nil {
			return bot.MessageRef{}, err
		}
	}
	params := &tg.SendDocumentParams{
		ChatID: chat, MessageThreadID: thread,
		Document: &models.InputFileUpload{Filename: m.File.Name, Data: bytes.NewReader(m.File.Data)},
		Caption:  caption, ParseMode: models.ParseModeHTML,
	}
	if kb != nil {
		params.ReplyMarkup = kb
	}
	msg, err := a.tg.SendDocument(ctx, params)
	if err != nil {
		return bot.MessageRef{}, a.deliveryError(ctx, chat, err)
	}
	return a.ref(msg), nil
}

func threadString(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// Edit replaces the message at ref with m: its text (or a document's caption) and its buttons,
// which are removed when m has none. "Message is not modified" counts as done. A message too long
// for one Telegram message keeps its first part and ends with "…".
func (a *Adapter) Edit(ctx context.Context, ref bot.MessageRef, m bot.Message) error {
	chat, err := a.chatID(ctx, ref.Chat)
	if err != nil {
		return err
	}
	id, err := strconv.Atoi(ref.ID)
	if err != nil {
		return &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: fmt.Errorf("telegram: message id %q: %w", ref.ID, bot.ErrInvalid)}
	}
	kb := a.keyboard(m.Buttons)
	if m.File == nil {
		text, ok := firstPart(m, maxText)
		if !ok {
			return &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: errors.New("telegram: empty message")}
		}
		params := &tg.EditMessageTextParams{ChatID: chat, MessageID: id, Text: text, ParseMode: models.ParseModeHTML, LinkPreviewOptions: noPreview}
		if kb != nil {
			params.ReplyMarkup = kb
		}
		_, err = a.tg.EditMessageText(ctx, params)
		if err == nil || notModified(err) {
			return nil
		}
		if !errors.Is(err, tg.ErrorBadRequest) || !strings.Contains(err.Error(), "no text in the message") {
			return a.deliveryError(ctx, chat, err)
		}
		// The message is a document: its caption is the text.
	}
	caption, _ := firstPart(m, maxCaption)
	params := &tg.EditMessageCaptionParams{ChatID: chat, MessageID: id, Caption: caption, ParseMode: models.ParseModeHTML}
	if kb != nil {
		params.ReplyMarkup = kb
	}
	_, err = a.tg.EditMessageCaption(ctx, params)
	if err == nil || notModified(err) {
		return nil
	}
	return a.deliveryError(ctx, chat, err)
}

// firstPart renders the part of m that fits max, with "…" when more was cut.
func firstPart(m bot.Message, max int) (string, bool) {
	parts := chunks(m, max)
	if len(parts) == 0 {
		return "", false
	}
	if len(parts) == 1 {
		return render(parts[0]), true
	}
	parts = chunks(m, max-2)
	return render(parts[0]) + "\n…", true
}

func notModified(err error) bool {
	return errors.Is(err, tg.ErrorBadRequest) && strings.Contains(err.Error(), "message is not modified")
}

// Answer answers a button press (answerCallbackQuery), so that the client's spinner stops, with
// the toast cut to Telegram's 200 characters. Other updates need no answer.
func (a *Adapter) Answer(ctx context.Context, in bot.Incoming, r bot.Response) error {
	if in.Callback == "" {
		return nil
	}
	_, err := a.tg.AnswerCallbackQuery(ctx, &tg.AnswerCallbackQueryParams{CallbackQueryID: in.Callback, Text: truncate(r.Toast, maxToast)})
	if err != nil {
		return fmt.Errorf("telegram answerCallbackQuery: %w", redact(err, a.cfg.Token))
	}
	return nil
}

func (a *Adapter) ref(msg *models.Message) bot.MessageRef {
	return bot.MessageRef{Platform: bot.Telegram, Chat: strconv.FormatInt(msg.Chat.ID, 10), ID: strconv.Itoa(msg.ID)}
}

// keyboard builds the inline keyboard; a button without a usable token (empty, or over
// Telegram's 64 bytes) is left out rather than failing the message.
func (a *Adapter) keyboard(rows [][]bot.Button) *models.InlineKeyboardMarkup {
	var kb [][]models.InlineKeyboardButton
	for _, row := range rows {
		var out []models.InlineKeyboardButton
		for _, b := range row {
			if b.Token == "" || len(b.Token) > maxCallback || strings.TrimSpace(b.Label) == "" {
				a.log.Warn("button left out: no usable token or label", "token_len", len(b.Token))
				continue
			}
			out = append(out, models.InlineKeyboardButton{Text: b.Label, CallbackData: b.Token})
		}
		if len(out) > 0 {
			kb = append(kb, out)
		}
	}
	if len(kb) == 0 {
		return nil
	}
	return &models.InlineKeyboardMarkup{InlineKeyboard: kb}
}

// chatID turns a chat string into what the Bot API takes, following a group's move to a
// supergroup.
func (a *Adapter) chatID(ctx context.Context, chat string) (any, error) {
	id, err := strconv.ParseInt(chat, 10, 64)
	if err != nil {
		if strings.HasPrefix(chat, "@") && len(chat) > 1 {
			return chat, nil // a public channel's username
		}
		return nil, &bot.DeliveryError{Permanent: true, Reason: "chat_not_found", Err: fmt.Errorf("telegram: chat %q: %w", chat, bot.ErrInvalid)}
	}
	if basicGroup(id) {
		if to, ok := a.migrated(ctx, id); ok {
			return to, nil
		}
	}
	return id, nil
}

// deliveryError says what a failed call means for delivery, recording a group's move.
func (a *Adapter) deliveryError(ctx context.Context, chat any, err error) error {
	if ctx.Err() != nil {
		return err
	}
	var migrate *tg.MigrateError
	if errors.As(err, &migrate) {
		if from, ok := chat.(int64); ok {
			a.recordMigration(ctx, from, int64(migrate.MigrateToChatID))
		}
	}
	return a.classify(err)
}

// classify maps a go-telegram error to a *bot.DeliveryError. The library's errors are matched
// with errors.As and errors.Is, never by type assertion, so that wrapping does not hide them.
func (a *Adapter) classify(err error) error {
	err = redact(err, a.cfg.Token)
	var (
		tooMany *tg.TooManyRequestsError
		migrate *tg.MigrateError
	)
	switch {
	case errors.As(err, &tooMany):
		return &bot.DeliveryError{Reason: "rate_limited", RetryAfter: max(time.Duration(tooMany.RetryAfter)*time.Second, time.Second), Err: err}
	case errors.As(err, &migrate):
		return &bot.DeliveryError{Reason: "migrated", MigrateTo: strconv.Itoa(migrate.MigrateToChatID), Err: err}
	case errors.Is(err, tg.ErrorForbidden):
		return &bot.DeliveryError{Permanent: true, Reason: "blocked", Err: err}
	case errors.Is(err, tg.ErrorUnauthorized):
		return &bot.DeliveryError{Permanent: true, Reason: "unauthorized", Err: err}
	case errors.Is(err, tg.ErrorBadRequest) && strings.Contains(strings.ToLower(err.Error()), "chat not found"):
		return &bot.DeliveryError{Permanent: true, Reason: "chat_not_found", Err: err}
	case errors.Is(err, tg.ErrorBadRequest), errors.Is(err, tg.ErrorNotFound):
		return &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: err}
	}
	return &bot.DeliveryError{Reason: "unavailable", Err: err}
}

// piece is a run of plain text; the title is bold.
type piece struct {
	text string
	bold bool
}

// chunks splits m's title and lines into the parts of a long message: each part's visible text
// (its pieces joined by newlines) is at most max UTF-16 code units, parts break between lines
// where they can, and a line longer than max breaks at its last newline or space that fits. The
// splitting happens on plain text, before any markup exists, so that no tag or entity is ever
// cut. Parts without visible text are dropped.
func chunks(m bot.Message, max int) [][]piece {
	var items []piece
	if m.Title != "" {
		items = append(items, piece{m.Title, true})
	}
	for _, l := range m.Lines {
		items = append(items, piece{text: l})
	}
	var out [][]piece
	var cur []piece
	n := 0
	flush := func() {
		visible := false
		for _, p := range cur {
			visible = visible || strings.TrimSpace(p.text) != ""
		}
		if visible {
			out = append(out, cur)
		}
		cur, n = nil, 0
	}
	for _, it := range items {
		for _, p := range splitLong(it, max) {
			l := len16(p.text)
			sep := 0
			if len(cur) > 0 {
				sep = 1
			}
			if len(cur) > 0 && n+sep+l > max {
				flush()
				sep = 0
			}
			cur = append(cur, p)
			n += sep + l
		}
	}
	flush()
	return out
}

// splitLong breaks a piece longer than max at its last newline or space that fits, or else at
// the last whole character that fits.
func splitLong(p piece, max int) []piece {
	var out []piece
	s := p.text
	for len16(s) > max {
		cut := prefix16(s, max)
		i := strings.LastIndexByte(s[:cut], '\n')
		if i <= 0 {
			i = strings.LastIndexByte(s[:cut], ' ')
		}
		if i <= 0 {
			out = append(out, piece{s[:cut], p.bold})
			s = s[cut:]
			continue
		}
		out = append(out, piece{s[:i], p.bold})
		s = s[i+1:]
	}
	return append(out, piece{s, p.bold})
}

// len16 is the length of s in UTF-16 code units, as Telegram measures text.
func len16(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// prefix16 returns the byte length of the longest prefix of s of at most max UTF-16 code units
// (at least one character, so that splitting always progresses).
func prefix16(s string, max int) int {
	n := 0
	for i, r := range s {
		n += utf16.RuneLen(r)
		if n > max {
			if i == 0 {
				_, size := utf8.DecodeRuneInString(s)
				return size
			}
			return i
		}
	}
	return len(s)
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// render writes a part in Telegram's HTML: every string escaped, so that what a person typed
// shows as typed; the title bold.
func render(p []piece) string {
	var b strings.Builder
	for i, x := range p {
		if i > 0 {
			b.WriteByte('\n')
		}
		if x.bold {
			b.WriteString("<b>")
			htmlEscaper.WriteString(&b, x.text)
			b.WriteString("</b>")
			continue
		}
		htmlEscaper.WriteString(&b, x.text)
	}
	return b.String()
}

// truncate cuts s to at most max UTF-16 code units on a character boundary, ending with "…"
// when it cut.
func truncate(s string, max int) string {
	if len16(s) <= max {
		return s
	}
	return s[:prefix16(s, max-1)] + "…"
}
