package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors/egress"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore"
	"github.com/switchyard/switchyard/engine/pgstore"
	"github.com/switchyard/switchyard/web"
)

// lockWait is how long a command waits for the data dir's lock before it
// gives up: long enough to ride out a restart, short enough to fail fast.
const lockWait = 1 * time.Second

// options are the settings shared by the commands, from flags with
// environment variables as defaults.
type options struct {
	addr, data, egressAllow, publicURL, logLevel string
	hooksAddr, hooksPublicURL                    string
	workers, queueLimit                          int
	retention                                    time.Duration
	retentionRuns                                int
	retentionBytes, compactFree                  int64
	// metricsAddr is --metrics-addr; metrics, set by serve, are the
	// engine's Observer and what /metrics serves.
	metricsAddr string
	metrics     *web.Metrics
	// database is --database: a PostgreSQL URL instead of the data dir
	// (database.go); dbPool and jobTimeout are serve's settings for it.
	database   string
	dbPool     int
	jobTimeout time.Duration
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func newFlagSet(name string, o *options, serve bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.data, "data", "./switchyard-data", "data directory (switchyard.db and the key file)")
	bindEnv(fs, "data", "SWITCHYARD_DATA")
	fs.StringVar(&o.database, "database", "", "PostgreSQL URL (postgres://…) to use instead of the data dir: the cluster mode, docs/cluster.md")
	bindEnv(fs, "database", envDatabase)
	fs.StringVar(&o.egressAllow, "egress-allow", "", "CIDRs or host:port that steps may reach although private or loopback")
	bindEnv(fs, "egress-allow", "SWITCHYARD_EGRESS_ALLOW")
	if serve {
		fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
		bindEnv(fs, "addr", "SWITCHYARD_ADDR")
		fs.StringVar(&o.publicURL, "public-url", "", "external base URL, for webhook URLs")
		bindEnv(fs, "public-url", "SWITCHYARD_PUBLIC_URL")
		fs.StringVar(&o.hooksAddr, "hooks-addr", "", "serve webhooks (and health checks) only on this second address, an origin apart from the UI")
		bindEnv(fs, "hooks-addr", "SWITCHYARD_HOOKS_ADDR")
		fs.StringVar(&o.hooksPublicURL, "hooks-public-url", "", "external base URL of --hooks-addr, for webhook URLs")
		bindEnv(fs, "hooks-public-url", "SWITCHYARD_HOOKS_PUBLIC_URL")
		o.logLevel = "info"
		fs.Var(logLevel{&o.logLevel}, "log-level", "debug, info, warn or error")
		bindEnv(fs, "log-level", "SWITCHYARD_LOG_LEVEL")
		fs.IntVar(&o.workers, "workers", engine.DefaultWorkers, "runs advanced at once")
		bindEnv(fs, "workers", "SWITCHYARD_WORKERS")
		fs.IntVar(&o.queueLimit, "queue-limit", engine.DefaultQueueLimit, "unfinished runs before webhooks get 429")
		bindEnv(fs, "queue-limit", "SWITCHYARD_QUEUE_LIMIT")
		fs.DurationVar(&o.retention, "retention", engine.DefaultRetention, "how long finished runs are kept")
		bindEnv(fs, "retention", "SWITCHYARD_RETENTION")
		fs.IntVar(&o.retentionRuns, "retention-runs", 0, "keep at most this many runs per flow, the oldest finished ones go first (0: no limit)")
		bindEnv(fs, "retention-runs", "SWITCHYARD_RETENTION_RUNS")
		fs.Var(byteSize{&o.retentionBytes}, "retention-size", "keep at most `SIZE` of run history, e.g. 2GiB; the oldest finished runs go first (0: no limit)")
		bindEnv(fs, "retention-size", "SWITCHYARD_RETENTION_SIZE")
		o.compactFree = engine.DefaultCompactFree
		fs.Var(byteSize{&o.compactFree}, "compact-free", "compact the database file once `SIZE` of it is free and that is a quarter of it (0: never on its own)")
		bindEnv(fs, "compact-free", "SWITCHYARD_COMPACT_FREE")
		fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics on this address of its own, without a token (else on --addr, with an API token)")
		bindEnv(fs, "metrics-addr", "SWITCHYARD_METRICS_ADDR")
		fs.IntVar(&o.dbPool, "db-pool", pgstore.DefaultPoolSize, "with --database: connections this node opens")
		bindEnv(fs, "db-pool", "SWITCHYARD_DB_POOL")
		fs.DurationVar(&o.jobTimeout, "job-timeout", pgstore.DefaultJobTimeout, "with --database: how long one turn of a run may take; a dead node's runs move to another after it and 15 s more")
		bindEnv(fs, "job-timeout", "SWITCHYARD_JOB_TIMEOUT")
	}
	return fs
}

// logLevel is the --log-level flag: one of the slog level names.
type logLevel struct{ s *string }

func (l logLevel) String() string {
	if l.s == nil {
		return ""
	}
	return *l.s
}

func (l logLevel) Set(v string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(v))); err != nil {
		return errors.New("want debug, info, warn or error")
	}
	*l.s = v
	return nil
}

// parse applies the environment variables bound to fs, then parses flags
// that may stand before, between or after positional arguments, and
// returns the positional ones. An invalid value is refused the same way
// from either place (a usageError: one line, exit 2); --help and -h
// return a helpError with the command's usage.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := applyEnv(fs); err != nil {
		return nil, err
	}
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, newHelpError(fs)
		} else if err != nil {
			return nil, usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(web.RequestIDLogs(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})))
}

// openStore opens the store for a command: the database with --database,
// else the data dir's. A damaged log stops it with the command that
// salvages it.
func openStore(o *options, log *slog.Logger) (appStore, error) {
	if o.database != "" {
		return openDatabase(o, log)
	}
	store, err := boltstore.OpenWith(o.data, boltstore.Options{LockWait: lockWait, Logger: log})
	if errors.Is(err, boltstore.ErrLogDamaged) {
		return nil, fmt.Errorf("%w. Run `switchyard recover --data %s` to apply the intact records after the damage "+
			"and see exactly what was lost, then start again (docs/operations.md)", err, o.data)
	}
	return store, err
}

// openEngine opens the data dir's store and key and builds an engine
// without starting it. The caller closes the returned store.
func openEngine(ctx context.Context, o *options, log *slog.Logger) (*engine.Engine, appStore, error) {
	if err := needSharedKey(o); err != nil {
		return nil, nil, err
	}
	store, err := openStore(o, log)
	if err != nil {
		return nil, nil, err
	}
	var key []byte
	if o.database != "" {
		key, err = engine.ParseKey(os.Getenv(envSecretKey))
		if err != nil {
			err = fmt.Errorf("%s: %w", envSecretKey, err)
		}
	} else {
		// A `keys rotate` cut short between its commit and its rename
		// leaves the new key beside the old one; finish it before
		// reading the key.
		if _, err = engine.RecoverKeyRotation(ctx, store, o.data); err == nil {
			key, err = engine.LoadOrCreateKey(o.data, os.Getenv(envSecretKey))
		}
	}
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	keys, err := engine.NewKeyring(key)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	pol, err := egress.ParseAllow(o.egressAllow)
	if err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("--egress-allow: %w", err)
	}
	cfg := engine.Config{
		Store:      store,
		Keyring:    keys,
		HTTP:       egress.NewClient(pol),
		Dial:       pol.Dialer().DialContext,
		Workers:    o.workers,
		QueueLimit: o.queueLimit,
		Retention:  o.retention,
		// Retention by count and size, compaction: serve's settings.
		RetentionRuns:  o.retentionRuns,
		RetentionBytes: o.retentionBytes,
		CompactFree:    compactSetting(o.compactFree),
		Logger:         log,
		// Only serve starts the engine; the journal is opened then.
		StepJournal: filepath.Join(o.data, engine.StepJournalFile),
		BulkJournal: filepath.Join(o.data, engine.BulkJournalFile),
	}
	if o.database != "" {
		// The journals are files of one node's data dir, which a node on
		// PostgreSQL has none of; River's attempts bound a run that keeps
		// taking nodes down instead, and a bulk action lasts as long as
		// the node that started it.
		cfg.StepJournal, cfg.BulkJournal = "", ""
	}
	if o.metrics != nil {
		cfg.Observer = o.metrics
	}
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return eng, store, nil
}

// compactSetting turns --compact-free into engine.Config.CompactFree,
// where 0 means the default: --compact-free 0 means never.
func compactSetting(v int64) int64 {
	if v == 0 {
		return -1
	}
	return v
}
