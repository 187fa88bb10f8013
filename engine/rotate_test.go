package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rotationConns are the connections the rotation tests store.
var rotationConns = map[string]string{
	"crm_key":        "sk-live-crm-0001",
	"stripe_signing": "whsec_rotate_0002",
	"chat":           "xoxb-rotate-0003",
}

func testKeyring(t *testing.T, b byte) *Keyring {
	t.Helper()
	raw := bytes.Repeat([]byte{b}, 32)
	k, err := NewKeyring(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// seedConnections stores rotationConns under k through the engine, as the
// API does.
func seedConnections(t *testing.T, s Store, k *Keyring) {
	t.Helper()
	ctx := context.Background()
	e, err := New(ctx, Config{Store: s, Keyring: k})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range rotationConns {
		if _, err := e.PutConnection(ctx, name, "secret", map[string]string{"value": v}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkConnections opens every stored connection with k through a new
// engine, as a restart does.
func checkConnections(t *testing.T, s Store, k *Keyring) {
	t.Helper()
	ctx := context.Background()
	e, err := New(ctx, Config{Store: s, Keyring: k})
	if err != nil {
		t.Fatalf("engine with the expected key: %v", err)
	}
	all, err := e.AllConnections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(rotationConns) {
		t.Fatalf("%d connections, want %d", len(all), len(rotationConns))
	}
	for name, want := range rotationConns {
		if got := all[name].Values["value"]; got != want {
			t.Errorf("connection %s = %q, want %q", name, got, want)
		}
	}
}

func TestRotateKey(t *testing.T) {
	ctx := context.Background()
	s, err := openTestStore(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oldKey, newKey := testKeyring(t, 1), testKeyring(t, 2)
	seedConnections(t, s, oldKey)
	before, _ := s.Connections(ctx)

	n, err := RotateKey(ctx, s, oldKey, newKey)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(rotationConns) {
		t.Errorf("re-encrypted %d connections, want %d", n, len(rotationConns))
	}
	checkConnections(t, s, newKey)

	after, _ := s.Connections(ctx)
	for i, rec := range after {
		if bytes.Equal(rec.Sealed, before[i].Sealed) {
			t.Errorf("connection %s kept its old ciphertext", rec.Name)
		}
		if !rec.CreatedAt.Equal(before[i].CreatedAt) || rec.Type != before[i].Type {
			t.Errorf("connection %s changed beyond its ciphertext: %+v -> %+v", rec.Name, before[i], rec)
		}
		if _, err := oldKey.Open(rec.Sealed, []byte(rec.Name)); !errors.Is(err, ErrWrongKey) {
			t.Errorf("old key still opens connection %s: %v", rec.Name, err)
		}
	}
	// The old key no longer passes the start-up check, with a clear error.
	_, err = New(ctx, Config{Store: s, Keyring: oldKey})
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "secret key does not match") {
		t.Fatalf("start with the old key: %v", err)
	}
	// Rotating again from a key that is no longer current changes nothing.
	if _, err := RotateKey(ctx, s, oldKey, testKeyring(t, 3)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("rotate from a stale key: %v", err)
	}
	checkConnections(t, s, newKey)
}

// TestRotateKeyAllOrNothing: one connection the current key cannot open
// fails the whole rotation and leaves every record as it was.
func TestRotateKeyAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s, err := openTestStore(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oldKey, newKey, stray := testKeyring(t, 1), testKeyring(t, 2), testKeyring(t, 9)
	seedConnections(t, s, oldKey)
	bad := ConnectionRecord{Name: "zz_stray", Type: "secret", Sealed: stray.Seal([]byte(`{"value":"x"}`), []byte("zz_stray"))}
	if err := s.PutConnection(ctx, bad); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Connections(ctx)
	checkBefore, _ := s.Meta(ctx, keyCheckMeta)

	_, err = RotateKey(ctx, s, oldKey, newKey)
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), `"zz_stray"`) {
		t.Fatalf("rotate with an unreadable connection: %v", err)
	}
	after, _ := s.Connections(ctx)
	for i := range before {
		if !bytes.Equal(before[i].Sealed, after[i].Sealed) {
			t.Errorf("connection %s was rewritten by a failed rotation", after[i].Name)
		}
	}
	if checkAfter, _ := s.Meta(ctx, keyCheckMeta); !bytes.Equal(checkBefore, checkAfter) {
		t.Error("key check was rewritten by a failed rotation")
	}
}

// newKeyDir makes a data dir with a key file and the rotation connections
// sealed under it, and returns the open store and the key.
func newKeyDir(t *testing.T) (string, Store, []byte) {
	t.Helper()
	dir := t.TempDir()
	s, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	raw, err := LoadOrCreateKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := NewKeyring(raw)
	seedConnections(t, s, k)
	return dir, s, raw
}

// startUp is what start-up does with a data dir: finish an interrupted
// rotation, load the key, check it.
func startUp(t *testing.T, dir string, s Store) (finished bool) {
	t.Helper()
	finished, err := RecoverKeyRotation(context.Background(), s, dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := LoadOrCreateKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := NewKeyring(raw)
	checkConnections(t, s, k)
	if _, err := os.Stat(filepath.Join(dir, NewKeyFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind after recovery: %v", NewKeyFileName, err)
	}
	return finished
}

func readKeyFile(t *testing.T, dir string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRotateKeyFile(t *testing.T) {
	dir, s, oldRaw := newKeyDir(t)
	n, err := RotateKeyFile(context.Background(), s, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(rotationConns) {
		t.Errorf("re-encrypted %d, want %d", n, len(rotationConns))
	}
	newRaw := readKeyFile(t, dir)
	if bytes.Equal(newRaw, oldRaw) {
		t.Fatal("key file unchanged")
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if startUp(t, dir, s) {
		t.Error("recovery after a clean rotation reported an interrupted one")
	}
	oldKey, _ := NewKeyring(oldRaw)
	if _, err := New(context.Background(), Config{Store: s, Keyring: oldKey}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old key after rotation: %v", err)
	}
}

func TestRotateKeyFileNeedsKeyFile(t *testing.T) {
	dir := t.TempDir()
	s, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := RotateKeyFile(context.Background(), s, dir); err == nil || !strings.Contains(err.Error(), "no key file") {
		t.Fatalf("rotate without a key file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Error("rotation created a key file")
	}
}

// TestRotateKeyFileCrash stops a rotation at each stage, as a crash would
// (no clean-up runs), and checks that start-up recovers every connection
// with the right key.
func TestRotateKeyFileCrash(t *testing.T) {
	for _, tc := range []struct {
		stage string
		// wantNew: after recovery the key file holds the new key.
		wantNew bool
		// stuck: the key file alone no longer opens the data.
		stuck bool
	}{
		{stage: stageNewKeyWritten, wantNew: false},
		{stage: stageCommitted, wantNew: true, stuck: true},
		{stage: stageRenamed, wantNew: true},
	} {
		t.Run(tc.stage, func(t *testing.T) {
			dir, s, oldRaw := newKeyDir(t)
			crashed := simulateCrash(t, tc.stage, func() { RotateKeyFile(context.Background(), s, dir) })
			if !crashed {
				t.Fatalf("rotation did not reach stage %s", tc.stage)
			}
			if tc.stuck {
				// The window recovery is for: the key file is the old key
				// and the data is under the new one.
				k, _ := NewKeyring(readKeyFile(t, dir))
				if _, err := New(context.Background(), Config{Store: s, Keyring: k}); !errors.Is(err, ErrWrongKey) {
					t.Fatalf("without recovery: %v", err)
				}
			}
			finished := startUp(t, dir, s)
			if finished != tc.stuck {
				t.Errorf("recovery finished = %v, want %v", finished, tc.stuck)
			}
			if got := !bytes.Equal(readKeyFile(t, dir), oldRaw); got != tc.wantNew {
				t.Errorf("key file replaced = %v, want %v", got, tc.wantNew)
			}
			// A later rotation works from the recovered state.
			if _, err := RotateKeyFile(context.Background(), s, dir); err != nil {
				t.Fatal(err)
			}
			startUp(t, dir, s)
		})
	}
}

// simulateCrash runs fn with rotateCrash set to stop it at stage, and
// reports whether it stopped there.
func simulateCrash(t *testing.T, stage string, fn func()) (crashed bool) {
	t.Helper()
	type crash struct{}
	rotateCrash = func(s string) {
		if s == stage {
			panic(crash{})
		}
	}
	defer func() {
		rotateCrash = nil
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	fn()
	return false
}

// TestRecoverKeyRotationDiscards: a new key file the data is not under
// (torn by a crash while written, or never committed) is removed and the
// key file kept.
func TestRecoverKeyRotationDiscards(t *testing.T) {
	for name, content := range map[string]string{
		"torn":          "0a1b2c",
		"not committed": EncodeKey(bytes.Repeat([]byte{7}, 32)) + "\n",
		"empty":         "",
	} {
		t.Run(name, func(t *testing.T) {
			dir, s, oldRaw := newKeyDir(t)
			if err := os.WriteFile(filepath.Join(dir, NewKeyFileName), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if startUp(t, dir, s) {
				t.Error("recovery claims to have finished a rotation")
			}
			if !bytes.Equal(readKeyFile(t, dir), oldRaw) {
				t.Error("key file replaced by a key the data is not under")
			}
		})
	}
}
