// Package app is the one assembly of Tiltas's core: the engine with every flow registered, and
// the loops that carry it out — delivery workers, the timer runner, the daily jobs and the
// reconcile pass — over whichever stores it is given. serve builds it on Redis, the demo and the
// flow tests in memory (or on Redis); each only adds its own platforms.
package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/bot/requests"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/delivery"
	"github.com/tiltas/tiltas/scheduler"
	"github.com/tiltas/tiltas/web"
)

// Stores are the storage services Tiltas runs on: Redis in serve, memory in the demo and tests.
type Stores struct {
	Records bot.Records
	Marks   bot.Marks
	Audit   bot.Audit
	Timers  bot.TimerQueue
	Queue   bot.DeliveryQueue
}

// Memory returns in-process stores on clock.
func Memory(clock bot.Clock) Stores {
	m := memory.New(clock)
	return Stores{Records: m, Marks: m, Audit: m.Audit(), Timers: m, Queue: m}
}

// Options say what to assemble.
type Options struct {
	Config *config.Config
	// Directory is the directory to start with (default: the config's).
	Directory *bot.Directory
	Stores    Stores
	Clock     bot.Clock
	Log       *slog.Logger
	// Observe counts the engine's events for the metrics; may be nil.
	Observe func(kind string)
	// Gate takes messages from people who are not linked (refusal.Gate in serve); may be nil.
	Gate bot.Gate
	// Settings changes the engine's settings from the config's (tests: a shorter apply lease).
	Settings func(*bot.Settings)
	// Register registers the flows; nil registers every flow as serve runs them.
	Register func(e *bot.Engine, cfg *config.Config)
}

// App is an engine with its flows, and the parts that carry it out.
type App struct {
	Engine   *bot.Engine
	Stores   Stores
	Clock    bot.Clock
	Log      *slog.Logger
	Alerts   *alerts.Flow // nil when Options.Register chose the flows
	Meetings *meetings.Flow
	Visits   *visits.Flow
	Requests *requests.Flow

	planners []func(context.Context) error
}

// New builds the engine over o.Stores and registers the flows on it. It does no I/O.
func New(o Options) (*App, error) {
	texts, err := bot.LoadCatalog()
	if err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = bot.SystemClock
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	dir := o.Directory
	if dir == nil {
		dir = o.Config.Directory()
	}
	settings := o.Config.Settings()
	if o.Settings != nil {
		o.Settings(&settings)
	}
	st := o.Stores
	e := bot.NewEngine(bot.Deps{Clock: o.Clock, Records: st.Records, Marks: st.Marks, Outbox: st.Queue, Timers: st.Timers,
		Audit: st.Audit, Texts: texts, Log: o.Log, Observe: o.Observe, Gate: o.Gate}, settings, dir)
	a := &App{Engine: e, Stores: st, Clock: o.Clock, Log: o.Log}
	if o.Register != nil {
		o.Register(e, o.Config)
		return a, nil
	}
	a.Alerts = alerts.Register(e, o.Config.AlertsFlow())
	a.Meetings = meetings.Register(e, o.Config.MeetingsFlow(scheduler.ParseRRule))
	a.Visits = visits.Register(e, o.Config.VisitsFlow(scheduler.ParseRRule))
	a.Requests = requests.Register(e, o.Config.RequestsFlow())
	a.planners = []func(context.Context) error{a.Meetings.Plan, a.Visits.Plan}
	return a, nil
}

// Worker is the delivery worker for one platform's messenger; serve adds its limiter and metrics.
func (a *App) Worker(p bot.Platform, m bot.Messenger) *delivery.Worker {
	return &delivery.Worker{Platform: p, Queue: a.Stores.Queue, Messenger: m, Records: a.Stores.Records, Clock: a.Clock,
		Log: a.Log.With("worker", p), Failed: a.Engine.Undeliverable, Delivered: a.Engine.Delivered}
}

// Runner is the timer runner that fires the engine's timers.
func (a *App) Runner() *scheduler.Runner {
	return &scheduler.Runner{Queue: a.Stores.Timers, Fire: a.Engine.Fire, Clock: a.Clock, Log: a.Log.With("component", "timers")}
}

// Plan brings the stored people in line with the config's, and plans meeting occurrences and
// series visits, as at start; from then on their own timers keep them coming.
func (a *App) Plan(ctx context.Context) error {
	// The config's people first: the series name them.
	errs := []error{a.Engine.SyncPeople(ctx)}
	for _, p := range a.planners {
		errs = append(errs, p(ctx))
	}
	return errors.Join(errs...)
}

// Schedule adds the daily jobs to cr: planning again, and the retention purge.
func (a *App) Schedule(cr *scheduler.Cron) error {
	for i, p := range a.planners {
		if err := cr.Add("plan-"+string(rune('a'+i)), "5 3 * * *", p); err != nil {
			return err
		}
	}
	return cr.Add("purge", "15 3 * * *", func(ctx context.Context) error {
		n, err := a.Engine.Purge(ctx)
		a.Log.Info("retention purge", "deleted", n)
		return err
	})
}

// Reconcile runs the engine's repair pass at once and then every interval until ctx ends: what a
// fault or a crash left undone (a message not queued, a timer not set) is done. Every replica runs
// it; the pass is safe to run concurrently.
func (a *App) Reconcile(ctx context.Context, interval time.Duration) error {
	log := a.Log.With("component", "reconcile")
	for {
		if n, err := a.Engine.Reconcile(ctx); err != nil && ctx.Err() == nil {
			log.Error("reconcile pass incomplete; trying again next pass", "repaired", n, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// Reload applies a reloaded config: the directory at once, meeting series the next time they
// are planned (now).
func (a *App) Reload(ctx context.Context, cfg *config.Config) error {
	a.Engine.SetDirectory(cfg.Directory())
	if a.Meetings != nil {
		a.Meetings.SetSeries(cfg.MeetingsFlow(scheduler.ParseRRule).Series)
	}
	return a.Plan(ctx)
}

// Routes are the flows' HTTP routes, by pattern: the calendar feeds and their add-to-calendar
// pages.
func (a *App) Routes() map[string]http.Handler {
	if a.Meetings == nil {
		return nil
	}
	cal := &web.Calendar{Feeds: a.Meetings, Catalog: a.Engine.Texts, Base: a.Meetings.FeedURL()}
	return map[string]http.Handler{"GET /calendar/{token}": cal, "GET /assets/": web.Assets()}
}
