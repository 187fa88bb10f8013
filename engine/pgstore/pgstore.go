// Package pgstore is Switchyard's shared store: PostgreSQL through pgx, so
// that any number of identical nodes serve one set of flows, runs and
// accounts. It implements the store interfaces the engine and auth declare;
// its schema migrations are embedded and applied at Open under an advisory
// lock (River's too, through its migrator), so nodes starting at once
// migrate once. Only cmd/switchyard picks it.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/switchyard/switchyard/engine"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultPoolSize is the default of Options.PoolSize.
const DefaultPoolSize = 16

// migrateLock is the advisory lock key every node takes while migrating.
const migrateLock = 0x5377_6974_6368 // "Switch"

// Options are the settings of Open.
type Options struct {
	// PoolSize caps the connections this node opens (DefaultPoolSize when 0).
	PoolSize int
	// Logger receives what the store reports on its own; nil: slog.Default().
	Logger *slog.Logger
	// Node names this process among the nodes (River, poll leases,
	// notifications); empty: a random name.
	Node string
	// Workers is how many runs this node's River workers advance at once.
	Workers int
	// JobTimeout bounds one turn of a run on a worker; a node that died
	// has its runs taken up by another JobTimeout + 15 s later (and
	// within River's 30 s rescue interval). DefaultJobTimeout when 0.
	JobTimeout time.Duration
}

// Store is the engine.Store kept in PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	node string
	// queue inserts a River job with every run that becomes due, in the
	// transaction that stores it, and works them once started.
	queue *runQueue
	// accepts gathers concurrent Accepts into shared transactions
	// (ingest.go).
	accepts acceptGroup
}

// Open connects to the database at url, applies the embedded migrations
// (River's included) and returns the store.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: database url: %w", err)
	}
	if o.PoolSize <= 0 {
		o.PoolSize = DefaultPoolSize
	}
	cfg.MaxConns = int32(o.PoolSize)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Node == "" {
		o.Node = randomNode()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	s := &Store{pool: pool, log: o.Logger, node: o.Node}
	if o.Workers <= 0 {
		o.Workers = engine.DefaultWorkers
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.newRunQueue(o); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Pool is the store's connection pool (for metrics and readiness).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Node is the name of this process among the nodes.
func (s *Store) Node() string { return s.node }

// Close closes the pool (and stops the queue's workers, when started).
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.queue.stop(ctx); err != nil {
		s.log.Warn("stop run workers", "err", err)
	}
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// migrate applies what is missing of the embedded migrations and River's,
// holding a session advisory lock so that nodes starting at once do it
// once: the others wait, then find nothing left to do.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("pgstore: migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS sy_schema_migrations (
		version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("pgstore: migrate: %s: no version number", base)
		}
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sy_schema_migrations WHERE version = $1)`, v).Scan(&done); err != nil {
			return fmt.Errorf("pgstore: migrate: %w", err)
		}
		if done {
			continue
		}
		sql, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO sy_schema_migrations (version) VALUES ($1)`, v)
			return err
		})
		if err != nil {
			return fmt.Errorf("pgstore: migrate: %s: %w", base, err)
		}
		s.log.Info("applied database migration", "migration", base)
	}
	m, err := rivermigrate.New(riverpgxv5.New(s.pool), &rivermigrate.Config{Logger: s.log})
	if err != nil {
		return fmt.Errorf("pgstore: migrate river: %w", err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("pgstore: migrate river: %w", err)
	}
	if len(res.Versions) > 0 {
		s.log.Info("applied River migrations", "count", len(res.Versions))
	}
	return nil
}

// tx runs fn in a transaction, committed when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// Run and event ids keep the embedded store's shape, "run_" and 16 hex
// digits of a sequence shared by every node, so ids sort as they were
// given and a data dir's ids carry over unchanged.
const (
	runIDPrefix   = "run_"
	eventIDPrefix = "evt_"
)

func formatID(prefix string, seq int64) string {
	return fmt.Sprintf("%s%016x", prefix, uint64(seq))
}

func parseID(prefix, id string) (int64, error) {
	hex, ok := strings.CutPrefix(id, prefix)
	if !ok || len(hex) != 16 {
		return 0, fmt.Errorf("%w: %q", engine.ErrBadID, id)
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", engine.ErrBadID, id)
	}
	return int64(n), nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// notFound maps pgx's "no rows" to the engine's ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return engine.ErrNotFound
	}
	return err
}

// isUnique reports whether err is a unique violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

var _ engine.Store = (*Store)(nil)
