package web_test

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	ical "github.com/emersion/go-ical"

	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/flowtest"
	"github.com/tiltas/tiltas/web"
)

// calendarSite runs every flow on the example municipality with a public URL, and serves the
// flows' routes as serve does.
func calendarSite(t *testing.T) (*flowtest.Harness, *httptest.Server) {
	t.Helper()
	cfg := strings.Replace(string(config.Example()), `listen: ":8080"`, `listen: ":8080"`+"\n  public_url: https://tiltas.example.lt", 1)
	h := flowtest.New(t, flowtest.Options{AllFlows: true, Config: cfg})
	mux := http.NewServeMux()
	for pattern, handler := range h.App.Routes() {
		mux.Handle(pattern, handler)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return h, srv
}

// link asks the bot for person's calendar link and returns it.
func link(t *testing.T, h *flowtest.Harness, person string) string {
	t.Helper()
	h.Say(person, "/meeting calendar")
	m := h.MustSee(person, "https://tiltas.example.lt/calendar/")
	for _, l := range m.Message.Lines {
		if strings.HasPrefix(l, "https://tiltas.example.lt/calendar/") {
			return l
		}
	}
	t.Fatalf("no link in %q", m.Text())
	return ""
}

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var reHref = regexp.MustCompile(`href="([^"]+)"`)

// The link in chat opens a page in the person's language whose every way to add the calendar
// leads back to the person's feed, and the feed itself is there behind the same token.
func TestAddToCalendarPage(t *testing.T) {
	h, srv := calendarSite(t)
	page := link(t, h, "lina-j") // English
	if strings.HasSuffix(page, ".ics") {
		t.Fatalf("the chat link is the bare feed, not the page: %s", page)
	}
	local := srv.URL + strings.TrimPrefix(page, "https://tiltas.example.lt")
	resp, body := get(t, local)
	if resp.StatusCode != 200 || !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Your meetings in your calendar") {
		t.Fatalf("page = %d:\n%s", resp.StatusCode, body)
	}
	for k, want := range map[string]string{"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}

	feed := page + ".ics"
	webcal := "webcal://tiltas.example.lt" + strings.TrimPrefix(feed, "https://tiltas.example.lt")
	back := map[string]func(u *url.URL) string{
		"calendar.google.com": func(u *url.URL) string { return u.Query().Get("cid") },
		"outlook.office.com":  func(u *url.URL) string { return u.Query().Get("url") },
		"outlook.live.com":    func(u *url.URL) string { return u.Query().Get("url") },
	}
	seen := map[string]bool{}
	for _, m := range reHref.FindAllStringSubmatch(body, -1) {
		href := html.UnescapeString(m[1])
		u, err := url.Parse(href)
		if err != nil {
			t.Fatalf("href %q: %v", href, err)
		}
		switch {
		case back[u.Host] != nil:
			got := back[u.Host](u)
			if got != feed && got != webcal {
				t.Errorf("%s leads to %q, not to the feed %s", u.Host, got, feed)
			}
			seen[u.Host] = true
		case u.Scheme == "webcal":
			if href != webcal {
				t.Errorf("webcal link %s, want %s", href, webcal)
			}
			seen["webcal"] = true
		case strings.HasPrefix(href, feed):
			seen["download"] = true
		}
	}
	for _, want := range []string{"calendar.google.com", "outlook.office.com", "outlook.live.com", "webcal", "download"} {
		if !seen[want] {
			t.Errorf("the page has no %s link:\n%s", want, body)
		}
	}
	if !strings.Contains(body, `value="`+feed+`"`) {
		t.Errorf("the page does not show the feed's address to copy")
	}

	// The feed behind the same token, as a subscription and as a file to save.
	resp, cal := get(t, srv.URL+strings.TrimPrefix(feed, "https://tiltas.example.lt"))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/calendar") {
		t.Fatalf("feed = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if _, err := ical.NewDecoder(bytes.NewReader([]byte(cal))).Decode(); err != nil {
		t.Errorf("the feed does not parse: %v", err)
	}
	resp, _ = get(t, srv.URL+strings.TrimPrefix(feed, "https://tiltas.example.lt")+"?download=1")
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Errorf("download: Content-Disposition %q", cd)
	}

	// Lithuanian by the person's language, English on request.
	resp, body = get(t, srv.URL+strings.TrimPrefix(link(t, h, "dalia-s"), "https://tiltas.example.lt"))
	if !strings.Contains(body, `<html lang="lt">`) || !strings.Contains(body, "Posėdžiai jūsų kalendoriuje") {
		t.Errorf("a Lithuanian speaker's page = %d:\n%s", resp.StatusCode, body)
	}
	if _, body := get(t, local+"?lang=lt"); !strings.Contains(body, `<html lang="lt">`) {
		t.Error("?lang=lt does not switch to Lithuanian")
	}
	// The stylesheet the page links to is served.
	if resp, _ := get(t, srv.URL+"/assets/tiltas.css"); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// Without the token, with a wrong one or a retired one, nothing: a plain 404 that says nothing
// about whose link it was.
func TestCalendarLinksNeedTheirToken(t *testing.T) {
	h, srv := calendarSite(t)
	old := strings.TrimPrefix(link(t, h, "lina-j"), "https://tiltas.example.lt")
	h.Advance(0)
	fresh := strings.TrimPrefix(link(t, h, "lina-j"), "https://tiltas.example.lt") // retires the first
	if old == fresh {
		t.Fatal("a new link is the old one")
	}
	for _, path := range []string{"/calendar/", "/calendar/x", "/calendar/x.ics", old, old + ".ics", strings.ToUpper(fresh)} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != 404 || strings.Contains(body, "lina") || strings.Contains(body, "Lina") {
			t.Errorf("%s = %d %q", path, resp.StatusCode, body)
		}
	}
	if resp, _ := get(t, srv.URL+fresh); resp.StatusCode != 200 {
		t.Errorf("the new link = %d", resp.StatusCode)
	}
}

func TestCalendarLinks(t *testing.T) {
	l := web.CalendarLinks("https://tiltas.example.lt/calendar/abc", "Tiltas — posėdžiai")
	if l.Feed != "https://tiltas.example.lt/calendar/abc.ics" || l.Webcal != "webcal://tiltas.example.lt/calendar/abc.ics" {
		t.Errorf("%+v", l)
	}
	u, _ := url.Parse(l.OutlookWork)
	if u.Query().Get("name") != "Tiltas — posėdžiai" {
		t.Errorf("Outlook name = %q", u.Query().Get("name"))
	}
}
