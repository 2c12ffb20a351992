package faults_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/httpapi"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/bot/requests"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/faults"
	"github.com/tiltas/tiltas/internal/flowtest"
	"github.com/tiltas/tiltas/scheduler"
)

// world is one municipality on a fresh Redis prefix, every flow registered as serve does, with
// the engine's stores wrapped by a Faults.
type world struct {
	*flowtest.Harness
	f        *faults.Faults
	alerts   *alerts.Flow
	visits   *visits.Flow
	meetings *meetings.Flow
	api      *httptest.Server
	raw      flowtest.Stores // the stores without the faults
}

const lease = 50 * time.Millisecond

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{f: faults.New()}
	w.Harness = flowtest.New(t, flowtest.Options{Redis: true,
		Wrap:     func(st flowtest.Stores) flowtest.Stores { w.raw = st; return w.f.Wrap(st) },
		Settings: func(s *bot.Settings) { s.ApplyLease = lease },
		Register: func(e *bot.Engine, c *config.Config) {
			w.alerts = alerts.Register(e, c.AlertsFlow())
			w.meetings = meetings.Register(e, c.MeetingsFlow(scheduler.ParseRRule))
			w.visits = visits.Register(e, c.VisitsFlow(scheduler.ParseRRule))
			requests.Register(e, c.RequestsFlow())
		}})
	if err := w.meetings.Plan(w.Ctx); err != nil {
		t.Fatal(err)
	}
	api := httpapi.NewAPI(w.alerts, w.Engine.Records, []httpapi.Integration{{ID: "police-register", Token: "police-token-0123456789"}}, 4096, nil)
	api.Clock = w.Clock
	mux := http.NewServeMux()
	api.Register(mux)
	w.api = httptest.NewServer(mux)
	t.Cleanup(w.api.Close)
	w.Settle()
	return w
}

// label is a button's label in Lithuanian, from the catalog.
func (w *world) label(id string) string { return w.Engine.Texts.T("lt", id) }

// press presses, without failing the test, the newest button labelled label in person's chat.
func (w *world) press(person, label string) error {
	token, ref, ok := w.Button(flowtest.DM(person).Chat, label)
	if !ok {
		return fmt.Errorf("%s has no button %q", person, label)
	}
	_, err := w.Engine.Handle(w.Ctx, bot.Incoming{ID: "op", From: flowtest.Identity(person), Chat: flowtest.DM(person), Button: token, Message: &ref})
	return err
}

// say says text as person, without failing the test.
func (w *world) say(person, text string) error {
	_, err := w.Engine.Handle(w.Ctx, bot.Incoming{ID: "op", From: flowtest.Identity(person), Chat: flowtest.DM(person), Text: text})
	return err
}

// post raises a concern through the integration API with an Idempotency-Key.
func (w *world) post() (int, error) {
	body := `{"case":"K-2026-117","category":"violence","urgency":"urgent","description":"Vaikas buvo įvykio vietoje"}`
	req, _ := http.NewRequest("POST", w.api.URL+"/api/v1/alerts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer police-token-0123456789")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "register-77")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// fire fires the timer id as the timer runner would.
func (w *world) fire(id string) error {
	got, err := w.Engine.Timers.Scheduled(w.Ctx, id)
	if err != nil {
		return err
	}
	t, ok := got[id]
	if !ok {
		return fmt.Errorf("no timer %s", id)
	}
	w.Clock.Set(t.Due)
	return w.Engine.Fire(w.Ctx, t)
}

// snapshot is the world as a fault may leave it: what is queued (request replies aside: they
// answer a person, they are not a record's effects), which timers are set, what the audit
// stream has, how many records of a kind exist, and the state of the record the operation
// changes.
type snapshot struct {
	queued  []string
	timers  map[string]string
	audit   []string
	records int
	state   string
}

func (w *world) snapshot(sc scenario, auditFrom int, timerIDs []string) snapshot {
	w.T.Helper()
	var s snapshot
	out, err := w.raw.Queue.Discard(w.Ctx, func(bot.Outgoing) bool { return true })
	if err != nil {
		w.T.Fatal(err)
	}
	for _, o := range out {
		if !strings.HasPrefix(o.ID, "in:") {
			s.queued = append(s.queued, o.ID)
		}
	}
	slices.Sort(s.queued)
	got, err := w.raw.Timers.Scheduled(w.Ctx, timerIDs...)
	if err != nil {
		w.T.Fatal(err)
	}
	s.timers = map[string]string{}
	for id, t := range got {
		if strings.HasPrefix(id, "dlg:") {
			continue // a dialog's own expiry: the conversation, not a record's effect
		}
		s.timers[id] = t.Due.UTC().Format(time.RFC3339) + " " + t.Kind + " " + t.Arg
	}
	i := 0
	err = w.raw.Audit.Range(w.Ctx, time.Time{}, time.Now().AddDate(10, 0, 0), func(e bot.AuditEvent) error {
		if i++; i > auditFrom {
			s.audit = append(s.audit, strings.Join([]string{e.Kind, e.Record, e.Case, e.To, e.Reason}, "|"))
		}
		return nil
	})
	if err != nil {
		w.T.Fatal(err)
	}
	slices.Sort(s.audit)
	err = w.raw.Records.Scan(w.Ctx, sc.prefix, func(string) error { s.records++; return nil })
	if err != nil {
		w.T.Fatal(err)
	}
	s.state = sc.state(w)
	return s
}

func (w *world) auditLen() int {
	n := 0
	_ = w.raw.Audit.Range(w.Ctx, time.Time{}, time.Now().AddDate(10, 0, 0), func(bot.AuditEvent) error { n++; return nil })
	return n
}

// scenario is one operation and the world it runs in.
type scenario struct {
	name   string
	prefix string                       // the kind of record the operation creates or changes
	setup  func(w *world)               // the world just before the operation
	op     func(w *world) error         // the operation
	state  func(w *world) string        // the changed record's state, to tell a change made from one not
	retry  func(w *world, t *testing.T) // after the repair, what a client would do (API: retry)
}

func alertState(w *world) string {
	a, err := w.alerts.Get(w.Ctx, "A1")
	if err != nil {
		return "none"
	}
	return fmt.Sprintf("%s %d:%d %s claimed=%v exhausted=%v", a.State, a.Round, a.Step, a.AckBy, a.Claimed, a.Exhausted)
}

func visitState(w *world) string {
	v, _, err := bot.Load[visits.Visit](w.Ctx, w.raw.Records, "visit/V1")
	if err != nil {
		return "none"
	}
	var replies []string
	for _, p := range slices.Sorted(maps.Keys(v.Replies)) {
		replies = append(replies, p+"="+v.Replies[p].State)
	}
	return fmt.Sprintf("%s %s %v", v.Status, v.Start.UTC().Format(time.RFC3339), replies)
}

func meetingState(w *world) string {
	o, _, err := bot.Load[struct {
		Start     time.Time `json:"start"`
		Cancelled bool      `json:"cancelled"`
	}](w.Ctx, w.raw.Records, "meeting/vadovu-pasitarimas.20261203")
	if err != nil {
		return "none"
	}
	return fmt.Sprintf("cancelled=%v start=%s", o.Cancelled, o.Start.UTC().Format(time.RFC3339))
}

func requestState(w *world) string {
	q, _, err := bot.Load[struct {
		State    string   `json:"state"`
		To       []string `json:"to"`
		Granted  []string `json:"granted"`
		Overdue  bool     `json:"overdue"`
		Reminded []string `json:"reminded"`
	}](w.Ctx, w.raw.Records, "request/R1")
	if err != nil {
		return "none"
	}
	return fmt.Sprintf("%s to=%v granted=%v overdue=%v reminded=%v", q.State, q.To, q.Granted, q.Overdue, q.Reminded)
}

// requestUpTo walks Aistė (child rights) through /request up to the confirmation.
func requestUpTo(w *world) {
	w.Say("aiste-r", "/request")
	w.Say("aiste-r", "K-2026-117")
	w.Press("aiste-r", "Saulės progimnazija")
	w.Press("aiste-r", "Atsakingam už prašymus")
	w.Say("aiste-r", "Kiek dienų vaikas nelankė?")
	w.Press("aiste-r", "Atvejo vadyba")
	w.Press("aiste-r", "Per 5 darbo dienas")
}

// raise walks Giedrė (school) through the concern shortcut up to the confirmation.
func raiseUpTo(w *world) {
	w.Say("giedre-s", "/concern K-2026-117 skubu nepriežiūra Mėlynės ant rankų")
}

func raised(w *world) {
	raiseUpTo(w)
	w.Press("giedre-s", w.label("dialog.confirm"))
	w.Settle()
}

func acked(w *world) {
	raised(w)
	w.Press("aiste-r", w.label("alert.btn.ack"))
	w.Settle()
}

func planUpTo(w *world) {
	for _, a := range []string{"/reidas", "2026-12-03 18:00", "21:00", "1", "Komisariato kiemas", "K-2026-117", "Liepų g. 5-3", "2", "1", "1", "1", "1"} {
		w.Say("jurate-z", a)
	}
}

func planned(w *world) {
	planUpTo(w)
	w.Say("jurate-z", "taip")
	w.Settle()
}

var scenarios = []scenario{
	{name: "ask another institution", prefix: "request/", state: requestState, setup: requestUpTo,
		op: func(w *world) error { return w.press("aiste-r", w.label("dialog.confirm")) }},
	{name: "raise a concern in chat", prefix: "alert/", state: alertState, setup: raiseUpTo,
		op: func(w *world) error { return w.press("giedre-s", w.label("dialog.confirm")) }},
	{name: "raise a concern through the API", prefix: "alert/", state: alertState, setup: func(*world) {},
		op: func(w *world) error {
			_, err := w.post()
			return err
		},
		retry: func(w *world, t *testing.T) {
			w.Clock.Advance(31 * time.Second)
			if code, err := w.post(); code != 201 || err != nil {
				t.Errorf("the client's retry: %d %v", code, err)
			}
			n := 0
			_ = w.raw.Records.Scan(w.Ctx, "alert/", func(string) error { n++; return nil })
			if n != 1 {
				t.Errorf("%d alerts after the retry, want 1", n)
			}
		}},
	{name: "acknowledge", prefix: "alert/", state: alertState, setup: raised,
		op: func(w *world) error { return w.press("aiste-r", w.label("alert.btn.ack")) }},
	{name: "claim", prefix: "alert/", state: alertState, setup: raised,
		op: func(w *world) error { return w.press("aiste-r", w.label("alert.btn.claim")) }},
	{name: "undo an acknowledgement", prefix: "alert/", state: alertState, setup: acked,
		op: func(w *world) error { return w.press("aiste-r", w.label("alert.btn.unack")) }},
	{name: "resolve", prefix: "alert/", state: alertState, setup: func(w *world) {
		acked(w)
		w.Press("aiste-r", w.label("alert.btn.resolve"))
	}, op: func(w *world) error { return w.say("aiste-r", "Šeima aplankyta, viskas tvarkoje.") }},
	{name: "escalate", prefix: "alert/", state: alertState, setup: raised,
		op: func(w *world) error { return w.fire("alert:A1:esc") }},
	{name: "plan a visit", prefix: "visit/", state: visitState, setup: planUpTo,
		op: func(w *world) error { return w.say("jurate-z", "taip") }},
	{name: "confirm a visit", prefix: "visit/", state: visitState, setup: planned,
		op: func(w *world) error { return w.press("tomas-k", "Dalyvausiu") }},
	{name: "withdraw from a visit", prefix: "visit/", state: visitState, setup: func(w *world) {
		planned(w)
		w.Press("tomas-k", "Dalyvausiu")
		w.Press("ona-p", "Dalyvausiu")
		w.Settle()
		w.Press("tomas-k", "Nebegalėsiu dalyvauti")
		w.Say("tomas-k", "-")
	}, op: func(w *world) error { return w.say("tomas-k", "taip") }},
	{name: "reschedule a visit", prefix: "visit/", state: visitState, setup: func(w *world) {
		planned(w)
		w.Press("tomas-k", "Dalyvausiu")
		w.Settle()
		w.Press("jurate-z", "Perkelti")
		w.Say("jurate-z", "2026-12-04 19:00")
		w.Say("jurate-z", "22:00")
	}, op: func(w *world) error { return w.say("jurate-z", "taip") }},
	{name: "move a meeting", prefix: "meeting/", state: meetingState, setup: func(w *world) {
		w.Say("jurate-z", "/meeting")
		w.Press("jurate-z", "Perkelti šį posėdį")
		w.Say("jurate-z", "2026-12-10 14:00")
	}, op: func(w *world) error { return w.press("jurate-z", w.label("dialog.confirm")) }},
	{name: "cancel a meeting", prefix: "meeting/", state: meetingState, setup: func(w *world) {
		w.Say("jurate-z", "/meeting")
		w.Press("jurate-z", "Atšaukti šį posėdį")
	}, op: func(w *world) error { return w.press("jurate-z", w.label("dialog.confirm")) }},
}

// run brings up a fresh world, runs sc's operation with the k-th write failing or crashing (k 0:
// none), lets the process restart and runs the reconcile pass (on two replicas at once), and returns the world as left,
// before and after, and the writes the operation made.
func run(t *testing.T, sc scenario, k int, mode faults.Mode, timerIDs []string) (before, after snapshot, writes []string, w *world) {
	w = newWorld(t)
	sc.setup(w)
	w.Settle()
	from := w.auditLen()
	before = w.snapshot(sc, from, timerIDs)
	w.f.Arm(k, mode)
	_ = sc.op(w) // a fault surfaces as an error, or as a reply that something went wrong
	writes = w.f.Writes()
	w.f.Disarm()
	if leaseLeft(writes, k, mode) {
		time.Sleep(lease + 10*time.Millisecond) // the apply lease the fault left held runs out
	}
	// Every replica runs the pass: two at once.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Engine.Reconcile(w.Ctx); err != nil {
				t.Errorf("reconcile pass: %v", err)
			}
		}()
	}
	wg.Wait()
	after = w.snapshot(sc, from, append(slices.Clone(timerIDs), w.f.Timers()...))
	return before, after, writes, w
}

// leaseLeft reports whether the writes done before the fault took an apply lease they did not
// give back.
func leaseLeft(writes []string, k int, mode faults.Mode) bool {
	done := writes
	if k > 0 && k <= len(writes) {
		done = writes[:k]
		if mode == faults.Fail {
			done = writes[:k-1]
		}
	}
	held := 0
	for _, w := range done {
		switch {
		case strings.HasPrefix(w, "marks.mark fx/lock/"):
			held++
		case strings.HasPrefix(w, "marks.unmark fx/lock/"):
			held--
		}
	}
	return held > 0 || k > 0 && k <= len(writes) && mode == faults.Fail && strings.HasPrefix(writes[k-1], "marks.unmark fx/lock/")
}

func diff(a, b []string) (onlyA, onlyB []string) {
	count := map[string]int{}
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
	}
	for _, x := range slices.Sorted(maps.Keys(count)) {
		for n := count[x]; n > 0; n-- {
			onlyA = append(onlyA, x)
		}
		for n := count[x]; n < 0; n++ {
			onlyB = append(onlyB, x)
		}
	}
	return onlyA, onlyB
}

// TestEveryWriteFailingOrCrashingIsRepairedByOneReconcilePass fails, in turn, every write an
// operation makes to records, outbox, timers, marks and the audit stream, and separately stops
// everything after each write as a crash would. After one reconcile pass the world must be as a
// run without the fault leaves it (or, when the fault stopped the change itself, as it was): every
// owed message queued once, exactly the wanted timers, each audit event once, no second record.
func TestEveryWriteFailingOrCrashingIsRepairedByOneReconcilePass(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			_, _, _, cw := run(t, sc, 0, faults.Fail, nil)
			timerIDs := cw.f.Timers()
			// Again with every timer the clean run touched looked at.
			before, clean, writes, _ := run(t, sc, 0, faults.Fail, timerIDs)
			if clean.state == before.state {
				t.Fatalf("the operation changed nothing: %s", clean.state)
			}
			if len(clean.queued) == 0 || len(clean.audit) == 0 {
				t.Fatalf("the clean run owes nothing: queued %v, audit %v", clean.queued, clean.audit)
			}
			var ran []string
			for _, mode := range []faults.Mode{faults.Fail, faults.Crash} {
				for k := 1; k <= len(writes); k++ {
					ran = append(ran, fmt.Sprintf("%s %d", mode, k))
					_, got, _, _ := run(t, sc, k, mode, timerIDs)
					want := clean
					if got.state == before.state {
						want = before // the change itself did not happen: nothing may have followed
					} else if got.state != clean.state {
						t.Errorf("%s write %d (%s): state %q, want %q or %q", mode, k, writes[k-1], got.state, before.state, clean.state)
						continue
					}
					check(t, fmt.Sprintf("%s write %d (%s)", mode, k, writes[k-1]), want, got)
				}
			}
			t.Logf("%d writes; ran %s", len(writes), strings.Join(ran, ", "))
			if sc.retry != nil {
				_, _, _, w := run(t, sc, len(writes)/2, faults.Crash, timerIDs)
				sc.retry(w, t)
			}
		})
	}
}

func check(t *testing.T, what string, want, got snapshot) {
	t.Helper()
	if a, b := diff(want.queued, got.queued); len(a)+len(b) > 0 {
		t.Errorf("%s: messages not queued %v; queued but not owed %v", what, a, b)
	}
	if !maps.Equal(want.timers, got.timers) {
		t.Errorf("%s: timers %v, want %v", what, got.timers, want.timers)
	}
	if a, b := diff(want.audit, got.audit); len(a)+len(b) > 0 {
		t.Errorf("%s: audit events missing %v; extra %v", what, a, b)
	}
	if got.records != want.records {
		t.Errorf("%s: %d records, want %d", what, got.records, want.records)
	}
}
