package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
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
	alerts *alerts.Flow
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

// newEngine builds the engine over st and registers every flow, the same way for serve and demo.
func newEngine(cfg *config.Config, dir *bot.Directory, st stores, clock bot.Clock, log *slog.Logger, observe func(string)) (*bot.Engine, error) {
	e, _, err := newEngineFlows(cfg, dir, st, clock, log, observe)
	return e, err
}

func newEngineFlows(cfg *config.Config, dir *bot.Directory, st stores, clock bot.Clock, log *slog.Logger, observe func(string)) (*bot.Engine, *flowSet, error) {
	texts, err := bot.LoadCatalog()
	if err != nil {
		return nil, nil, err
	}
	e := bot.NewEngine(bot.Deps{
		Clock: clock, Records: st.records, Marks: st.marks, Outbox: st.queue, Timers: st.timers,
		Audit: st.audit, Texts: texts, Log: log, Observe: observe,
	}, cfg.Settings(), dir)
	fs := &flowSet{routes: map[string]http.Handler{}}
	fs.alerts = alerts.Register(e, alertsConfig(cfg))
	return e, fs, nil
}
