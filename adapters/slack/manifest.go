package slack

import (
	"strings"

	slackgo "github.com/slack-go/slack"
)

// BotScopes are the bot token scopes this adapter needs, each for what it calls or receives:
// chat:write (chat.postMessage, chat.update, chat.postEphemeral), im:write (conversations.open),
// im:history (message.im events), app_mentions:read (app_mention events), files:write (the .ics
// files), commands (the slash command), channels:read and groups:read (conversations.info, with
// which tiltas doctor checks the app is in each configured public or private channel, and which
// member_joined_channel events need; the channel's name for the coordinators' notice).
var BotScopes = []string{"chat:write", "im:write", "im:history", "app_mentions:read", "files:write", "commands", "channels:read", "groups:read"}

// BotEvents are the Events API events this adapter handles: direct messages, mentions, and
// members joining a channel the app is in (the app's own joining tells the coordinators).
var BotEvents = []string{"message.im", "app_mention", "member_joined_channel"}

// Manifest is the Slack app manifest matching cfg: the scopes and events above, the App Home
// messages tab (people write to the bot there), interactivity (buttons), the slash command, and
// Socket Mode, or in HTTP mode the request URLs under publicURL.
func Manifest(cfg Config, name, description, publicURL string) slackgo.Manifest {
	command := cfg.Command
	if command == "" {
		command = "/tiltas"
	}
	m := slackgo.Manifest{
		Metadata: slackgo.ManifestMetadata{MajorVersion: 1, MinorVersion: 1},
		Display:  slackgo.Display{Name: name, Description: description},
		Features: slackgo.Features{
			AppHome:       slackgo.AppHome{MessagesTabEnabled: true, MessagesTabReadOnlyEnabled: false},
			BotUser:       slackgo.BotUser{DisplayName: name, AlwaysOnline: true},
			SlashCommands: []slackgo.ManifestSlashCommand{{Command: command, Description: description, UsageHint: "help | concern K-… | cancel", ShouldEscape: false}},
		},
		OAuthConfig: slackgo.OAuthConfig{Scopes: slackgo.OAuthScopes{Bot: append([]string(nil), BotScopes...)}},
		Settings: slackgo.Settings{
			EventSubscriptions: &slackgo.EventSubscriptions{BotEvents: append([]string(nil), BotEvents...)},
			Interactivity:      &slackgo.Interactivity{IsEnabled: true},
		},
	}
	if cfg.Mode == ModeHTTP {
		base := strings.TrimSuffix(publicURL, "/")
		m.Settings.EventSubscriptions.RequestUrl = base + EventsPath
		m.Settings.Interactivity.RequestUrl = base + InteractivityPath
		m.Features.SlashCommands[0].Url = base + CommandsPath
	} else {
		m.Settings.SocketModeEnabled = true
	}
	return m
}
