package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/scheduler"
)

// stores are the storage services, from Redis in serve and from memory in the demo.
type stores struct {
	records bot.Records
	marks   bot.Marks
	audit   bot.Audit
	timers  bot.TimerQueue
	queue   bot.DeliveryQueue
}

// flowSet holds the registered flows, for the parts of serve that reach them directly.
type flowSet struct {
	alerts   *alerts.Flow
	meetings *meetings.Flow
	visits   *visits.Flow
	// planners run at start and daily: meeting occurrences, proposed visits.
	planners []func(context.Context) error
	routes   map[string]http.Handler
}

func (f *flowSet) start(ctx context.Context) error {
	for _, p := range f.planners {
		if err := p(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (f *flowSet) schedule(cr *scheduler.Cron) error {
	for i, p := range f.planners {
		if err := cr.Add("plan-"+string(rune('a'+i)), "5 3 * * *", p); err != nil {
			return err
		}
	}
	return nil
}

func (f *flowSet) mountHTTP(mux *http.ServeMux) {
	for pattern, h := range f.routes {
		mux.Handle(pattern, h)
	}
}

// reconcileLoop runs the engine's repair pass at once and then every interval until ctx ends:
// what a fault or a crash left undone (a message not queued, a timer not set) is done. Every
// replica runs it; the pass is safe to run concurrently.
func reconcileLoop(ctx context.Context, e *bot.Engine, interval time.Duration, log *slog.Logger) {
	for {
		if n, err := e.Reconcile(ctx); err != nil && ctx.Err() == nil {
			log.Error("reconcile pass incomplete; trying again next pass", "repaired", n, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// newEngineFlows builds the engine over st and registers every flow, the same way for serve and demo.
func newEngineFlows(cfg *config.Config, dir *bot.Directory, st stores, clock bot.Clock, log *slog.Logger, observe func(string)) (*bot.Engine, *flowSet, error) {
	texts, err := bot.LoadCatalog()
	if err != nil {
		return nil, nil, err
	}
	e := bot.NewEngine(bot.Deps{
		Clock: clock, Records: st.records, Marks: st.marks, Outbox: st.queue, Timers: st.timers,
		Audit: st.audit, Texts: texts, Log: log, Observe: observe,
	}, cfg.Settings(), dir)
	return e, registerFlows(e, cfg), nil
}

// registerFlows registers every flow on e (tests that build their own engine use it too).
func registerFlows(e *bot.Engine, cfg *config.Config) *flowSet {
	fs := &flowSet{routes: map[string]http.Handler{}}
	fs.alerts = alerts.Register(e, cfg.AlertsFlow())
	fs.meetings = meetings.Register(e, cfg.MeetingsFlow(scheduler.ParseRRule))
	fs.visits = visits.Register(e, cfg.VisitsFlow(scheduler.ParseRRule))
	fs.planners = append(fs.planners, fs.meetings.Plan, fs.visits.Plan)
	fs.routes["GET /calendar/{token}"] = http.HandlerFunc(fs.calendarFeed)
	return fs
}

// reload applies a reloaded config's meeting series (the directory is swapped by the caller).
func (f *flowSet) reload(ctx context.Context, cfg *config.Config) error {
	f.meetings.SetSeries(cfg.MeetingsFlow(scheduler.ParseRRule).Series)
	return f.start(ctx)
}

// calendarFeed serves a person's secret calendar subscription. The token is the secret: it is
// never logged, and an unknown one is a plain 404.
func (f *flowSet) calendarFeed(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimSuffix(r.PathValue("token"), ".ics")
	data, err := f.meetings.Feed(r.Context(), token)
	if errors.Is(err, bot.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "try again later", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=300")
	_, _ = w.Write(data)
}
