package slack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	slackgo "github.com/slack-go/slack"

	"github.com/tiltas/tiltas/bot"
)

// Answer shows r's toast to the person who acted, and to no one else: through the response_url
// of a button press or slash command (an ephemeral reply, valid for 30 minutes), otherwise with
// chat.postEphemeral in the conversation they wrote in. Slack needs nothing else: the envelope or
// request was acknowledged when it was queued. A response_url must be https on Slack's hooks
// host (or the configured API host), so that a forged payload cannot make the bot post elsewhere.
func (a *Adapter) Answer(ctx context.Context, in bot.Incoming, r bot.Response) error {
	if r.Toast == "" {
		return nil
	}
	text := escape(a.native(r.Toast))
	if in.Callback != "" {
		if err := a.hookAllowed(in.Callback); err != nil {
			return err
		}
		err := slackgo.PostWebhookCustomHTTPContext(ctx, in.Callback, a.cfg.HTTPClient, &slackgo.WebhookMessage{
			Text: text, ResponseType: slackgo.ResponseTypeEphemeral, ReplaceOriginal: false,
		})
		if err != nil {
			return fmt.Errorf("slack response_url: %w", redact(err))
		}
		return nil
	}
	ch, _, err := a.conversation(ctx, in.Chat)
	if err != nil {
		return err
	}
	_, err = a.api.PostEphemeralContext(ctx, ch, in.From.User, slackgo.MsgOptionText(text, false))
	if err != nil {
		return deliveryError("slack chat.postEphemeral", err)
	}
	return nil
}

func (a *Adapter) hookAllowed(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("slack response_url: not a URL")
	}
	api, _ := url.Parse(a.cfg.APIURL)
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "https" && slices.Contains(a.hosts, host):
		return nil
	case api != nil && u.Scheme == api.Scheme && strings.EqualFold(u.Host, api.Host):
		return nil
	}
	return fmt.Errorf("slack response_url: host %q is not Slack's", host)
}
