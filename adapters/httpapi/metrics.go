package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tiltas/tiltas/bot"
)

// Metrics are Tiltas's Prometheus series, every one prefixed tiltas_.
type Metrics struct {
	reg         *prometheus.Registry
	updates     *prometheus.CounterVec
	sent        *prometheus.CounterVec
	lateness    prometheus.Histogram
	escalations prometheus.Counter
	expired     prometheus.Counter
	events      *prometheus.CounterVec
	redisErrors prometheus.Counter
	repaired    prometheus.Counter
	deferred    prometheus.Counter
	refusals    *prometheus.CounterVec
	throttled   *prometheus.CounterVec
}

// RefusalKinds are the kinds of refusal of the unauthenticated, counted from the start.
var RefusalKinds = []string{"api.bad_token", "telegram.bad_secret", "slack.invalid_signature", "slack.stale_timestamp",
	"slack.missing_headers", "slack.no_signing_secret", "chat.not_linked"}

// NewMetrics registers the series. outbox reports the queue's depth and oldest message's age.
func NewMetrics(outbox func(ctx context.Context) (int64, time.Duration, error)) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.updates = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tiltas_updates_received_total", Help: "Updates received from chat platforms, by platform and kind."}, []string{"platform", "kind"})
	m.sent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tiltas_messages_sent_total", Help: "Outgoing messages by platform and outcome (sent, retried, rate_limited, deferred, expired, failed)."}, []string{"platform", "outcome"})
	m.lateness = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tiltas_timer_lateness_seconds", Help: "How late timers fired after their due time.", Buckets: []float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 300}})
	m.escalations = prometheus.NewCounter(prometheus.CounterOpts{Name: "tiltas_escalations_total", Help: "Alert escalation steps taken."})
	m.expired = prometheus.NewCounter(prometheus.CounterOpts{Name: "tiltas_dialogs_expired_total", Help: "Dialogs closed after their idle timeout."})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tiltas_events_total", Help: "Domain events by kind."}, []string{"kind"})
	m.redisErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "tiltas_redis_errors_total", Help: "Redis commands that failed."})
	m.repaired = prometheus.NewCounter(prometheus.CounterOpts{Name: "tiltas_reconcile_repaired_total", Help: "Records whose messages, timers or audit events the reconcile pass had to apply."})
	m.deferred = prometheus.NewCounter(prometheus.CounterOpts{Name: "tiltas_effects_deferred_total", Help: "Changes stored whose effects could not be applied at once and wait for the reconcile pass."})
	f(m.updates)
	f(m.sent)
	f(m.lateness)
	f(m.escalations)
	f(m.expired)
	f(m.events)
	f(m.redisErrors)
	f(m.repaired)
	f(m.deferred)
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tiltas_refusals_total", Help: "Requests and messages refused for failing authentication (a wrong token, secret or signature; someone not linked), by kind."}, []string{"kind"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tiltas_refusals_throttled_total", Help: "Of those, answered 429: the source had failed too often."}, []string{"kind"})
	f(m.refusals)
	f(m.throttled)
	for _, k := range RefusalKinds {
		m.refusals.WithLabelValues(k)
		m.throttled.WithLabelValues(k)
	}
	for _, k := range bot.ObservedKinds {
		m.events.WithLabelValues(k)
	}
	if outbox != nil {
		stat := func() (int64, time.Duration) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			n, age, err := outbox(ctx)
			if err != nil {
				return -1, -1
			}
			return n, age
		}
		f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tiltas_outbox_depth", Help: "Messages waiting in the outbox."}, func() float64 { n, _ := stat(); return float64(n) }))
		f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tiltas_outbox_oldest_seconds", Help: "Age of the oldest waiting message."}, func() float64 { _, a := stat(); return a.Seconds() }))
	}
	f(collectors.NewGoCollector())
	// The standard collectors keep their standard names (go_*, process_*), which dashboards expect.
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Platforms starts the per-platform series at zero, so that dashboards see them before the first
// message.
func (m *Metrics) Platforms(ps ...bot.Platform) {
	for _, p := range ps {
		for _, o := range []string{"sent", "retried", "rate_limited", "deferred", "expired", "failed"} {
			m.sent.WithLabelValues(string(p), o)
		}
		for _, k := range []string{"message", "command", "callback", "joined"} {
			m.updates.WithLabelValues(string(p), k)
		}
	}
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Update counts an incoming update.
func (m *Metrics) Update(p bot.Platform, kind string) {
	if kind == "" {
		kind = "other"
	}
	m.updates.WithLabelValues(string(p), kind).Inc()
}

// Sent counts a delivery outcome.
func (m *Metrics) Sent(p bot.Platform, outcome string) {
	m.sent.WithLabelValues(string(p), outcome).Inc()
}

// Late observes a timer's lateness.
func (m *Metrics) Late(d time.Duration) { m.lateness.Observe(max(d, 0).Seconds()) }

// Event counts a domain event from the engine ("escalation", "dialog.expired", …).
func (m *Metrics) Event(kind string) {
	switch kind {
	case "escalation":
		m.escalations.Inc()
	case "dialog.expired":
		m.expired.Inc()
	case "reconcile.repaired":
		m.repaired.Inc()
	case "effects.deferred":
		m.deferred.Inc()
	}
	m.events.WithLabelValues(kind).Inc()
}

// Refusal counts a refusal of the unauthenticated; kind ends in ".throttled" when it was made to wait.
func (m *Metrics) Refusal(kind string) {
	if k, ok := strings.CutSuffix(kind, ".throttled"); ok {
		m.throttled.WithLabelValues(k).Inc()
		return
	}
	m.refusals.WithLabelValues(kind).Inc()
}

// RedisError counts a failed Redis command.
func (m *Metrics) RedisError() { m.redisErrors.Inc() }
