package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/pgstore"
)

// envDatabase is the variable --database defaults to; envNode names the
// node among the others (River's client id, poll leases; default: host
// name and random digits).
const (
	envDatabase = "SWITCHYARD_DATABASE_URL"
	envNode     = "SWITCHYARD_NODE"
)

// appStore is what the commands need of a store, whichever it is.
type appStore interface {
	engine.Store
	engine.AuditStore
	auth.Store
}

// openTimeout bounds connecting and migrating: a node that starts while
// another migrates waits for it.
const openTimeout = 2 * time.Minute

// openDatabase opens the PostgreSQL store of --database, migrating it.
func openDatabase(o *options, log *slog.Logger) (*pgstore.Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	s, err := pgstore.Open(ctx, o.database, pgstore.Options{PoolSize: o.dbPool, Logger: log, Workers: o.workers, JobTimeout: o.jobTimeout,
		Node: os.Getenv(envNode)})
	if err != nil {
		return nil, fmt.Errorf("--database: %w", err)
	}
	return s, nil
}

// errNeedSharedKey: the cluster mode keeps no key file; every node must be
// given the same key.
var errNeedSharedKey = errors.New("--database needs " + envSecretKey + ": every node must encrypt credentials under the same key, " +
	"and a database has no key file beside it. Generate one with `head -c 32 /dev/urandom | base64` " +
	"(or take the one a data dir's key file holds) and give it to every node")

// needSharedKey refuses --database without SWITCHYARD_SECRET_KEY.
func needSharedKey(o *options) error {
	if o.database != "" && os.Getenv(envSecretKey) == "" {
		return errNeedSharedKey
	}
	return nil
}

// dataDirOnly refuses --database for commands that work on a data dir's
// files (backup, restore, recover): PostgreSQL has its own tools for that.
func dataDirOnly(o *options, command string) error {
	if o.database != "" {
		return usageError{fmt.Sprintf("%s works on a data dir (--data); for a PostgreSQL database use pg_dump and pg_restore (docs/cluster.md). Unset %s or drop --database", command, envDatabase)}
	}
	return nil
}

// storeKey and storeWhere name the store in the start-up log line: the
// data dir, or the database without its password.
func storeKey(o *options) string {
	if o.database != "" {
		return "database"
	}
	return "data"
}

func storeWhere(o *options) string {
	if o.database == "" {
		return o.data
	}
	u, err := url.Parse(o.database)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = url.User(u.User.Username())
	u.RawQuery = ""
	return u.String()
}
