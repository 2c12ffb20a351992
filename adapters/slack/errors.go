package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/tiltas/tiltas/bot"
)

// defaultRetryAfter is the wait after a 429 that does not say how long to wait, or a
// "ratelimited" error in a 200 answer.
const defaultRetryAfter = 30 * time.Second

// Slack error codes by what they mean for a message (https://docs.slack.dev/reference/methods).
var errorReasons = map[string]string{
	// The conversation is gone or the bot is not in it.
	"channel_not_found": "chat_not_found",
	"not_in_channel":    "chat_not_found",
	"is_archived":       "chat_not_found",
	"user_not_found":    "chat_not_found",
	"user_not_visible":  "chat_not_found",
	"message_not_found": "chat_not_found",
	// The person cannot be written to.
	"cannot_dm_bot":         "blocked",
	"user_disabled":         "blocked",
	"restricted_dm":         "blocked",
	"messages_tab_disabled": "blocked",
	// The token is bad: nothing will get through until an operator fixes it. account_inactive
	// is the token's own account (a deleted bot user or workspace), not the recipient's.
	"invalid_auth":            "unauthorized",
	"not_authed":              "unauthorized",
	"token_revoked":           "unauthorized",
	"token_expired":           "unauthorized",
	"account_inactive":        "unauthorized",
	"missing_scope":           "unauthorized",
	"not_allowed_token_type":  "unauthorized",
	"team_access_not_granted": "unauthorized",
	"no_permission":           "unauthorized",
	"ekm_access_denied":       "unauthorized",
	// The message itself is refused.
	"invalid_blocks":        "invalid",
	"invalid_blocks_format": "invalid",
	"invalid_arguments":     "invalid",
	"invalid_form_data":     "invalid",
	"msg_too_long":          "invalid",
	"msg_blocks_too_long":   "invalid",
	"too_many_attachments":  "invalid",
	"no_text":               "invalid",
	"cant_update_message":   "invalid",
	"edit_window_closed":    "invalid",
	"invalid_file":          "invalid",
	"file_not_found":        "invalid",
}

// deliveryError says what a Web API failure means for the delivery worker: how long to wait
// after a rate limit, whether to give up for good, or to try again later. Unknown codes are
// retried (the worker bounds the attempts): a concern about a child is not dropped on a guess.
func deliveryError(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	err = fmt.Errorf("%s: %w", op, redact(err))
	var rl *slackgo.RateLimitedError
	if errors.As(err, &rl) {
		d := rl.RetryAfter
		if d <= 0 {
			d = defaultRetryAfter
		}
		return &bot.DeliveryError{Reason: "rate_limited", RetryAfter: d, Err: err}
	}
	var sc slackgo.StatusCodeError
	if errors.As(err, &sc) {
		switch {
		case sc.Code == http.StatusTooManyRequests:
			return &bot.DeliveryError{Reason: "rate_limited", RetryAfter: defaultRetryAfter, Err: err}
		case sc.Code == http.StatusUnauthorized || sc.Code == http.StatusForbidden:
			return &bot.DeliveryError{Permanent: true, Reason: "unauthorized", Err: err}
		case sc.Code >= 500:
			return &bot.DeliveryError{Reason: "unavailable", Err: err}
		default:
			return &bot.DeliveryError{Permanent: true, Reason: "invalid", Err: err}
		}
	}
	var se slackgo.SlackErrorResponse
	if errors.As(err, &se) {
		if se.Err == "ratelimited" || se.Err == "rate_limited" {
			return &bot.DeliveryError{Reason: "rate_limited", RetryAfter: defaultRetryAfter, Err: err}
		}
		if reason, ok := errorReasons[se.Err]; ok {
			return &bot.DeliveryError{Permanent: true, Reason: reason, Err: err}
		}
		return &bot.DeliveryError{Reason: "unavailable", Err: err}
	}
	return &bot.DeliveryError{Reason: "unavailable", Err: err}
}

// redact keeps a URL out of a transport error: a response_url is a capability to post into
// someone's conversation, and no URL belongs in logs.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &redacted{op: ue.Op, err: ue.Err}
	}
	return err
}

type redacted struct {
	op  string
	err error
}

func (r *redacted) Error() string { return r.op + " (url redacted): " + r.err.Error() }
func (r *redacted) Unwrap() error { return r.err }

// reasonOf returns the Slack error code in err, or "".
func reasonOf(err error) string {
	var se slackgo.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}
