package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore"
	"github.com/switchyard/switchyard/engine/pgstore"
)

// migrateCounts is what one migration added (what was there is skipped).
type migrateCounts struct {
	flows, versions, connections, users, tokens, runs int
}

// cmdMigrate copies a data dir into a PostgreSQL database: flows with
// every version, connections (sealed: the cluster's SWITCHYARD_SECRET_KEY
// must be the data dir's key), accounts, API tokens, schedule and poll
// state, and with --runs the run history. It works on the data dir
// directly (no server may hold it) and may run again: what the database
// holds already is kept, what is missing is added.
func cmdMigrate(args []string, stdout io.Writer) error {
	var o options
	fs := newFlagSet("migrate", &o, false)
	var runs bool
	fs.BoolVar(&runs, "runs", false, "copy the run history too (unfinished runs are finished by the cluster)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"migrate takes no arguments besides its flags"}
	}
	if o.database == "" {
		return usageError{"migrate: --database URL (or " + envDatabase + ") is required"}
	}
	if _, err := os.Stat(o.data); err != nil {
		return fmt.Errorf("migrate: data dir: %w", err)
	}
	ctx := context.Background()
	src, err := boltstore.OpenWith(o.data, boltstore.Options{LockWait: lockWait})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer src.Close()
	if err := checkMigrateKey(ctx, src, &o); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	dst, err := openDatabase(&o, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer dst.Close()
	n, err := migrateRecords(ctx, src, dst)
	if err == nil && runs {
		n.runs, err = migrateRuns(ctx, src, dst)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "migrated %s into %s: %d flow(s) (%d version(s)), %d connection(s), %d account(s), %d token(s), %d run(s) added; what the database held already was kept\n",
		o.data, storeWhere(&o), n.flows, n.versions, n.connections, n.users, n.tokens, n.runs)
	return err
}

// checkMigrateKey refuses a copy whose credentials the cluster could not
// open: the data dir's connections are sealed under its key file (or
// SWITCHYARD_SECRET_KEY), which every node must be given.
func checkMigrateKey(ctx context.Context, src *boltstore.Store, o *options) error {
	env := os.Getenv(envSecretKey)
	if env == "" {
		if _, err := os.Stat(filepath.Join(o.data, engine.KeyFileName)); err == nil {
			return fmt.Errorf("%s is not set: give it the data dir's key (the content of %s), which every node will need to open the connections",
				envSecretKey, filepath.Join(o.data, engine.KeyFileName))
		}
		return errNeedSharedKey
	}
	raw, err := engine.ParseKey(env)
	if err != nil {
		return fmt.Errorf("%s: %w", envSecretKey, err)
	}
	keys, err := engine.NewKeyring(raw)
	if err != nil {
		return err
	}
	if err := engine.VerifyKey(ctx, src, keys); err != nil {
		return fmt.Errorf("%w: %s must be the data dir's key", err, envSecretKey)
	}
	return nil
}

func migrateRecords(ctx context.Context, src *boltstore.Store, dst *pgstore.Store) (migrateCounts, error) {
	var n migrateCounts
	flows, err := src.Flows(ctx)
	if err != nil {
		return n, err
	}
	for _, f := range flows {
		nums, metas, err := src.FlowVersions(ctx, f.ID)
		if err != nil {
			return n, err
		}
		for _, v := range nums {
			rec, err := src.FlowVersion(ctx, f.ID, v)
			if err != nil {
				return n, err
			}
			var meta *engine.VersionMeta
			if m, ok := metas[v]; ok {
				meta = &m
			}
			if err := dst.ImportFlowVersion(ctx, f.ID, v, rec.Flow, meta); err != nil {
				return n, err
			}
		}
		added, err := dst.ImportFlow(ctx, f)
		if err != nil {
			return n, err
		}
		if added {
			n.flows++
			n.versions += len(nums)
		}
		last, err := src.LastTick(ctx, f.ID)
		if err != nil {
			return n, err
		}
		st, err := src.PollStateOf(ctx, f.ID)
		if err != nil {
			return n, err
		}
		_, seen, err := src.SeenKeys(ctx, f.ID, st.SeenCount+1<<20)
		if err != nil {
			return n, err
		}
		var stp *engine.PollState
		if st.Seeded {
			stp = &st
		}
		if err := dst.ImportTriggerState(ctx, f.ID, last, stp, seen); err != nil {
			return n, err
		}
	}
	conns, err := src.Connections(ctx)
	if err != nil {
		return n, err
	}
	for _, c := range conns {
		if added, err := dst.ImportConnection(ctx, c); err != nil {
			return n, err
		} else if added {
			n.connections++
		}
	}
	// The key check goes with the connections it vouches for.
	if v, err := src.Meta(ctx, engine.KeyCheckMeta); err == nil {
		if err := dst.ImportMeta(ctx, engine.KeyCheckMeta, v); err != nil {
			return n, err
		}
	} else if !errors.Is(err, engine.ErrNotFound) {
		return n, err
	}
	users, err := src.Users(ctx)
	if err != nil {
		return n, err
	}
	for _, u := range users {
		if added, err := dst.ImportUser(ctx, u); err != nil {
			return n, err
		} else if added {
			n.users++
		}
	}
	toks, err := src.Tokens(ctx)
	if err != nil {
		return n, err
	}
	for _, t := range toks {
		if added, err := dst.ImportToken(ctx, t); err != nil {
			return n, err
		} else if added {
			n.tokens++
		}
	}
	return n, nil
}

// migrateRuns copies every run with its event, oldest first (a retry after
// the run it retries).
func migrateRuns(ctx context.Context, src *boltstore.Store, dst *pgstore.Store) (int, error) {
	var ids []string
	f := engine.RunFilter{Limit: 500}
	for {
		page, err := src.ListRuns(ctx, f)
		if err != nil {
			return 0, err
		}
		for _, r := range page.Runs {
			ids = append(ids, r.ID)
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	slices.Reverse(ids)
	added := 0
	for _, id := range ids {
		r, err := src.Run(ctx, id)
		if err != nil {
			return added, err
		}
		ev, err := src.Event(ctx, r.EventID)
		if err != nil {
			return added, err
		}
		ok, err := dst.ImportRun(ctx, ev, r)
		if err != nil {
			return added, err
		}
		if ok {
			added++
		}
	}
	return added, nil
}
