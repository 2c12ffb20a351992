package telegram

import (
	"context"
	"fmt"
	"strconv"

	tg "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// Health is what Diagnose found of the bot on Telegram, for tiltas doctor.
type Health struct {
	// Username is the bot's, from getMe; empty when the token was refused (Err says why).
	Username string
	Err      error
	// Webhook is the URL Telegram posts to ("" in polling mode), with its pending updates and
	// the last delivery error Telegram reported.
	Webhook, WebhookError string
	Pending               int
	// Missing are the chats (as configured) the bot is not a member of, with why.
	Missing map[string]string
}

// Diagnose asks Telegram about the token (getMe), the webhook (getWebhookInfo) and the bot's
// membership in each of chats (getChatMember).
func (a *Adapter) Diagnose(ctx context.Context, chats []string) Health {
	var h Health
	me, err := a.tg.GetMe(ctx)
	if err != nil {
		h.Err = err
		return h
	}
	h.Username = me.Username
	if info, err := a.tg.GetWebhookInfo(ctx); err == nil {
		h.Webhook, h.Pending, h.WebhookError = info.URL, info.PendingUpdateCount, info.LastErrorMessage
	}
	h.Missing = map[string]string{}
	for _, chat := range chats {
		id, err := strconv.ParseInt(chat, 10, 64)
		if err != nil {
			h.Missing[chat] = "not a Telegram chat ID (a number such as -1001234567890)"
			continue
		}
		m, err := a.tg.GetChatMember(ctx, &tg.GetChatMemberParams{ChatID: id, UserID: me.ID})
		if err != nil {
			h.Missing[chat] = err.Error()
			continue
		}
		switch m.Type {
		case models.ChatMemberTypeLeft, models.ChatMemberTypeBanned:
			h.Missing[chat] = fmt.Sprintf("the bot is %s", m.Type)
		}
	}
	return h
}
