package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine"
)

// cmdTokenCreate prints a new API token: made by a running server
// (--server, with a token of its own: POST /api/tokens), or on the data
// dir directly, which fails fast (after lockWait) while a server holds
// the database.
func cmdTokenCreate(args []string, stdout io.Writer) error {
	var o options
	fs := newFlagSet("token create", &o, false)
	var name string
	fs.StringVar(&name, "name", "", "what the token is for")
	var rf remoteFlags
	addRemoteFlags(fs, &rf)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"token create takes no arguments besides --name"}
	}
	if name == "" {
		return usageError{"token create: --name is required"}
	}
	srv, err := rf.pick("token create", args)
	if err != nil {
		return err
	}
	if srv != nil {
		var out struct {
			Token string `json:"token"`
		}
		if _, err := srv.call(context.Background(), "POST", "/api/tokens", map[string]string{"name": name}, &out); err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		_, err = fmt.Fprintln(stdout, out.Token)
		return err
	}
	store, err := openStore(&o, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	ctx := context.Background()
	tok, rec, err := auth.New(store, nil).CreateToken(ctx, name)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(stdout, tok); err != nil {
		return err
	}
	entry := engine.AuditEntry{At: time.Now().UTC(), Action: engine.AuditTokenCreate, Actor: engine.Actor{Kind: "cli", Name: "token create"}, Target: rec.Name}
	if err := store.AddAudit(ctx, []engine.AuditEntry{entry}, engine.AuditKept); err != nil {
		return fmt.Errorf("token create: the token above works but is not in the audit trail: %w", err)
	}
	return nil
}
