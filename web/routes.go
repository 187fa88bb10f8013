package web

// routes is the one route table.
func (s *Server) routes() {
	app := s.app
	app.Use(s.securityHeaders)

	app.All("/hooks/*", s.hook)

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/metrics", s.metrics)
	app.Get("/api/schema/flow", s.flowSchema)

	api := app.Group("/api", s.requireToken)
	api.Get("/flows", s.listFlows)
	api.Post("/flows", s.createFlow)
	api.Get("/flows/:id", s.getFlow)
	api.Put("/flows/:id", s.updateFlow)
	api.Delete("/flows/:id", s.deleteFlow)
	api.Post("/flows/:id/test", s.testFlow)
	api.Post("/flows/:id/run", s.runFlow)

	api.Get("/runs", s.listRuns)
	api.Get("/runs/:id", s.getRun)
	api.Post("/runs/:id/retry", s.retryRun)
	api.Post("/runs/:id/replay", s.replayRun)

	api.Get("/connectors", s.listConnectors)
	api.Get("/connections", s.listConnections)
	api.Post("/connections", s.putConnection)
	api.Delete("/connections/:name", s.deleteConnection)

	api.Get("/events", s.events)
	api.All("/*", s.apiNotFound)
}
