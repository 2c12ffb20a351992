package web

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/bot/requests"
	"github.com/tiltas/tiltas/bot/visits"
)

// Desk is the coordinator's pages under /desk: Today, a concern's timeline, People, Audit and
// Health. Everything they show is read through the flows, and authorized for the signed-in
// person on the server; what they do goes through the engine, as a chat command would.
type Desk struct {
	Engine   *bot.Engine
	Alerts   *alerts.Flow
	Visits   *visits.Flow
	Meetings *meetings.Flow
	Requests *requests.Flow
	// Secure marks the session cookie Secure (http.public_url is https).
	Secure bool
	// Checks are serve's readiness checks (Redis, each platform), for Health; may be nil.
	Checks func(ctx context.Context) map[string]error
	// Outbox says how many messages wait and how old the oldest is; may be nil.
	Outbox func(ctx context.Context) (int64, time.Duration, error)
	// NextTimer says when the earliest timer is due; may be nil.
	NextTimer func(ctx context.Context) (time.Time, bool, error)
	// Unreached lists the people who hold a role in an alert routing rule but have no linked
	// chat account: an alert to them reaches nobody.
	Unreached func(ctx context.Context) ([]string, error)
}

const cookieName = "tiltas_desk"

// Handler serves every /desk route, refusing cross-origin POSTs.
func (d *Desk) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /desk", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/desk/", http.StatusSeeOther) })
	mux.HandleFunc("GET /desk/signin", d.signinPage)
	mux.HandleFunc("POST /desk/signin", d.signin)
	mux.HandleFunc("POST /desk/signout", d.signout)
	mux.HandleFunc("GET /desk/{$}", d.page(d.today))
	mux.HandleFunc("GET /desk/concern/{id}", d.page(d.concern))
	mux.HandleFunc("GET /desk/people", d.page(d.people))
	mux.HandleFunc("POST /desk/people/{id}/invite", d.page(d.invite))
	mux.HandleFunc("POST /desk/people/{id}/off", d.page(d.deactivate))
	mux.HandleFunc("POST /desk/people", d.page(d.addPerson))
	mux.HandleFunc("GET /desk/people/{id}", d.page(d.editPage))
	mux.HandleFunc("POST /desk/people/{id}", d.page(d.editPerson))
	mux.HandleFunc("GET /desk/visits", d.page(d.visits))
	mux.HandleFunc("GET /desk/meetings", d.page(d.meetings))
	mux.HandleFunc("GET /desk/requests", d.page(d.requests))
	mux.HandleFunc("POST /desk/requests", d.page(d.ask))
	mux.HandleFunc("GET /desk/audit", d.page(d.audit))
	mux.HandleFunc("GET /desk/audit.csv", d.auditCSV)
	mux.HandleFunc("GET /desk/health", d.page(d.health))
	return http.NewCrossOriginProtection().Handler(mux)
}

// view is what every desk page's template gets.
type view struct {
	Lang, Title, Nav string
	Person           *bot.Person
	T                func(id string, kv ...any) string
	Coordinator      bool
	Data             any
}

type pageFunc func(ctx context.Context, r *http.Request, v *view) (status int, name string, err error)

// page authorizes the request for the signed-in person and renders what fn makes of it.
func (d *Desk) page(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := d.signedIn(w, r)
		if p == nil {
			return
		}
		v := d.viewFor(r.Context(), p)
		status, name, err := fn(r.Context(), r, v)
		switch {
		case errors.Is(err, bot.ErrNotFound):
			status, name = http.StatusNotFound, "notfound.html"
		case errors.Is(err, bot.ErrForbidden):
			status, name = http.StatusForbidden, "forbidden.html"
		case err != nil:
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		renderStatus(w, status, name, v)
	}
}

func (d *Desk) viewFor(ctx context.Context, p *bot.Person) *view {
	lang := d.Engine.Language(ctx, p)
	return &view{Lang: lang, Person: p, Coordinator: p.Has(bot.RoleCoordinator),
		T: func(id string, kv ...any) string { return d.Engine.Texts.T(lang, id, kv...) }}
}

// who is the person signed in with the request's cookie, or nil.
// signedIn returns the person signed in to r, or answers r (the sign-in page, or an error when
// the session cannot be read) and returns nil.
func (d *Desk) signedIn(w http.ResponseWriter, r *http.Request) *bot.Person {
	p, err := d.who(r)
	if err != nil {
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return nil
	}
	if p == nil {
		d.signedOut(w, r, http.StatusUnauthorized)
	}
	return p
}

func (d *Desk) who(r *http.Request) (*bot.Person, error) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil, nil
	}
	return d.Engine.DeskSession(r.Context(), c.Value)
}

func (d *Desk) signedOut(w http.ResponseWriter, r *http.Request, status int) {
	lang := d.Engine.Directory().Language
	renderStatus(w, status, "signedout.html", &view{Lang: lang, T: func(id string, kv ...any) string { return d.Engine.Texts.T(lang, id, kv...) }})
}

// signinPage shows the sign-in button for a valid link. It takes nothing: a link preview or a
// scanner that fetches the address leaves the link usable.
func (d *Desk) signinPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("t")
	lang := d.Engine.Directory().Language
	v := &view{Lang: lang, T: func(id string, kv ...any) string { return d.Engine.Texts.T(lang, id, kv...) }, Data: token}
	if !d.Engine.DeskLinkValid(r.Context(), token) {
		renderStatus(w, http.StatusGone, "badlink.html", v)
		return
	}
	renderStatus(w, http.StatusOK, "signin.html", v)
}

// signin takes the link and starts a session.
func (d *Desk) signin(w http.ResponseWriter, r *http.Request) {
	sid, _, err := d.Engine.DeskSignIn(r.Context(), r.PostFormValue("t"))
	if errors.Is(err, bot.ErrDeskLink) {
		lang := d.Engine.Directory().Language
		renderStatus(w, http.StatusGone, "badlink.html", &view{Lang: lang, T: func(id string, kv ...any) string { return d.Engine.Texts.T(lang, id, kv...) }})
		return
	}
	if err != nil {
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: sid, Path: "/desk", HttpOnly: true, Secure: d.Secure, SameSite: http.SameSiteStrictMode,
		MaxAge: int(d.Engine.Settings.DeskIdle.Seconds())})
	http.Redirect(w, r, "/desk/", http.StatusSeeOther)
}

func (d *Desk) signout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		if err := d.Engine.DeskSignOut(r.Context(), c.Value); err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/desk", HttpOnly: true, Secure: d.Secure, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/desk/", http.StatusSeeOther)
}

// --- Today ---------------------------------------------------------------------------------

type concernRow struct {
	ID, Case, Category, Urgency, State, Step, Due, Age, AckBy string
	Acked                                                     bool
}

type visitRow struct {
	No, When, Area, Status string
	Roles                  []roleCount
	Short                  bool
}

type roleCount struct {
	Role          string
	Filled, Count int
}

// todayConcerns is how many open concerns Today lists (the oldest); the rest are counted.
const todayConcerns = 100

type todayData struct {
	More     int // open concerns not listed
	Concerns []concernRow
	Visits   []visitRow
	Meeting  *meetings.Attendance
	When     string
}

func (d *Desk) today(ctx context.Context, _ *http.Request, v *view) (int, string, error) {
	v.Title, v.Nav = v.T("web.desk.today"), "today"
	e := d.Engine
	now := e.Now()
	var data todayData
	if d.Alerts != nil {
		board, total, err := d.Alerts.Board(ctx, todayConcerns)
		if err != nil {
			return 0, "", err
		}
		for _, a := range board {
			data.Concerns = append(data.Concerns, d.concernRow(v, &a, now))
		}
		data.More = total - len(board)
	}
	if d.Visits != nil {
		vs, err := d.Visits.Upcoming(ctx, now.Add(-12*time.Hour), now.AddDate(0, 0, 7))
		if err != nil {
			return 0, "", err
		}
		for _, vi := range vs {
			row := visitRow{No: vi.No, When: e.Texts.Span(v.Lang, vi.Start, vi.End), Area: vi.Area, Status: string(vi.Status), Short: len(vi.Missing()) > 0}
			for _, n := range vi.Needs {
				row.Roles = append(row.Roles, roleCount{Role: v.T("role." + string(n.Role)), Filled: vi.Filled(n.Role), Count: n.Count})
			}
			data.Visits = append(data.Visits, row)
		}
	}
	if d.Meetings != nil {
		m, ok, err := d.Meetings.NextAttendance(ctx, v.Person)
		if err != nil {
			return 0, "", err
		}
		if ok {
			data.Meeting = &m
			data.When = e.Texts.Span(v.Lang, m.Start, m.End)
		}
	}
	v.Data = data
	return http.StatusOK, "today.html", nil
}

func (d *Desk) concernRow(v *view, a *alerts.Alert, now time.Time) concernRow {
	e := d.Engine
	row := concernRow{ID: a.ID, Case: a.Case, Category: v.T("alert.category." + a.Category), Urgency: v.T("alert.urgency." + a.Urgency),
		State: v.T("web.desk.state." + a.State), Age: age(v, now.Sub(a.Created)), Acked: a.State == alerts.Acknowledged}
	if a.Category == "" {
		row.Category = v.T("web.desk.notice")
	}
	if len(a.Steps) > 0 {
		row.Step = v.T("web.desk.step", "N", a.Step+1, "Of", len(a.Steps))
	}
	if !a.StepDue.IsZero() && a.State == alerts.Open {
		row.Due = e.Texts.DateTime(v.Lang, a.StepDue.In(e.Directory().Location))
	}
	if a.AckBy != "" {
		row.AckBy = d.name(a.AckBy)
	}
	return row
}

func age(v *view, d time.Duration) string {
	switch {
	case d < time.Hour:
		return v.T("web.desk.age_min", "N", int(d/time.Minute))
	case d < 48*time.Hour:
		return v.T("web.desk.age_h", "N", int(d/time.Hour))
	}
	return v.T("web.desk.age_d", "N", int(d/(24*time.Hour)))
}

func (d *Desk) name(id string) string {
	if p := d.Engine.Directory().Person(id); p != nil {
		return p.Name
	}
	return id
}

// --- a concern ------------------------------------------------------------------------------

type timelineRow struct {
	At, Who, What, To string
}

type concernData struct {
	Row      concernRow
	Details  bool
	Text     string
	Outcome  string
	Sender   string
	Timeline []timelineRow
}

func (d *Desk) concern(ctx context.Context, r *http.Request, v *view) (int, string, error) {
	if d.Alerts == nil {
		return 0, "", bot.ErrNotFound
	}
	a, err := d.Alerts.Get(ctx, strings.ToUpper(r.PathValue("id")))
	if err != nil {
		return 0, "", err
	}
	e := d.Engine
	v.Title, v.Nav = v.T("web.desk.concern", "ID", a.ID), "today"
	data := concernData{Row: d.concernRow(v, &a, e.Now()), Sender: d.name(a.Sender), Details: d.Alerts.ShowsDetails(ctx, &a, v.Person)}
	if data.Details {
		data.Text, data.Outcome = a.Text, a.Outcome
		e.Record(ctx, bot.AuditEvent{Actor: v.Person.ID, Kind: "case.shared", Case: a.Case, Record: "alert/" + a.ID, Reason: "desk"})
	}
	for _, ev := range a.Timeline {
		kind, _, _ := strings.Cut(ev.Kind, ":") // "entered:0:1" is a step entered
		row := timelineRow{At: e.Texts.DateTime(v.Lang, ev.At.In(e.Directory().Location)), Who: d.name(ev.Actor), What: v.T("web.desk.ev." + kind)}
		if ev.Actor == "" || ev.Actor == "system" {
			row.Who = "Tiltas"
		}
		var to []string
		for _, id := range ev.To {
			label := d.name(id)
			if addr, err := e.AddressOf(ctx, id); err == nil {
				label += " (" + platformLabel(addr.Platform) + ")"
			}
			to = append(to, label)
		}
		row.To = strings.Join(to, ", ")
		data.Timeline = append(data.Timeline, row)
	}
	v.Data = data
	return http.StatusOK, "concern.html", nil
}

func platformLabel(p bot.Platform) string {
	switch p {
	case bot.Telegram:
		return "Telegram"
	case bot.Slack:
		return "Slack"
	}
	return string(p)
}

// --- people ---------------------------------------------------------------------------------

type personRow struct {
	ID, Name, Institution, Roles, Status string
	Active, Linked, CanInvite            bool
}

type peopleData struct {
	Rows         []personRow
	Invite       *inviteData
	Done, Error  string
	Institutions []option
	Roles        []option
	Languages    []option
}

type option struct{ Value, Label string }

type inviteData struct {
	Name, Code, Link, Hours string
	QR                      template.URL // the Telegram link as a QR code, a data: PNG
}

func (d *Desk) people(ctx context.Context, _ *http.Request, v *view) (int, string, error) {
	v.Title, v.Nav = v.T("web.desk.people"), "people"
	rows, err := d.peopleRows(ctx, v)
	if err != nil {
		return 0, "", err
	}
	v.Data = d.peopleData(v, rows)
	return http.StatusOK, "people.html", nil
}

// peopleData is the People page: the list, and the add form's choices (what v's person manages).
func (d *Desk) peopleData(v *view, rows []personRow) peopleData {
	e := d.Engine
	data := peopleData{Rows: rows}
	for _, in := range e.Directory().Institutions {
		if e.Manages(v.Person, in.ID) {
			data.Institutions = append(data.Institutions, option{in.ID, in.Name})
		}
	}
	for _, r := range bot.Roles {
		if r == bot.RoleCoordinator && !v.Coordinator {
			continue
		}
		data.Roles = append(data.Roles, option{string(r), v.T("role." + string(r))})
	}
	for _, l := range bot.Languages {
		data.Languages = append(data.Languages, option{l, e.Texts.T(l, "lang.name")})
	}
	return data
}

// addPerson adds someone from the page's form, as /person add would.
func (d *Desk) addPerson(ctx context.Context, r *http.Request, v *view) (int, string, error) {
	v.Title, v.Nav = v.T("web.desk.people"), "people"
	if err := r.ParseForm(); err != nil {
		return 0, "", bot.ErrInvalid
	}
	m := bot.Member{Name: r.PostForm.Get("name"), Institution: r.PostForm.Get("institution"), Language: r.PostForm.Get("language")}
	for _, role := range r.PostForm["role"] {
		m.Roles = append(m.Roles, bot.Role(role))
	}
	added, err := d.Engine.AddPersonAs(ctx, v.Person, m)
	return d.peopleAfter(ctx, v, err, http.StatusUnprocessableEntity, func() string {
		return v.T("people.add.done", "Name", added.Name, "ID", added.ID)
	})
}

// peopleAfter shows the People page after an action: what was done, or the problem the engine
// named (with status bad); any other error is the page's.
func (d *Desk) peopleAfter(ctx context.Context, v *view, err error, bad int, done func() string) (int, string, error) {
	status, msg := http.StatusOK, ""
	var pr *bot.Problem
	switch {
	case errors.As(err, &pr):
		status, msg = bad, v.T(pr.ID, pr.KV...)
	case err != nil:
		return 0, "", err
	default:
		msg = done()
	}
	rows, err := d.peopleRows(ctx, v)
	if err != nil {
		return 0, "", err
	}
	data := d.peopleData(v, rows)
	if status == http.StatusOK {
		data.Done = msg
	} else {
		data.Error = msg
	}
	v.Data = data
	return status, "people.html", nil
}

// deactivate deactivates someone from the page, as /person off would.
func (d *Desk) deactivate(ctx context.Context, r *http.Request, v *view) (int, string, error) {
	v.Title, v.Nav = v.T("web.desk.people"), "people"
	if r.PostFormValue("confirm") != "yes" {
		// Asked first: the page has no script for a dialog.
		m, err := d.Engine.Member(ctx, r.PathValue("id"))
		if err != nil {
			return 0, "", err
		}
		if !d.Engine.Manages(v.Person, m.Institution) {
			return 0, "", bot.ErrForbidden
		}
		v.Data = option{Value: m.ID, Label: m.Name}
		return http.StatusOK, "confirmoff.html", nil
	}
	m, err := d.Engine.DeactivateAs(ctx, v.Person, r.PathValue("id"))
	return d.peopleAfter(ctx, v, err, http.StatusConflict, func() string { return v.T("people.off.done", "Name", m.Name) })
}

func (d *Desk) peopleRows(ctx context.Context, v *view) ([]personRow, error) {
	e := d.Engine
	members, err := e.Members(ctx)
	if err != nil {
		return nil, err
	}
	var rows []personRow
	for _, m := range members {
		if !e.Manages(v.Person, m.Institution) {
			continue
		}
		row := personRow{ID: m.ID, Name: m.Name, Institution: m.Institution, Active: m.Active, Status: e.PersonStatus(ctx, v.Lang, m)}
		if in := e.Directory().Institution(m.Institution); in != nil {
			row.Institution = in.Name
		}
		roles := make([]string, len(m.Roles))
		for i, r := range m.Roles {
			roles[i] = v.T("role." + string(r))
		}
		row.Roles = strings.Join(roles, ", ")
		_, err := e.AddressOf(ctx, m.ID)
		row.Linked = err == nil
		row.CanInvite = m.Active && !row.Linked
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b personRow) int {
		if c := strings.Compare(a.Institution, b.Institution); c != 0 {
			return c
		}
		return strings.Compare(bot.Fold(a.Name), bot.Fold(b.Name))
	})
	return rows, nil
}

// invite makes an invite through the engine, with the same authorization as /invite.
func (d *Desk) invite(ctx context.Context, r *http.Request, v *view) (int, string, error) {
	v.Title, v.Nav = v.T("web.desk.people"), "people"
	e := d.Engine
	id := r.PathValue("id")
	code, err := e.InviteAs(ctx, v.Person, id)
	if err != nil {
		return 0, "", err
	}
	rows, err := d.peopleRows(ctx, v)
	if err != nil {
		return 0, "", err
	}
	data := d.peopleData(v, rows)
	data.Invite = &inviteData{Name: d.name(id), Code: code, Link: e.DeepLink(code), Hours: strconv.Itoa(int(e.Settings.InviteTTL.Hours()))}
	if data.Invite.Link != "" {
		png, err := qrcode.Encode(data.Invite.Link, qrcode.Medium, 240)
		if err != nil {
			return 0, "", err
		}
		data.Invite.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	}
	v.Data = data
	return http.StatusOK, "people.html", nil
}

// --- audit ----------------------------------------------------------------------------------

type auditData struct {
	Case, Person, Kind, From, To string
	Rows                         []bot.AuditEvent
	At                           []string
	More                         bool
	CSV                          template.URL
}

const auditMax = 500

func (d *Desk) auditQuery(r *http.Request) (auditData, time.Time, time.Time) {
	q := r.URL.Query()
	a := auditData{Case: strings.ToUpper(strings.TrimSpace(q.Get("case"))), Person: strings.TrimSpace(q.Get("person")),
		Kind: strings.TrimSpace(q.Get("kind")), From: q.Get("from"), To: q.Get("to")}
	loc := d.Engine.Directory().Location
	now := d.Engine.Now()
	from, err := time.ParseInLocation(time.DateOnly, a.From, loc)
	if err != nil {
		from = now.AddDate(0, 0, -7)
		a.From = from.Format(time.DateOnly)
	}
	to, err := time.ParseInLocation(time.DateOnly, a.To, loc)
	if err != nil {
		to = now
		a.To = to.Format(time.DateOnly)
	}
	return a, from, to.AddDate(0, 0, 1)
}

func (d *Desk) auditRows(ctx context.Context, a *auditData, from, to time.Time, limit int) error {
	return d.Engine.Audit.Range(ctx, from, to, func(ev bot.AuditEvent) error {
		switch {
		case a.Case != "" && ev.Case != a.Case,
			a.Person != "" && ev.Actor != a.Person && ev.To != a.Person,
			a.Kind != "" && !strings.HasPrefix(ev.Kind, a.Kind):
			return nil
		}
		if limit > 0 && len(a.Rows) >= limit {
			a.More = true
			return nil
		}
		a.Rows = append(a.Rows, ev)
		return nil
	})
}

func (d *Desk) audit(ctx context.Context, r *http.Request, v *view) (int, string, error) {
	if !v.Coordinator {
		return 0, "", bot.ErrForbidden
	}
	v.Title, v.Nav = v.T("web.desk.audit"), "audit"
	a, from, to := d.auditQuery(r)
	if err := d.auditRows(ctx, &a, from, to, auditMax); err != nil {
		return 0, "", err
	}
	for _, ev := range a.Rows {
		a.At = append(a.At, d.Engine.Texts.DateTime(v.Lang, ev.At.In(d.Engine.Directory().Location)))
	}
	a.CSV = template.URL("/desk/audit.csv?" + r.URL.RawQuery)
	v.Data = a
	return http.StatusOK, "audit.html", nil
}

// auditCSV is the audit filter's result as a CSV file: IDs, kinds and times only, as the stream
// holds them.
func (d *Desk) auditCSV(w http.ResponseWriter, r *http.Request) {
	p := d.signedIn(w, r)
	if p == nil {
		return
	}
	if !p.Has(bot.RoleCoordinator) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	a, from, to := d.auditQuery(r)
	if err := d.auditRows(r.Context(), &a, from, to, 0); err != nil {
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	d.Engine.Record(r.Context(), bot.AuditEvent{Actor: p.ID, Kind: "audit.exported", Reason: fmt.Sprintf("%d events", len(a.Rows))})
	secure(w.Header())
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="tiltas-audit.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"at", "actor", "kind", "case", "record", "to", "reason"})
	for _, ev := range a.Rows {
		_ = cw.Write([]string{ev.At.UTC().Format(time.RFC3339), ev.Actor, ev.Kind, ev.Case, ev.Record, ev.To, ev.Reason})
	}
	cw.Flush()
}

// --- health ---------------------------------------------------------------------------------

type healthData struct {
	Checks    []checkRow
	Outbox    string
	Oldest    string
	NextTimer string
	TimerLate string // how late the earliest timer is, when it is due already
	Unreached []string
}

type checkRow struct {
	Name string
	OK   bool
}

func (d *Desk) health(ctx context.Context, _ *http.Request, v *view) (int, string, error) {
	if !v.Coordinator {
		return 0, "", bot.ErrForbidden
	}
	v.Title, v.Nav = v.T("web.desk.health"), "health"
	var data healthData
	if d.Checks != nil {
		checks := d.Checks(ctx)
		for _, name := range slices.Sorted(maps.Keys(checks)) {
			data.Checks = append(data.Checks, checkRow{Name: name, OK: checks[name] == nil})
		}
	}
	if d.Outbox != nil {
		if n, oldest, err := d.Outbox(ctx); err == nil {
			data.Outbox, data.Oldest = strconv.FormatInt(n, 10), oldest.Round(time.Second).String()
		}
	}
	if d.NextTimer != nil {
		if at, ok, err := d.NextTimer(ctx); err == nil && ok {
			data.NextTimer = d.Engine.Texts.DateTime(v.Lang, at.In(d.Engine.Directory().Location))
			if late := d.Engine.Clock.Now().Sub(at); late > 5*time.Second {
				data.TimerLate = late.Round(time.Second).String()
			}
		}
	}
	if d.Unreached != nil {
		ids, err := d.Unreached(ctx)
		if err != nil {
			return 0, "", err
		}
		for _, id := range ids {
			data.Unreached = append(data.Unreached, d.name(id)+" ("+id+")")
		}
	}
	v.Data = data
	return http.StatusOK, "health.html", nil
}

// --- visits and meetings --------------------------------------------------------------------

type visitFull struct {
	visitRow
	Point  string
	Team   []string // "role: names"
	Cases  int
	Status string
}

// visits lists the visits of the next 30 days: status, team, area, meeting point and how many
// cases; never a case's address (that is for the team, in chat).
func (d *Desk) visits(ctx context.Context, _ *http.Request, v *view) (int, string, error) {
	v.Title, v.Nav = v.T("web.desk.visits"), "visits"
	if d.Visits == nil {
		return 0, "", bot.ErrNotFound
	}
	e := d.Engine
	now := e.Now()
	vs, err := d.Visits.Upcoming(ctx, now.Add(-12*time.Hour), now.AddDate(0, 0, 30))
	if err != nil {
		return 0, "", err
	}
	var rows []visitFull
	for _, vi := range vs {
		row := visitFull{visitRow: visitRow{No: vi.No, When: e.Texts.Span(v.Lang, vi.Start, vi.End), Area: vi.Area, Short: len(vi.Missing()) > 0},
			Point: vi.MeetingPoint, Cases: len(vi.Cases), Status: v.T("web.desk.visit." + string(vi.Status))}
		team := vi.Team()
		for _, n := range vi.Needs {
			row.Roles = append(row.Roles, roleCount{Role: v.T("role." + string(n.Role)), Filled: vi.Filled(n.Role), Count: n.Count})
			var names []string
			for _, id := range team[n.Role] {
				names = append(names, d.name(id))
			}
			if len(names) > 0 {
				row.Team = append(row.Team, v.T("role."+string(n.Role))+": "+strings.Join(names, ", "))
			}
		}
		rows = append(rows, row)
	}
	v.Data = rows
	return http.StatusOK, "visits.html", nil
}

// meetings shows the next meeting the person is invited to or organizes, with its answers.
func (d *Desk) meetings(ctx context.Context, _ *http.Request, v *view) (int, string, error) {
	v.Title, v.Nav = v.T("web.desk.meetings"), "meetings"
	if d.Meetings == nil {
		return 0, "", bot.ErrNotFound
	}
	m, ok, err := d.Meetings.NextAttendance(ctx, v.Person)
	if err != nil {
		return 0, "", err
	}
	data := todayData{}
	if ok {
		data.Meeting, data.When = &m, d.Engine.Texts.Span(v.Lang, m.Start, m.End)
	}
	v.Data = data
	return http.StatusOK, "meetings.html", nil
}

// --- editing a person -----------------------------------------------------------------------

type editData struct {
	peopleData
	M     *bot.Member
	Roles []checked
	Error string
}

type checked struct {
	option
	On bool
}

func (d *Desk) editData(ctx context.Context, v *view, id string) (*editData, error) {
	m, err := d.Engine.Member(ctx, id)
	if err != nil {
		return nil, err
	}
	if !d.Engine.Manages(v.Person, m.Institution) {
		return nil, bot.ErrForbidden
	}
	data := &editData{peopleData: d.peopleData(v, nil), M: m}
	for _, o := range data.peopleData.Roles {
		data.Roles = append(data.Roles, checked{o, m.Has(bot.Role(o.Value))})
	}
	return data, nil
}

func (d *Desk) editPage(ctx context.Context, r *http.Request, v *view) (int, string, error) {
	v.Title, v.Nav = v.T("web.desk.people"), "people"
	data, err := d.editData(ctx, v, r.PathValue("id"))
	if err != nil {
		return 0, "", err
	}
	v.Data = data
	return http.StatusOK, "editperson.html", nil
}

// editPerson changes a person's details from the form, as /person edit would, with the same
// authorization (the institution moved to must be one the editor manages too) and audit.
func (d *Desk) editPerson(ctx context.Context, r *http.Request, v *view) (int, string, error) {
	v.Title, v.Nav = v.T("web.desk.people"), "people"
	id := r.PathValue("id")
	data, err := d.editData(ctx, v, id)
	if err != nil {
		return 0, "", err
	}
	if err := r.ParseForm(); err != nil {
		return 0, "", bot.ErrInvalid
	}
	inst := r.PostForm.Get("institution")
	if !d.Engine.Manages(v.Person, inst) {
		return 0, "", bot.ErrForbidden
	}
	var roles []bot.Role
	for _, role := range r.PostForm["role"] {
		roles = append(roles, bot.Role(role))
	}
	if slices.Contains(roles, bot.RoleCoordinator) && !data.M.Has(bot.RoleCoordinator) && !v.Coordinator {
		return 0, "", bot.ErrForbidden
	}
	fields, err := d.Engine.EditPerson(ctx, id, v.Person.ID, func(m *bot.Member) {
		m.Name, m.Institution, m.Roles, m.Language = r.PostForm.Get("name"), inst, roles, r.PostForm.Get("language")
		m.Quiet = strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("quiet")), " ", "")
	})
	var pr *bot.Problem
	if errors.As(err, &pr) {
		data.Error = v.T(pr.ID, pr.KV...)
		v.Data = data
		return http.StatusUnprocessableEntity, "editperson.html", nil
	}
	if err != nil {
		return 0, "", err
	}
	return d.peopleAfter(ctx, v, nil, 0, func() string {
		if len(fields) == 0 {
			return v.T("people.edit.same")
		}
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = v.T("people.field." + f)
		}
		return v.T("people.edit.done", "Name", r.PostForm.Get("name"), "Fields", strings.Join(names, ", "))
	})
}

// --- requests -------------------------------------------------------------------------------

type requestRow struct {
	ID, Case, From, To, Basis, Due, State string
	Late                                  bool
}

type statRow struct {
	Inst             string
	Received, InTime int
	Median           string
}

type requestsData struct {
	Rows         []requestRow
	Stats        []statRow
	CanAsk       bool
	Institutions []option
	Bases        []string
	Done, Error  string
}

// requests lists the requests of the last 60 days (codes, institutions, purposes, deadlines,
// states: no question or answer text, which only the asker and the asked read in chat) and, for
// a coordinator, each institution's figures.
func (d *Desk) requests(ctx context.Context, _ *http.Request, v *view) (int, string, error) {
	v.Title, v.Nav = v.T("web.desk.requests"), "requests"
	if d.Requests == nil {
		return 0, "", bot.ErrNotFound
	}
	e := d.Engine
	qs, err := d.Requests.Recent(ctx)
	if err != nil {
		return 0, "", err
	}
	var data requestsData
	for _, q := range qs {
		if !v.Coordinator && q.Asker != v.Person.ID && !slices.Contains(q.To, v.Person.ID) && !e.Manages(v.Person, q.Institution) {
			continue
		}
		row := requestRow{ID: q.ID, Case: q.Case, From: d.name(q.Asker), To: d.instName(q.Institution), Basis: q.Basis,
			Due: e.Texts.DateTime(v.Lang, q.Due.In(e.Directory().Location)), State: v.T("web.desk.req.st." + q.State), Late: q.State == requests.Open && q.Overdue}
		if row.Late {
			row.State = v.T("web.desk.late")
		}
		if p := requests.Progress(&q); q.State == requests.Open && p != "" {
			row.State += " · " + v.T("requests.st."+p)
		}
		data.Rows = append(data.Rows, row)
	}
	if v.Coordinator {
		stats, err := d.Requests.Statistics(ctx)
		if err != nil {
			return 0, "", err
		}
		for _, s := range stats {
			median := "—"
			if s.Median > 0 {
				median = s.Median.Round(time.Minute).String()
			}
			data.Stats = append(data.Stats, statRow{Inst: d.instName(s.Institution), Received: s.Received, InTime: s.InTime, Median: median})
		}
	}
	data.CanAsk = d.Requests.MayAsk(v.Person)
	for _, in := range e.Directory().Institutions {
		if in.ID != v.Person.Institution {
			data.Institutions = append(data.Institutions, option{in.ID, in.Name})
		}
	}
	data.Bases = d.Requests.Bases()
	v.Data = data
	return http.StatusOK, "requests.html", nil
}

// ask makes a request from the page's form, as /request does.
func (d *Desk) ask(ctx context.Context, r *http.Request, v *view) (int, string, error) {
	if d.Requests == nil {
		return 0, "", bot.ErrNotFound
	}
	if err := r.ParseForm(); err != nil {
		return 0, "", bot.ErrInvalid
	}
	f := r.PostForm
	q, err := d.Requests.Ask(ctx, v.Person, strings.ToUpper(strings.TrimSpace(f.Get("case"))), f.Get("institution"), "", f.Get("question"), f.Get("basis"), f.Get("urgent") == "yes")
	var pr *bot.Problem
	msg, bad := "", false
	switch {
	case errors.As(err, &pr):
		msg, bad = v.T(pr.ID, pr.KV...), true
	case err != nil:
		return 0, "", err
	default:
		msg = v.T("requests.asked", "ID", q.ID, "Inst", d.instName(q.Institution), "Due", d.Engine.Texts.DateTime(v.Lang, q.Due.In(d.Engine.Directory().Location)))
	}
	status, name, err := d.requests(ctx, r, v)
	if err != nil {
		return 0, "", err
	}
	data := v.Data.(requestsData)
	if bad {
		data.Error, status = msg, http.StatusUnprocessableEntity
	} else {
		data.Done = msg
	}
	v.Data = data
	return status, name, nil
}

func (d *Desk) instName(id string) string {
	if in := d.Engine.Directory().Institution(id); in != nil {
		return in.Name
	}
	return id
}
