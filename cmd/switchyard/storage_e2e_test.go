package main

import (
	"bytes"
	le "encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The storage under the server damaged or failing, with the real binary.

const simpleFlow = `{"id": %q, "name": "storage", "enabled": true,
  "trigger": {"type": "webhook", "path": %q},
  "steps": [{"id": "s", "use": "data.set", "with": {"n": "{{ trigger.body.n }}"}}]}`

// crashOutput reports whether a command's output shows a crash rather
// than an error message.
func crashOutput(out string) bool {
	for _, sign := range []string{"goroutine ", "panic:", "SIGBUS", "SIGSEGV", "fatal error", "[signal"} {
		if strings.Contains(out, sign) {
			return true
		}
	}
	return false
}

// TestDamagedLogE2E: a server killed with 30 acknowledged runs in its log
// only (bbolt refusing writes), one bit flipped in frame 20 of the 60. The
// next start used to apply frames 1–19, drop the rest silently and delete
// the segment (20 of 30 runs gone). Now it refuses with the segment, the
// offset and the 40 records that follow; `switchyard recover` applies them
// and reports the one record lost; the server then starts with all 30
// runs, the one whose final checkpoint was lost running again.
func TestDamagedLogE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	flag := filepath.Join(t.TempDir(), "fail-bbolt")
	in := newFaultInstance(t, "apply-fails-while="+flag)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(simpleFlow, "dmg", "dmg"))
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	for i := 1; i <= 30; i++ {
		resp, _, err := in.hook("dmg", "application/json", fmt.Appendf(nil, `{"n":%d}`, i))
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("webhook %d: %v %v", i, resp, err)
		}
		acked[resp.Header.Get("Switchyard-Run-Id")] = true
		// The run's final checkpoint is logged before the next event:
		// the frames alternate, ingest and checkpoint.
		waitUntil(t, 10*time.Second, "the run to finish", func() bool { return in.metric("switchyard_runs_succeeded_total") == int64(i) })
	}
	in.kill()
	segs, _ := filepath.Glob(filepath.Join(in.data, "wal", "*.wal"))
	if len(segs) != 1 {
		t.Fatalf("log segments %v, want one", segs)
	}
	frames := logFrames(t, segs[0])
	if len(frames) != 60 {
		t.Fatalf("%d frames in the log, want 60", len(frames))
	}
	data, _ := os.ReadFile(segs[0])
	data[frames[19]+8+8+20] ^= 0x01 // inside frame 20's record
	if err := os.WriteFile(segs[0], data, 0o600); err != nil {
		t.Fatal(err)
	}

	in.env = nil
	in.bin = binary(t)
	out, code := in.cli("serve", "--addr", in.addr, "--data", in.data)
	if code == 0 || crashOutput(out) {
		t.Fatalf("start over a damaged log: exit %d:\n%s", code, out)
	}
	for _, want := range []string{filepath.Base(segs[0]), fmt.Sprintf("byte offset %d", frames[19]),
		"40 intact records follow", "switchyard recover --data " + in.data} {
		if !strings.Contains(out, want) {
			t.Errorf("start-up error does not say %q:\n%s", want, out)
		}
	}
	t.Logf("start:\n%s", out)
	if after, err := os.ReadFile(segs[0]); err != nil || !bytes.Equal(after, data) {
		t.Fatalf("the damaged segment was changed or deleted: %v", err)
	}

	out, code = in.cli("recover", "--data", in.data)
	if code != 0 {
		t.Fatalf("recover: exit %d:\n%s", code, out)
	}
	for _, want := range []string{"lost: 1 record(s), LSN 20", "a checkpoint of run", "salvaged after it: 40 intact record(s)", "the server can start now"} {
		if !strings.Contains(out, want) {
			t.Errorf("recover report does not say %q:\n%s", want, out)
		}
	}
	t.Logf("recover:\n%s", out)

	in.start()
	in.waitIdle(30 * time.Second)
	runs := in.allRuns("&flow=dmg")
	if len(runs) != 30 {
		t.Fatalf("%d runs after recovery, want 30", len(runs))
	}
	for _, r := range runs {
		if !acked[r.ID] || r.Status != "succeeded" {
			t.Errorf("run %s: %s (acknowledged: %v)", r.ID, r.Status, acked[r.ID])
		}
	}
}

// TestDamagedDatabaseE2E: a database file cut short or overwritten with
// garbage used to end the server in a SIGBUS or a panic with a stack dump.
// Now every command that opens it says in one paragraph that the file is
// damaged and where the restore instructions are, and exits with 1.
func TestDamagedDatabaseE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	src := newInstance(t)
	src.start()
	src.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(simpleFlow, "db", "db"))
	// Enough runs for 40 pages in use: history packs small (issue 16).
	for i := range 400 {
		if resp, _, err := src.hook("db", "application/json", fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 300))); err != nil || resp.StatusCode != 202 {
			t.Fatalf("webhook: %v %v", resp, err)
		}
	}
	src.waitIdle(30 * time.Second)
	src.stop()
	good, err := os.ReadFile(filepath.Join(src.data, "switchyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(src.data, "switchyard.key"))
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	// From the newer meta page (0 or 1): the root page of the bucket tree
	// and the end of the used pages. The file itself runs further: bbolt
	// grows it ahead in large steps.
	meta := good[16:]
	if le.LittleEndian.Uint64(good[page+16+48:]) > le.LittleEndian.Uint64(meta[48:]) {
		meta = good[page+16:]
	}
	root := int(le.LittleEndian.Uint64(meta[16:]))
	used := int(le.LittleEndian.Uint64(meta[40:])) * page
	if used < 40*page {
		t.Fatalf("%d bytes of pages in use: too few to damage in the middle", used)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for i, tc := range []struct {
		name   string
		damage func(db []byte) []byte
	}{
		{"cut in half", func(db []byte) []byte { return db[:used/2/page*page] }},
		{"cut inside the second meta page", func(db []byte) []byte { return db[:page+1000] }},
		{"cut mid-page", func(db []byte) []byte { return db[:used-page-123] }},
		{"garbage over the used pages", func(db []byte) []byte { copy(db[2*page:], garbage(used-2*page)); return db }},
		{"garbage over the root page", func(db []byte) []byte { copy(db[root*page:], garbage(page)); return db }},
		{"garbage over both meta pages", func(db []byte) []byte { copy(db, garbage(2*page)); return db }},
		{"one page zeroed", func(db []byte) []byte { clear(db[root*page : (root+1)*page]); return db }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &instance{t: t, bin: src.bin, data: t.TempDir(), addr: freeAddr(t)}
			if err := os.WriteFile(filepath.Join(in.data, "switchyard.db"), tc.damage(bytes.Clone(good)), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(in.data, "switchyard.key"), key, 0o600); err != nil {
				t.Fatal(err)
			}
			commands := [][]string{{"serve", "--addr", in.addr, "--data", in.data}}
			if i < 2 { // the other commands open the file the same way
				commands = append(commands, []string{"token", "create", "--name", "x", "--data", in.data}, []string{"recover", "--data", in.data})
			}
			for _, args := range commands {
				out, code := in.cli(args...)
				if code != 1 || crashOutput(out) {
					t.Fatalf("%s over a damaged database: exit %d:\n%s", args[0], code, out)
				}
				for _, want := range []string{"switchyard.db is damaged", "docs/operations.md"} {
					if !strings.Contains(out, want) {
						t.Errorf("%s: the error does not say %q:\n%s", args[0], want, out)
					}
				}
				if lines := strings.Count(strings.TrimSpace(out), "\n"); lines != 0 {
					t.Errorf("%s: the error takes %d lines, want one paragraph:\n%s", args[0], lines+1, out)
				}
			}
		})
	}
}

// TestStuckStoreE2E: bbolt refusing every write (an fdatasync failing
// under it). Before, nothing was logged, /readyz said 200, GET /api/runs
// hung, and after about 46 webhooks the next ones hung too. Now: an ERROR
// line naming the cause (not one per retry), /readyz 503, reads answered
// 503 at once, the metric, webhooks acknowledged until the backlog bound
// and 503 at once after it; once bbolt takes writes again everything
// acknowledged runs.
func TestStuckStoreE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	flag := filepath.Join(t.TempDir(), "fail-bbolt")
	in := newFaultInstance(t, "apply-fails-while="+flag+",backlog=50")
	in.start()
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(simpleFlow, "stuck", "stuck"))
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var acked []string
	refused := 0
	for i := 0; refused < 5; i++ {
		if i > 300 {
			t.Fatalf("%d webhooks and never a 503 (%d acknowledged)", i, len(acked))
		}
		start := time.Now()
		resp, body, err := in.hook("stuck", "application/json", fmt.Appendf(nil, `{"n":%d}`, i))
		if err != nil {
			t.Fatalf("webhook %d: %v", i, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("webhook %d answered after %s", i, took)
		}
		switch resp.StatusCode {
		case 202:
			if refused > 0 {
				t.Fatalf("webhook %d acknowledged after a refusal, with bbolt still failing", i)
			}
			acked = append(acked, resp.Header.Get("Switchyard-Run-Id"))
		case 503:
			refused++
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "error") {
				t.Fatalf("503 without Retry-After or error: %v %s", resp.Header, body)
			}
		default:
			t.Fatalf("webhook %d: %d %s", i, resp.StatusCode, body)
		}
	}
	// Each run adds a checkpoint to its event: the 50 writes are about 25
	// webhooks.
	if len(acked) < 10 || len(acked) > 50 {
		t.Fatalf("%d webhooks acknowledged before the bound of 50 writes", len(acked))
	}
	start := time.Now()
	code, body := status(in.url("/api/runs"), 10*time.Second)
	if code != 0 { // the API wants a token: use it
		code, _ = in.api("GET", "/api/runs", nil)
	}
	if code != 503 || time.Since(start) > 7*time.Second {
		t.Fatalf("GET /api/runs while stuck: %d after %s (%s), want 503 within the read bound", code, time.Since(start), body)
	}
	if code, _ := status(in.url("/readyz"), 5*time.Second); code != 503 {
		t.Fatalf("/readyz while stuck: %d, want 503", code)
	}
	if in.metric("switchyard_store_stuck") != 1 || in.metric("switchyard_store_backlog") == 0 {
		t.Fatal("the metrics do not show the stuck store")
	}
	time.Sleep(2 * time.Second) // retries go on
	logs := in.logs.String()
	errLines := regexp.MustCompile(`"level":"ERROR"[^\n]*refuses writes[^\n]*`).FindAllString(logs, -1)
	if len(errLines) != 1 || !strings.Contains(errLines[0], "input/output error") {
		t.Fatalf("want one ERROR line naming the cause, got %d:\n%s", len(errLines), logs)
	}

	os.Remove(flag)
	waitUntil(t, 15*time.Second, "/readyz to come back", func() bool { c, _ := status(in.url("/readyz"), time.Second); return c == 200 })
	in.waitIdle(30 * time.Second)
	for _, id := range acked {
		if rd, _ := in.run(id); rd.Status != "succeeded" {
			t.Errorf("acknowledged run %s: %s", id, rd.Status)
		}
	}
	if resp, _, err := in.hook("stuck", "application/json", []byte(`{"n":-1}`)); err != nil || resp.StatusCode != 202 {
		t.Fatalf("webhook after recovery: %v %v", resp, err)
	}
	// The 503s were refusals: held while the database refused writes,
	// written once it took them again.
	var rp struct {
		Refusals []struct {
			Kind   string `json:"kind"`
			Status int    `json:"status"`
		} `json:"refusals"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/stuck/refusals", nil), &rp)
	if len(rp.Refusals) != refused {
		t.Errorf("%d refusals recorded for %d 503s: %+v", len(rp.Refusals), refused, rp.Refusals)
	}
	for _, r := range rp.Refusals {
		if r.Kind != "storage_unavailable" || r.Status != 503 {
			t.Errorf("refusal %+v, want storage_unavailable 503", r)
		}
	}
}

// TestDiskFullE2E: the data dir on a small tmpfs (a mount namespace of its
// own), filled up. Once nothing can be written webhooks get 5xx, quickly;
// when space comes back they are acknowledged again without a restart,
// and nothing acknowledged is lost, across a kill -9 too.
func TestDiskFullE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	if out, err := exec.Command("unshare", "--user", "--map-root-user", "--mount", "true").CombinedOutput(); err != nil {
		t.Skipf("no mount namespace here to put a small tmpfs in (%v: %s)", err, out)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A process that holds the namespace with the tmpfs; the servers join
	// it with nsenter and the test reaches the files through its root.
	holder := exec.Command("unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
		`mount -t tmpfs -o size=6m tmpfs "$1" && exec sleep 600`, "sh", dir)
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	inside := fmt.Sprintf("/proc/%d/root%s", holder.Process.Pid, dir)
	waitUntil(t, 5*time.Second, "the tmpfs", func() bool {
		var st syscall.Statfs_t
		return syscall.Statfs(inside, &st) == nil && st.Type == 0x01021994 // TMPFS_MAGIC
	})
	in := &instance{t: t, bin: binary(t), data: dir, addr: freeAddr(t),
		wrap: []string{"nsenter", "-t", fmt.Sprint(holder.Process.Pid), "-U", "-m", "--preserve-credentials"}}
	out, code := in.cli("token", "create", "--name", "e2e", "--data", dir)
	if code != 0 {
		t.Fatalf("token create: %d %s", code, out)
	}
	in.token = strings.TrimSpace(out)
	in.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", in.logs.String())
		}
	})
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(simpleFlow, "full", "full"))

	var mu sync.Mutex
	var acked []string
	post := func(i int) int {
		start := time.Now()
		resp, body, err := in.hook("full", "application/json", fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, strings.Repeat("y", 2000)))
		if err != nil {
			t.Fatalf("webhook %d: %v", i, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("webhook %d answered after %s", i, took)
		}
		if resp.StatusCode == 202 {
			mu.Lock()
			acked = append(acked, resp.Header.Get("Switchyard-Run-Id"))
			mu.Unlock()
		} else if resp.StatusCode < 500 {
			t.Fatalf("webhook %d: %d %s", i, resp.StatusCode, body)
		}
		return resp.StatusCode
	}
	for i := range 20 {
		if c := post(i); c != 202 {
			t.Fatalf("webhook %d before the disk filled: %d", i, c)
		}
	}
	// Fill the file system.
	ballast, err := os.Create(filepath.Join(inside, "ballast"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := ballast.Write(chunk); err != nil {
			break
		}
	}
	ballast.Close()
	n, fails := 20, 0
	for ; fails < 10 && n < 2000; n++ {
		if post(n) >= 500 {
			fails++
		}
	}
	if fails < 10 {
		t.Fatalf("a full disk never refused webhooks (%d sent)", n)
	}
	if code, _ := status(in.url("/healthz"), 5*time.Second); code != 200 {
		t.Fatalf("/healthz on a full disk: %d", code)
	}
	if err := os.Remove(filepath.Join(inside, "ballast")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "webhooks to be acknowledged again", func() bool { n++; return post(n) == 202 })
	// The database takes writes again at its next retry, within a second.
	waitUntil(t, 20*time.Second, "/readyz", func() bool { c, _ := status(in.url("/readyz"), time.Second); return c == 200 })
	for range 20 {
		n++
		if c := post(n); c != 202 {
			t.Fatalf("webhook %d after space came back: %d", n, c)
		}
	}
	in.waitIdle(30 * time.Second)
	check := func(when string) {
		for _, id := range acked {
			code, body := in.api("GET", "/api/runs/"+id, nil)
			var rd struct{ Status string }
			json.Unmarshal(body, &rd)
			if code != 200 || rd.Status != "succeeded" {
				t.Errorf("%s: acknowledged run %s: %d %s", when, id, code, body)
			}
		}
	}
	check("after space came back")
	in.kill()
	in.start()
	in.waitIdle(30 * time.Second)
	check("after kill -9 and a restart")
	t.Logf("%d webhooks acknowledged, %d refused while the disk was full", len(acked), fails)
}
