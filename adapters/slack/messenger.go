package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	slackgo "github.com/slack-go/slack"

	"github.com/tiltas/tiltas/bot"
)

// dmRecord is a person's direct-message channel with the bot, kept under dmKey.
type dmRecord struct {
	Chat string `json:"chat"`
}

func dmKey(team, user string) string { return "slack/dm/" + team + "/" + user }

// Send posts m to the conversation to: a channel, or, when to.Chat is empty, the direct-message
// conversation with to.User (opened with conversations.open once and remembered). Content longer
// than one message allows continues in further messages; the returned ref is the last one, which
// carries the buttons. A file goes after the text, through Slack's external upload flow
// (files.getUploadURLExternal, an upload to the URL it returns, files.completeUploadExternal).
// Failures are *bot.DeliveryError.
func (a *Adapter) Send(ctx context.Context, to bot.Address, m bot.Message) (bot.MessageRef, error) {
	if to.Platform != bot.Slack {
		return bot.MessageRef{}, &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: fmt.Errorf("slack send: address on %q", to.Platform)}
	}
	parts := render(a.nativeMessage(m), false)
	if len(parts) == 1 && len(parts[0].blocks) == 0 {
		if m.File == nil {
			return bot.MessageRef{}, &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: errors.New("slack send: empty message")}
		}
		parts = render(bot.Message{Lines: []string{m.File.Name}}, false)
	}
	ch, cached, err := a.conversation(ctx, to)
	if err != nil {
		return bot.MessageRef{}, err
	}
	ref := bot.MessageRef{Platform: bot.Slack, Team: to.Team, Chat: ch}
	for i, p := range parts {
		ts, err := a.post(ctx, ch, to.Thread, p)
		if err != nil && i == 0 && cached && reasonOf(err) == "channel_not_found" {
			// The remembered DM channel is gone: open the conversation anew, once.
			_ = bot.Delete(ctx, a.deps.Records, dmKey(to.Team, to.User))
			if ch, _, err = a.conversation(ctx, to); err != nil {
				return bot.MessageRef{}, err
			}
			ref.Chat = ch
			ts, err = a.post(ctx, ch, to.Thread, p)
		}
		if err != nil {
			return bot.MessageRef{}, deliveryError("slack chat.postMessage", err)
		}
		ref.ID = ts
	}
	if m.File != nil {
		if err := a.upload(ctx, ch, m.File); err != nil {
			return bot.MessageRef{}, err
		}
	}
	return ref, nil
}

// Edit replaces the message at ref with m (chat.update). Buttons m does not have are gone from
// the message; content longer than one message is cut. A file is not re-sent.
func (a *Adapter) Edit(ctx context.Context, ref bot.MessageRef, m bot.Message) error {
	if ref.Platform != bot.Slack || ref.Chat == "" || ref.ID == "" {
		return &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: fmt.Errorf("slack edit: bad message ref on %q", ref.Platform)}
	}
	p := render(a.nativeMessage(m), true)[0]
	if len(p.blocks) == 0 {
		// Without blocks chat.update would keep the old ones, buttons and all.
		return &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: errors.New("slack edit: empty message")}
	}
	_, _, _, err := a.api.UpdateMessageContext(ctx, ref.Chat, ref.ID,
		slackgo.MsgOptionBlocks(p.blocks...), slackgo.MsgOptionText(p.text, false))
	return deliveryError("slack chat.update", err)
}

// post sends one part, in thread when it is set (an answer to a mention in a channel).
func (a *Adapter) post(ctx context.Context, ch, thread string, p part) (string, error) {
	opts := []slackgo.MsgOption{slackgo.MsgOptionBlocks(p.blocks...), slackgo.MsgOptionText(p.text, false),
		slackgo.MsgOptionDisableLinkUnfurl(), slackgo.MsgOptionDisableMediaUnfurl()}
	if thread != "" {
		opts = append(opts, slackgo.MsgOptionTS(thread))
	}
	_, ts, err := a.api.PostMessageContext(ctx, ch, opts...)
	return ts, err
}

// conversation returns the channel to post to, and whether it came from the DM cache.
func (a *Adapter) conversation(ctx context.Context, to bot.Address) (string, bool, error) {
	if to.Chat != "" {
		return to.Chat, false, nil
	}
	if to.User == "" {
		return "", false, &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: errors.New("slack send: address without chat or user")}
	}
	return a.dmChannel(ctx, to.Team, to.User)
}

// dmChannel returns the bot's direct-message channel with user: remembered in Records, or
// opened with conversations.open and remembered.
func (a *Adapter) dmChannel(ctx context.Context, team, user string) (string, bool, error) {
	key := dmKey(team, user)
	if rec, _, err := bot.Load[dmRecord](ctx, a.deps.Records, key); err == nil && rec.Chat != "" {
		return rec.Chat, true, nil
	} else if err != nil && !errors.Is(err, bot.ErrNotFound) {
		return "", false, fmt.Errorf("slack dm of %s: %w", user, err)
	}
	ch, _, _, err := a.api.OpenConversationContext(ctx, &slackgo.OpenConversationParameters{Users: []string{user}, ReturnIM: true})
	if err != nil {
		return "", false, deliveryError("slack conversations.open", err)
	}
	if ch == nil || ch.ID == "" {
		return "", false, &bot.DeliveryError{Reason: "unavailable", Err: errors.New("slack conversations.open: no channel in the answer")}
	}
	if _, err := bot.Save(ctx, a.deps.Records, key, dmRecord{Chat: ch.ID}, bot.Any); err != nil {
		a.log.Warn("dm channel not kept", "user", user, "err", err)
	}
	return ch.ID, false, nil
}

func (a *Adapter) upload(ctx context.Context, ch string, f *bot.File) error {
	if len(f.Data) == 0 {
		return &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: errors.New("slack upload: empty file")}
	}
	_, err := a.api.UploadFileContext(ctx, slackgo.UploadFileParameters{
		Reader:   bytes.NewReader(f.Data),
		FileSize: len(f.Data),
		Filename: f.Name,
		Title:    f.Name,
		Channel:  ch,
	})
	return deliveryError("slack file upload", err)
}
