package main

import (
	"context"
	"fmt"
	"io"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// storedRefs is what `flows validate` checks references against besides
// the files given: the flows and connections of a data dir, a database
// or a running server. A file's flow stands in for the stored flow of
// the same id, as saving it would.
type storedRefs struct {
	flows map[string]*flows.Flow
	conns map[string]string // connection name → type
}

// loadStoredRefs reads the flows and connection types (never their
// values) of srv, or else of the store o names. A stored flow that no
// longer decodes is left out: the file being checked cannot fix it.
func loadStoredRefs(ctx context.Context, o *options, srv *remote) (*storedRefs, error) {
	refs := &storedRefs{flows: map[string]*flows.Flow{}, conns: map[string]string{}}
	if srv != nil {
		list, err := remoteFlows(ctx, srv, nil)
		if err != nil {
			return nil, err
		}
		for _, f := range list {
			refs.flows[f.ID] = f
		}
		var ans struct {
			Connections []engine.ConnectionInfo `json:"connections"`
		}
		if _, err := srv.call(ctx, "GET", "/api/connections", nil, &ans); err != nil {
			return nil, err
		}
		for _, c := range ans.Connections {
			refs.conns[c.Name] = c.Type
		}
		return refs, nil
	}
	store, err := openStore(o, newLogger("warn", io.Discard))
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if refs.conns, err = engine.ConnectionTypesOf(ctx, store); err != nil {
		return nil, err
	}
	recs, err := store.Flows(ctx)
	if err != nil {
		return nil, fmt.Errorf("stored flows: %w", err)
	}
	for _, r := range recs {
		if f, err := flows.Decode(r.Flow); err == nil {
			refs.flows[f.ID] = f
		}
	}
	return refs, nil
}
