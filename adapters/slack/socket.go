package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/tiltas/tiltas/bot"
)

// Run receives over Socket Mode until ctx ends: it opens a connection with the app-level token
// (apps.connections.open), reconnects when Slack asks or the connection dies, and queues every
// envelope's update in the Inbox before acknowledging it, so that an update Slack saw
// acknowledged is never lost; an envelope the Inbox could not take is left unacknowledged for
// Slack to deliver again. Several replicas may run it at once: Slack gives each envelope to one
// connection, and the Inbox deduplicates retries. It returns an error only when Slack refuses
// the token. In HTTP mode it returns nil at once: the handlers do the receiving.
func (a *Adapter) Run(ctx context.Context) error {
	if a.cfg.Mode != ModeSocket {
		return nil
	}
	client := socketmode.New(a.api)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- client.RunContext(ctx) }()
	for {
		select {
		case <-ctx.Done():
			<-done
			return nil
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slack socket mode: %w", redact(err))
		case ev := <-client.Events:
			a.onSocketEvent(ctx, client, ev)
		}
	}
}

func (a *Adapter) onSocketEvent(ctx context.Context, client *socketmode.Client, ev socketmode.Event) {
	switch ev.Type {
	case socketmode.EventTypeConnected:
		a.log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		if ce, ok := ev.Data.(*slackgo.ConnectionErrorEvent); ok && ce.ErrorObj != nil {
			a.log.Warn("slack socket mode connection failed; retrying", "attempt", ce.Attempt, "backoff", ce.Backoff, "err", redact(ce.ErrorObj))
		} else {
			a.log.Warn("slack socket mode connection failed; retrying")
		}
	case socketmode.EventTypeInvalidAuth:
		a.log.Error("slack refused the app-level token")
	case socketmode.EventTypeErrorBadMessage, socketmode.EventTypeIncomingError:
		a.log.Warn("slack socket mode message not understood", "type", string(ev.Type))
	case socketmode.EventTypeEventsAPI, socketmode.EventTypeInteractive, socketmode.EventTypeSlashCommand:
		if ev.Request == nil {
			return
		}
		in, ok, err := a.fromEnvelope(ctx, ev)
		if err != nil {
			a.log.Warn("slack envelope not understood; acknowledged and dropped", "envelope", ev.Request.EnvelopeID, "type", string(ev.Type), "err", err)
		}
		if ok {
			pctx, cancel := context.WithTimeout(ctx, pushTimeout)
			err := a.push(pctx, in)
			cancel()
			if err != nil {
				return // not acknowledged: Slack delivers it again
			}
		}
		if err := client.AckCtx(ctx, ev.Request.EnvelopeID, nil); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Warn("slack envelope not acknowledged", "envelope", ev.Request.EnvelopeID, "err", err)
		}
	}
}

// fromEnvelope converts a Socket Mode envelope's payload; the payloads are the same JSON that
// HTTP mode receives.
func (a *Adapter) fromEnvelope(ctx context.Context, ev socketmode.Event) (bot.Incoming, bool, error) {
	raw := ev.Request.Payload
	switch ev.Type {
	case socketmode.EventTypeEventsAPI:
		return a.fromEvent(ctx, raw)
	case socketmode.EventTypeInteractive:
		return a.fromInteraction(raw)
	default:
		var c command
		if err := json.Unmarshal(raw, &c); err != nil {
			return bot.Incoming{}, false, err
		}
		in, ok := a.fromCommand(ctx, c)
		return in, ok, nil
	}
}
