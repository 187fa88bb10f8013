// Package web is everything HTTP: the Fiber app with one route table,
// webhook ingress, the REST API, bearer-token auth, the event stream and
// health endpoints. It turns engine errors into responses in one place.
package web

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine"
)

// MaxBodyLimit is the largest body any route reads; a flow's own limit
// (default 1 MiB) is enforced below it.
const MaxBodyLimit = 64 << 20

// Config configures the web server.
type Config struct {
	// PublicURL is the external base URL (for webhook URLs shown to users).
	PublicURL string
	Version   string
	Logger    *slog.Logger
	// HooksAddr, when set, is the address of a second listener that
	// serves only webhooks and health checks (HooksApp), on an origin of
	// its own; the main listener then serves no webhooks.
	HooksAddr string
	// HooksPublicURL is the external base URL of the hooks listener (for
	// webhook URLs shown to users and URL-signing schemes).
	HooksPublicURL string
	// Backup, when set, makes the snapshots GET /api/backup streams.
	Backup Backuper

	// Metrics are this process's metrics; the engine should have them as
	// its Observer. Nil: New makes its own (without run and step
	// measurements).
	Metrics *Metrics
	// MetricsElsewhere is set when /metrics is served on a listener of
	// its own (MetricsHandler); the main listener then answers 404 there.
	MetricsElsewhere bool

	// testRoutes, set only by tests, adds routes ahead of the catch-alls
	// (a handler that panics, say).
	testRoutes func(*Server)
}

// Server is the HTTP side of Switchyard.
type Server struct {
	app  *fiber.App
	eng  *engine.Engine
	auth *auth.Service
	cfg  Config
	log  *slog.Logger
	ui   uiState
	ids  *requestIDs

	// hooksApp serves the hooks listener (nil without Config.HooksAddr).
	hooksApp *fiber.App
	// limiter enforces webhook triggers' rate limits.
	limiter engine.RateBuckets
	// captures are the builder's "Listen for test event" waits.
	captures captureHub
	// samples are builder samples kept across a save (ui_sample.go).
	samples sampleMemo
	// closing is closed when shutdown begins; event streams end on it.
	closing   chan struct{}
	closeOnce sync.Once
	// apiRoutes are the API's routes, for 405 answers (allowIndex).
	apiRoutes []apiRoute
	metrics   *Metrics
	// stopSampling ends the metrics' sampling loop.
	stopSampling context.CancelFunc
	// history caches the run history's usage for the flows list.
	historyUsage historyCache
}

// New builds the server and its routes over the engine and the accounts,
// sessions and tokens of acc.
func New(eng *engine.Engine, acc *auth.Service, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{eng: eng, auth: acc, cfg: cfg, log: cfg.Logger, ids: newRequestIDs(), closing: make(chan struct{}), metrics: cfg.Metrics}
	if s.metrics == nil {
		s.metrics = NewMetrics(cfg.Version)
	}
	s.metrics.attach(eng)
	var ctx context.Context
	ctx, s.stopSampling = context.WithCancel(context.Background())
	go s.metrics.sampleLoop(ctx, eng)
	s.app = s.newApp()
	s.routes()
	s.apiRoutes = allowIndex(s.app)
	if cfg.HooksAddr != "" {
		s.hooksApp = s.newApp()
		s.hooksRoutes()
	}
	return s
}

// newApp makes a Fiber app with the settings every listener shares.
func (s *Server) newApp() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "switchyard",
		BodyLimit:             MaxBodyLimit,
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		// Fiber hands out strings that alias its request buffers, which
		// are reused once a handler returns; events outlive the request
		// (the race detector caught a Content-Type read by a worker), so
		// every value is copied.
		Immutable: true,
		// Bodies are streamed so that a webhook's own limit is enforced
		// while reading: a 50 MB body for a 1 MiB flow is refused without
		// ever being held in memory (see readBody and limitBody).
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		// Slow clients: the headers must arrive within ReadTimeout, and an
		// idle keep-alive connection is closed after IdleTimeout.
		ReadTimeout: 30 * time.Second,
		// Sync webhooks may wait for their run up to 5 minutes.
		WriteTimeout:   6 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		ReadBufferSize: 16 << 10,
	})
	// Requests the HTTP server cannot parse never reach a route; their
	// answer must not echo the request (see malformedRequest).
	app.Server().ErrorHandler = s.malformedRequest
	return app
}

// App returns the Fiber app (for tests and for Listen).
func (s *Server) App() *fiber.App { return s.app }

// HooksApp returns the app of the hooks listener, or nil when webhooks
// are served by App.
func (s *Server) HooksApp() *fiber.App { return s.hooksApp }

// Listen serves on addr until Shutdown.
func (s *Server) Listen(addr string) error { return s.app.Listen(addr) }

// Shutdown stops accepting connections and waits for requests in flight,
// on both listeners.
func (s *Server) Shutdown(timeout time.Duration) error {
	s.closeOnce.Do(func() { close(s.closing); s.stopSampling() })
	var hooksErr error
	if s.hooksApp != nil {
		hooksErr = s.hooksApp.ShutdownWithTimeout(timeout)
	}
	return errors.Join(s.app.ShutdownWithTimeout(timeout), hooksErr)
}
