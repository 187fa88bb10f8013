package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/switchyard/switchyard/connectors/stdwebhook"
	"github.com/switchyard/switchyard/flows"
)

// receiver is a notification endpoint that checks each delivery the way
// the Standard Webhooks specification tells a receiver to, written from
// the specification rather than from the sender's code: the key is the
// base64 after "whsec_"; the signed content is "<webhook-id>.<webhook-
// timestamp>.<body>"; webhook-signature holds space-separated
// "v1,<base64 HMAC-SHA256>" entries, any of which may match; the timestamp
// must be within five minutes.
type receiver struct {
	secret string
	fail   int // answer 503 to this many deliveries first
	mu     sync.Mutex
	ok     []delivery
	bad    []string
	seen   int
}

type delivery struct {
	id   string
	body map[string]any
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.seen++
	if err := rc.verify(r.Header, body); err != nil {
		rc.bad = append(rc.bad, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rc.fail > 0 {
		rc.fail--
		rc.ok = append(rc.ok, delivery{id: r.Header.Get("webhook-id")})
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var v map[string]any
	json.Unmarshal(body, &v)
	rc.ok = append(rc.ok, delivery{id: r.Header.Get("webhook-id"), body: v})
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) verify(h http.Header, body []byte) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing headers: id %q timestamp %q signature %q", id, ts, sigs)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return fmt.Errorf("timestamp %q out of tolerance", ts)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(rc.secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, entry := range strings.Fields(sigs) {
		version, sig, _ := strings.Cut(entry, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no valid v1 signature in %q", sigs)
}

func (rc *receiver) deliveries() ([]delivery, []string, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.ok...), append([]string(nil), rc.bad...), rc.seen
}

// TestRunNotifications: a flow's run outcomes reach its notify URL signed
// with the whsec_ secret made for it, a 503 is retried with the same
// webhook-id, step.failed is sent only when asked for, and each delivery
// is a run of the notification flow in the history.
func TestRunNotifications(t *testing.T) {
	te := startEngine(t, "", Config{})
	ctx := context.Background()
	name, secret, err := te.CreateSigningSecret(ctx, "notify_work")
	if err != nil || name != "notify_work" || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("signing secret %q %q %v", name, secret, err)
	}
	if again, _, _ := te.CreateSigningSecret(ctx, "notify_work"); again != "notify_work_2" {
		t.Fatalf("second secret named %q", again)
	}
	rc := &receiver{secret: secret, fail: 1}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "work", "name": "Work", "enabled": true, "trigger": {"type": "webhook", "path": "w"},
	  "notify": {"url": "%s/events", "secret": "notify_work", "events": ["run.succeeded", "run.failed", "step.failed"]},
	  "steps": [{"id": "maybe", "use": "http.request", "on_error": "continue", "retry": {"attempts": 1}, "with": {"url": "http://127.0.0.1:1/"}},
	            {"id": "done", "use": "data.set", "with": {"x": 1}}]}`, srv.URL))
	acc, err := te.Accept(ctx, a, webhookEvent(`{}`), false)
	if err != nil {
		t.Fatal(err)
	}
	te.waitFinal(t, acc.RunID)
	deadline := time.Now().Add(15 * time.Second)
	var got []delivery
	for {
		var bad []string
		got, bad, _ = rc.deliveries()
		if len(bad) > 0 {
			t.Fatalf("deliveries that do not verify: %v", bad)
		}
		if len(got) == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want 3 (a 503, then step.failed and run.succeeded)", len(got))
	}
	types := map[string]delivery{}
	for _, d := range got[1:] {
		types[d.body["type"].(string)] = d
	}
	step, run := types["step.failed"], types["run.succeeded"]
	if step.body == nil || run.body == nil {
		t.Fatalf("delivered %v", types)
	}
	if data := run.body["data"].(map[string]any); data["run_id"] != acc.RunID || data["flow_id"] != "work" || data["status"] != "succeeded" {
		t.Fatalf("run.succeeded data %v", data)
	}
	if data := step.body["data"].(map[string]any); data["step_id"] != "maybe" || data["run_id"] != acc.RunID {
		t.Fatalf("step.failed data %v", data)
	}
	// The 503 was retried under the same webhook-id.
	if got[0].id != step.id && got[0].id != run.id {
		t.Fatalf("the retry has a new webhook-id: %s, then %s and %s", got[0].id, step.id, run.id)
	}
	page, _ := te.ListRuns(ctx, RunFilter{FlowID: NotifyFlowID})
	if len(page.Runs) != 2 {
		t.Fatalf("%d notification runs, want 2", len(page.Runs))
	}
	for _, s := range page.Runs {
		r := te.waitFinal(t, s.ID)
		if r.Status != RunSucceeded || r.Steps[0].Use != "webhook.send" {
			t.Fatalf("notification run %+v", r)
		}
		if raw, _ := json.Marshal(r); strings.Contains(string(raw), strings.TrimPrefix(secret, "whsec_")) {
			t.Fatal("the signing secret is in the notification's run history")
		}
	}
	// The receiver's check refuses a body changed after signing.
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("msg_1." + h.Get("webhook-timestamp") + `.{"a":1}`))
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	if rc.verify(h, []byte(`{"a":1}`)) != nil || rc.verify(h, []byte(`{"a":2}`)) == nil {
		t.Fatal("the receiver's check does not tell a good signature from a bad one")
	}
	// Without step.failed in events, and with the settings' endpoint for
	// a flow that names none, only run.failed goes out.
	rc2 := &receiver{secret: secret}
	srv2 := httptest.NewServer(rc2)
	defer srv2.Close()
	if err := te.SaveSettings(ctx, Settings{Notify: &flows.Notify{URL: srv2.URL, Secret: "notify_work"}}); err != nil {
		t.Fatal(err)
	}
	b := te.saveFlow(t, `{"id": "plain", "name": "Plain", "enabled": true, "trigger": {"type": "webhook", "path": "p"},
	  "steps": [{"id": "fail", "use": "http.request", "retry": {"attempts": 1}, "with": {"url": "http://127.0.0.1:1/"}}]}`)
	acc, _ = te.Accept(ctx, b, webhookEvent(`{}`), false)
	te.waitFinal(t, acc.RunID)
	deadline = time.Now().Add(10 * time.Second)
	for {
		got, _, _ = rc2.deliveries()
		if len(got) >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	got, bad, _ := rc2.deliveries()
	if len(bad) > 0 || len(got) != 1 || got[0].body["type"] != "run.failed" {
		t.Fatalf("settings endpoint got %v (bad %v)", got, bad)
	}
}
