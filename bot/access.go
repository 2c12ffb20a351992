package bot

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// account is a person's one linked chat account ("acct/<person>"); link is its reverse
// ("link/<identity>"). A person has one account on one platform: linking anew replaces it.
type account struct {
	Person   string    `json:"person"`
	Identity Identity  `json:"identity"`
	DM       Address   `json:"dm"`
	Linked   time.Time `json:"linked"`
	// Lang copies the person's language choice (kept in "pref/<person>"), so that handling a
	// message or sending one needs no second read.
	Lang string `json:"lang,omitempty"`
}

type invite struct {
	Person  string    `json:"person"`
	By      string    `json:"by"`
	Created time.Time `json:"created"`
}

type prefs struct {
	Language string `json:"language,omitempty"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// PersonFor returns the person linked to id, or nil when there is none or the person is no
// longer in the directory.
func (e *Engine) PersonFor(ctx context.Context, id Identity) (*Person, error) {
	p, _, err := e.whoIs(ctx, id)
	return p, err
}

// whoIs returns the person linked to id and their account.
func (e *Engine) whoIs(ctx context.Context, id Identity) (*Person, account, error) {
	a, _, err := Load[account](ctx, e.Records, "link/"+id.Key())
	if errors.Is(err, ErrNotFound) {
		return nil, a, nil
	}
	if err != nil {
		return nil, a, err
	}
	return e.Directory().Person(a.Person), a, nil
}

// AddressOf returns where direct messages to person go, or ErrNotFound when not linked.
func (e *Engine) AddressOf(ctx context.Context, person string) (Address, error) {
	a, _, err := Load[account](ctx, e.Records, "acct/"+person)
	if err != nil {
		return Address{}, err
	}
	return a.DM, nil
}

// Language returns the language person reads: their own choice, the directory's, or the default.
func (e *Engine) Language(ctx context.Context, p *Person) string {
	if p == nil {
		return e.Directory().Language
	}
	a, _, err := Load[account](ctx, e.Records, "acct/"+p.ID)
	if err != nil {
		a = account{}
	}
	return e.languageOf(p, a)
}

func (e *Engine) languageOf(p *Person, a account) string {
	switch {
	case a.Lang != "":
		return a.Lang
	case p != nil && p.Language != "":
		return p.Language
	}
	return e.Directory().Language
}

// SetLanguage stores person's language choice, and copies it onto their account.
func (e *Engine) SetLanguage(ctx context.Context, person, lang string) error {
	if _, err := Update(ctx, e.Records, "pref/"+person, func(p *prefs, _ bool) ([]IndexOp, error) {
		p.Language = lang
		return nil, nil
	}); err != nil {
		return err
	}
	a, err := Update(ctx, e.Records, "acct/"+person, func(a *account, exists bool) ([]IndexOp, error) {
		if !exists {
			return nil, ErrNotFound
		}
		a.Lang = lang
		return nil, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = Save(ctx, e.Records, "link/"+a.Identity.Key(), a, Any)
	return err
}

func hashCode(code string) string {
	sum := sha256.Sum256([]byte(strings.ToUpper(strings.TrimSpace(code))))
	return hex.EncodeToString(sum[:])
}

const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// Invite creates a one-time link code for person, valid for the configured time. Only its hash
// is stored.
func (e *Engine) Invite(ctx context.Context, person, by string) (string, error) {
	if e.Directory().Person(person) == nil {
		return "", fmt.Errorf("invite %s: %w", person, ErrNotFound)
	}
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	code := string(b)
	// A new code replaces a pending one.
	if _, err := e.WithdrawInvite(ctx, person, ""); err != nil {
		return "", err
	}
	_, err := e.Records.Write(ctx, Write{Key: "invite/" + hashCode(code), Data: mustJSON(invite{Person: person, By: by, Created: e.Clock.Now()}), TTL: e.Settings.InviteTTL})
	if err != nil {
		return "", fmt.Errorf("store invite: %w", err)
	}
	pending := invited{Hash: hashCode(code), By: by, Expires: e.Clock.Now().Add(e.Settings.InviteTTL)}
	if _, err := e.Records.Write(ctx, Write{Key: "invited/" + person, Data: mustJSON(pending), Version: Any, TTL: e.Settings.InviteTTL}); err != nil {
		return "", fmt.Errorf("store invite: %w", err)
	}
	e.Record(ctx, AuditEvent{Actor: by, Kind: "access.invited", To: person})
	return code, nil
}

// DeepLink returns the Telegram link that redeems code, when the bot's username is known.
func (e *Engine) DeepLink(code string) string {
	if e.Settings.BotUsername == "" {
		return ""
	}
	return "https://t.me/" + e.Settings.BotUsername + "?start=" + code
}

// Redeem links identity to the person code was made for. Codes are single use; wrong guesses are
// counted per account and refused beyond the limit.
func (e *Engine) Redeem(ctx context.Context, id Identity, dm Address, code string) (*Person, error) {
	n, err := e.Marks.Count(ctx, "guess/"+id.Key(), time.Hour)
	if err != nil {
		return nil, err
	}
	if n > e.Settings.InviteGuesses {
		e.Refused(ctx, "", "", "invite_throttled")
		return nil, Tell("access.throttled")
	}
	key := "invite/" + hashCode(code)
	inv, ver, err := Load[invite](ctx, e.Records, key)
	if errors.Is(err, ErrNotFound) {
		e.Refused(ctx, "", "", "invite_invalid")
		return nil, Tell("access.bad_code")
	}
	if err != nil {
		return nil, err
	}
	if _, err := e.Records.Write(ctx, Write{Key: key, Version: ver}); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, Tell("access.bad_code") // someone redeemed it a moment ago
		}
		return nil, err
	}
	p := e.Directory().Person(inv.Person)
	if p == nil {
		return nil, Tell("access.bad_code")
	}
	if err := e.link(ctx, p.ID, id, dm); err != nil {
		return nil, err
	}
	if err := Delete(ctx, e.Records, "invited/"+p.ID); err != nil {
		return nil, err
	}
	_ = e.Marks.Unmark(ctx, "guess/"+id.Key())
	e.Record(ctx, AuditEvent{Actor: p.ID, Kind: "access.linked", Reason: string(id.Platform)})
	return p, nil
}

// Link binds an identity to a person directly (the console demo, tests).
func (e *Engine) Link(ctx context.Context, person string, id Identity, dm Address) error {
	return e.link(ctx, person, id, dm)
}

func (e *Engine) link(ctx context.Context, person string, id Identity, dm Address) error {
	lang := ""
	if pr, _, err := Load[prefs](ctx, e.Records, "pref/"+person); err == nil {
		lang = pr.Language
	}
	var old *account
	acct, err := Update(ctx, e.Records, "acct/"+person, func(a *account, exists bool) ([]IndexOp, error) {
		if exists && a.Identity != id {
			prev := *a
			old = &prev
		}
		*a = account{Person: person, Identity: id, DM: dm, Linked: e.Clock.Now(), Lang: lang}
		return nil, nil
	})
	if err != nil {
		return err
	}
	if old != nil {
		if err := Delete(ctx, e.Records, "link/"+old.Identity.Key()); err != nil {
			return err
		}
	}
	_, err = Save(ctx, e.Records, "link/"+id.Key(), acct, Any)
	return err
}

// Unlink revokes person's chat account.
func (e *Engine) Unlink(ctx context.Context, person, by string) (bool, error) {
	if _, _, err := Load[account](ctx, e.Records, "acct/"+person); errors.Is(err, ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if err := e.unlink(ctx, person); err != nil {
		return false, err
	}
	e.Record(ctx, AuditEvent{Actor: by, Kind: "access.revoked", To: person})
	return true, nil
}

// unlink removes person's account and its reverse link, if any; it may run again.
func (e *Engine) unlink(ctx context.Context, person string) error {
	a, _, err := Load[account](ctx, e.Records, "acct/"+person)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := Delete(ctx, e.Records, "link/"+a.Identity.Key()); err != nil {
		return err
	}
	return Delete(ctx, e.Records, "acct/"+person)
}

// strangerReplies is how many people who are not linked are told, a minute, how to get access.
const strangerReplies = 60

// stranger answers someone not linked: a link code is tried; anything else gets one short
// message (at most once an hour) saying how to get access, and nothing else.
func (e *Engine) stranger(ctx context.Context, r *Request, in Incoming) error {
	name, args := parseCommand(r.Text)
	if (name == "start" || name == "link") && len(args) == 1 && !in.Chat.Group {
		p, err := e.Redeem(ctx, in.From, in.Chat, args[0])
		var pr *Problem
		if errors.As(err, &pr) {
			return r.Say(ctx, pr.ID, pr.KV...)
		}
		if err != nil {
			return err
		}
		r.Person, r.Lang = p, e.Language(ctx, p)
		return r.Say(ctx, "access.linked", "Name", p.Name)
	}
	// Someone not linked is refused without a trace of their own: counted and summed up by the
	// gate. The hint how to get access goes to each at most once an hour, and to at most
	// strangerReplies of them a minute in all, so that a crowd of strangers costs a few keys.
	e.Gate.Refuse("chat.not_linked", in.From.Key())
	r.forget = true
	if in.Button != "" {
		r.Toast(r.T("access.not_linked"))
		return nil
	}
	if in.Chat.Group && name == "" {
		return nil
	}
	minute := e.Clock.Now().Truncate(time.Minute).Unix()
	n, err := e.Marks.Count(ctx, "strangers/"+strconv.FormatInt(minute, 10), 2*time.Minute)
	if err != nil || n > strangerReplies {
		return err
	}
	first, err := e.Marks.Mark(ctx, "stranger/"+in.From.Key(), time.Hour)
	if err != nil || !first {
		return err
	}
	return r.Say(ctx, "access.not_linked")
}

// joined tells the coordinators that the bot was added to a group the directory does not know,
// with the group's name and chat ID and the line to add to the config, so that it gets its
// notices once it is there. Whoever added it is not asked who they are: the group receives
// nothing until the config names it.
func (e *Engine) joined(ctx context.Context, in Incoming) error {
	for _, g := range e.Directory().Groups {
		if g.Address.Platform == in.Chat.Platform && g.Address.Chat == in.Chat.Chat {
			return nil // already configured
		}
	}
	team := ""
	if in.Chat.Team != "" {
		team = " team: " + in.Chat.Team + ","
	}
	line := fmt.Sprintf(`- {id: %s, name: %q, platform: %s,%s chat: %q}`, groupID(in.Joined), in.Joined, in.Chat.Platform, team, in.Chat.Chat)
	var errs []error
	for _, c := range e.Directory().WithRole(RoleCoordinator) {
		// A coordinator without an account is skipped, not a reason to stop telling the others.
		err := e.Notify(ctx, Notice{ID: "joined:" + in.ID + ":" + c.ID, To: c.ID, Priority: Urgent,
			Build: func(lang string) Message {
				return Message{Lines: []string{
					e.Texts.T(lang, "access.group_joined", "Name", in.Joined, "Platform", string(in.Chat.Platform), "Chat", in.Chat.Chat),
					line,
				}}
			}})
		if err != nil && !errors.Is(err, ErrNotLinked) && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	e.Log.Info("bot added to a group the config does not name; the coordinators were told", "platform", in.Chat.Platform, "chat", in.Chat.Chat)
	return errors.Join(errs...)
}

// groupID suggests a config ID for a group named name: lower-case ASCII letters, digits and
// dashes.
func groupID(name string) string {
	var b strings.Builder
	for _, r := range Fold(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	id := strings.Trim(b.String(), "-")
	if id == "" {
		id = "grupe"
	}
	return id[:min(len(id), 40)]
}
