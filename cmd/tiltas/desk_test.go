package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/redistest"
)

// The desk is tested in a real browser: Debian's chromium, driven by chromedp, against serve on
// real Redis and the Telegram fake, with axe-core injected through the DevTools protocol on
// every page. scripts/test installs both and names them in TILTAS_TEST_CHROMIUM and
// TILTAS_TEST_AXE; without them these tests fail, never skip.

func chromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("TILTAS_TEST_CHROMIUM")
	if p == "" {
		t.Fatal("TILTAS_TEST_CHROMIUM is not set: run the tests with scripts/test, which installs Debian's chromium")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("TILTAS_TEST_CHROMIUM=%s: %v", p, err)
	}
	return p
}

func axeSource(t *testing.T) string {
	t.Helper()
	p := os.Getenv("TILTAS_TEST_AXE")
	if p == "" {
		t.Fatal("TILTAS_TEST_AXE is not set: run the tests with scripts/test, which installs axe-core from npm")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("TILTAS_TEST_AXE: %v", err)
	}
	return string(b)
}

// deskSite is serve on the example municipality with Telegram on the fake, and people linked
// on it: jurate-z (coordinator), dalia-s (leader), giedre-s (school), aiste-r (child rights).
type deskSite struct {
	t    *testing.T
	base string
	tg   *telegramtest.Server
	e    *bot.Engine // a second engine on the same Redis, as an admin command has
	ctx  context.Context
	uids map[string]int64
}

func newDeskSite(t *testing.T) *deskSite {
	t.Helper()
	tg := telegramtest.New(t, telegramtest.Options{})
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	addr := freeAddr(t)
	raw := withoutExampleKeys(string(config.Example()))
	raw = strings.Replace(raw, "url: redis://127.0.0.1:6379/0", "url: "+os.Getenv("TILTAS_TEST_REDIS_URL"), 1)
	raw = strings.Replace(raw, "prefix: tiltas", "prefix: "+prefix, 1)
	raw = strings.Replace(raw, `listen: ":8080"`, `listen: "`+addr+`"`+"\n  public_url: http://"+addr, 1)
	raw = strings.Replace(raw, `metrics_listen: ":9090"`, `metrics_listen: "`+freeAddr(t)+`"`, 1)
	raw += fmt.Sprintf(`
telegram: {token: %q, api_url: %q, bot_username: tiltas_test_bot}
encryption:
  keys:
    - {id: k1, key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
`, tg.Token(), tg.URL())
	path := filepath.Join(t.TempDir(), "tiltas.yaml")
	if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, cfg, path, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	s := &deskSite{t: t, base: "http://" + addr, tg: tg, ctx: ctx, uids: map[string]int64{}}
	s.eventually("serve ready", func() bool {
		resp, err := http.Get(s.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	b, err := connect(ctx, cfg, nil, bot.SystemClock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.client.Close() })
	if s.e, err = engineFor(ctx, cfg, b); err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{"jurate-z", "dalia-s", "giedre-s", "aiste-r"} {
		uid := int64(7001 + i)
		s.uids[p] = uid
		id := strconv.FormatInt(uid, 10)
		if err := s.e.Link(ctx, p, bot.Identity{Platform: bot.Telegram, User: id}, bot.Address{Platform: bot.Telegram, Chat: id}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

const deskHang = 20 * time.Second

func (s *deskSite) eventually(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(deskHang)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// say sends text as person in their chat with the bot.
func (s *deskSite) say(person, text string) {
	s.tg.PushUpdate(s.tg.PrivateMessage(s.uids[person], text))
}

// sees waits for a message to person containing text, and returns it.
func (s *deskSite) sees(person, text string) telegramtest.SentMessage {
	s.t.Helper()
	var out telegramtest.SentMessage
	s.eventually(fmt.Sprintf("%s to see %q", person, text), func() bool {
		for _, m := range slices.Backward(s.tg.Sent(s.uids[person])) {
			if strings.Contains(m.Text, text) {
				out = m
				return true
			}
		}
		return false
	})
	return out
}

// press presses the newest button labelled label in person's chat.
func (s *deskSite) press(person, label string) {
	s.t.Helper()
	var msg telegramtest.SentMessage
	var data string
	s.eventually(fmt.Sprintf("a %q button for %s", label, person), func() bool {
		var ok bool
		msg, data, ok = telegramtest.NewestButton(s.tg.Sent(s.uids[person]), label)
		return ok
	})
	s.tg.PushUpdate(s.tg.CallbackQuery(s.uids[person], msg.Message, data))
}

var reSignin = regexp.MustCompile(`http://[^\s]+/desk/signin\?t=[a-z0-9]+`)

// signinLink asks the bot for person's sign-in link.
func (s *deskSite) signinLink(person string) string {
	s.t.Helper()
	before := len(s.tg.Sent(s.uids[person]))
	s.say(person, "/desk")
	var link string
	s.eventually("a sign-in link", func() bool {
		sent := s.tg.Sent(s.uids[person])
		for _, m := range sent[min(before, len(sent)):] {
			if l := reSignin.FindString(m.Text); l != "" {
				link = l
				return true
			}
		}
		return false
	})
	return link
}

// client signs person in without a browser and returns an HTTP client holding the session.
func (s *deskSite) client(person string) *http.Client {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	link := s.signinLink(person)
	u, _ := url.Parse(link)
	req, _ := http.NewRequest("POST", s.base+"/desk/signin", strings.NewReader(url.Values{"t": {u.Query().Get("t")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.base)
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		s.t.Fatalf("%s: sign-in = %d", person, resp.StatusCode)
	}
	return c
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// browser is a headless chromium on its own profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1100, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	tctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelT)
	if err := chromedp.Do(ctx); err != nil { // the first run starts the browser: no timeout on it
		t.Fatalf("start chromium: %v", err)
	}
	return tctx
}

// axeCheck injects axe-core through the DevTools protocol (the page's CSP allows no script, and
// is not loosened for it) and fails on serious or critical violations.
func axeCheck(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	if injected, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axe+";true")); err != nil || !injected {
		t.Fatalf("%s: inject axe-core: %v", page, err)
	}
	type violation struct {
		ID, Impact, Help string
		Nodes            int
	}
	script := `axe.run(document).then(r => ({Passes: r.passes.length, Violations: r.violations
		.filter(v => v.impact === "serious" || v.impact === "critical")
		.map(v => ({ID: v.id, Impact: v.impact, Help: v.help, Nodes: v.nodes.length}))}))`
	res, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
		Passes     int
		Violations []violation
	}](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe.run: %v", page, err)
	}
	if res.Passes == 0 {
		t.Fatalf("%s: axe-core checked nothing", page)
	}
	found := res.Violations
	for _, v := range found {
		t.Errorf("%s: accessibility: %s (%s) on %d elements: %s", page, v.ID, v.Impact, v.Nodes, v.Help)
	}
}

// shot saves a screenshot of the page when TILTAS_DESK_SCREENSHOTS names a directory (the
// README's are made so: docs/desk/).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("TILTAS_DESK_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestDeskInARealBrowser(t *testing.T) {
	axe := axeSource(t)
	s := newDeskSite(t)
	ctx := browser(t)

	// The link the chat received; fetched first as a link preview would: it takes nothing.
	link := s.signinLink("jurate-z")
	if code, body := get(t, http.DefaultClient, link); code != 200 || !strings.Contains(body, "Prisijungti") {
		t.Fatalf("the link's page = %d:\n%s", code, body)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`button[type=submit]`))); err != nil {
		t.Fatal(err)
	}
	axeCheck(t, ctx, axe, "sign-in")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#concerns`))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	// The link is used up: a second POST is refused.
	u, _ := url.Parse(link)
	resp, err := http.PostForm(s.base+"/desk/signin", url.Values{"t": {u.Query().Get("t")}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Errorf("a used sign-in link = %d, want 410", resp.StatusCode)
	}

	// A concern raised in chat is on Today at the next load.
	s.say("giedre-s", "/concern K-2026-501 skubu smurtas Slaptas aprašymas apie šeimą")
	s.press("giedre-s", "Išsaugoti")
	s.sees("aiste-r", "K-2026-501")
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#concerns`))); err != nil {
		t.Fatal(err)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "K-2026-501") || !strings.Contains(text, "nepatvirtinta") {
		t.Errorf("Today lacks the new concern:\n%s", text)
	}
	axeCheck(t, ctx, axe, "Today")
	shot(t, ctx, "today")

	// Acknowledged in chat: the concern's timeline says so, with the platform it reached.
	s.press("aiste-r", "Mačiau")
	s.sees("giedre-s", "patvirtino")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/desk/concern/A1"), chromedp.WaitVisible(chromedp.CSS(`.timeline`))); err != nil {
		t.Fatal(err)
	}
	text := bodyText(t, ctx)
	for _, want := range []string{"Aistė Rimkutė: patvirtino", "Aistė Rimkutė (Telegram)", "Slaptas aprašymas"} {
		if !strings.Contains(text, want) {
			t.Errorf("the concern page lacks %q:\n%s", want, text)
		}
	}
	axeCheck(t, ctx, axe, "Concern")
	shot(t, ctx, "concern")

	// People: someone added from the page's form, invited (with the Telegram link's QR code),
	// and a leaver deactivated.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/desk/people"), chromedp.WaitVisible(chromedp.CSS(`table`))); err != nil {
		t.Fatal(err)
	}
	axeCheck(t, ctx, axe, "People")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Jonas Naujokas"),
		chromedp.SetValue(chromedp.CSS(`select[name=institution]`), "vtas"),
		chromedp.Click(chromedp.CSS(`input[name=role][value=child_rights]`)),
		chromedp.Click(chromedp.CSS(`form[action="/desk/people"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.done`)),
	); err != nil {
		t.Fatalf("add from the page: %v", err)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "Pridėta: Jonas Naujokas (ID: jonas-naujokas)") {
		t.Errorf("after adding:\n%s", text)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form[action="/desk/people/jonas-naujokas/invite"] button`)), chromedp.WaitVisible(chromedp.CSS(`.invite img`))); err != nil {
		t.Fatalf("invite from the page: %v", err)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "Kvietimas: Jonas Naujokas") || !strings.Contains(text, "https://t.me/tiltas_test_bot?start=") {
		t.Errorf("the invite:\n%s", text)
	}
	axeCheck(t, ctx, axe, "People with an invite")
	// Edited from the page: the audit names the fields, not the values.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/desk/people/jonas-naujokas"), chromedp.WaitVisible(chromedp.CSS(`input[name=quiet]`))); err != nil {
		t.Fatal(err)
	}
	axeCheck(t, ctx, axe, "editing a person")
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`input[name=quiet]`), "22:00-07:00"), chromedp.Click(chromedp.CSS(`form[action="/desk/people/jonas-naujokas"] button`)), chromedp.WaitVisible(chromedp.CSS(`.done`))); err != nil {
		t.Fatalf("edit from the page: %v", err)
	}
	if m, err := s.e.Member(s.ctx, "jonas-naujokas"); err != nil || m.Quiet != "22:00-07:00" {
		t.Errorf("edited from the page: %+v %v", m, err)
	}
	shot(t, ctx, "people")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form[action="/desk/people/jonas-naujokas/off"] button`)), chromedp.WaitVisible(chromedp.CSS(`form.confirm`))); err != nil {
		t.Fatalf("deactivate from the page: %v", err)
	}
	if s.e.Refresh(s.ctx) != nil || s.e.Directory().Person("jonas-naujokas") == nil {
		t.Fatal("the first press deactivated without asking")
	}
	axeCheck(t, ctx, axe, "deactivation's question")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form.confirm button`)), chromedp.WaitVisible(chromedp.CSS(`.done`))); err != nil {
		t.Fatalf("confirm the deactivation: %v", err)
	}
	if p := s.e.Directory(); p.Person("jonas-naujokas") != nil {
		if err := s.e.Refresh(s.ctx); err != nil || s.e.Directory().Person("jonas-naujokas") != nil {
			t.Error("deactivated from the page, but still active")
		}
	}

	// A request from chat on the Requests page: codes and purposes, never the question.
	s.say("aiste-r", "/request")
	s.say("aiste-r", "K-2026-501")
	s.press("aiste-r", "Saulės progimnazija")
	s.press("aiste-r", "Atsakingam už prašymus")
	s.say("aiste-r", "Kiek dienų nelankė?")
	s.press("aiste-r", "Atvejo vadyba")
	s.press("aiste-r", "Per 5 darbo dienas")
	s.press("aiste-r", "Išsaugoti")
	s.sees("giedre-s", "Kiek dienų nelankė?")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/desk/requests"), chromedp.WaitVisible(chromedp.CSS(`h1`))); err != nil {
		t.Fatal(err)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "R1") || !strings.Contains(text, "Atvejo vadyba") || strings.Contains(text, "Kiek dienų") {
		t.Errorf("the Requests page:\n%s", text)
	}
	axeCheck(t, ctx, axe, "requests")
	// The coordinator asks from the page too.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=case]`), "K-2026-501"),
		chromedp.SetValue(chromedp.CSS(`select[name=institution]`), "policija"),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=question]`), "Ar buvo iškvietimų į šeimą?"),
		chromedp.Click(chromedp.CSS(`form[action="/desk/requests"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.done`)),
	); err != nil {
		t.Fatalf("ask from the page: %v", err)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "Prašymas R2 išsiųstas: Rajono policijos komisariatas") {
		t.Errorf("after asking from the page:\n%s", text)
	}
	shot(t, ctx, "requests")

	for _, page := range []string{"visits", "meetings", "audit", "health"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/desk/"+page), chromedp.WaitVisible(chromedp.CSS(`h1`))); err != nil {
			t.Fatal(err)
		}
		axeCheck(t, ctx, axe, page)
		shot(t, ctx, page)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "neturi susietos paskyros") || !strings.Contains(text, "Tomas Kazlauskas (tomas-k)") || !strings.Contains(text, "Artimiausias laikmatis") {
		t.Errorf("Health does not name the people in routing rules without an account:\n%s", text)
	}

	// The add-to-calendar page the chat's calendar link opens.
	s.say("jurate-z", "/meeting calendar")
	cal := s.sees("jurate-z", "/calendar/")
	calLink := regexp.MustCompile(`http://[^\s]+/calendar/[a-z0-9]+`).FindString(cal.Text)
	if calLink == "" {
		t.Fatalf("no calendar link in %q", cal.Text)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(calLink), chromedp.WaitVisible(chromedp.CSS(`.ways`))); err != nil {
		t.Fatal(err)
	}
	axeCheck(t, ctx, axe, "add to calendar")
	shot(t, ctx, "calendar")

	// A leader without a role in the case sees its code, not its description; no audit page.
	leader := s.client("dalia-s")
	if code, body := get(t, leader, s.base+"/desk/concern/A1"); code != 200 || !strings.Contains(body, "K-2026-501") || strings.Contains(body, "Slaptas") {
		t.Errorf("a leader's view of the concern = %d:\n%s", code, body)
	}
	if code, _ := get(t, leader, s.base+"/desk/audit"); code != http.StatusForbidden {
		t.Errorf("a leader's audit page = %d, want 403", code)
	}
	// Every view of the details is on the record; the leader's is not one.
	var shared []bot.AuditEvent
	if err := s.e.Audit.Range(s.ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), func(ev bot.AuditEvent) error {
		if ev.Kind == "case.shared" && ev.Reason == "desk" {
			shared = append(shared, ev)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(shared) != 1 || shared[0].Actor != "jurate-z" || shared[0].Case != "K-2026-501" {
		t.Errorf("case.shared events from the desk: %+v", shared)
	}

	// A cross-origin POST is refused, whoever's cookie it carries.
	req, _ := http.NewRequest("POST", s.base+"/desk/people/jonas-naujokas/invite", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err = leader.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-origin POST = %d, want 403", resp.StatusCode)
	}

	// /desk off ends the sessions at once; deactivation too.
	s.say("dalia-s", "/desk off")
	s.sees("dalia-s", "Atsijungta")
	if code, _ := get(t, leader, s.base+"/desk/"); code != http.StatusUnauthorized {
		t.Errorf("after /desk off: %d, want 401", code)
	}
	if _, err := s.e.SetActive(s.ctx, "jurate-z", "system", false); err == nil {
		// jurate-z is the only coordinator in chat terms, but the engine call is IT's: allowed.
		if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/desk/"), chromedp.WaitVisible(chromedp.CSS(`h1`))); err != nil {
			t.Fatal(err)
		}
		if text := bodyText(t, ctx); !strings.Contains(text, "Norėdami prisijungti") {
			t.Errorf("a deactivated coordinator's session still works:\n%s", text)
		}
	} else {
		t.Fatal(err)
	}
}
