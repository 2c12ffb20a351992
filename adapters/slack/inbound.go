package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	slackgo "github.com/slack-go/slack"

	"github.com/tiltas/tiltas/bot"
)

// Kinds of incoming updates, for metrics.
const (
	kindMessage = "message"
	kindMention = "mention"
	kindCommand = "command"
	kindButton  = "callback"
)

// eventCallback is the Events API envelope, the same over HTTP and in a Socket Mode payload.
type eventCallback struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge"`
	TeamID    string          `json:"team_id"`
	EventID   string          `json:"event_id"`
	Event     json.RawMessage `json:"event"`
	// Authorizations name the installation the event is for: its bot user is the app itself.
	Authorizations []struct {
		UserID string `json:"user_id"`
		IsBot  bool   `json:"is_bot"`
	} `json:"authorizations"`
}

type messageEvent struct {
	Type        string `json:"type"`
	Subtype     string `json:"subtype"`
	User        string `json:"user"`
	BotID       string `json:"bot_id"`
	Text        string `json:"text"`
	Channel     string `json:"channel"`
	ChannelType string `json:"channel_type"`
	TS          string `json:"ts"`
	ThreadTS    string `json:"thread_ts"`
	Team        string `json:"team"`
	UserTeam    string `json:"user_team"`
	Inviter     string `json:"inviter"` // member_joined_channel: who invited the member
}

// interaction is a block_actions payload.
type interaction struct {
	Type string `json:"type"`
	Team struct {
		ID string `json:"id"`
	} `json:"team"`
	User struct {
		ID     string `json:"id"`
		TeamID string `json:"team_id"`
	} `json:"user"`
	Channel struct {
		ID string `json:"id"`
	} `json:"channel"`
	Container struct {
		MessageTS   string `json:"message_ts"`
		ChannelID   string `json:"channel_id"`
		IsEphemeral bool   `json:"is_ephemeral"`
	} `json:"container"`
	Message struct {
		TS string `json:"ts"`
	} `json:"message"`
	TriggerID   string `json:"trigger_id"`
	ResponseURL string `json:"response_url"`
	Actions     []struct {
		Type     string `json:"type"`
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
		ActionTS string `json:"action_ts"`
	} `json:"actions"`
}

// command is a slash-command invocation: form fields over HTTP, a JSON payload in Socket Mode.
type command struct {
	TeamID      string `json:"team_id"`
	ChannelID   string `json:"channel_id"`
	UserID      string `json:"user_id"`
	Command     string `json:"command"`
	Text        string `json:"text"`
	ResponseURL string `json:"response_url"`
	TriggerID   string `json:"trigger_id"`
}

func commandFromForm(v url.Values) command {
	return command{TeamID: v.Get("team_id"), ChannelID: v.Get("channel_id"), UserID: v.Get("user_id"),
		Command: v.Get("command"), Text: v.Get("text"), ResponseURL: v.Get("response_url"), TriggerID: v.Get("trigger_id")}
}

// isIM reports whether a conversation ID is a direct message: Slack's IM IDs start with D.
func isIM(channel string) bool { return strings.HasPrefix(channel, "D") }

// fromEvent converts an Events API callback. Only what people say to the bot counts: text
// messages in its direct messages (no bot messages, edits or other subtypes) and mentions of it
// in channels, which are taken as commands ("@Tiltas help" is "/help"); and the app's own
// joining a channel (bot.KindJoined), so that the coordinators learn its ID. ok is false for
// anything else, which is acknowledged and dropped.
func (a *Adapter) fromEvent(ctx context.Context, raw []byte) (in bot.Incoming, ok bool, err error) {
	var cb eventCallback
	if err := json.Unmarshal(raw, &cb); err != nil {
		return in, false, err
	}
	if cb.Type != "event_callback" || len(cb.Event) == 0 {
		return in, false, nil
	}
	var ev messageEvent
	if err := json.Unmarshal(cb.Event, &ev); err != nil {
		return in, false, err
	}
	if ev.BotID != "" || ev.User == "" || ev.Channel == "" {
		return in, false, nil
	}
	team := cb.TeamID
	userTeam := firstOf(ev.UserTeam, ev.Team, team)
	id := "slack:ev:" + firstOf(cb.EventID, team+":"+ev.Channel+":"+ev.TS)
	switch ev.Type {
	case "message":
		if ev.Subtype != "" || !(ev.ChannelType == "im" || ev.ChannelType == "" && isIM(ev.Channel)) {
			return in, false, nil
		}
		return bot.Incoming{ID: id, From: Identity(userTeam, ev.User), Kind: kindMessage,
			Chat: bot.Address{Platform: bot.Slack, Team: team, Chat: ev.Channel, User: ev.User},
			Text: plain(ev.Text)}, true, nil
	case "member_joined_channel":
		if !a.isSelf(ctx, ev.User, cb) {
			return in, false, nil // someone else joined a channel the app is in
		}
		return bot.Incoming{ID: id, Kind: bot.KindJoined, From: Identity(team, firstOf(ev.Inviter, ev.User)),
			Chat:   bot.Address{Platform: bot.Slack, Team: team, Chat: ev.Channel, Group: true},
			Joined: a.channelName(ctx, ev.Channel)}, true, nil
	case "app_mention":
		if isIM(ev.Channel) || ev.ChannelType == "im" {
			return in, false, nil // the same words come as a direct message
		}
		text, addressed := mentionCommand(ev.Text)
		if !addressed {
			return in, false, nil
		}
		return bot.Incoming{ID: id, From: Identity(userTeam, ev.User), Kind: kindMention,
			Chat: bot.Address{Platform: bot.Slack, Team: team, Chat: ev.Channel, Thread: firstOf(ev.ThreadTS, ev.TS), Group: true},
			Text: text}, true, nil
	}
	return in, false, nil
}

// isSelf reports whether user is the app's bot user: named by the event's authorizations, or,
// when an event comes without them, by auth.test (asked once).
func (a *Adapter) isSelf(ctx context.Context, user string, cb eventCallback) bool {
	for _, au := range cb.Authorizations {
		if au.IsBot {
			return au.UserID == user
		}
	}
	a.selfMu.Lock()
	defer a.selfMu.Unlock()
	if a.self == "" {
		r, err := a.api.AuthTestContext(ctx)
		if err != nil {
			a.log.Warn("slack auth.test failed; a channel join is taken as someone else's", "err", err)
			return false
		}
		a.self = r.UserID
	}
	return a.self == user
}

// channelName is a channel's name for the coordinators' notice, or its ID when Slack
// will not say.
func (a *Adapter) channelName(ctx context.Context, ch string) string {
	c, err := a.api.GetConversationInfoContext(ctx, &slackgo.GetConversationInfoInput{ChannelID: ch})
	if err != nil || c.Name == "" {
		return ch
	}
	return c.Name
}

// fromInteraction converts a block_actions payload: the pressed button's value is its token.
func (a *Adapter) fromInteraction(raw []byte) (in bot.Incoming, ok bool, err error) {
	var ia interaction
	if err := json.Unmarshal(raw, &ia); err != nil {
		return in, false, err
	}
	if ia.Type != "block_actions" || ia.User.ID == "" {
		return in, false, nil
	}
	var token, actionTS string
	for _, act := range ia.Actions {
		if act.Type == "button" && act.Value != "" {
			token, actionTS = act.Value, act.ActionTS
			break
		}
	}
	if token == "" {
		return in, false, nil
	}
	team := ia.Team.ID
	chat := firstOf(ia.Container.ChannelID, ia.Channel.ID)
	in = bot.Incoming{
		ID:       "slack:act:" + firstOf(ia.TriggerID, team+":"+ia.User.ID+":"+actionTS),
		From:     Identity(firstOf(ia.User.TeamID, team), ia.User.ID),
		Chat:     bot.Address{Platform: bot.Slack, Team: team, Chat: chat, Group: !isIM(chat)},
		Button:   token,
		Callback: ia.ResponseURL,
		Kind:     kindButton,
	}
	if !in.Chat.Group {
		in.Chat.User = ia.User.ID
	}
	if ts := firstOf(ia.Container.MessageTS, ia.Message.TS); ts != "" && chat != "" && !ia.Container.IsEphemeral {
		in.Message = &bot.MessageRef{Platform: bot.Slack, Team: team, Chat: chat, ID: ts}
	}
	return in, true, nil
}

// commandHash stands in for a slash command's trigger_id when it has none: the same command typed
// by the same person in the same conversation is the same update. It is a hash, because the ID
// lands in Redis key names and the log, where the command's text (a case code, a description)
// must not.
func commandHash(c command) string {
	h := sha256.Sum256([]byte(strings.Join([]string{c.TeamID, c.UserID, c.ChannelID, c.Command, c.Text}, "\x00")))
	return "h" + hex.EncodeToString(h[:16])
}

// fromCommand converts a slash command. "/tiltas concern K-1 …" is "/concern K-1 …",
// "/tiltas link CODE" is "link CODE" and "/tiltas" alone is "/help". Typed in a channel, the
// answer goes to the channel, where the engine says no more than a channel may hear. Typed in a
// direct message, it belongs to the person's direct conversation with the bot, whichever DM it
// was typed in (it may be one between two people, which the bot cannot read): that conversation
// is known from Records or opened with conversations.open, so that the command and the words
// that follow it (a dialog's answers) are in the same conversation.
func (a *Adapter) fromCommand(ctx context.Context, c command) (in bot.Incoming, ok bool) {
	if c.UserID == "" || c.Command == "" {
		return in, false
	}
	in = bot.Incoming{
		ID:       "slack:cmd:" + firstOf(c.TriggerID, commandHash(c)),
		From:     Identity(c.TeamID, c.UserID),
		Text:     commandText(a.cfg.Command, c.Command, c.Text),
		Callback: c.ResponseURL,
		Kind:     kindCommand,
	}
	in.Chat = bot.Address{Platform: bot.Slack, Team: c.TeamID, Chat: c.ChannelID, Group: true}
	if c.ChannelID == "" || isIM(c.ChannelID) {
		in.Chat = DM(c.TeamID, c.UserID)
		ctx, cancel := context.WithTimeout(ctx, dmLookupTimeout)
		defer cancel()
		ch, _, err := a.dmChannel(ctx, c.TeamID, c.UserID)
		if err != nil {
			a.log.Warn("slack dm not known for a command; the reply opens it", "user", c.UserID, "err", err)
		} else {
			in.Chat.Chat = ch
		}
	}
	return in, true
}

// dmLookupTimeout bounds the conversations.open a command may need, well within the three
// seconds Slack waits for the acknowledgement.
const dmLookupTimeout = time.Second

// commandText maps a slash command to the text the engine parses.
func commandText(main, cmd, text string) string {
	text = strings.TrimSpace(plain(text))
	if !strings.EqualFold(cmd, main) {
		return strings.TrimSpace(cmd + " " + text)
	}
	if text == "" {
		return "/help"
	}
	sub, rest := text, ""
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		sub, rest = text[:i], strings.TrimSpace(text[i:])
	}
	sub = strings.TrimPrefix(sub, "/")
	if strings.EqualFold(sub, "link") {
		return strings.TrimSpace("link " + rest)
	}
	return strings.TrimSpace("/" + sub + " " + rest)
}

var leadingMention = regexp.MustCompile(`^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s:,]*`)

// mentionCommand turns "<@BOT> concern K-1" into "/concern K-1"; a mention that does not start
// the message is not addressed to the bot.
func mentionCommand(text string) (string, bool) {
	loc := leadingMention.FindStringIndex(text)
	if loc == nil {
		return "", false
	}
	rest := strings.TrimSpace(plain(text[loc[1]:]))
	if rest == "" {
		return "/help", true
	}
	if !strings.HasPrefix(rest, "/") {
		rest = "/" + rest
	}
	return rest, true
}

var entities = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// plain undoes Slack's escaping of &, < and > in what people typed.
func plain(s string) string { return entities.Replace(s) }

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
