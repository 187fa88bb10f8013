package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore"
)

// loadFlow is a webhook flow with one quick step, for load.
const loadFlow = `{"id": "bk", "name": "Backup load", "enabled": true,
  "trigger": {"type": "webhook", "path": "bk"},
  "steps": [{"id": "shape", "use": "data.set", "with": {"id": "{{ trigger.body.id }}"}}]}`

// ack is one acknowledged webhook: its run and when it was sent and answered.
type ack struct {
	run       string
	sent, got time.Time
}

// loader posts webhooks from several clients until stopped.
type loader struct {
	mu   sync.Mutex
	acks []ack
	stop atomic.Bool
	wg   sync.WaitGroup
}

func startLoad(t *testing.T, in *instance, clients int) *loader {
	l := &loader{}
	var seq atomic.Int64
	for c := 0; c < clients; c++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for !l.stop.Load() {
				id := fmt.Sprintf("e%d", seq.Add(1))
				sent := time.Now()
				resp, data, err := in.hook("bk", "application/json", []byte(`{"id":"`+id+`"}`))
				if err != nil {
					t.Errorf("webhook %s: %v", id, err)
					return
				}
				got := time.Now()
				var out struct {
					RunID string `json:"run_id"`
				}
				if resp.StatusCode != 202 || json.Unmarshal(data, &out) != nil || out.RunID == "" {
					t.Errorf("webhook %s: %d %s", id, resp.StatusCode, data)
					return
				}
				l.mu.Lock()
				l.acks = append(l.acks, ack{out.RunID, sent, got})
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *loader) end() []ack {
	l.stop.Store(true)
	l.wg.Wait()
	return l.acks
}

// latencies describes the acknowledgements of acks that were in flight
// at some point in [from, to): count, median, 99th percentile and longest.
func latencies(acks []ack, from, to time.Time) string {
	var d []time.Duration
	for _, a := range acks {
		if a.got.After(from) && a.sent.Before(to) {
			d = append(d, a.got.Sub(a.sent))
		}
	}
	if len(d) == 0 {
		return "no webhooks"
	}
	slices.Sort(d)
	// The longest stretch of the window in which no acknowledgement came:
	// a pause of ingest shows here whatever the latencies.
	var got []time.Time
	for _, a := range acks {
		if !a.got.Before(from) && a.got.Before(to) {
			got = append(got, a.got)
		}
	}
	slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
	gap, last := time.Duration(0), from
	for _, g := range append(got, to) {
		gap, last = max(gap, g.Sub(last)), g
	}
	r := func(x time.Duration) time.Duration { return x.Round(10 * time.Microsecond) }
	return fmt.Sprintf("%d webhooks, p50 %s, p99 %s, max %s, longest gap between acknowledgements %s",
		len(d), r(d[len(d)/2]), r(d[len(d)*99/100]), r(d[len(d)-1]), r(gap))
}

// startRestored starts a server on a data dir restore wrote, with the
// token of the instance the backup came from (tokens are in the database).
func startRestored(t *testing.T, from *instance, data string) *instance {
	in := &instance{t: t, bin: from.bin, data: data, addr: freeAddr(t), token: from.token}
	in.start()
	return in
}

// findRuns fails for each run id the instance does not hold.
func findRuns(t *testing.T, in *instance, flow string, want []string) {
	t.Helper()
	have := map[string]bool{}
	for _, r := range in.allRuns("&flow=" + flow) {
		have[r.ID] = true
	}
	missing := 0
	for _, id := range want {
		if !have[id] {
			missing++
			if missing <= 5 {
				t.Errorf("run %s, acknowledged before the backup began, is not in the restored database", id)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged runs missing after restore", missing, len(want))
	}
}

// TestBackupUnderLoad backs a running server up over GET /api/backup (with
// `switchyard backup --server`) while webhooks arrive from 16 clients,
// restores the file into a fresh dir, starts a server there and finds
// every run acknowledged before the backup began. It logs the longest
// acknowledgement before and during the backup (docs/benchmarks.md).
func TestBackupUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", loadFlow)
	l := startLoad(t, in, 16)
	// SWITCHYARD_BACKUP_LOAD makes the load before the backup longer (a
	// larger database) for docs/benchmarks.md.
	load := 1500 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("SWITCHYARD_BACKUP_LOAD")); err == nil {
		load = d
	}
	time.Sleep(load)

	l.mu.Lock()
	var before []string
	for _, a := range l.acks {
		before = append(before, a.run)
	}
	l.mu.Unlock()
	// SWITCHYARD_BACKUP_OUT_DIR puts the backup elsewhere (another disk,
	// or tmpfs to leave the client's writes out of the measurement).
	outDir := t.TempDir()
	if d := os.Getenv("SWITCHYARD_BACKUP_OUT_DIR"); d != "" {
		outDir = d
	}
	out := filepath.Join(outDir, fmt.Sprintf("backup-%d.db", time.Now().UnixNano()))
	t.Cleanup(func() { os.Remove(out) })
	began := time.Now()
	cmd := exec.Command(in.bin, "backup", "--server", "http://"+in.addr, "--out", out)
	cmd.Env = append(os.Environ(), "SWITCHYARD_TOKEN="+in.token)
	res, err := cmd.CombinedOutput()
	ended := time.Now()
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, res)
	}
	time.Sleep(300 * time.Millisecond)
	acks := l.end()
	if len(before) < 100 {
		t.Fatalf("only %d webhooks acknowledged before the backup: no load", len(before))
	}
	fi, _ := os.Stat(out)
	// The same length of time before the backup as it took, for comparison.
	took := ended.Sub(began)
	t.Logf("backup of %d bytes (%d runs before it) took %s under load; acknowledgements in the %s before it: %s; during it: %s",
		fi.Size(), len(before), took.Round(time.Millisecond), took.Round(time.Millisecond),
		latencies(acks, began.Add(-took), began), latencies(acks, began, ended))

	// The key file is not in the backup, neither as written nor decoded.
	backup, _ := os.ReadFile(out)
	keyText, err := os.ReadFile(filepath.Join(in.data, engine.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	key, err := engine.ParseKey(string(keyText))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(backup, bytes.TrimSpace(keyText)) || bytes.Contains(backup, key) {
		t.Error("the backup holds the secrets key")
	}
	in.stop()
	for _, line := range strings.Split(in.logs.String(), "\n") {
		if strings.Contains(line, `"backup sent"`) {
			t.Logf("server: %s", line)
		}
	}

	// Restore into a fresh dir with the key file beside it (a dir that
	// holds only the key file counts as empty).
	fresh := t.TempDir()
	if err := os.WriteFile(filepath.Join(fresh, engine.KeyFileName), keyText, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, o, e := runCLI(t, "restore", out, "--data", fresh); code != 0 {
		t.Fatalf("restore: exit %d: %s%s", code, o, e)
	}
	restored := startRestored(t, in, fresh)
	findRuns(t, restored, "bk", before)
	// Runs the snapshot held unfinished are finished after the restart.
	restored.waitIdle(60 * time.Second)
}

// TestBackupOffline: `switchyard backup --data` refuses while a server
// holds the dir, and after a kill -9 (acknowledged runs only in the
// write-ahead log) applies the log and copies everything.
func TestBackupOffline(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", loadFlow)
	out := filepath.Join(t.TempDir(), "offline.db")
	// The API's copy needs a token like every /api route.
	if resp, err := http.Get(in.url("/api/backup")); err != nil || resp.StatusCode != 401 {
		t.Fatalf("GET /api/backup without a token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// With one, the body is the database file (in.api checks the answer
	// against the OpenAPI description).
	plain := filepath.Join(t.TempDir(), "plain.db")
	os.WriteFile(plain, in.mustAPI(200, "GET", "/api/backup", nil), 0o600)
	if err := boltstore.CheckBackup(plain); err != nil {
		t.Fatalf("GET /api/backup: %v", err)
	}
	// restore --force does not replace the database of a running server.
	if code, _, e := runCLI(t, "restore", plain, "--data", in.data, "--force"); code != 1 || !strings.Contains(e, "locked") {
		t.Fatalf("restore --force onto a running server's dir: exit %d: %s", code, e)
	}
	if _, err := os.Stat(filepath.Join(in.data, "wal")); err != nil {
		t.Fatalf("a refused restore touched the running server's log: %v", err)
	}

	start := time.Now()
	code, _, errOut := runCLI(t, "backup", "--data", in.data, "--out", out)
	if code != 1 || !strings.Contains(errOut, "locked") || time.Since(start) > 10*time.Second {
		t.Fatalf("backup with a server running: exit %d after %s: %s", code, time.Since(start), errOut)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused backup left %s behind (%v)", out, err)
	}

	var runs []string
	for i := 0; i < 50; i++ {
		resp, data, err := in.hook("bk", "application/json", []byte(fmt.Sprintf(`{"id":"o%d"}`, i)))
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("webhook: %v %s", err, data)
		}
		var r struct {
			RunID string `json:"run_id"`
		}
		json.Unmarshal(data, &r)
		runs = append(runs, r.RunID)
	}
	in.kill()
	if walBytes(t, in.data) == 0 {
		t.Fatal("no write-ahead log after the kill: the test would not show the backup applies it")
	}
	code, o, errOut := runCLI(t, "backup", "--data", in.data, "--out", out)
	if code != 0 || !strings.Contains(o, engine.KeyFileName) {
		t.Fatalf("offline backup: exit %d: %s%s", code, o, errOut)
	}
	fresh := t.TempDir()
	keyText, _ := os.ReadFile(filepath.Join(in.data, engine.KeyFileName))
	os.WriteFile(filepath.Join(fresh, engine.KeyFileName), keyText, 0o600)
	if code, o, e := runCLI(t, "restore", out, "--data", fresh); code != 0 {
		t.Fatalf("restore: exit %d: %s%s", code, o, e)
	}
	restored := startRestored(t, in, fresh)
	findRuns(t, restored, "bk", runs)

	// Without the key the backup was made with, the server refuses to
	// start rather than fail on every stored credential.
	keyless := t.TempDir()
	if code, o, e := runCLI(t, "restore", out, "--data", keyless); code != 0 {
		t.Fatalf("restore: exit %d: %s%s", code, o, e)
	}
	cmd := exec.Command(in.bin, "serve", "--addr", freeAddr(t), "--data", keyless)
	res, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(res), "secret key does not match") {
		t.Errorf("serve on a restore without its key: %v: %s", err, res)
	}
}

// TestRestoreRefuses: restore touches nothing when the file is not a
// database (or a backup cut short), or the dir is not empty without
// --force; with --force it replaces the database and drops the old log.
func TestRestoreRefuses(t *testing.T) {
	src := t.TempDir()
	if code, _, e := runCLI(t, "token", "create", "--name", "x", "--data", src); code != 0 {
		t.Fatal(e)
	}
	good := filepath.Join(t.TempDir(), "good.db")
	if code, o, e := runCLI(t, "backup", "--data", src, "--out", good); code != 0 {
		t.Fatalf("backup: %s%s", o, e)
	}
	data, _ := os.ReadFile(good)

	notDB := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notDB, []byte("these are not the pages you are looking for\n"), 0o644)
	short := filepath.Join(t.TempDir(), "short.db")
	os.WriteFile(short, data[:len(data)/2], 0o644)
	plainBolt := filepath.Join(t.TempDir(), "other.db")
	// A bbolt file of another program: whole, but without our buckets.
	db, err := bolt.Open(plainBolt, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	db.Close()
	for _, bad := range []string{notDB, short, plainBolt, filepath.Join(t.TempDir(), "absent.db")} {
		dir := t.TempDir()
		code, _, e := runCLI(t, "restore", bad, "--data", dir)
		if code != 1 {
			t.Errorf("restore %s: exit %d, want 1: %s", filepath.Base(bad), code, e)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("restore %s refused but left %v in the dir", filepath.Base(bad), entries)
		}
		t.Logf("restore %s: %s", filepath.Base(bad), strings.TrimSpace(e))
	}
	code, _, e := runCLI(t, "restore", notDB, "--data", t.TempDir())
	if !strings.Contains(e, "not a Switchyard database backup") {
		t.Errorf("restore of a text file: exit %d: %s", code, e)
	}

	// A dir in use is refused without --force, and left as it was.
	busy := t.TempDir()
	os.MkdirAll(filepath.Join(busy, "wal"), 0o700)
	os.WriteFile(filepath.Join(busy, "wal", "00000001.wal"), []byte("old log"), 0o600)
	os.WriteFile(filepath.Join(busy, "switchyard.db"), []byte("old database"), 0o600)
	os.WriteFile(filepath.Join(busy, engine.BulkJournalFile), []byte(`{"actions":[]}`), 0o600)
	code, _, e = runCLI(t, "restore", good, "--data", busy)
	if code != 1 || !strings.Contains(e, "--force") {
		t.Errorf("restore into a non-empty dir: exit %d: %s", code, e)
	}
	if b, _ := os.ReadFile(filepath.Join(busy, "switchyard.db")); string(b) != "old database" {
		t.Error("a refused restore changed the database")
	}
	code, _, e = runCLI(t, "restore", good, "--data", busy, "--force")
	if code != 0 {
		t.Fatalf("restore --force: exit %d: %s", code, e)
	}
	if b, _ := os.ReadFile(filepath.Join(busy, "switchyard.db")); !bytes.Equal(b, data) {
		t.Error("restore --force did not put the backup in place")
	}
	if _, err := os.Stat(filepath.Join(busy, "wal")); !os.IsNotExist(err) {
		t.Errorf("restore --force kept the old write-ahead log (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(busy, engine.BulkJournalFile)); !os.IsNotExist(err) {
		t.Errorf("restore --force kept the old bulk journal, whose runs are the replaced database's (%v)", err)
	}
}
