package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/pgstore/pgtest"
)

// cluster is several switchyard processes on one PostgreSQL database
// (serve --database), sharing a secret key and an API token.
type cluster struct {
	t     *testing.T
	url   string
	nodes []*instance
}

// newCluster prepares n nodes on a fresh database; extra flags go to each.
func newCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	url := pgtest.Database(t)
	raw := make([]byte, 32)
	rand.Read(raw)
	key := base64.StdEncoding.EncodeToString(raw)
	bin := binary(t)
	cmd := exec.Command(bin, "token", "create", "--name", "e2e", "--database", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("token create --database: %v\n%s", err, out)
	}
	token := strings.TrimSpace(string(out))
	c := &cluster{t: t, url: url}
	for i := 0; i < n; i++ {
		c.nodes = append(c.nodes, &instance{t: t, bin: bin, data: t.TempDir(), addr: freeAddr(t), token: token,
			// 8 connections a node, not 16: three nodes, the store tests
			// running beside them and the test's own checks must stay
			// under PostgreSQL's default 100 clients.
			extra: append([]string{"--database", url, "--db-pool", "8"}, extra...),
			env:   []string{"SWITCHYARD_SECRET_KEY=" + key, fmt.Sprintf("SWITCHYARD_NODE=node-%d", i)}})
	}
	return c
}

func (c *cluster) start() {
	for _, in := range c.nodes {
		in.start()
	}
}

// query runs one query on the cluster's database and scans its one row.
func (c *cluster) query(sql string, dest ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql).Scan(dest...)
}

// waitIdle waits until no run is unfinished, asking node i.
func (c *cluster) waitIdle(i int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var n int
		if err := c.query(`SELECT count(*) FROM sy_runs WHERE NOT final`, &n); err != nil {
			c.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("runs still unfinished after %s:\n%s", timeout, c.nodes[i].logs.String())
}

// TestClusterKill9 sends 3,000 webhooks round-robin over three nodes from
// 32 clients and kills one node with SIGKILL a third of the way in,
// restarting it shortly after. Every acknowledged event must have exactly
// one run, finished, and must have reached the fake target; no event has
// two runs.
func TestClusterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster crash test skipped in -short mode")
	}
	var recMu sync.Mutex
	gotIDs := map[string]int{}
	rec := newRecorder(t, func(n int, r *http.Request) (int, string) { return 200, `{"ok":true}` })
	c := newCluster(t, 3, "--job-timeout", "5s")
	c.start()
	c.nodes[0].mustAPI(201, "POST", "/api/flows", crashFlow(rec.url))
	// The other nodes learn of the flow through NOTIFY.
	waitUntil(t, 10*time.Second, "the other nodes to take the flow", func() bool {
		for _, in := range c.nodes[1:] {
			if resp, _, err := in.hook("crash", "application/json", []byte(fmt.Sprintf(`{"id":"probe-%d"}`, time.Now().UnixNano()))); err != nil || resp.StatusCode != 202 {
				return false
			}
		}
		return true
	})

	const total, clients = 3000, 32
	var sent, ackedN atomic.Int64
	var mu sync.Mutex
	acked := map[string]string{} // event id → run id from the 202
	var killed sync.Once
	var wg sync.WaitGroup
	restarted := make(chan struct{})
	for cl := 0; cl < clients; cl++ {
		wg.Add(1)
		go func(cl int) {
			defer wg.Done()
			for {
				n := sent.Add(1)
				if n > total {
					return
				}
				in := c.nodes[n%3]
				id := fmt.Sprintf("e%d", n)
				runID := in.postEvent(t, "crash", id)
				if runID == "" {
					continue
				}
				mu.Lock()
				acked[id] = runID
				mu.Unlock()
				if ackedN.Add(1) == total/3 {
					killed.Do(func() {
						go func() {
							c.nodes[1].kill()
							time.Sleep(2 * time.Second)
							c.nodes[1].start()
							close(restarted)
						}()
					})
				}
			}
		}(cl)
	}
	wg.Wait()
	<-restarted
	start := time.Now()
	// A killed node's runs wait for River's rescuer: the job timeout
	// (5 s) + 15 s, within its 30 s round.
	c.waitIdle(0, 120*time.Second)
	t.Logf("%d sent, %d acknowledged; all finished %s after the last was sent", total, len(acked), time.Since(start).Round(time.Millisecond))

	for _, r := range rec.all() {
		var b struct {
			ID string `json:"id"`
		}
		json.Unmarshal(r.Body, &b)
		recMu.Lock()
		gotIDs[b.ID]++
		recMu.Unlock()
	}
	runs := c.nodes[0].allRuns("&flow=crash")
	byEvent, _ := runsByEvent(t, runs, func(w int, id string) (runDetail, []byte) { return c.nodes[w%3].run(id) })
	checkOnce(t, byEvent, acked)
	for ev := range acked {
		if gotIDs[ev] == 0 {
			t.Errorf("acknowledged event %s never reached the target", ev)
		}
	}
	again := 0
	for _, n := range gotIDs {
		if n > 1 {
			again++
		}
	}
	t.Logf("%d events reached the target more than once (steps are at-least-once: the killed node's steps in flight)", again)
	// Deliveries to the killed node fail while it is down (a third of
	// them for some seconds: more, the faster ingest is), so this only
	// checks the test did real work; what matters is checked above.
	if len(acked) < total*2/3 {
		t.Errorf("only %d of %d webhooks acknowledged", len(acked), total)
	}
	if t.Failed() {
		for i, in := range c.nodes {
			t.Logf("node %d log:\n%s", i, in.logs.String())
		}
	}
}

// TestClusterScheduleOnce runs an `@every 2s` schedule for 20 s on three
// nodes: every node's scheduler fires every tick, and each tick makes one
// run.
func TestClusterScheduleOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster schedule test skipped in -short mode")
	}
	rec := newRecorder(t, nil)
	c := newCluster(t, 3)
	c.start()
	// Each node reports the database in its readiness and its pool and
	// the queue in its metrics.
	for i, in := range c.nodes {
		resp, err := http.Get(in.url("/readyz"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"database":"ok"`) {
			t.Errorf("node %d /readyz: %d %s", i, resp.StatusCode, body)
		}
		metrics := string(in.mustAPI(200, "GET", "/metrics", nil))
		for _, m := range []string{`switchyard_db_pool_connections{state="in_use"}`, "switchyard_db_pool_max_connections 8", `switchyard_queue_jobs{state="available"}`} {
			if !strings.Contains(metrics, m) {
				t.Errorf("node %d /metrics lacks %s", i, m)
			}
		}
	}
	c.nodes[0].mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{
	  "id": "tick", "name": "Tick", "enabled": true,
	  "trigger": {"type": "schedule", "cron": "@every 2s"},
	  "steps": [{"id": "send", "use": "http.request", "with": {"method": "POST", "url": "%s/tick", "body": {"tick": "{{ trigger.body.tick }}"}}}]}`, rec.url))
	time.Sleep(20 * time.Second)
	c.nodes[2].mustAPI(204, "DELETE", "/api/flows/tick", nil)
	c.waitIdle(0, 30*time.Second)
	runs := c.nodes[1].allRuns("&flow=tick")
	ticks := map[string]int{}
	for _, r := range runs {
		rd, _ := c.nodes[0].run(r.ID)
		tick, _ := rd.Trigger.Body["tick"].(string)
		ticks[tick]++
		if rd.Status != "succeeded" {
			t.Errorf("run %s is %s: %s", r.ID, rd.Status, rd.Error)
		}
	}
	for tick, n := range ticks {
		if n != 1 {
			t.Errorf("tick %s made %d runs", tick, n)
		}
	}
	if len(runs) < 8 || len(runs) > 11 {
		t.Errorf("%d runs in 20 s of an @every 2s schedule, want about 10", len(runs))
	}
	sent := map[string]int{}
	for _, r := range rec.all() {
		var b struct {
			Tick string `json:"tick"`
		}
		json.Unmarshal(r.Body, &b)
		sent[b.Tick]++
	}
	for tick, n := range sent {
		if n != 1 {
			t.Errorf("tick %s reached the target %d times", tick, n)
		}
	}
	t.Logf("%d ticks fired once each across 3 nodes", len(runs))
}

// TestClusterPollFailover polls a growing list every second on three
// nodes: one node polls at a time; killing it moves polling to another
// node within the lease (engine.PollLeaseTTL) and a poll interval, and no
// item ever runs twice.
func TestClusterPollFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster poll test skipped in -short mode")
	}
	var itemsMu sync.Mutex
	items := 0
	var adding atomic.Bool
	adding.Store(true)
	src := newRecorder(t, func(n int, _ *http.Request) (int, string) {
		itemsMu.Lock()
		defer itemsMu.Unlock()
		var list []string
		for i := 1; i <= items; i++ {
			list = append(list, fmt.Sprintf(`{"id": "i%d"}`, i))
		}
		return 200, `{"items": [` + strings.Join(list, ",") + `]}`
	})
	go func() {
		for adding.Load() {
			itemsMu.Lock()
			items++
			itemsMu.Unlock()
			time.Sleep(500 * time.Millisecond)
		}
	}()
	c := newCluster(t, 3, "--job-timeout", "5s")
	c.start()
	c.nodes[0].mustAPI(201, "POST", "/api/flows", `{
	  "id": "poll", "name": "Poll", "enabled": true,
	  "trigger": {"type": "poll", "cron": "@every 1s", "request": {"url": "`+src.url+`/items"},
	    "items": "response.body.items", "key": "item.id", "flood_limit": 1000, "seen_limit": 100000},
	  "steps": [{"id": "keep", "use": "data.set", "with": {"id": "{{ trigger.body.id }}"}}]}`)
	var holder string
	waitUntil(t, 20*time.Second, "a node to poll", func() bool { return c.query(`SELECT node FROM sy_poll_leases WHERE flow_id = 'poll'`, &holder) == nil })
	time.Sleep(3 * time.Second)
	var idx int
	if _, err := fmt.Sscanf(holder, "node-%d", &idx); err != nil {
		t.Fatalf("lease held by %q", holder)
	}
	c.nodes[idx].kill()
	killedAt := time.Now()
	var next string
	waitUntil(t, 60*time.Second, "another node to poll", func() bool {
		return c.query(`SELECT node FROM sy_poll_leases WHERE flow_id = 'poll' AND node <> '`+holder+`'`, &next) == nil
	})
	moved := time.Since(killedAt)
	bound := 30*time.Second + time.Second + 5*time.Second // PollLeaseTTL, the interval, slack
	if moved > bound {
		t.Errorf("polling moved from %s to %s after %s, bound %s", holder, next, moved, bound)
	}
	time.Sleep(5 * time.Second)
	adding.Store(false)
	time.Sleep(3 * time.Second)
	live := c.nodes[(idx+1)%3]
	// Runs the killed node held wait for River's rescuer: 5 s + 15 s,
	// within its 30 s round.
	c.waitIdle((idx+1)%3, 90*time.Second)
	runs := live.allRuns("&flow=poll")
	byItem := map[string]int{}
	for _, r := range runs {
		rd, _ := live.run(r.ID)
		id, _ := rd.Trigger.Body["id"].(string)
		byItem[id]++
	}
	for id, n := range byItem {
		if n != 1 {
			t.Errorf("item %s ran %d times", id, n)
		}
	}
	itemsMu.Lock()
	last := items
	itemsMu.Unlock()
	// The first poll seeds (runs nothing); every item listed after it runs.
	if len(byItem) < last/2 {
		t.Errorf("%d items ran of %d listed", len(byItem), last)
	}
	t.Logf("polling moved from %s to %s %s after the kill; %d items ran once each", holder, next, moved.Round(time.Millisecond), len(byItem))
}

// TestMigrateDataDir copies a data dir into PostgreSQL twice (the second
// time adds nothing) and serves it from there: the flow with both its
// versions, the connection (still opened by the data dir's key), the API
// token, and the run history with its ids; a new run's id follows theirs.
func TestMigrateDataDir(t *testing.T) {
	var keyMu sync.Mutex
	var lastKey string
	rec := newRecorder(t, func(_ int, r *http.Request) (int, string) {
		keyMu.Lock()
		lastKey = r.Header.Get("X-Key")
		keyMu.Unlock()
		return 200, `{"ok":true}`
	})
	in := newInstance(t)
	in.start()
	flow := func(name string) string {
		return fmt.Sprintf(`{"id": "orders", "name": %q, "enabled": true, "trigger": {"type": "webhook", "path": "orders"},
		  "steps": [{"id": "send", "use": "http.request", "with": {"method": "POST", "url": "%s/orders", "body": {"id": "{{ trigger.body.id }}"},
		    "headers": {"X-Key": "{{ secrets.crm.value }}"}}}]}`, name, rec.url)
	}
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "crm", "type": "secret", "values": map[string]string{"value": "s3cret-token"}})
	in.mustAPI(201, "POST", "/api/flows", flow("Orders"))
	in.mustAPI(200, "PUT", "/api/flows/orders", flow("Orders v2"))
	var before []string
	for i := range 3 {
		before = append(before, in.postEvent(t, "orders", fmt.Sprint("old-", i)))
	}
	in.waitIdle(30 * time.Second)
	in.stop()

	url := pgtest.Database(t)
	keyFile, err := os.ReadFile(filepath.Join(in.data, engine.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	migrate := func() string {
		cmd := exec.Command(in.bin, "migrate", "--data", in.data, "--database", url, "--runs")
		cmd.Env = append(os.Environ(), "SWITCHYARD_SECRET_KEY="+strings.TrimSpace(string(keyFile)))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("migrate: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := migrate(); !strings.Contains(out, "1 flow(s) (2 version(s)), 1 connection(s), 0 account(s), 1 token(s), 3 run(s) added") {
		t.Fatalf("first migrate: %s", out)
	}
	if out := migrate(); !strings.Contains(out, "0 flow(s) (0 version(s)), 0 connection(s), 0 account(s), 0 token(s), 0 run(s) added") {
		t.Fatalf("second migrate: %s", out)
	}
	// Without the key the copy is refused: the cluster could not open it.
	cmd := exec.Command(in.bin, "migrate", "--data", in.data, "--database", url)
	cmd.Env = append(os.Environ(), "SWITCHYARD_SECRET_KEY=")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "SWITCHYARD_SECRET_KEY is not set") {
		t.Fatalf("migrate without the key: %v %s", err, out)
	}

	node := &instance{t: t, bin: in.bin, data: t.TempDir(), addr: freeAddr(t), token: in.token,
		extra: []string{"--database", url}, env: []string{"SWITCHYARD_SECRET_KEY=" + strings.TrimSpace(string(keyFile))}}
	node.start()
	var versions struct {
		Versions []struct {
			Version int `json:"version"`
		} `json:"versions"`
	}
	json.Unmarshal(node.mustAPI(200, "GET", "/api/flows/orders/versions", nil), &versions)
	if len(versions.Versions) != 2 {
		t.Errorf("versions after migrate: %+v", versions)
	}
	runs := node.allRuns("&flow=orders")
	if len(runs) != 3 || runs[2].ID != before[0] || runs[0].ID != before[2] {
		t.Errorf("runs after migrate: %+v, want %v", runs, before)
	}
	after := node.postEvent(t, "orders", "new-1")
	if after <= before[2] {
		t.Errorf("new run %s does not follow the migrated ones (%s)", after, before[2])
	}
	waitUntil(t, 30*time.Second, "the new run to reach the target", func() bool {
		for _, r := range rec.all() {
			if strings.Contains(string(r.Body), "new-1") {
				return true
			}
		}
		return false
	})
	keyMu.Lock()
	got := lastKey
	keyMu.Unlock()
	if got != "s3cret-token" {
		t.Errorf("the migrated connection sent %q", got)
	}
	waitUntil(t, 30*time.Second, "the new run to succeed", func() bool {
		rd, _ := node.run(after)
		return rd.Status == "succeeded"
	})
}

// TestClusterRetryDelaySync keeps the run semantics on two nodes: a step
// answered 503 with Retry-After is retried with the same idempotency key,
// a flow.delay parks the run (its job snoozes) and any node resumes it,
// and sync webhooks are answered by the node holding the request whichever
// node executed the run.
func TestClusterRetryDelaySync(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test skipped in -short mode")
	}
	var mu sync.Mutex
	calls := map[string]int{} // idempotency key → calls; the first is refused
	rec := newRecorder(t, func(_ int, r *http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		key := r.Header.Get("Idempotency-Key")
		if calls[key]++; calls[key] == 1 {
			return 503, `{"error":"busy"}`
		}
		return 200, `{"ok":true}`
	})
	c := newCluster(t, 2)
	c.start()
	c.nodes[0].mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{
	  "id": "slow", "name": "Slow", "enabled": true,
	  "trigger": {"type": "webhook", "path": "slow"},
	  "steps": [
	    {"id": "send", "use": "http.request", "retry": {"attempts": 3, "backoff": "500ms"},
	     "with": {"method": "POST", "url": "%s/x", "body": {"id": "{{ trigger.body.id }}"}}},
	    {"id": "wait", "use": "flow.delay", "with": {"duration": "2s"}},
	    {"id": "done", "use": "data.set", "with": {"ok": true}}
	  ]}`, rec.url))
	c.nodes[1].mustAPI(201, "POST", "/api/flows", `{
	  "id": "echo", "name": "Echo", "enabled": true,
	  "trigger": {"type": "webhook", "path": "echo", "respond": "sync"},
	  "steps": [{"id": "shape", "use": "data.set", "with": {"got": "{{ trigger.body.id }}"}}]}`)
	time.Sleep(time.Second) // the other node hears of the flows
	var runs []string
	for i := range 6 {
		runs = append(runs, c.nodes[i%2].postEvent(t, "slow", fmt.Sprint("s", i)))
	}
	t0 := time.Now()
	for i := range 20 {
		resp, body, err := c.nodes[i%2].hook("echo", "application/json", []byte(fmt.Sprintf(`{"id":"q%d"}`, i)))
		if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), fmt.Sprintf(`"got":"q%d"`, i)) {
			t.Errorf("sync webhook %d: %v %v %s", i, err, resp, body)
		}
	}
	t.Logf("20 sync webhooks answered in %s", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	c.waitIdle(0, 60*time.Second)
	t.Logf("the delayed runs finished %s later", time.Since(t0).Round(time.Millisecond))
	for i, id := range runs {
		rd, _ := c.nodes[(i+1)%2].run(id)
		if rd.Status != "succeeded" || len(rd.Steps) != 3 || rd.Steps[0].Attempts != 2 {
			t.Errorf("run %s: %s, steps %+v", id, rd.Status, rd.Steps)
		}
		mu.Lock()
		n := calls[id+":send"]
		mu.Unlock()
		if n != 2 {
			t.Errorf("step of run %s sent %d times with its key %s:send, want 2", id, n, id)
		}
	}
}
