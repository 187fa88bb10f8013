package main

import (
	"context"
	"fmt"
	"io"

	"github.com/switchyard/switchyard/auth"
)

// cmdTokenCreate prints a new API token. It works on the data dir directly,
// so it fails fast (after lockWait) while a server holds the database.
func cmdTokenCreate(args []string, stdout io.Writer) error {
	var o options
	fs := newFlagSet("token create", &o, false)
	var name string
	fs.StringVar(&name, "name", "", "what the token is for")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"token create takes no arguments besides --name"}
	}
	if name == "" {
		return usageError{"token create: --name is required"}
	}
	store, err := openStore(&o, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	tok, _, err := auth.New(store, nil).CreateToken(context.Background(), name)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
