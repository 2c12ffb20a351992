package slack

import (
	"context"
	"fmt"

	slackgo "github.com/slack-go/slack"
)

// Health is what Diagnose found of the app on Slack, for tiltas doctor.
type Health struct {
	// Team and User are the workspace and the bot user auth.test names; Err says why the token
	// was refused.
	Team, User string
	Err        error
	// Missing are the channels (as configured) the app is not in, with why.
	Missing map[string]string
}

// Diagnose asks Slack about the bot token (auth.test) and the app's membership in each of
// channels (conversations.info).
func (a *Adapter) Diagnose(ctx context.Context, channels []string) Health {
	var h Health
	r, err := a.api.AuthTestContext(ctx)
	if err != nil {
		h.Err = redact(err)
		return h
	}
	h.Team, h.User = r.TeamID, r.UserID
	h.Missing = map[string]string{}
	for _, ch := range channels {
		c, err := a.api.GetConversationInfoContext(ctx, &slackgo.GetConversationInfoInput{ChannelID: ch})
		switch {
		case err != nil:
			h.Missing[ch] = redact(err).Error()
		case !c.IsMember:
			h.Missing[ch] = fmt.Sprintf("the app is not in #%s: invite it (/invite @%s)", c.Name, r.User)
		}
	}
	return h
}
