package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/internal/flowtest"
	"github.com/tiltas/tiltas/web"
)

// countingRecords counts the store calls a page makes.
type countingRecords struct {
	bot.Records
	n atomic.Int64
}

func (c *countingRecords) Get(ctx context.Context, key string) ([]byte, int64, error) {
	c.n.Add(1)
	return c.Records.Get(ctx, key)
}

func (c *countingRecords) Write(ctx context.Context, w bot.Write) (int64, error) {
	c.n.Add(1)
	return c.Records.Write(ctx, w)
}

func (c *countingRecords) Range(ctx context.Context, index string, min, max float64, limit int) ([]string, error) {
	c.n.Add(1)
	return c.Records.Range(ctx, index, min, max, limit)
}

// BenchmarkDeskToday renders Today on real Redis with many alerts, 500 visits over a year and
// 1,000 people: the time per page, and the store calls per page, which follow what the page
// shows (the 100 oldest open concerns, this week's visits, the next meeting), not how many
// records there are.
func BenchmarkDeskToday(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("alerts=%d", n), func(b *testing.B) {
			var rec *countingRecords
			h := flowtest.New(b, flowtest.Options{Redis: true, AllFlows: true, Wrap: func(s flowtest.Stores) flowtest.Stores {
				rec = &countingRecords{Records: s.Records}
				s.Records = rec
				return s
			}})
			e, ctx := h.Engine, h.Ctx
			// 1,000 people.
			dir := *e.Directory()
			dir.People = append([]*bot.Person(nil), dir.People...)
			for i := range 1000 {
				dir.People = append(dir.People, &bot.Person{ID: fmt.Sprintf("darbuotojas-%04d", i), Name: fmt.Sprintf("Darbuotojas %04d", i), Institution: "socpaslaugos", Roles: []bot.Role{bot.RoleSocialWorker}, Language: "lt"})
			}
			e.SetDirectory(dir.Index())
			if err := e.SyncPeople(ctx); err != nil {
				b.Fatal(err)
			}
			now := e.Now()
			for i := range n {
				a := alerts.Alert{ID: fmt.Sprintf("A%d", i+1), Kind: "concern", Case: fmt.Sprintf("K-2026-%04d", i), Category: "absence", Urgency: "routine",
					Sender: "giedre-s", State: alerts.Open, Created: now.Add(-time.Duration(n-i) * time.Minute), Rule: "routine",
					Steps: []alerts.Step{{Audience: bot.Audience{Roles: []bot.Role{bot.RoleSocialWorker}}, Wait: 24 * time.Hour}}, StepDue: now.Add(time.Hour)}
				if _, err := bot.Save(ctx, e.Records, "alert/"+a.ID, a, 0, bot.IndexOp{Index: "alerts:open", Member: a.ID, Score: float64(a.Created.Unix())}); err != nil {
					b.Fatal(err)
				}
			}
			for i := range 500 {
				start := now.Add(time.Duration(i) * 17 * time.Hour)
				v := visits.Visit{ID: fmt.Sprintf("v%d", i), No: fmt.Sprintf("V%d", i+1), Organizer: "ona-p", Start: start, End: start.Add(3 * time.Hour), Area: "centras",
					Needs: []visits.Need{{Role: bot.RolePolice, Count: 1}, {Role: bot.RoleSocialWorker, Count: 1}}, Status: visits.Open, Deadline: start.Add(-24 * time.Hour)}
				if _, err := bot.Save(ctx, e.Records, "visit/"+v.ID, v, 0, bot.IndexOp{Index: "visits:open", Member: v.ID, Score: float64(start.Unix())}); err != nil {
					b.Fatal(err)
				}
			}
			a := h.App
			desk := (&web.Desk{Engine: e, Alerts: a.Alerts, Visits: a.Visits, Meetings: a.Meetings}).Handler()
			link, err := e.DeskLink(ctx, "jurate-z")
			if err != nil {
				b.Fatal(err)
			}
			sid, _, err := e.DeskSignIn(ctx, link)
			if err != nil {
				b.Fatal(err)
			}
			get := func() string {
				req := httptest.NewRequest("GET", "/desk/", nil)
				req.AddCookie(&http.Cookie{Name: "tiltas_desk", Value: sid})
				w := httptest.NewRecorder()
				desk.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("Today = %d", w.Code)
				}
				return w.Body.String()
			}
			if body := get(); !strings.Contains(body, "K-2026-0000") || !strings.Contains(body, fmt.Sprint(n-100)) {
				b.Fatalf("Today does not show the oldest concern and the count of the rest")
			}
			rec.n.Store(0)
			b.ResetTimer()
			for b.Loop() {
				get()
			}
			b.ReportMetric(float64(rec.n.Load())/float64(b.N), "store-calls/page")
		})
	}
}
