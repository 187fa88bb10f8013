package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/engine/pgstore"
)

// dbCollector exports the PostgreSQL store's pool and River queue gauges.
type dbCollector struct {
	s                             *pgstore.Store
	conns, maxConns, acquireWaits *prometheus.Desc
	acquireSeconds, jobs          *prometheus.Desc
}

func newDBCollector(s *pgstore.Store) *dbCollector {
	return &dbCollector{s: s,
		conns:          prometheus.NewDesc("switchyard_db_pool_connections", "Connections of this node's pool to PostgreSQL, by state (idle, in_use).", []string{"state"}, nil),
		maxConns:       prometheus.NewDesc("switchyard_db_pool_max_connections", "The pool's size (--db-pool).", nil, nil),
		acquireWaits:   prometheus.NewDesc("switchyard_db_pool_empty_acquires_total", "Times a query waited for a connection because all were in use.", nil, nil),
		acquireSeconds: prometheus.NewDesc("switchyard_db_pool_acquire_seconds_total", "Time spent waiting for connections of the pool.", nil, nil),
		jobs:           prometheus.NewDesc("switchyard_queue_jobs", "Run jobs of the cluster's River queue, by state (available: due, running, scheduled: parked until due, retryable: failed and waiting).", []string{"state"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.maxConns, c.acquireWaits, c.acquireSeconds, c.jobs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. The queue counts are read from
// the database at each scrape (one indexed query); should it not answer
// within a second they are left out of that scrape.
func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Pool().Stat()
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.AcquiredConns()), "in_use")
	ch <- prometheus.MustNewConstMetric(c.maxConns, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquireWaits, prometheus.CounterValue, float64(st.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.acquireSeconds, prometheus.CounterValue, st.AcquireDuration().Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if q, err := c.s.QueueStats(ctx); err == nil {
		for state, n := range map[string]int64{"available": q.Available, "running": q.Running, "scheduled": q.Scheduled, "retryable": q.Retryable} {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), state)
		}
	}
}
