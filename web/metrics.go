package web

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchyard/switchyard/engine"
)

// Metrics are the Prometheus metrics of one process: the Go runtime and
// process collectors, build info, the engine's counters and the
// histograms the engine (as its Observer) and the webhook handler feed.
// No metric carries a flow id: flows are created through the API, so
// their number is not bounded by the code. Labels are a connector id (the
// registered connectors), a status, or a refusal reason from a fixed list.
type Metrics struct {
	reg        *prometheus.Registry
	runs       *prometheus.HistogramVec
	steps      *prometheus.HistogramVec
	inProgress prometheus.Gauge
	hookAck    prometheus.Histogram
	refusals   *prometheus.CounterVec

	// The store's apply lag: when its backlog was last seen empty.
	lagMu     sync.Mutex
	lastEmpty time.Time

	attached sync.Once
}

// refusalReasons are the values of the reason label of
// switchyard_webhook_refusals_total.
var refusalReasons = []string{"signature", "address", "rate_limit", "queue_full", "storage_unavailable",
	"bad_request", "no_flow", "method", "too_large", "media_type", "other"}

// latencyBuckets suit a webhook acknowledgement (an fsync'd write: around
// a millisecond on a good disk) up to a slow second.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// durationBuckets suit runs and steps: a data step takes microseconds, a
// call to a remote service up to its timeout.
var durationBuckets = []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// NewMetrics registers the process-wide collectors and the histograms;
// version is reported by switchyard_build_info.
func NewMetrics(version string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "switchyard_run_duration_seconds", Help: "Time from a run's start to its final status, by outcome (succeeded, failed).",
			Buckets: durationBuckets}, []string{"outcome"}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "switchyard_step_duration_seconds", Help: "Time of one attempt of a step, by connector and outcome (succeeded, failed, retrying).",
			Buckets: durationBuckets}, []string{"connector", "outcome"}),
		inProgress: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_runs_in_progress", Help: "Runs a worker is advancing right now."}),
		hookAck: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "switchyard_webhook_ack_seconds", Help: "Time from a webhook's arrival to its acknowledgement (202, or 200 for a duplicate): the event is durable by then.",
			Buckets: latencyBuckets}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_webhook_refusals_total", Help: "Webhook requests answered with an error, by reason."}, []string{"reason"}),
		lastEmpty: time.Now(),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "switchyard_build_info", Help: "Always 1; the labels name the build.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}})
	build.Set(1)
	for _, r := range refusalReasons {
		// Every reason is exported from the start, at 0.
		m.refusals.WithLabelValues(r)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build, m.runs, m.steps, m.inProgress, m.hookAck, m.refusals,
	)
	return m
}

// RunFinished implements engine.Observer.
func (m *Metrics) RunFinished(status engine.RunStatus, d time.Duration) {
	m.runs.WithLabelValues(string(status)).Observe(d.Seconds())
}

// StepFinished implements engine.Observer.
func (m *Metrics) StepFinished(connector string, status engine.StepStatus, d time.Duration) {
	m.steps.WithLabelValues(connector, string(status)).Observe(d.Seconds())
}

// RunsInProgress implements engine.Observer.
func (m *Metrics) RunsInProgress(delta int) { m.inProgress.Add(float64(delta)) }

// attach exports the engine's counters and the store's state; it is
// called once per Metrics, by the first server built with it.
func (m *Metrics) attach(eng *engine.Engine) {
	m.attached.Do(func() { m.reg.MustRegister(&statsCollector{eng: eng, m: m}) })
}

// sampleLag notes whether the store's backlog is empty now, so that the
// apply lag is measured between scrapes too (see statsCollector).
func (m *Metrics) sampleLag(backlog int64, now time.Time) time.Duration {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	if backlog == 0 {
		m.lastEmpty = now
		return 0
	}
	return now.Sub(m.lastEmpty)
}

// sampleLoop samples the store's backlog four times a second until ctx
// ends: the apply lag is then exact to 250ms.
func (m *Metrics) sampleLoop(ctx context.Context, eng *engine.Engine) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			m.sampleLag(eng.StoreHealth().Backlog, now)
		}
	}
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// statsCollector exports the engine's counters (read once per scrape).
type statsCollector struct {
	eng *engine.Engine
	m   *Metrics
}

type statDesc struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(engine.Stats) float64
}

func stat(name, help string, typ prometheus.ValueType, value func(engine.Stats) float64) statDesc {
	return statDesc{prometheus.NewDesc(name, help, nil, nil), typ, value}
}

var (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue

	engineStats = []statDesc{
		stat("switchyard_events_accepted_total", "Events stored durably and queued as runs.", counter, func(s engine.Stats) float64 { return float64(s.Accepted) }),
		stat("switchyard_events_duplicate_total", "Deliveries answered as duplicates.", counter, func(s engine.Stats) float64 { return float64(s.Duplicates) }),
		stat("switchyard_events_refused_saturated_total", "Deliveries refused with 429 because the queue was full.", counter, func(s engine.Stats) float64 { return float64(s.Saturated) }),
		stat("switchyard_webhooks_refused_total", "Webhook requests answered 4xx or 5xx without a run (recorded in the refusal log, or counted as unrecorded).", counter, func(s engine.Stats) float64 { return float64(s.Refused) }),
		stat("switchyard_refusals_unrecorded_total", "Refused webhook requests not kept in the refusal log because a flood outran its rates (512/s, 64/s a flow, 10/s for unknown paths).", counter, func(s engine.Stats) float64 { return float64(s.RefusalsDropped) }),
		stat("switchyard_store_apply_errors_total", "Failed attempts to move acknowledged writes from the write-ahead log into the database (the disk needs attention).", counter, func(s engine.Stats) float64 { return float64(s.StoreApplyErrors) }),
		stat("switchyard_store_stuck", "1 while the database refuses writes that were acknowledged (they wait in the write-ahead log).", gauge, func(s engine.Stats) float64 { return float64(s.StoreStuck) }),
		stat("switchyard_store_backlog", "Acknowledged writes waiting in the write-ahead log for the database (the log lag).", gauge, func(s engine.Stats) float64 { return float64(s.StoreBacklog) }),
		stat("switchyard_runs_succeeded_total", "Runs that finished successfully.", counter, func(s engine.Stats) float64 { return float64(s.Succeeded) }),
		stat("switchyard_runs_failed_total", "Runs that failed.", counter, func(s engine.Stats) float64 { return float64(s.Failed) }),
		stat("switchyard_step_checkpoints_total", "Step checkpoints written.", counter, func(s engine.Stats) float64 { return float64(s.Steps) }),
		stat("switchyard_runs_pending", "Runs queued, running or waiting (the queue depth).", gauge, func(s engine.Stats) float64 { return float64(s.Pending) }),
		stat("switchyard_workers", "Worker pool size.", gauge, func(s engine.Stats) float64 { return float64(s.Workers) }),
	}
	searchBacklogDesc = prometheus.NewDesc("switchyard_search_backlog_runs",
		"Runs waiting for the search index, which searches do not find yet (stores that index behind their writes only).", nil, nil)
	applyLagDesc = prometheus.NewDesc("switchyard_store_apply_lag_seconds",
		"How long acknowledged writes have been waiting in the write-ahead log (0 when the database holds them all); sampled every 250ms.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range engineStats {
		ch <- s.desc
	}
	ch <- applyLagDesc
	ch <- searchBacklogDesc
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.eng.Stats()
	for _, s := range engineStats {
		ch <- prometheus.MustNewConstMetric(s.desc, s.typ, s.value(st))
	}
	ch <- prometheus.MustNewConstMetric(applyLagDesc, gauge, c.m.sampleLag(st.StoreBacklog, time.Now()).Seconds())
	if n, ok, err := c.eng.SearchBacklog(context.Background()); ok && err == nil {
		ch <- prometheus.MustNewConstMetric(searchBacklogDesc, gauge, float64(n))
	}
}

// Request locals of the webhook metrics.
const localRefusal = "switchyard.refusal"

// observeHook counts a webhook answered with an error by its reason and
// records it as a refusal. The error is turned into the answer here, so
// its status is known.
func (s *Server) observeHook(c *fiber.Ctx) error {
	err := c.Next()
	if err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	status := c.Response().StatusCode()
	if status < 400 {
		return nil
	}
	reason, _ := c.Locals(localRefusal).(string)
	if reason == "" {
		reason = refusalReason(status)
	}
	s.metrics.refusals.WithLabelValues(reason).Inc()
	s.recordRefusal(c, err)
	return nil
}

// refusalReason names a refusal the handler did not name by its status.
func refusalReason(status int) string {
	switch status {
	case fiber.StatusBadRequest:
		return "bad_request"
	case fiber.StatusUnauthorized:
		return "signature"
	case fiber.StatusForbidden:
		return "address"
	case fiber.StatusNotFound:
		return "no_flow"
	case fiber.StatusMethodNotAllowed:
		return "method"
	case fiber.StatusRequestEntityTooLarge:
		return "too_large"
	case fiber.StatusUnsupportedMediaType:
		return "media_type"
	case fiber.StatusTooManyRequests:
		return "queue_full"
	case fiber.StatusServiceUnavailable:
		return "storage_unavailable"
	}
	return "other"
}

// refusalKind names a refusal recorded in a flow's refusal log.
func refusalKind(status int) string {
	if status == fiber.StatusTooManyRequests {
		return "rate_limit"
	}
	return refusalReason(status)
}

// serveMetrics answers /metrics on the main listener. There it needs an
// API token; with Config.MetricsElsewhere it is served on its own
// listener only (MetricsHandler).
func (s *Server) serveMetrics() fiber.Handler {
	h := adaptor.HTTPHandler(s.metrics.Handler())
	return func(c *fiber.Ctx) error {
		if s.cfg.MetricsElsewhere {
			return errStatus(fiber.StatusNotFound, "metrics are served on their own listener (--metrics-addr)")
		}
		return h(c)
	}
}

// MetricsHandler serves /metrics for a listener of its own
// (--metrics-addr), without a token: bind it where only the scraper
// reaches it.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	return mux
}

var _ engine.Observer = (*Metrics)(nil)

// Register adds a collector of what only the caller knows (the store's
// connection pool and queue, in the cluster mode).
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }
