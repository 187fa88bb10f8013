package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/switchyard/switchyard/internal/fsutil"
)

// Key rotation replaces the secret key and re-encrypts every connection
// under the new one. The data and the key file live in two places that
// cannot change in one atomic step, so a rotation moves through states
// that are each recoverable:
//
//  1. The new key is written to NewKeyFileName (mode 0600, fsynced, with
//     the directory fsynced). The data is still under the old key, which
//     is still the key file: a crash here loses nothing, and recovery
//     discards the new key file.
//  2. One bbolt transaction re-encrypts every connection and the key-check
//     value under the new key: the data is either all old or all new.
//  3. The new key file is renamed over the key file and the directory
//     fsynced. A crash between 2 and 3 leaves the data under the key in
//     NewKeyFileName; recovery sees that the key check opens with it and
//     finishes the rename.
//
// RecoverKeyRotation performs that recovery; it runs before the key is
// loaded (the `keys rotate` command runs it first, and start-up should).
// Recovery decides only by which key opens the key check, so it can never
// throw away the key the data needs.

// NewKeyFileName holds the next key while a rotation is under way.
const NewKeyFileName = KeyFileName + ".new"

// rotateCrash, when set by a test, is called at each stage of
// RotateKeyFile; a test makes it panic to simulate a crash there.
var rotateCrash func(stage string)

// Stages of RotateKeyFile that tests can stop at.
const (
	stageNewKeyWritten = "new-key-written"
	stageCommitted     = "committed"
	stageRenamed       = "renamed"
)

func crashPoint(stage string) {
	if rotateCrash != nil {
		rotateCrash(stage)
	}
}

// GenerateKey returns a new random 32-byte secret key.
func GenerateKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("keyring: generate key: %w", err)
	}
	return k, nil
}

// EncodeKey writes a key as the key file and SWITCHYARD_SECRET_KEY hold
// it: 64 hex digits.
func EncodeKey(k []byte) string { return hex.EncodeToString(k) }

// MetaStore is a small key-value space for the engine's own settings
// (the secret key's check value).
type MetaStore interface {
	Meta(ctx context.Context, key string) ([]byte, error)
	PutMeta(ctx context.Context, key string, value []byte) error
}

// Resealer re-encrypts what a store keeps sealed, without the caller
// knowing how it is kept.
type Resealer interface {
	// Reseal replaces, in one atomic transaction, the sealed value of
	// every connection (its name is the associated data) and of the meta
	// value metaKey when it exists (the key is the associated data) by
	// what fn returns for it. The meta value goes first. When fn fails
	// for any of them nothing changes and its error is returned. It
	// reports how many connections it rewrote.
	Reseal(ctx context.Context, metaKey string, fn func(sealed, ad []byte) ([]byte, error)) (int, error)
}

// KeyStore is what rotating the key file needs.
type KeyStore interface {
	MetaStore
	Resealer
}

// RotateKey re-encrypts every connection and the key-check value, sealed
// under oldKey, under newKey in one transaction, and returns how many
// connections it re-encrypted. When oldKey does not open the key check or
// any connection it fails with ErrWrongKey and changes nothing.
func RotateKey(ctx context.Context, s Resealer, oldKey, newKey *Keyring) (int, error) {
	if oldKey == nil || newKey == nil {
		return 0, errors.New("engine: rotate key: no key given")
	}
	n, err := s.Reseal(ctx, keyCheckMeta, func(sealed, ad []byte) ([]byte, error) {
		plain, err := oldKey.Open(sealed, ad)
		if err != nil {
			if string(ad) == keyCheckMeta {
				return nil, fmt.Errorf("key check: %w (the current key is not the one the data is under)", err)
			}
			return nil, fmt.Errorf("connection %q: %w", ad, err)
		}
		defer clear(plain)
		return newKey.Seal(plain, ad), nil
	})
	if err != nil {
		return 0, fmt.Errorf("engine: rotate key: %w", err)
	}
	return n, nil
}

// RotateKeyFile rotates the key kept in dir's key file: it finishes any
// interrupted rotation, writes a new key to NewKeyFileName, re-encrypts
// everything under it (RotateKey) and renames it over the key file. It
// returns how many connections were re-encrypted. The store must be the
// one in dir, and no engine may be using it.
func RotateKeyFile(ctx context.Context, s KeyStore, dir string) (int, error) {
	if _, err := RecoverKeyRotation(ctx, s, dir); err != nil {
		return 0, err
	}
	keyPath := filepath.Join(dir, KeyFileName)
	data, err := os.ReadFile(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("engine: rotate key: no key file %s (a data dir gets one on its first start; with SWITCHYARD_SECRET_KEY there is no file to rotate)", keyPath)
	}
	if err != nil {
		return 0, fmt.Errorf("engine: rotate key: read %s: %w", keyPath, err)
	}
	oldRaw, err := ParseKey(string(data))
	if err != nil {
		return 0, fmt.Errorf("engine: rotate key: %s: %w", keyPath, err)
	}
	oldKey, err := NewKeyring(oldRaw)
	if err != nil {
		return 0, fmt.Errorf("engine: rotate key: %w", err)
	}
	newRaw, err := GenerateKey()
	if err != nil {
		return 0, fmt.Errorf("engine: rotate key: %w", err)
	}
	newKey, err := NewKeyring(newRaw)
	if err != nil {
		return 0, fmt.Errorf("engine: rotate key: %w", err)
	}
	newPath := filepath.Join(dir, NewKeyFileName)
	if err := writeKeyFile(newPath, newRaw); err != nil {
		return 0, fmt.Errorf("engine: rotate key: %w", err)
	}
	crashPoint(stageNewKeyWritten)
	n, err := RotateKey(ctx, s, oldKey, newKey)
	if err != nil {
		// Nothing was committed: the new key opens nothing, drop it.
		os.Remove(newPath)
		return 0, err
	}
	crashPoint(stageCommitted)
	if err := replaceKeyFile(dir); err != nil {
		return 0, fmt.Errorf("engine: rotate key: the data is now under the key in %s, but installing it failed (the next start or `switchyard keys rotate` finishes it): %w", newPath, err)
	}
	crashPoint(stageRenamed)
	return n, nil
}

// RecoverKeyRotation finishes a key rotation that a crash interrupted in
// dir. When NewKeyFileName opens the store's key check, the data was
// re-encrypted under it and it replaces the key file (finished is true);
// otherwise the rotation never committed and the file is removed. Without
// NewKeyFileName it does nothing. Call it before loading the key.
func RecoverKeyRotation(ctx context.Context, s MetaStore, dir string) (finished bool, err error) {
	newPath := filepath.Join(dir, NewKeyFileName)
	data, err := os.ReadFile(newPath)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("engine: recover key rotation: read %s: %w", newPath, err)
	}
	underNew := false
	// A key file cut short by a crash while it was written cannot be what
	// the data is under: the commit only happens after its fsync.
	if raw, perr := ParseKey(string(data)); perr == nil {
		k, kerr := NewKeyring(raw)
		if kerr != nil {
			return false, fmt.Errorf("engine: recover key rotation: %w", kerr)
		}
		sealed, merr := s.Meta(ctx, keyCheckMeta)
		switch {
		case merr == nil:
			_, oerr := k.Open(sealed, []byte(keyCheckMeta))
			underNew = oerr == nil
		case !errors.Is(merr, ErrNotFound):
			return false, fmt.Errorf("engine: recover key rotation: %w", merr)
		}
	}
	if underNew {
		if err := replaceKeyFile(dir); err != nil {
			return false, fmt.Errorf("engine: recover key rotation: %w", err)
		}
		return true, nil
	}
	if err := os.Remove(newPath); err != nil {
		return false, fmt.Errorf("engine: recover key rotation: remove %s: %w", newPath, err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return false, fmt.Errorf("engine: recover key rotation: %w", err)
	}
	return false, nil
}

// writeKeyFile writes k to path with mode 0600 and fsyncs it and its
// directory. An existing file is an error: it may hold the only copy of a
// key (RecoverKeyRotation clears stale ones first).
func writeKeyFile(path string, k []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(EncodeKey(k) + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("close %s: %w", path, err)
	}
	return fsutil.SyncDir(filepath.Dir(path))
}

// replaceKeyFile renames NewKeyFileName over KeyFileName in dir and makes
// the rename durable.
func replaceKeyFile(dir string) error {
	newPath, keyPath := filepath.Join(dir, NewKeyFileName), filepath.Join(dir, KeyFileName)
	if err := os.Rename(newPath, keyPath); err != nil {
		return fmt.Errorf("install new key: %w", err)
	}
	return fsutil.SyncDir(dir)
}
