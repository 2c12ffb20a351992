// Package slack connects Tiltas to Slack workspaces (including GovSlack) through
// github.com/slack-go/slack. It is a bot.Messenger for the delivery worker (Block Kit messages
// in direct messages and channels, edits with chat.update, files through the external upload
// flow), an bot.Answerer for the processor (ephemeral toasts), and the receiver of what people
// say and press: over Socket Mode (Run) or over signed HTTP requests (Handler). Whatever arrives
// is converted to a bot.Incoming and pushed into the durable Inbox; the inbound.Processor does
// the work afterwards, so that Slack is always acknowledged within its three seconds.
//
// Everything a flow writes is plain text: the adapter escapes it for mrkdwn, so that a name or a
// note can never mention anyone, ping a channel or carry a link.
package slack

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/tiltas/tiltas/bot"
)

// Modes of receiving what people do.
const (
	// ModeSocket receives over a Socket Mode websocket opened with the app-level token: no
	// public URL is needed, which suits institutions behind firewalls.
	ModeSocket = "socket"
	// ModeHTTP receives Events API, interactivity and slash-command requests on Handler.
	ModeHTTP = "http"
)

// Paths Handler serves in HTTP mode; they are the request URLs to set in the Slack app's config.
const (
	EventsPath        = "/slack/events"
	InteractivityPath = "/slack/interactivity"
	CommandsPath      = "/slack/commands"
)

// DefaultMaxBody bounds an HTTP request's body; Slack's payloads are far smaller.
const DefaultMaxBody = 1 << 20

// Config is the adapter's settings, built by cmd/tiltas from config.Slack.
type Config struct {
	// BotToken (xoxb-…) calls the Web API.
	BotToken string
	// AppToken (xapp-…) opens Socket Mode connections; needed in socket mode only.
	AppToken string
	// SigningSecret verifies HTTP requests; needed in HTTP mode only.
	SigningSecret string
	// APIURL is the Web API base (default https://slack.com/api/; GovSlack:
	// https://slack-gov.com/api/; tests: a fake server).
	APIURL string
	// Mode is ModeSocket (default) or ModeHTTP.
	Mode string
	// MaxBody bounds an HTTP request's body (default DefaultMaxBody); larger ones get 413.
	MaxBody int64
	// Command is the slash command whose first word is the subcommand (default "/tiltas"); any
	// other command the app has is taken as a command of its own name ("/concern …").
	Command string
	// Commands are the words of the bot's commands (names and aliases). Texts that name one with a
	// slash ("/concern", "/cancel") are sent naming it as Slack lets people type it, under the
	// app's command ("/tiltas concern"): Slack's composer refuses slash commands the app did not
	// register.
	Commands []string
	// HTTPClient calls the Web API and response URLs (default: a client with a 30 s timeout).
	HTTPClient *http.Client
}

// Deps are the services the adapter works through.
type Deps struct {
	// Inbox receives what people say and press; the inbound.Processor handles it.
	Inbox bot.Inbox
	// Records keeps each person's direct-message channel, so that conversations.open is called
	// once per person.
	Records bot.Records
	// Log is scoped by the caller ("adapter": …).
	Log *slog.Logger
	// Gate takes HTTP-mode requests that are not Slack's (nil: they are only answered 401).
	Gate bot.Gate
}

// Adapter is Tiltas's Slack connection. Its methods are safe for concurrent use.
type Adapter struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	api   *slackgo.Client
	hosts []string // Slack hosts a response_url may point at
	// native rewrites "/concern" in a text to "/tiltas concern".
	native func(string) string

	selfMu sync.Mutex
	self   string // the app's bot user ID, once auth.test has said it
}

var (
	_ bot.Messenger = (*Adapter)(nil)
	_ bot.Answerer  = (*Adapter)(nil)
)

// Validate checks the configuration; each problem names its key in Tiltas's config file, where
// this adapter's part is the slack section.
func (cfg Config) Validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if !strings.HasPrefix(cfg.BotToken, "xoxb-") {
		bad("slack.bot_token", "want a bot token (xoxb-…)")
	}
	switch cfg.Mode {
	case "", ModeSocket:
		if !strings.HasPrefix(cfg.AppToken, "xapp-") {
			bad("slack.app_token", "socket mode needs an app-level token (xapp-…)")
		}
	case ModeHTTP:
		if cfg.SigningSecret == "" {
			bad("slack.signing_secret", "http mode needs the app's signing secret")
		}
	default:
		bad("slack.mode", "mode %q: want %s or %s", cfg.Mode, ModeSocket, ModeHTTP)
	}
	if cfg.Command != "" && !reSlashCommand.MatchString(cfg.Command) {
		bad("slack.command", "want a slash command such as /tiltas (a slash, then up to 31 of a-z, 0-9, _ and -), got %q", cfg.Command)
	}
	return errs
}

var reSlashCommand = regexp.MustCompile(`^/[a-z0-9_-]{1,31}$`)

// ValidCommand reports whether cmd is a slash command Slack takes: a slash, then up to 31 of
// a-z, 0-9, _ and -.
func ValidCommand(cmd string) bool { return reSlashCommand.MatchString(cmd) }

// New checks cfg and builds the adapter. It makes no network calls: Run connects, and the first
// send is the first Web API call.
func New(cfg Config, deps Deps) (*Adapter, error) {
	errs := cfg.Validate()
	if cfg.Mode == "" {
		cfg.Mode = ModeSocket
	}
	if cfg.APIURL == "" {
		cfg.APIURL = slackgo.APIURL
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	api, err := url.Parse(cfg.APIURL)
	if err != nil || api.Host == "" || (api.Scheme != "https" && api.Scheme != "http") {
		errs = append(errs, fmt.Errorf("slack: api url %q is not an http(s) URL", cfg.APIURL))
	}
	if deps.Inbox == nil {
		errs = append(errs, errors.New("slack: an inbox is required"))
	}
	if deps.Records == nil {
		errs = append(errs, errors.New("slack: records are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Command == "" {
		cfg.Command = "/tiltas"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	a := &Adapter{cfg: cfg, deps: deps, log: deps.Log, native: nativeCommands(cfg.Command, cfg.Commands)}
	a.api = slackgo.New(cfg.BotToken,
		slackgo.OptionAPIURL(cfg.APIURL),
		slackgo.OptionAppLevelToken(cfg.AppToken),
		slackgo.OptionHTTPClient(cfg.HTTPClient))
	// Response URLs are Slack's own hooks (Answer also allows the API host: a fake in tests).
	a.hosts = []string{"hooks.slack.com", "hooks.slack-gov.com"}
	return a, nil
}

// Mode returns the configured mode, ModeSocket or ModeHTTP.
func (a *Adapter) Mode() string { return a.cfg.Mode }

// Identity is a Slack account as Tiltas knows it: the workspace and the user in it.
func Identity(team, user string) bot.Identity {
	return bot.Identity{Platform: bot.Slack, Team: team, User: user}
}

// DM is the direct-message conversation with user, which the adapter opens on the first send.
func DM(team, user string) bot.Address {
	return bot.Address{Platform: bot.Slack, Team: team, User: user}
}

// Channel is a channel (public or private) the bot is a member of; no case detail goes there.
func Channel(team, channel string) bot.Address {
	return bot.Address{Platform: bot.Slack, Team: team, Chat: channel, Group: true}
}
