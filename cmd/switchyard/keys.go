package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/switchyard/switchyard/engine"
)

// envSecretKey is the variable that holds the secret key instead of the
// key file.
const envSecretKey = "SWITCHYARD_SECRET_KEY"

// cmdKeysRotate replaces the secret key and re-encrypts every connection
// under the new one. Like token create it works on the data dir directly
// and fails fast while a server holds it. With SWITCHYARD_SECRET_KEY set
// it prints the new key on stdout for the user to put in the variable;
// otherwise it replaces the key file.
func cmdKeysRotate(args []string, stdout, stderr io.Writer) error {
	var o options
	fs := newFlagSet("keys rotate", &o, false)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"keys rotate takes no arguments besides --data"}
	}
	ctx := context.Background()
	store, err := openStore(&o, nil)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	defer store.Close()
	if env := os.Getenv(envSecretKey); env != "" {
		return rotateEnvKey(ctx, store, env, stdout, stderr)
	}
	if o.database != "" {
		return fmt.Errorf("keys rotate: %w", errNeedSharedKey)
	}
	finished, err := engine.RecoverKeyRotation(ctx, store, o.data)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	if finished {
		fmt.Fprintln(stderr, "switchyard: finished a key rotation that was interrupted earlier")
	}
	n, err := engine.RotateKeyFile(ctx, store, o.data)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "rotated the secret key: %d connection(s) re-encrypted; the new key is in %s\n",
		n, filepath.Join(o.data, engine.KeyFileName))
	return err
}

// rotateEnvKey rotates a key held in SWITCHYARD_SECRET_KEY. The new key is
// printed before the data is re-encrypted under it: should the process die
// after the commit, the printed line must already be out, since it is then
// the only copy. Until the commit the old key stays valid, and the key
// check tells which of the two the data is under.
func rotateEnvKey(ctx context.Context, store engine.KeyStore, env string, stdout, stderr io.Writer) error {
	oldRaw, err := engine.ParseKey(env)
	if err != nil {
		return fmt.Errorf("keys rotate: %s: %w", envSecretKey, err)
	}
	oldKey, err := engine.NewKeyring(oldRaw)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	newRaw, err := engine.GenerateKey()
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	newKey, err := engine.NewKeyring(newRaw)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	if _, err := fmt.Fprintln(stdout, engine.EncodeKey(newRaw)); err != nil {
		return fmt.Errorf("keys rotate: print the new key: %w (nothing changed)", err)
	}
	if f, ok := stdout.(*os.File); ok {
		// Output redirected to a file is synced; a terminal or pipe
		// cannot be.
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if err := f.Sync(); err != nil {
				return fmt.Errorf("keys rotate: sync the new key: %w (nothing changed)", err)
			}
		}
	}
	n, err := engine.RotateKey(ctx, store, oldKey, newKey)
	if err != nil {
		return fmt.Errorf("keys rotate: %w (nothing changed: keep the current %s and ignore the key printed above)", err, envSecretKey)
	}
	fmt.Fprintf(stderr, "switchyard: %d connection(s) re-encrypted under the new key printed above.\n"+
		"Set %s to it before the next start: the old key no longer opens the data.\n", n, envSecretKey)
	return nil
}
