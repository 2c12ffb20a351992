package meetings

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// feedToken is what a calendar feed token stands for; it is stored under the token's hash only,
// so that the stored data cannot be turned back into working links.
type feedToken struct {
	Person string    `json:"person"`
	Issued time.Time `json:"issued"`
}

// feedOf remembers a person's current token hash, so that issuing a new link retires the old one.
type feedOf struct {
	Hash string `json:"hash"`
}

func feedHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// IssueFeed gives person a new secret calendar link: FeedURL/<token>, a page that adds the feed
// (the same URL with ".ics") to their calendar in one tap; the link they had before stops
// working. The link itself is the credential, so it goes only to the
// person's direct chat.
func (f *Flow) IssueFeed(ctx context.Context, person string) (string, error) {
	if f.cfg.FeedURL == "" {
		return "", fmt.Errorf("calendar feed: no public URL configured: %w", bot.ErrInvalid)
	}
	if f.e.Directory().Person(person) == nil {
		return "", fmt.Errorf("calendar feed for %s: %w", person, bot.ErrNotFound)
	}
	token := bot.NewID() + bot.NewID()
	h := feedHash(token)
	if err := f.feeds.Create(ctx, h, feedToken{Person: person, Issued: f.e.Now()}); err != nil {
		return "", err
	}
	old := ""
	if _, err := f.feedOf.Update(ctx, person, func(v *feedOf, _ bool) error {
		old, v.Hash = v.Hash, h
		return nil
	}); err != nil {
		return "", err
	}
	if old != "" && old != h {
		if err := f.feeds.Delete(ctx, old); err != nil {
			return "", err
		}
	}
	f.e.Record(ctx, bot.AuditEvent{Actor: person, Kind: "meeting.feed_issued"})
	return f.cfg.FeedURL + "/" + token, nil
}

// FeedURL is the public base of the calendar links ("" when they are off).
func (f *Flow) FeedURL() string { return f.cfg.FeedURL }

// feedPerson is the person behind a feed token (with or without ".ics"); bot.ErrNotFound for an
// unknown or retired token, or a person no longer in the directory.
func (f *Flow) feedPerson(ctx context.Context, token string) (*bot.Person, error) {
	token = strings.TrimSuffix(token, ".ics")
	if token == "" || len(token) > 128 {
		return nil, bot.ErrNotFound
	}
	ft, err := f.feeds.Get(ctx, feedHash(token))
	if errors.Is(err, bot.ErrNotFound) {
		return nil, bot.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	p := f.e.Directory().Person(ft.Person)
	if p == nil {
		return nil, bot.ErrNotFound
	}
	return p, nil
}

// Feed returns the iCalendar behind a feed token: the meetings that concern its person now, in
// their language. An unknown or retired token is bot.ErrNotFound, which the HTTP route answers
// with 404.
func (f *Flow) Feed(ctx context.Context, token string) ([]byte, error) {
	p, err := f.feedPerson(ctx, token)
	if err != nil {
		return nil, err
	}
	data, _, err := f.personICS(ctx, p, f.e.Language(ctx, p))
	return data, err
}

// FeedLanguage returns the language of the person behind a feed token, for the page that adds
// the feed to a calendar.
func (f *Flow) FeedLanguage(ctx context.Context, token string) (string, error) {
	p, err := f.feedPerson(ctx, token)
	if err != nil {
		return "", err
	}
	return f.e.Language(ctx, p), nil
}
