package boltstore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// testdata/olddata.tar.gz is a data dir written by commit 982e988: four
// runs of flow "orders" (succeeded with step inputs, outputs,
// conditions and a sync response; waiting on a retry; queued; failed),
// their events with headers and a body of escaped and non-ASCII text, and
// two writes left in the write-ahead log only (the store crashed before
// applying them). olddata.golden.json is what that commit read back from
// it. The code of today reads the same, and its encoders write the same
// bytes for it (which encoding/json does too: docs/benchmarks.md tells why
// the hand-written ones stay), so a data dir from then keeps working.
func TestReadsDataWrittenBefore(t *testing.T) {
	dir := t.TempDir()
	untar(t, filepath.Join("testdata", "olddata.tar.gz"), dir)
	golden, err := os.ReadFile(filepath.Join("testdata", "olddata.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Runs   map[string]json.RawMessage `json:"runs"`
		Events map[string]json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(golden, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Runs) != 4 || len(want.Events) != 4 {
		t.Fatalf("golden holds %d runs and %d events, want 4 and 4", len(want.Runs), len(want.Events))
	}
	s, err := Open(filepath.Join(dir, "olddata"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	runs, events := map[string]any{}, map[string]any{}
	for id := range want.Runs {
		r, err := s.Run(ctx, id)
		if err != nil {
			t.Fatalf("run %s: %v", id, err)
		}
		runs[id] = r
	}
	for id := range want.Events {
		e, err := s.Event(ctx, id)
		if err != nil {
			t.Fatalf("event %s: %v", id, err)
		}
		events[id] = e
	}
	page, err := s.ListRuns(ctx, engine.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(map[string]any{"runs": runs, "events": events, "list": page, "pending": pending}, "", "  ")
	if got = append(got, '\n'); !bytes.Equal(got, golden) {
		t.Fatalf("read back differently from the old code:\n%s\nwant:\n%s", got, golden)
	}
	// What was stored then is what the encoders write now.
	err = s.view(func(tx *bolt.Tx) error {
		for id, e := range events {
			raw := tx.Bucket(bucketEvents).Get(mustKey(eventIDPrefix, id))
			if enc := appendEventJSON(nil, e.(*engine.Event)); !bytes.Equal(raw, enc) {
				t.Errorf("event %s: stored %s, now written as %s", id, raw, enc)
			}
		}
		n := 0
		for id, r := range runs {
			raw := tx.Bucket(bucketRuns).Get(mustKey(runIDPrefix, id))
			if raw == nil {
				continue // never checkpointed: the index holds it
			}
			n++
			enc, err := appendRunJSON(nil, r.(*engine.Run))
			if err != nil || !bytes.Equal(raw, enc) {
				t.Errorf("run %s: stored %s, now written as %s (%v)", id, raw, enc, err)
			}
			if std, _ := json.Marshal(r); !bytes.Equal(std, enc) {
				t.Errorf("run %s: encoding/json writes %s", id, std)
			}
		}
		if n < 3 {
			t.Errorf("%d run records compared, want at least 3", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// untar unpacks a .tar.gz into dir.
func untar(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(target, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}
