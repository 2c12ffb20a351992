package bot

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
)

// The desk is the coordinator's web pages. Nobody has a password: /desk in a direct message
// gives a single-use sign-in link, valid a few minutes and stored only as its hash; opening it
// shows a button whose POST takes the link and starts a session (a link preview or a mail
// scanner fetching the address takes nothing). Sessions are records too, by the hash of their
// cookie, and end on /desk off, on deactivation and on erasure, on every replica at once.

// Desk sign-in settings (Settings.Desk*) default to these.
const (
	deskLinkTTL     = 10 * time.Minute
	deskIdleDefault = 8 * time.Hour
)

type deskLink struct {
	Person  string    `json:"person"`
	Expires time.Time `json:"expires"`
}

type deskSession struct {
	Person  string    `json:"person"`
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"`
}

func deskHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func deskSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// MayUseDesk reports whether p may sign in to the desk: the roles Settings.DeskRoles names
// (coordinators and leaders by default).
func (e *Engine) MayUseDesk(p *Person) bool {
	return p != nil && p.HasAny(e.Settings.DeskRoles...)
}

func deskSessionsIndex(person string) string { return "desk:sessions:" + person }

// DeskLink makes a single-use sign-in link secret for person, valid Settings.DeskLinkTTL.
func (e *Engine) DeskLink(ctx context.Context, person string) (string, error) {
	token, err := deskSecret()
	if err != nil {
		return "", err
	}
	l := deskLink{Person: person, Expires: e.Clock.Now().Add(deskLinkTTL)}
	if _, err := e.Records.Write(ctx, Write{Key: "desklink/" + deskHash(token), Data: mustJSON(l), TTL: deskLinkTTL}); err != nil {
		return "", err
	}
	e.Record(ctx, AuditEvent{Actor: person, Kind: "desk.link_issued"})
	return token, nil
}

// DeskLinkValid reports whether a sign-in link secret would sign someone in now, without
// taking it: the page behind the link shows its button only then.
func (e *Engine) DeskLinkValid(ctx context.Context, token string) bool {
	if token == "" || len(token) > 128 {
		return false
	}
	l, _, err := Load[deskLink](ctx, e.Records, "desklink/"+deskHash(token))
	return err == nil && e.Clock.Now().Before(l.Expires) && e.MayUseDesk(e.Directory().Person(l.Person))
}

// ErrDeskLink is a sign-in link that is unknown, used, expired, or for someone who may no longer
// sign in.
var ErrDeskLink = errors.New("sign-in link not valid")

// DeskSignIn takes a sign-in link secret (once: a second use is ErrDeskLink) and starts a
// session; the session secret is the cookie's value.
func (e *Engine) DeskSignIn(ctx context.Context, token string) (string, *Person, error) {
	if err := e.Refresh(ctx); err != nil {
		return "", nil, err
	}
	if token == "" || len(token) > 128 {
		return "", nil, ErrDeskLink
	}
	key := "desklink/" + deskHash(token)
	l, ver, err := Load[deskLink](ctx, e.Records, key)
	if errors.Is(err, ErrNotFound) {
		e.Refused(ctx, "", "", "desk_link_invalid")
		return "", nil, ErrDeskLink
	}
	if err != nil {
		return "", nil, err
	}
	if _, err := e.Records.Write(ctx, Write{Key: key, Version: ver}); errors.Is(err, ErrConflict) {
		return "", nil, ErrDeskLink // taken a moment ago
	} else if err != nil {
		return "", nil, err
	}
	p := e.Directory().Person(l.Person)
	if !e.Clock.Now().Before(l.Expires) || !e.MayUseDesk(p) {
		e.Refused(ctx, l.Person, "", "desk_link_invalid")
		return "", nil, ErrDeskLink
	}
	sid, err := deskSecret()
	if err != nil {
		return "", nil, err
	}
	now := e.Clock.Now()
	h := deskHash(sid)
	s := deskSession{Person: p.ID, Created: now, Seen: now}
	if _, err := e.Records.Write(ctx, Write{Key: "desksession/" + h, Data: mustJSON(s), TTL: e.Settings.DeskIdle,
		Index: []IndexOp{{Index: deskSessionsIndex(p.ID), Member: h, Score: float64(now.Unix())}}}); err != nil {
		return "", nil, err
	}
	e.Record(ctx, AuditEvent{Actor: p.ID, Kind: "desk.signed_in"})
	return sid, p, nil
}

// DeskSession returns the person signed in with session secret sid, and keeps the session alive
// (it ends after Settings.DeskIdle without a page). nil when there is no such session, or its
// person may no longer use the desk.
func (e *Engine) DeskSession(ctx context.Context, sid string) (*Person, error) {
	if sid == "" || len(sid) > 128 {
		return nil, nil
	}
	if err := e.Refresh(ctx); err != nil {
		return nil, err
	}
	key := "desksession/" + deskHash(sid)
	s, ver, err := Load[deskSession](ctx, e.Records, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := e.Clock.Now()
	if now.Sub(s.Seen) >= e.Settings.DeskIdle {
		// Idle too long: the store's TTL ends it too, on its own clock.
		return nil, Delete(ctx, e.Records, key, IndexOp{Index: deskSessionsIndex(s.Person), Member: deskHash(sid), Remove: true})
	}
	p := e.Directory().Person(s.Person)
	if !e.MayUseDesk(p) {
		return nil, nil
	}
	if now.Sub(s.Seen) > time.Minute {
		s.Seen = now
		if _, err := e.Records.Write(ctx, Write{Key: key, Data: mustJSON(s), Version: ver, TTL: e.Settings.DeskIdle}); err != nil && !errors.Is(err, ErrConflict) {
			return nil, err
		}
	}
	return p, nil
}

// DeskSignOut ends one session.
func (e *Engine) DeskSignOut(ctx context.Context, sid string) error {
	h := deskHash(sid)
	s, _, err := Load[deskSession](ctx, e.Records, "desksession/"+h)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := Delete(ctx, e.Records, "desksession/"+h, IndexOp{Index: deskSessionsIndex(s.Person), Member: h, Remove: true}); err != nil {
		return err
	}
	e.Record(ctx, AuditEvent{Actor: s.Person, Kind: "desk.signed_out"})
	return nil
}

// EndDeskSessions ends every desk session of person, and reports how many there were.
func (e *Engine) EndDeskSessions(ctx context.Context, person string) (int, error) {
	hs, err := e.Records.Range(ctx, deskSessionsIndex(person), math.Inf(-1), math.Inf(1), 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, h := range hs {
		if _, _, err := e.Records.Get(ctx, "desksession/"+h); err == nil {
			n++
		}
		if err := Delete(ctx, e.Records, "desksession/"+h, IndexOp{Index: deskSessionsIndex(person), Member: h, Remove: true}); err != nil {
			return n, err
		}
	}
	return n, nil
}

// deskCommand: /desk sends a sign-in link; /desk off signs out everywhere.
func (e *Engine) deskCommand(ctx context.Context, r *Request) error {
	if !e.MayUseDesk(r.Person) {
		e.Refused(ctx, r.Person.ID, "command/desk", "role")
		return Tell("desk.forbidden")
	}
	if len(r.Args) > 0 && slices.Contains([]string{"off", "atsijungti", "isjungti"}, strings.ToLower(r.Args[0])) {
		n, err := e.EndDeskSessions(ctx, r.Person.ID)
		if err != nil {
			return err
		}
		e.Record(ctx, AuditEvent{Actor: r.Person.ID, Kind: "desk.signed_out"})
		return r.Reply(ctx, Message{Lines: []string{e.Texts.N(r.Lang, "desk.off", n)}})
	}
	if e.Settings.DeskURL == "" {
		return r.Say(ctx, "desk.disabled")
	}
	token, err := e.DeskLink(ctx, r.Person.ID)
	if err != nil {
		return err
	}
	return r.Reply(ctx, Message{Lines: []string{r.T("desk.link", "Minutes", int(deskLinkTTL.Minutes())), e.Settings.DeskURL + "/signin?t=" + token, r.T("desk.link_private")}})
}
