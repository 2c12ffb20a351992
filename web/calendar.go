package web

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/tiltas/tiltas/bot"
)

// Feeds is what the calendar pages read: a person's calendar behind a feed token, and the
// token's person's language (bot.ErrNotFound for an unknown or retired token). The meetings
// flow implements it.
type Feeds interface {
	Feed(ctx context.Context, token string) ([]byte, error)
	FeedLanguage(ctx context.Context, token string) (string, error)
}

// Calendar serves "GET /calendar/{token}": with ".ics", the calendar itself (with ?download=1 as
// a file to save); without, a page that adds it to Google Calendar, Outlook or the device's
// calendar app in one tap. The token is the credential: never logged, and a plain 404 when it is
// unknown.
type Calendar struct {
	Feeds   Feeds
	Catalog *bot.Catalog
	// Base is the feeds' public base, http.public_url + "/calendar".
	Base string
}

func (c *Calendar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("token")
	token := strings.TrimSuffix(raw, ".ics")
	if token != raw {
		c.feed(w, r, token)
		return
	}
	lang, err := c.Feeds.FeedLanguage(r.Context(), token)
	if errors.Is(err, bot.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	switch q := r.URL.Query().Get("lang"); q {
	case "lt", "en":
		lang = q
	}
	render(w, "calendar.html", c.page(lang, c.Base+"/"+token))
}

func (c *Calendar) feed(w http.ResponseWriter, r *http.Request, token string) {
	data, err := c.Feeds.Feed(r.Context(), token)
	if errors.Is(err, bot.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("download") != "" {
		h.Set("Content-Disposition", `attachment; filename="tiltas.ics"`)
	}
	_, _ = w.Write(data)
}

// Links are the ways to add a calendar feed, each a URL that carries the feed's own.
type Links struct {
	Feed        string // https://…/calendar/TOKEN.ics
	Webcal      string // webcal://…/calendar/TOKEN.ics: the device's calendar app subscribes
	Google      string // Google Calendar's add-by-URL
	OutlookWork string // Outlook on the web, work or school account (Microsoft 365)
	OutlookHome string // Outlook.com, personal account
	Download    string // the feed as a file to save
}

// CalendarLinks returns the links for the feed at page + ".ics", named name in the calendar
// apps that ask.
func CalendarLinks(page, name string) Links {
	feed := page + ".ics"
	webcal := "webcal://" + strings.TrimPrefix(strings.TrimPrefix(feed, "https://"), "http://")
	addFromWeb := func(host string) string {
		return "https://" + host + "/calendar/0/addfromweb?" + url.Values{"url": {feed}, "name": {name}}.Encode()
	}
	return Links{
		Feed:        feed,
		Webcal:      webcal,
		Google:      "https://calendar.google.com/calendar/r?" + url.Values{"cid": {webcal}}.Encode(),
		OutlookWork: addFromWeb("outlook.office.com"),
		OutlookHome: addFromWeb("outlook.live.com"),
		Download:    feed + "?download=1",
	}
}

// calendarPage is the add-to-calendar page's data, every text already in the reader's language.
type calendarPage struct {
	Lang, Title, Intro                         string
	Other, OtherLang                           string
	Links                                      Links
	Google, GoogleHint                         string
	OutlookWork, OutlookWorkHint               string
	OutlookHome, OutlookHomeHint               string
	Webcal, WebcalHint, Download, DownloadHint string
	Copy, Private                              string
	// WebcalURL is Links.Webcal marked safe: html/template allows only http(s) and mailto
	// links, and this one is built here from the feed's own https address.
	WebcalURL template.URL
}

func (c *Calendar) page(lang, page string) calendarPage {
	t := func(id string) string { return c.Catalog.T(lang, id) }
	other := "en"
	if lang == "en" {
		other = "lt"
	}
	links := CalendarLinks(page, c.Catalog.T(lang, "meetings.ics.name"))
	return calendarPage{
		WebcalURL: template.URL(links.Webcal),
		Lang:      lang, Title: t("web.calendar.title"), Intro: t("web.calendar.intro"),
		Other: t("web.lang_other"), OtherLang: other,
		Links:  links,
		Google: t("web.calendar.google"), GoogleHint: t("web.calendar.google_hint"),
		OutlookWork: t("web.calendar.outlook_work"), OutlookWorkHint: t("web.calendar.outlook_work_hint"),
		OutlookHome: t("web.calendar.outlook_home"), OutlookHomeHint: t("web.calendar.outlook_home_hint"),
		Webcal: t("web.calendar.webcal"), WebcalHint: t("web.calendar.webcal_hint"),
		Download: t("web.calendar.download"), DownloadHint: t("web.calendar.download_hint"),
		Copy: t("web.calendar.copy"), Private: t("web.calendar.private"),
	}
}
