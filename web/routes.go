package web

import "github.com/gofiber/fiber/v2"

// routes is the one route table.
func (s *Server) routes() {
	app := s.app
	s.front(app, s.securityHeaders)
	app.Use(limitBody(maxAPIBody))
	if s.cfg.testRoutes != nil {
		s.cfg.testRoutes(s)
	}

	if s.cfg.HooksAddr == "" {
		app.All("/hooks/*", s.observeHook, s.hook)
		app.All("/hooks-test/*", s.hookTest)
	} else {
		app.All("/hooks/*", s.hooksElsewhere)
		app.All("/hooks-test/*", s.hooksElsewhere)
	}

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/metrics", s.requireToken, s.serveMetrics())
	app.Get("/api/schema/flow", s.flowSchema)
	app.Get("/api/openapi.json", s.serveOpenAPI)

	api := app.Group("/api", s.requireToken)
	api.Get("/flows", s.listFlows)
	api.Post("/flows", s.createFlow)
	api.Post("/flows/import", s.importFlow)
	api.Post("/flows/test", s.testFlowFile)
	api.Get("/flows/:id", s.getFlow)
	api.Put("/flows/:id", s.updateFlow)
	api.Delete("/flows/:id", s.deleteFlow)
	api.Post("/flows/:id/test", s.testFlow)
	api.Post("/flows/:id/run", s.runFlow)
	api.Get("/flows/:id/schedule", s.getSchedule)
	api.Post("/flows/:id/poll", s.pollNow)
	api.Post("/flows/:id/seen/reset", s.resetSeen)
	api.Get("/flows/:id/refusals", s.listRefusals)
	api.Get("/refusals", s.listRefusals)
	api.Get("/audit", s.listAudit)
	api.Get("/flows/:id/versions", s.listVersions)
	api.Get("/flows/:id/versions/:n", s.getVersion)
	api.Post("/flows/:id/versions/:n/restore", s.restoreVersion)
	api.Post("/flows/:id/pause", s.pauseFlow)
	api.Post("/flows/:id/resume", s.resumeFlow)

	api.Get("/runs", s.listRuns)
	api.Post("/runs/bulk", s.bulkRuns)
	api.Get("/runs/:id", s.getRun)
	api.Get("/runs/:id/loops/:step", s.getLoopPage)
	api.Post("/runs/:id/retry", s.retryRun)
	api.Post("/runs/:id/replay", s.replayRun)

	api.Get("/connectors", s.listConnectors)
	api.Get("/connections", s.listConnections)
	api.Post("/connections", s.putConnection)
	api.Delete("/connections/:name", s.deleteConnection)
	api.Post("/connections/:name/test", s.testConnection)

	api.Get("/store", s.listKVNamespaces)
	api.Get("/store/:namespace", s.listKV)
	api.Get("/store/:namespace/:key", s.getKV)
	api.Put("/store/:namespace/:key", s.putKV)
	api.Delete("/store/:namespace/:key", s.deleteKV)

	api.Get("/events", s.events)
	api.Get("/backup", s.backup)
	api.Get("/settings", s.getSettings)
	api.Put("/settings", s.putSettings)
	api.Post("/signing-secrets", s.createSigningSecret)
	api.Post("/tokens", s.createToken)
	api.Get("/history", s.history)
	api.Post("/compact", s.compact)
	// Every route above needs its entry in apiDocs (web/openapi.go).
	api.All("/*", s.apiNotFound)

	// The web UI: static assets, accounts, then pages behind a session
	// (requireSession also checks CSRF tokens on every POST).
	app.Get("/static/*", s.static)
	app.Get("/setup", s.setupPage)
	app.Post("/setup", s.setupSubmit)
	app.Get("/login", s.loginPage)
	app.Post("/login", s.loginSubmit)
	ui := func(method, path string, h fiber.Handler) {
		app.Add(method, path, s.requireSession, s.page(h))
	}
	ui(fiber.MethodPost, "/logout", s.logout)
	ui(fiber.MethodGet, "/", s.home)
	ui(fiber.MethodGet, "/flows", s.flowsPage)
	ui(fiber.MethodGet, "/flows/new", s.builderNew)
	ui(fiber.MethodPost, "/flows/new", s.builderPost)
	ui(fiber.MethodPost, "/flows/check", s.checkExpr)
	ui(fiber.MethodPost, "/flows/condition", s.conditionFragment)
	ui(fiber.MethodPost, "/flows/schedule", s.schedulePreview)
	ui(fiber.MethodPost, "/flows/sample/listen", s.sampleListen)
	ui(fiber.MethodPost, "/flows/sample/wait", s.sampleWait)
	ui(fiber.MethodPost, "/flows/sample/cancel", s.sampleCancel)
	ui(fiber.MethodPost, "/flows/sample/use", s.sampleUse)
	ui(fiber.MethodPost, "/flows/sample/fetch", s.sampleFetch)
	ui(fiber.MethodGet, "/flows/:id/edit", s.builderEdit)
	ui(fiber.MethodPost, "/flows/:id/edit", s.builderPost)
	ui(fiber.MethodPost, "/flows/:id/toggle", s.toggleFlow)
	ui(fiber.MethodPost, "/flows/:id/pause", s.pauseFlowUI)
	ui(fiber.MethodPost, "/flows/:id/resume", s.resumeFlowUI)
	ui(fiber.MethodPost, "/flows/:id/duplicate", s.duplicateFlow)
	ui(fiber.MethodGet, "/flows/:id/delete", s.deleteFlowPage)
	ui(fiber.MethodPost, "/flows/:id/delete", s.deleteFlowSubmit)
	ui(fiber.MethodPost, "/flows/:id/poll", s.pollNowUI)
	ui(fiber.MethodPost, "/flows/:id/seen/reset", s.resetSeenUI)
	ui(fiber.MethodGet, "/flows/:id/history", s.historyPage)
	ui(fiber.MethodPost, "/flows/:id/versions/:n/restore", s.restoreVersionUI)
	ui(fiber.MethodPost, "/flows/:id/run", s.runNowUI)
	ui(fiber.MethodGet, "/runs", s.runsPage)
	ui(fiber.MethodGet, "/runs/rows", s.runRows)
	ui(fiber.MethodPost, "/runs/bulk", s.bulkUI)
	ui(fiber.MethodGet, "/runs/:id", s.runPage)
	ui(fiber.MethodPost, "/runs/:id/retry", s.retryRunUI)
	ui(fiber.MethodGet, "/runs/:id/replay", s.replayPage)
	ui(fiber.MethodPost, "/runs/:id/replay", s.replayRunUI)
	ui(fiber.MethodGet, "/store", s.storePage)
	ui(fiber.MethodPost, "/store", s.storeSaveUI)
	ui(fiber.MethodGet, "/store/:namespace", s.storeNamespacePage)
	ui(fiber.MethodGet, "/store/:namespace/:key/edit", s.storeEditPage)
	ui(fiber.MethodPost, "/store/:namespace/:key/edit", s.storeSaveUI)
	ui(fiber.MethodGet, "/store/:namespace/:key/delete", s.storeDeletePage)
	ui(fiber.MethodPost, "/store/:namespace/:key/delete", s.storeDeleteUI)
	ui(fiber.MethodGet, "/connections", s.connectionsPage)
	ui(fiber.MethodPost, "/connections", s.createConnectionUI)
	ui(fiber.MethodPost, "/connections/:name/delete", s.deleteConnectionUI)
	ui(fiber.MethodPost, "/connections/:name/test", s.testConnectionUI)
	ui(fiber.MethodGet, "/refused", s.refusedPage)
	ui(fiber.MethodGet, "/settings/audit", s.auditPage)
	ui(fiber.MethodGet, "/tokens", s.tokensPage)
	ui(fiber.MethodPost, "/tokens", s.createTokenUI)
	ui(fiber.MethodPost, "/tokens/:id/revoke", s.revokeTokenUI)
	ui(fiber.MethodGet, "/settings", s.settingsPage)
	ui(fiber.MethodPost, "/settings", s.saveSettingsUI)
	// The UI's event stream: the same updates as /api/events, behind the
	// session (EventSource cannot send an Authorization header).
	app.Get("/ui/events", s.requireSession, s.events)
	app.Use(s.uiNotFound)
}

// hooksRoutes is the route table of the hooks listener: webhooks and
// health checks, nothing of the UI or the API.
func (s *Server) hooksRoutes() {
	app := s.hooksApp
	s.front(app, s.hookHeaders)
	app.All("/hooks/*", s.observeHook, s.hook)
	app.All("/hooks-test/*", s.hookTest)
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Use(s.hooksNotFound)
}

// front is what every request meets first on either listener: its id,
// the framing check, panic recovery and the security headers.
func (s *Server) front(app *fiber.App, headers fiber.Handler) {
	app.Use(s.requestID)
	app.Use(s.framingGuard)
	app.Use(s.recoverPanics())
	app.Use(headers)
}
