package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine/pgstore"
	"github.com/switchyard/switchyard/web"
)

func cmdServe(args []string, stderr io.Writer) error {
	var o options
	fs := newFlagSet("serve", &o, true)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"serve takes no arguments"}
	}
	log := newLogger(o.logLevel, stderr)
	// The live heap of a busy server is small (tens of MB: buffers and the
	// runs in flight) while garbage is made per request; collecting at 5x
	// the live heap instead of 2x costs little memory and about a tenth of
	// the CPU at load (docs/benchmarks.md). GOGC still overrides it.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// The data-dir store waits on the disk in calls that hold a Go
	// processor (procs.go); PostgreSQL's waits go through the network
	// poller and need no more than the runtime's choice.
	if o.database == "" {
		log.Debug("serve: Go processors", "gomaxprocs", raiseProcs(), "cpus", runtime.NumCPU())
	}
	// SWITCHYARD_CPUPROFILE names a file for a CPU profile of the whole
	// serve (written at shutdown): how docs/benchmarks.md was profiled.
	if path := os.Getenv("SWITCHYARD_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	o.metrics = web.NewMetrics(version)
	eng, store, err := openEngine(ctx, &o, log)
	if err != nil {
		return err
	}
	defer store.Close()
	// Recovery runs before the listener opens: runs left queued or running
	// by a crash go first.
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer eng.Stop()
	// SWITCHYARD_HEAPPROFILE names a file for a profile of the live heap
	// at shutdown, before the engine and the store close (after a
	// collection): what a server holds, the idle RSS's share of it.
	if path := os.Getenv("SWITCHYARD_HEAPPROFILE"); path != "" {
		defer writeHeapProfile(path, log)
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	cfg := web.Config{PublicURL: o.publicURL, HooksPublicURL: o.hooksPublicURL, Version: version, Logger: log,
		Metrics: o.metrics, MetricsElsewhere: o.metricsAddr != ""}
	if b, ok := store.(web.Backuper); ok {
		cfg.Backup = b
	}
	if pg, ok := store.(*pgstore.Store); ok {
		o.metrics.Register(newDBCollector(pg))
	}
	var metricsLn net.Listener
	if o.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", o.metricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		defer metricsLn.Close()
	}
	var hooksLn net.Listener
	if o.hooksAddr != "" {
		if hooksLn, err = net.Listen("tcp", o.hooksAddr); err != nil {
			ln.Close()
			return fmt.Errorf("--hooks-addr: %w", err)
		}
		cfg.HooksAddr = hooksLn.Addr().String()
	}
	acc := auth.New(store, log)
	go acc.PurgeLoop(ctx)
	go releaseMemoryWhenIdle(ctx, eng.Stats)
	srv := web.New(eng, acc, cfg)
	errc := make(chan error, 3)
	if metricsLn != nil {
		log.Info("switchyard serving metrics", "addr", metricsLn.Addr().String())
		ms := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- ms.Serve(metricsLn) }()
		defer ms.Close()
	}
	if hooksLn != nil {
		log.Info("switchyard listening for webhooks", "addr", cfg.HooksAddr)
		go func() { errc <- srv.HooksApp().Listener(hooksLn) }()
	}
	log.Info("switchyard listening", "addr", ln.Addr().String(), storeKey(&o), storeWhere(&o), "version", version)
	go func() { errc <- srv.App().Listener(ln) }()
	select {
	case err := <-errc:
		// One listener stopped on its own: stop the other too.
		_ = srv.Shutdown(15 * time.Second)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
	case <-ctx.Done():
		log.Info("shutting down")
		if err := srv.Shutdown(15 * time.Second); err != nil {
			log.Error("http shutdown", "err", err)
		}
	}
	return nil
}

// writeHeapProfile writes the live heap to path.
func writeHeapProfile(path string, log *slog.Logger) {
	f, err := os.Create(path)
	if err != nil {
		log.Error("heap profile", "err", err)
		return
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		log.Error("heap profile", "err", err)
	}
}
