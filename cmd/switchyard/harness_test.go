package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine/boltstore"
	"github.com/switchyard/switchyard/internal/apicheck"
	"github.com/switchyard/switchyard/internal/testlog"
)

// These tests run the real binary in a temp dir, as a user would.

// builds holds the binaries built by this test process, by build tags.
var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
}

// binary builds the switchyard binary once per test process.
func binary(t *testing.T) string { return binaryWithTags(t, "") }

// binaryWithTags builds the binary with the given build tags (comma
// separated) once per test process.
func binaryWithTags(t *testing.T, tags string) string {
	t.Helper()
	buildsMu.Lock()
	b := builds[tags]
	if b == nil {
		b = &build{}
		builds[tags] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "switchyard-e2e-bin")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "switchyard")
		cmd := exec.Command("go", "build", "-tags", tags, "-o", b.path, ".")
		// As released: static (make build, make release).
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// instance is one switchyard process on a data dir.
type instance struct {
	t     *testing.T
	bin   string
	data  string
	addr  string
	token string
	extra []string
	cmd   *exec.Cmd
	logs  *testlog.Buffer
	done  chan struct{}

	// env is added to the server's environment; wrap is a command the
	// server runs under (faults_harness_test.go).
	env, wrap []string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newInstance prepares a data dir with an API token; start it with start().
func newInstance(t *testing.T, extra ...string) *instance {
	t.Helper()
	in := &instance{t: t, bin: binary(t), data: t.TempDir(), addr: freeAddr(t), extra: extra}
	out, err := exec.Command(in.bin, "token", "create", "--name", "e2e", "--data", in.data).CombinedOutput()
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	in.token = strings.TrimSpace(string(out))
	return in
}

func (in *instance) start() {
	in.t.Helper()
	args := append([]string{"serve", "--addr", in.addr, "--data", in.data, "--egress-allow", "127.0.0.1/32"}, in.extra...)
	in.cmd = in.command(args...)
	in.logs = &testlog.Buffer{}
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	if err := in.cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	in.done = make(chan struct{})
	go func() { in.cmd.Wait(); close(in.done) }()
	in.t.Cleanup(func() { in.kill() })
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-in.done:
			in.t.Fatalf("switchyard exited early:\n%s", in.logs.String())
		default:
		}
		resp, err := http.Get(in.url("/readyz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.t.Fatalf("switchyard not ready:\n%s", in.logs.String())
}

// kill sends SIGKILL and waits for the process to go.
func (in *instance) kill() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.done
	in.cmd = nil
}

// stop asks for a graceful shutdown.
func (in *instance) stop() {
	if in.cmd == nil {
		return
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		in.t.Errorf("switchyard did not stop on SIGTERM")
		in.kill()
	}
	in.cmd = nil
}

func (in *instance) url(path string) string { return "http://" + in.addr + path }

var client = &http.Client{Timeout: 30 * time.Second}

// api calls the API with the instance's token; body may be nil, []byte,
// string or any JSON-encodable value.
func (in *instance) api(method, path string, body any) (int, []byte) {
	in.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			in.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, in.url(path), rd)
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+in.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if err := in.apiChecker().Check(method, path, resp.StatusCode, resp.Header.Get("Content-Type"), data); err != nil {
		in.t.Errorf("%s %s: the answer does not match the API description (web/openapi.go, docs/openapi.json): %v\nanswer: %.2000s", method, path, err, data)
	}
	return resp.StatusCode, data
}

var (
	apiChecksMu sync.Mutex
	apiChecks   = map[string]*apicheck.Checker{}
)

// apiChecker is the OpenAPI document every answer of in.api must match:
// the one the binary under test serves at /api/openapi.json (a build with
// test connectors describes them too), fetched once per binary.
// TestOpenAPIDocsCurrent holds the committed docs/openapi.json to the
// document of the ordinary build.
func (in *instance) apiChecker() *apicheck.Checker {
	in.t.Helper()
	apiChecksMu.Lock()
	defer apiChecksMu.Unlock()
	if ck := apiChecks[in.bin]; ck != nil {
		return ck
	}
	resp, err := client.Get(in.url("/api/openapi.json"))
	if err != nil {
		in.t.Fatalf("GET /api/openapi.json: %v", err)
	}
	defer resp.Body.Close()
	doc, _ := io.ReadAll(resp.Body)
	ck, err := apicheck.New(doc)
	if err != nil {
		in.t.Fatalf("GET /api/openapi.json: %v", err)
	}
	apiChecks[in.bin] = ck
	return ck
}

// mustAPI is api that requires a status.
func (in *instance) mustAPI(want int, method, path string, body any) []byte {
	in.t.Helper()
	code, data := in.api(method, path, body)
	if code != want {
		in.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, data)
	}
	return data
}

// hook posts a webhook.
func (in *instance) hook(path, contentType string, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequest("POST", in.url("/hooks/"+path), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

// runSummary is what GET /api/runs lists.
type runSummary struct {
	ID     string `json:"id"`
	FlowID string `json:"flow_id"`
	Status string `json:"status"`
}

// allRuns pages through GET /api/runs.
func (in *instance) allRuns(query string) []runSummary {
	in.t.Helper()
	var out []runSummary
	cursor := ""
	for {
		q := "/api/runs?limit=100" + query
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		var page struct {
			Runs       []runSummary `json:"runs"`
			NextCursor string       `json:"next_cursor"`
		}
		if err := json.Unmarshal(in.mustAPI(200, "GET", q, nil), &page); err != nil {
			in.t.Fatal(err)
		}
		out = append(out, page.Runs...)
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// runDetail is GET /api/runs/{id}.
type runDetail struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Error   string `json:"error"`
	EventID string `json:"event_id"`
	Steps   []struct {
		ID         string         `json:"id"`
		Status     string         `json:"status"`
		Input      map[string]any `json:"input"`
		Output     any            `json:"output"`
		Error      string         `json:"error"`
		Attempts   int            `json:"attempts"`
		Conditions []struct {
			Field  string `json:"field"`
			Result bool   `json:"result"`
		} `json:"conditions"`
	} `json:"steps"`
	Trigger struct {
		Body map[string]any `json:"body"`
	} `json:"trigger"`
}

func (in *instance) run(id string) (runDetail, []byte) {
	in.t.Helper()
	data := in.mustAPI(200, "GET", "/api/runs/"+id, nil)
	var rd runDetail
	if err := json.Unmarshal(data, &rd); err != nil {
		in.t.Fatal(err)
	}
	return rd, data
}

// waitRuns waits until no run is queued, running or waiting.
func (in *instance) waitIdle(timeout time.Duration) {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		busy := 0
		for _, st := range []string{"queued", "running", "waiting"} {
			busy += len(in.allRuns("&status=" + st))
		}
		if busy == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	in.t.Fatalf("runs still unfinished after %s", timeout)
}

// recorder is a local downstream service that records what it receives.
type recorder struct {
	mu    sync.Mutex
	reqs  []recorded
	srv   *http.Server
	url   string
	reply func(n int, r *http.Request) (int, string)
}

type recorded struct {
	Method, Path, IdemKey, ContentType string
	Body                               []byte
	At                                 time.Time
}

func newRecorder(t *testing.T, reply func(n int, r *http.Request) (int, string)) *recorder {
	t.Helper()
	rec := &recorder{reply: reply}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec.url = "http://" + ln.Addr().String()
	rec.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{Method: r.Method, Path: r.URL.Path, IdemKey: r.Header.Get("Idempotency-Key"),
			ContentType: r.Header.Get("Content-Type"), Body: body, At: time.Now()})
		n := len(rec.reqs)
		rec.mu.Unlock()
		status, out := 200, `{"ok":true}`
		if rec.reply != nil {
			status, out = rec.reply(n, r)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, out)
	})}
	go rec.srv.Serve(ln)
	t.Cleanup(func() { rec.srv.Close() })
	return rec
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// assertNoSecrets searches the stopped instance's database file and logs,
// and the API answers, for each secret.
func assertNoSecrets(t *testing.T, in *instance, answers [][]byte, secrets ...string) {
	t.Helper()
	db, err := os.ReadFile(filepath.Join(in.data, "switchyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	// History records are stored packed, which hides text from a search
	// of the raw file: search their unpacked form too.
	var plain bytes.Buffer
	if err := boltstore.PlainText(in.data, &plain); err != nil {
		t.Fatal(err)
	}
	places := map[string][]byte{"database file": db, "stored records, unpacked": plain.Bytes(), "logs": []byte(in.logs.String())}
	// The write-ahead log holds what bbolt does not yet: after a kill -9
	// it is all of the recent history.
	segs, _ := filepath.Glob(filepath.Join(in.data, "wal", "*"))
	for _, p := range segs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		places["write-ahead log "+filepath.Base(p)] = data
	}
	for i, a := range answers {
		places[fmt.Sprintf("API answer %d", i)] = a
	}
	for where, data := range places {
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s contains the secret %q", where, s)
			}
		}
	}
}

// postEvent posts {"id": id} to /hooks/{path} and returns the run id of
// the 202, or "" when the event was not acknowledged (the server died
// under it; any other answer is an error of the test).
func (in *instance) postEvent(t *testing.T, path, id string) string {
	resp, data, err := in.hook(path, "application/json", []byte(`{"id":"`+id+`"}`))
	if err != nil {
		return ""
	}
	if resp.StatusCode != 202 {
		t.Errorf("event %s: status %d: %s", id, resp.StatusCode, data)
		return ""
	}
	var out struct {
		RunID string `json:"run_id"`
	}
	if json.Unmarshal(data, &out) != nil || out.RunID == "" {
		t.Errorf("event %s: bad answer %s", id, data)
		return ""
	}
	return out.RunID
}

// runsByEvent loads the given runs (8 at a time, through read, which a
// caller may spread over several servers) and groups them by the id in
// their trigger body; every run must have succeeded. It returns the
// groups and each run's detail JSON.
func runsByEvent(t *testing.T, runs []runSummary, read func(i int, id string) (runDetail, []byte)) (map[string][]string, map[string]string) {
	byEvent := map[string][]string{}
	details := map[string]string{}
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				rd, raw := read(w, id)
				evID, _ := rd.Trigger.Body["id"].(string)
				mu.Lock()
				byEvent[evID] = append(byEvent[evID], id)
				details[id] = string(raw)
				mu.Unlock()
				if rd.Status != "succeeded" {
					t.Errorf("run %s is %s: %s", id, rd.Status, rd.Error)
				}
			}
		}()
	}
	for _, r := range runs {
		work <- r.ID
	}
	close(work)
	wg.Wait()
	return byEvent, details
}

// checkOnce fails the test for an event with other than one run, and for
// an acknowledged event (event id → run id from its 202) whose one run is
// not the run it was answered with.
func checkOnce(t *testing.T, byEvent map[string][]string, acked map[string]string) {
	for ev, ids := range byEvent {
		if len(ids) != 1 {
			t.Errorf("event %s has %d runs: %v", ev, len(ids), ids)
		}
	}
	for ev, runID := range acked {
		if ids := byEvent[ev]; len(ids) != 1 || ids[0] != runID {
			t.Errorf("acknowledged event %s (run %s) has runs %v", ev, runID, ids)
		}
	}
}
