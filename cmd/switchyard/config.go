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
	fs.StringVar(&o.data, "data", env("SWITCHYARD_DATA", "./switchyard-data"), "data directory (switchyard.db and the key file)")
	fs.StringVar(&o.egressAllow, "egress-allow", env("SWITCHYARD_EGRESS_ALLOW", ""), "CIDRs or host:port that steps may reach although private or loopback")
	if serve {
		fs.StringVar(&o.addr, "addr", env("SWITCHYARD_ADDR", "127.0.0.1:8080"), "listen address")
		fs.StringVar(&o.publicURL, "public-url", env("SWITCHYARD_PUBLIC_URL", ""), "external base URL, for webhook URLs")
		fs.StringVar(&o.hooksAddr, "hooks-addr", env("SWITCHYARD_HOOKS_ADDR", ""), "serve webhooks (and health checks) only on this second address, an origin apart from the UI")
		fs.StringVar(&o.hooksPublicURL, "hooks-public-url", env("SWITCHYARD_HOOKS_PUBLIC_URL", ""), "external base URL of --hooks-addr, for webhook URLs")
		fs.StringVar(&o.logLevel, "log-level", env("SWITCHYARD_LOG_LEVEL", "info"), "debug, info, warn or error")
		fs.IntVar(&o.workers, "workers", envInt("SWITCHYARD_WORKERS", engine.DefaultWorkers), "runs advanced at once")
		fs.IntVar(&o.queueLimit, "queue-limit", envInt("SWITCHYARD_QUEUE_LIMIT", engine.DefaultQueueLimit), "unfinished runs before webhooks get 429")
		fs.DurationVar(&o.retention, "retention", envDuration("SWITCHYARD_RETENTION", engine.DefaultRetention), "how long finished runs are kept")
	}
	return fs
}

func envInt(key string, def int) int {
	var n int
	if _, err := fmt.Sscanf(env(key, ""), "%d", &n); err == nil {
		return n
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(env(key, "")); err == nil {
		return d
	}
	return def
}

// parse parses flags that may stand before, between or after positional
// arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
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
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// openStore opens the data dir's store for a command. A damaged log stops
// it with the command that salvages it.
func openStore(o *options, log *slog.Logger) (*boltstore.Store, error) {
	store, err := boltstore.OpenWith(o.data, boltstore.Options{LockWait: lockWait, Logger: log})
	if errors.Is(err, boltstore.ErrLogDamaged) {
		return nil, fmt.Errorf("%w. Run `switchyard recover --data %s` to apply the intact records after the damage "+
			"and see exactly what was lost, then start again (docs/operations.md)", err, o.data)
	}
	return store, err
}

// openEngine opens the data dir's store and key and builds an engine
// without starting it. The caller closes the returned store.
func openEngine(ctx context.Context, o *options, log *slog.Logger) (*engine.Engine, *boltstore.Store, error) {
	store, err := openStore(o, log)
	if err != nil {
		return nil, nil, err
	}
	// A `keys rotate` cut short between its commit and its rename leaves
	// the new key beside the old one; finish it before reading the key.
	if _, err := engine.RecoverKeyRotation(ctx, store, o.data); err != nil {
		store.Close()
		return nil, nil, err
	}
	key, err := engine.LoadOrCreateKey(o.data, os.Getenv("SWITCHYARD_SECRET_KEY"))
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
	eng, err := engine.New(ctx, engine.Config{
		Store:      store,
		Keyring:    keys,
		HTTP:       egress.NewClient(pol),
		Dial:       pol.Dialer().DialContext,
		Workers:    o.workers,
		QueueLimit: o.queueLimit,
		Retention:  o.retention,
		Logger:     log,
		// Only serve starts the engine; the journal is opened then.
		StepJournal: filepath.Join(o.data, engine.StepJournalFile),
	})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return eng, store, nil
}
