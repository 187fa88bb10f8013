package boltstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
)

// The dictionary is part of the on-disk format: records packed with it
// must unpack with it forever. A new dictionary needs a new leading byte.
func TestRecordDictionaryNeverChanges(t *testing.T) {
	sum := sha256.Sum256(recordDictV1Text)
	const want = "aff5b9a3a2d96d92ee98155611eeb10d8e19836dca3e4d6acfb07faad9fa04c4"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("recorddict_v1.txt changed (sha256 %s, want %s): records stored with it would no longer read", got, want)
	}
	if recordDictV1 == nil {
		t.Fatal("the dictionary does not load")
	}
}

func TestPackRecordRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte(`{"k":"value"},`), 5000)
	for name, js := range map[string][]byte{
		"tiny":  []byte(`{"id":"x"}`),
		"event": appendEventJSON(nil, newEvent("orders", `{"email":"ada@example.com","total":42}`)),
		"large": append(append([]byte(`{"list":[`), big...), `{}]}`...),
		// Random bytes do not compress: they are stored as they are.
		"incompressible": []byte(`{"b":"` + hex.EncodeToString(sha256.New().Sum([]byte("a"))) + `q8Zr0pLx3Vw7Yt1Nc5Hm9Kj2Gf6Ds4Ae"}`),
	} {
		t.Run(name, func(t *testing.T) {
			hdr := []byte("HEADER")
			stored := packRecord(bytes.Clone(hdr), js)
			if !bytes.HasPrefix(stored, hdr) {
				t.Fatalf("the header before the record was lost: %q", stored[:8])
			}
			got, err := unpackRecord(stored[len(hdr):])
			if err != nil || !bytes.Equal(got, js) {
				t.Fatalf("round trip: %v\n got %.80q\nwant %.80q", err, got, js)
			}
			if len(stored)-len(hdr) > len(js) {
				t.Fatalf("stored %d bytes for a %d-byte record", len(stored)-len(hdr), len(js))
			}
		})
	}
}

// A two-field webhook's history (event, run, index entry) takes a fraction
// of its JSON: the point of packing.
func TestPackedHistoryIsSmall(t *testing.T) {
	ev, run := w0History()
	evJS := appendEventJSON(nil, ev)
	runJS, err := appendRunJSON(nil, run)
	if err != nil {
		t.Fatal(err)
	}
	sum := run.Summary()
	idx, err := encodeIndex(&sum)
	if err != nil {
		t.Fatal(err)
	}
	plain := len(evJS) + len(runJS) + len(appendSummaryJSON(nil, &sum)) + indexHeaderV2Len
	packed := len(packRecord(nil, evJS)) + len(packRecord(nil, runJS)) + len(idx)
	t.Logf("history of one event: %d bytes of JSON, %d packed", plain, packed)
	if packed*3 > plain {
		t.Fatalf("packed %d bytes, want under a third of %d", packed, plain)
	}
	var back engine.RunSummary
	if err := decodeIndex(idx, &back); err != nil || back.ID != sum.ID || back.Status != sum.Status {
		t.Fatalf("index round trip: %+v, %v", back, err)
	}
}

// w0History is the event and finished run of one W0 webhook (the bench
// flow: two fields, one data.set step).
func w0History() (*engine.Event, *engine.Run) {
	ev := newEvent("bench", `{"id":"o-123","total":42}`)
	ev.ID, ev.Method, ev.Path, ev.RemoteAddr = "evt_00000000000000a1", "POST", "bench", "127.0.0.1"
	ev.Headers = map[string]string{"content-length": "25", "content-type": "application/json", "host": "127.0.0.1:8080"}
	fin := ev.ReceivedAt.Add(time.Millisecond)
	run := &engine.Run{ID: "run_00000000000000a1", FlowID: "bench", FlowVersion: 1, EventID: ev.ID, Status: engine.RunSucceeded,
		CreatedAt: ev.ReceivedAt, StartedAt: &ev.ReceivedAt, FinishedAt: &fin,
		Steps: []engine.StepResult{{ID: "shape", Use: "data.set", Status: engine.StepSucceeded, Attempts: 1,
			Input: map[string]any{"order": "o-123", "total": "42"}, Output: map[string]any{"order": "o-123", "total": "42"}, StartedAt: ev.ReceivedAt, FinishedAt: &fin, DurationMS: 0.01}}}
	return ev, run
}

// A damaged packed record is an error, never a crash or a huge allocation.
func TestUnpackDamagedRecord(t *testing.T) {
	good := packRecord(nil, appendEventJSON(nil, newEvent("f", `{"a":"bcdefghijklmnopqrstuvwxyz"}`)))
	if good[0] != packV1 {
		t.Fatal("the event was not packed")
	}
	for name, v := range map[string][]byte{
		"truncated":    good[:len(good)/2],
		"huge length":  {packV1, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00},
		"just the tag": {packV1},
		"flipped":      append([]byte{packV1, good[1] + 9}, good[2:]...),
	} {
		if js, err := unpackRecord(v); err == nil && json.Valid(js) && name != "flipped" {
			t.Errorf("%s: unpacked without an error: %q", name, js)
		}
	}
}

func FuzzUnpackRecord(f *testing.F) {
	f.Add(packRecord(nil, appendEventJSON(nil, newEvent("f", `{"email":"ada@example.com"}`))))
	f.Add([]byte{packV1, 0x10, 0x00})
	f.Add([]byte(`{"id":"x"}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		js, err := unpackRecord(v)
		if err == nil && len(js) > maxUnpackedLen {
			t.Fatalf("unpacked %d bytes", len(js))
		}
		var r engine.Run
		_ = unmarshalRecord(v, &r)
	})
}

// PlainText finds what packing hides from a search of the raw files: the
// secret-scanning tests depend on it.
func TestPlainTextShowsPackedRecords(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	needle := "needle-7d1c4e-in-the-history"
	body := `{"note":"` + needle + `","padding":"the quick brown fox jumps over the lazy dog"}`
	if _, err := s.Accept(ctx, newEvent("f", body), newRun("f"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			raw = append(raw, b...)
		}
		return nil
	})
	// The body is stored base64-encoded in the event's JSON; search for
	// what JSON would hold.
	enc, _ := json.Marshal([]byte(body))
	if bytes.Contains(raw, enc[1:len(enc)-1]) {
		t.Fatal("the event is stored unpacked: this test no longer proves anything")
	}
	var plain bytes.Buffer
	if err := PlainText(dir, &plain); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plain.Bytes(), enc[1:len(enc)-1]) {
		t.Fatal("PlainText does not show the packed event")
	}
}

// Every record packs to a block the S2 library decodes back to it, at every
// size around the two encoders' boundary and with matches in the record,
// in the dictionary and overlapping themselves.
func TestPackRecordSizesAndShapes(t *testing.T) {
	ev := appendEventJSON(nil, newEvent("orders", `{"email":"ada@example.com","total":42}`))
	shapes := map[string]func(n int) []byte{
		"json":   func(n int) []byte { return bytes.Repeat(ev, n/len(ev)+1)[:n] },
		"zeros":  func(n int) []byte { return make([]byte, n) },
		"counts": func(n int) []byte { return fmt.Appendf(nil, "%0*d", n, 0)[:n] },
		"random": func(n int) []byte { b := make([]byte, n); _, _ = rand.NewChaCha8([32]byte{byte(n)}).Read(b); return b },
		"dict":   func(n int) []byte { return bytes.Repeat(recordDictV1Text, n/len(recordDictV1Text)+1)[:n] },
	}
	for name, shape := range shapes {
		for _, n := range []int{minPackLen, minPackLen + 1, 63, 64, 65, 300, 2047, 2048, 2049, 4096, smallRecordMax - 1, smallRecordMax, smallRecordMax + 1, 70_000} {
			js := shape(n)
			js[0] = '{' // records are JSON: none starts with packV1
			stored := packRecord(nil, js)
			got, err := unpackRecord(stored)
			if err != nil || !bytes.Equal(got, js) {
				t.Fatalf("%s, %d bytes: round trip failed: %v", name, n, err)
			}
			if len(stored) > len(js) {
				t.Fatalf("%s, %d bytes: stored %d", name, n, len(stored))
			}
		}
	}
}

// FuzzPackRecord: whatever is stored reads back as it was written.
func FuzzPackRecord(f *testing.F) {
	f.Add(appendEventJSON(nil, newEvent("f", `{"email":"ada@example.com"}`)))
	f.Add(bytes.Repeat([]byte("ab"), 100))
	f.Add(recordDictV1Text[100:400])
	f.Fuzz(func(t *testing.T, b []byte) {
		js := append([]byte("{"), b...) // records are JSON: none starts with packV1
		got, err := unpackRecord(packRecord(nil, js))
		if err != nil || !bytes.Equal(got, js) {
			t.Fatalf("round trip of %d bytes: %v", len(js), err)
		}
	})
}

// TestPackJSONNeverAliasesScratch: what packJSON returns stays as it was
// when the pooled buffer it was encoded in is used for the next record,
// whether the record was packed, too small to pack, or incompressible.
func TestPackJSONNeverAliasesScratch(t *testing.T) {
	noise := make([]byte, 600)
	for i := range noise {
		noise[i] = byte('a' + (i*7919+i*i*31)%26)
	}
	records := []string{
		`{"id":"x"}`, // under minPackLen: stored as it is
		`{"id":"run_00000001","flow_id":"leads","status":"succeeded","steps":[{"id":"send","status":"succeeded"}]}`,
		`{"id":"` + string(noise) + `"}`, // incompressible
	}
	for _, first := range records {
		got, err := packJSON(nil, func(b []byte) ([]byte, error) { return append(b, first...), nil })
		if err != nil {
			t.Fatal(err)
		}
		kept := bytes.Clone(got)
		for range 3 {
			for _, next := range records {
				if _, err := packJSON(nil, func(b []byte) ([]byte, error) {
					return append(b, bytes.Repeat([]byte("Z"), len(next))...), nil
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !bytes.Equal(got, kept) {
			t.Fatalf("record %.30q changed when the buffer was used again", first)
		}
		if js, err := unpackRecord(got); err != nil || string(js) != first {
			t.Fatalf("record %.30q unpacked as %.30q (%v)", first, js, err)
		}
	}
}
