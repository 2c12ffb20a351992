// Package telegram connects Tiltas to Telegram through github.com/go-telegram/bot: it delivers
// the outbox's messages (HTML with every string escaped, long texts split at line ends, inline
// keyboards carrying the engine's opaque tokens), answers button presses, and feeds what people
// send into the durable inbox, by long polling under a lease or through a webhook.
//
// Nothing here handles an update: the adapter only converts and pushes, and the inbound
// Processor handles each chat's updates one at a time. The library's own polling loop and
// webhook handler are not used, because both confirm or accept an update before it is durable.
package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	tg "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/tiltas/tiltas/bot"
)

// Modes of receiving updates.
const (
	ModePolling = "polling"
	ModeWebhook = "webhook"
)

// Defaults for Config.
const (
	DefaultAPIURL      = "https://api.telegram.org"
	DefaultLease       = 10 * time.Second
	DefaultPollTimeout = 4 * time.Second
	DefaultMaxBody     = 1 << 20
	DefaultSendTimeout = 30 * time.Second
)

// PollLease is the Locker lease a replica holds while it polls: Telegram answers a second
// concurrent getUpdates with 409 Conflict.
const PollLease = "telegram-poll"

// Config is the adapter's part of the configuration. Token and, in webhook mode, WebhookURL and
// WebhookSecret are required.
type Config struct {
	Token string
	// APIURL is the Bot API server (default https://api.telegram.org): a self-hosted one, or a
	// fake in tests.
	APIURL string
	// BotUsername decides which "/cmd@name" commands in groups are ours. Start asks getMe when it
	// is empty.
	BotUsername string
	// Mode is "polling" (default) or "webhook".
	Mode string
	// WebhookURL is the public HTTPS URL Telegram posts updates to (webhook mode).
	WebhookURL string
	// WebhookSecret is sent by Telegram in X-Telegram-Bot-Api-Secret-Token and checked on every
	// webhook request: 1-256 characters of A-Z, a-z, 0-9, _ and -.
	WebhookSecret string
	// WebhookConnections is setWebhook's max_connections (default 1): one connection delivers
	// updates in order, so that the inbox receives each chat's updates in the order sent.
	WebhookConnections int
	// MaxBody bounds a webhook request body (default 1 MiB).
	MaxBody int64
	// Lease is how long a dead poller keeps the others waiting (default 10s; at least 2s makes
	// sense); PollTimeout is the long-poll wait (default 4s; whole seconds from 1s to half the
	// lease), so that the poller renews its lease in time.
	Lease       time.Duration
	PollTimeout time.Duration
	// SendTimeout bounds one Bot API call made for delivery (default 30s).
	SendTimeout time.Duration
}

// Deps are the services the adapter works through.
type Deps struct {
	// Inbox receives every update worth handling, before it is confirmed to Telegram.
	Inbox bot.Inbox
	// Locker elects the one replica that polls.
	Locker bot.Locker
	// Records keeps the polling offset and the groups that became supergroups.
	Records bot.Records
	// Log is scoped by the caller ("adapter": …).
	Log *slog.Logger
	// Owner names this replica in the poll lease (default: random).
	Owner string
	// Gate takes webhook requests with a wrong secret (nil: they are only answered 401).
	Gate bot.Gate
}

// Adapter is the Telegram side of Tiltas: a bot.Messenger for the delivery worker, an
// bot.Answerer for the processor, a poller and a webhook handler.
type Adapter struct {
	cfg       Config
	deps      Deps
	log       *slog.Logger
	tg        *tg.Bot
	transport *http.Transport
	poll      *http.Client
	username  string
	secret    [32]byte // sha256 of WebhookSecret, compared in constant time
}

var (
	_ bot.Messenger = (*Adapter)(nil)
	_ bot.Answerer  = (*Adapter)(nil)
)

var (
	// reSecret is the webhook secret: Telegram takes 1–256 of these characters; fewer than 16 is
	// too easy to guess.
	reSecret   = regexp.MustCompile(`^[A-Za-z0-9_-]{16,256}$`)
	reUsername = regexp.MustCompile(`^@?[A-Za-z][A-Za-z0-9_]{3,31}$`)
)

// Validate checks the configuration; each problem names its key in Tiltas's config file, where
// this adapter's part is the telegram section (its webhook URL is http.public_url's).
func (cfg Config) Validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(cfg.Token) == "" {
		bad("telegram.token", "the token is empty")
	}
	switch cfg.Mode {
	case "", ModePolling:
	case ModeWebhook:
		if !strings.HasPrefix(cfg.WebhookURL, "https://") {
			bad("http.public_url", "telegram webhook mode needs an https:// public URL, got %q", strings.TrimSuffix(cfg.WebhookURL, "/telegram/webhook"))
		}
		if !reSecret.MatchString(cfg.WebhookSecret) {
			bad("telegram.webhook_secret", "webhook mode needs a secret of 16-256 characters of A-Z, a-z, 0-9, _ and -")
		}
	default:
		bad("telegram.mode", "want polling or webhook, got %q", cfg.Mode)
	}
	if cfg.BotUsername != "" && !reUsername.MatchString(cfg.BotUsername) {
		bad("telegram.bot_username", "not a Telegram username: %q", cfg.BotUsername)
	}
	return errs
}

// New builds the adapter from cfg. It makes no network call: Start talks to Telegram.
func New(cfg Config, deps Deps) (*Adapter, error) {
	errs := cfg.Validate()
	if cfg.Mode == "" {
		cfg.Mode = ModePolling
	}
	if deps.Inbox == nil {
		errs = append(errs, errors.New("telegram: no inbox"))
	}
	if deps.Records == nil {
		errs = append(errs, errors.New("telegram: no records store"))
	}
	if deps.Locker == nil && cfg.Mode == ModePolling {
		errs = append(errs, errors.New("telegram: polling needs a locker"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if cfg.WebhookConnections <= 0 {
		cfg.WebhookConnections = 1
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = DefaultPollTimeout
	}
	cfg.PollTimeout = max(time.Second, min(cfg.PollTimeout, cfg.Lease/2)).Truncate(time.Second)
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Owner == "" {
		deps.Owner = bot.NewID()
	}
	a := &Adapter{cfg: cfg, deps: deps, log: deps.Log, username: strings.TrimPrefix(cfg.BotUsername, "@")}
	a.secret = hashSecret(cfg.WebhookSecret)
	// One pool for sends and polls. The default transport keeps two idle connections per host,
	// which makes parallel deliveries open and close connections all the time; this one keeps as
	// many as the delivery worker sends at once (128 by default).
	a.transport = &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	a.poll = &http.Client{Transport: a.transport}
	b, err := tg.New(cfg.Token,
		tg.WithServerURL(cfg.APIURL),
		tg.WithSkipGetMe(),
		tg.WithHTTPClient(cfg.SendTimeout, &http.Client{Transport: wholeBody{a.transport}, Timeout: cfg.SendTimeout}),
		tg.WithErrorsHandler(func(err error) { a.log.Warn("telegram library error", "err", redact(err, cfg.Token)) }),
		tg.WithDefaultHandler(func(context.Context, *tg.Bot, *models.Update) {}),
	)
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", redact(err, cfg.Token))
	}
	a.tg = b
	return a, nil
}

// Close drops idle connections to the Bot API; call it after the adapter's goroutines stopped.
func (a *Adapter) Close() { a.transport.CloseIdleConnections() }

// BotUsername is the username commands in groups must name, once known.
func (a *Adapter) BotUsername() string { return a.username }

// Command is one entry of the bot's command menu, in both languages.
type Command struct {
	Name          string
	DescriptionLT string
	DescriptionEN string
	// Private commands are offered in private chats only: a group's menu leaves them out.
	Private bool
}

// EngineCommands lists e's commands that have help, with their help texts in Lithuanian and
// English, for Start.
func EngineCommands(e *bot.Engine) []Command {
	var out []Command
	for _, c := range e.Commands() {
		if c.Help == "" {
			continue
		}
		out = append(out, Command{Name: c.Name, DescriptionLT: e.Texts.T("lt", c.Help), DescriptionEN: e.Texts.T("en", c.Help), Private: c.Private})
	}
	return out
}

var reCommandName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// Start prepares Telegram for this mode: setWebhook (with the secret) in webhook mode,
// deleteWebhook in polling mode, and the command menu with setMyCommands, Lithuanian by default
// and English for English-speaking clients. It asks getMe for the username when none is
// configured. Run it once at start-up, before RunPolling or serving the webhook.
func (a *Adapter) Start(ctx context.Context, commands []Command) error {
	if a.username == "" {
		me, err := a.tg.GetMe(ctx)
		if err != nil {
			return fmt.Errorf("telegram getMe: %w", redact(err, a.cfg.Token))
		}
		a.username = me.Username
	}
	if a.cfg.Mode == ModeWebhook {
		_, err := a.tg.SetWebhook(ctx, &tg.SetWebhookParams{
			URL: a.cfg.WebhookURL, SecretToken: a.cfg.WebhookSecret,
			MaxConnections: a.cfg.WebhookConnections, AllowedUpdates: allowedUpdates,
		})
		if err != nil {
			return fmt.Errorf("telegram setWebhook: %w", redact(err, a.cfg.Token))
		}
	} else if _, err := a.tg.DeleteWebhook(ctx, &tg.DeleteWebhookParams{}); err != nil {
		return fmt.Errorf("telegram deleteWebhook: %w", redact(err, a.cfg.Token))
	}
	// The menu per scope and language: private chats get every command, groups only those that
	// make sense there; the default scope (older clients) every command.
	type menu struct {
		scope   models.BotCommandScope
		private bool
	}
	for _, m := range []menu{{nil, true}, {&models.BotCommandScopeAllPrivateChats{}, true}, {&models.BotCommandScopeAllGroupChats{}, false}} {
		var lt, en []models.BotCommand
		for _, c := range commands {
			if !reCommandName.MatchString(c.Name) || (c.Private && !m.private) {
				continue
			}
			if d := menuText(c.DescriptionLT); d != "" {
				lt = append(lt, models.BotCommand{Command: c.Name, Description: d})
			}
			if d := menuText(cmpOr(c.DescriptionEN, c.DescriptionLT)); d != "" {
				en = append(en, models.BotCommand{Command: c.Name, Description: d})
			}
		}
		for _, set := range []struct {
			lang string
			cmds []models.BotCommand
		}{{"", lt}, {"en", en}} {
			if len(set.cmds) > 100 {
				set.cmds = set.cmds[:100]
			}
			var err error
			if len(set.cmds) == 0 {
				_, err = a.tg.DeleteMyCommands(ctx, &tg.DeleteMyCommandsParams{Scope: m.scope, LanguageCode: set.lang})
			} else {
				_, err = a.tg.SetMyCommands(ctx, &tg.SetMyCommandsParams{Commands: set.cmds, Scope: m.scope, LanguageCode: set.lang})
			}
			if err != nil {
				return fmt.Errorf("telegram setMyCommands %q: %w", set.lang, redact(err, a.cfg.Token))
			}
		}
	}
	return nil
}

// Profile is what a stranger sees of the bot before pressing Start: its description (up to 512
// characters) and short description (up to 120, also shown when it is shared), in Lithuanian
// (the default) and English.
type Profile struct {
	DescriptionLT, DescriptionEN           string
	ShortDescriptionLT, ShortDescriptionEN string
}

// EngineProfile is the bot's profile from e's catalog (telegram.description, .short_description).
func EngineProfile(e *bot.Engine) Profile {
	return Profile{DescriptionLT: e.Texts.T("lt", "telegram.description"), DescriptionEN: e.Texts.T("en", "telegram.description"),
		ShortDescriptionLT: e.Texts.T("lt", "telegram.short_description"), ShortDescriptionEN: e.Texts.T("en", "telegram.short_description")}
}

// SetProfile sets the bot's description and short description in both languages
// (setMyDescription, setMyShortDescription).
func (a *Adapter) SetProfile(ctx context.Context, p Profile) error {
	for _, set := range []struct{ lang, long, short string }{{"", p.DescriptionLT, p.ShortDescriptionLT}, {"en", p.DescriptionEN, p.ShortDescriptionEN}} {
		if _, err := a.tg.SetMyDescription(ctx, &tg.SetMyDescriptionParams{Description: clip(set.long, 512), LanguageCode: set.lang}); err != nil {
			return fmt.Errorf("telegram setMyDescription %q: %w", set.lang, redact(err, a.cfg.Token))
		}
		if _, err := a.tg.SetMyShortDescription(ctx, &tg.SetMyShortDescriptionParams{ShortDescription: clip(set.short, 120), LanguageCode: set.lang}); err != nil {
			return fmt.Errorf("telegram setMyShortDescription %q: %w", set.lang, redact(err, a.cfg.Token))
		}
	}
	return nil
}

// clip cuts s to n characters.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) > n {
		return string([]rune(s)[:n-1]) + "…"
	}
	return s
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// menuText fits a description to Telegram's 1-256 characters.
func menuText(s string) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > 256 {
		s = string([]rune(s)[:255]) + "…"
	}
	return s
}

// allowedUpdates are the kinds Tiltas handles; Telegram need not send the rest.
var allowedUpdates = []string{models.AllowedUpdateMessage, models.AllowedUpdateCallbackQuery, models.AllowedUpdateMyChatMember}

// redact removes the token from err's text, for errors the library did not already clean.
func redact(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return redactedError{msg: strings.ReplaceAll(err.Error(), token, "<token>"), err: err}
}

// redactedError keeps the chain for errors.Is and errors.As but never prints the token.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }
