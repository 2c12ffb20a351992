package main

import (
	"log/slog"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/config"
)

// stores are the storage services, from Redis in serve and from memory in the demo.
type stores struct {
	records bot.Records
	marks   bot.Marks
	audit   bot.Audit
	timers  bot.TimerQueue
	queue   bot.DeliveryQueue
}

// newEngine builds the engine over st and registers every flow, the same way for serve and demo.
func newEngine(cfg *config.Config, dir *bot.Directory, st stores, clock bot.Clock, log *slog.Logger, observe func(string)) (*bot.Engine, error) {
	texts, err := bot.LoadCatalog()
	if err != nil {
		return nil, err
	}
	e := bot.NewEngine(bot.Deps{
		Clock: clock, Records: st.records, Marks: st.marks, Outbox: st.queue, Timers: st.timers,
		Audit: st.audit, Texts: texts, Log: log, Observe: observe,
	}, cfg.Settings(), dir)
	alerts.Register(e, alertsConfig(cfg))
	return e, nil
}
