package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// counterFlow counts each conversation's messages in the data store and
// posts the count to url.
func counterFlow(url string) string {
	return fmt.Sprintf(`{
	  "id": "counter", "name": "Counter", "enabled": true,
	  "trigger": {"type": "webhook", "path": "counter"},
	  "steps": [
	    {"id": "count", "use": "store.increment", "with": {"key": "conv:{{ trigger.body.conv }}"}},
	    {"id": "tell", "use": "http.request", "with": {"url": %q, "method": "POST",
	      "body": {"conv": "{{ trigger.body.conv }}", "count": "{{ steps.count.output.value }}"}}}
	  ]}`, url)
}

// heardCounts lists the counts the counter flow posted, in order.
func heardCounts(t *testing.T, rec *recorder) string {
	t.Helper()
	var out []string
	for _, r := range rec.all() {
		var b struct {
			Count float64 `json:"count"`
		}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatalf("the service got %s: %v", r.Body, err)
		}
		out = append(out, fmt.Sprint(b.Count))
	}
	return strings.Join(out, ",")
}

// TestStoreIncrementKill9: the process is killed (SIGKILL, by the
// kill-after-kv-write fault) right after store.increment's write is on
// disk and before the step's checkpoint. The restarted server resumes the
// run at that step, which finds its write done and does not count again:
// the service hears 1, then 2 for the next event.
func TestStoreIncrementKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	rec := newRecorder(t, nil)
	marker := filepath.Join(t.TempDir(), "killed")
	in := newFaultInstance(t, "kill-after-kv-write="+marker)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", counterFlow(rec.url))
	id := in.hookJSON("counter", `{"conv": "42"}`)
	in.waitExit(30 * time.Second)
	if len(rec.all()) != 0 {
		t.Fatalf("the service heard from a run killed before it: %v", rec.all())
	}
	in.start()
	rd := in.waitRun(id)
	if rd.Status != "succeeded" {
		t.Fatalf("resumed run: %s %s", rd.Status, rd.Error)
	}
	if out, _ := json.Marshal(rd.Steps[0].Output); string(out) != `{"value":1}` {
		t.Errorf("resumed increment output %s, want 1", out)
	}
	second := in.waitRun(in.hookJSON("counter", `{"conv": "42"}`))
	if second.Status != "succeeded" {
		t.Fatalf("second run: %s %s", second.Status, second.Error)
	}
	if got := heardCounts(t, rec); got != "1,2" {
		t.Errorf("the service heard counts %s, want 1,2", got)
	}
	var e struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(in.mustAPI(200, "GET", "/api/store/counter/conv%3A42", nil), &e); err != nil || string(e.Value) != "2" {
		t.Errorf("stored count %s, %v; want 2", e.Value, err)
	}
}

// TestStoreAPI: values written by runs are read, changed and deleted
// through the API; a run reads what the API wrote; refusals name the
// field; the values outlive a restart.
func TestStoreAPI(t *testing.T) {
	rec := newRecorder(t, nil)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", counterFlow(rec.url))
	for range 3 {
		in.waitRun(in.hookJSON("counter", `{"conv": "a/b"}`))
	}
	var nss struct {
		Namespaces []struct {
			Name string `json:"name"`
			Keys int    `json:"keys"`
		} `json:"namespaces"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/store", nil), &nss)
	if len(nss.Namespaces) != 1 || nss.Namespaces[0].Name != "counter" || nss.Namespaces[0].Keys != 1 {
		t.Fatalf("namespaces %+v", nss)
	}
	var page struct {
		Entries []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"entries"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/store/counter", nil), &page)
	if len(page.Entries) != 1 || page.Entries[0].Key != "conv:a/b" || string(page.Entries[0].Value) != "3" {
		t.Fatalf("entries %+v", page)
	}
	// A count set by hand is where the next run goes on from.
	in.mustAPI(200, "PUT", "/api/store/counter/conv%3Aa%2Fb", `{"value": 41}`)
	in.waitRun(in.hookJSON("counter", `{"conv": "a/b"}`))
	reqs := rec.all()
	if last := string(reqs[len(reqs)-1].Body); !strings.Contains(last, `"count":42`) {
		t.Errorf("after the count was set to 41 the service heard %s", last)
	}
	// Values of any JSON are kept as sent; a shared namespace too.
	in.mustAPI(200, "PUT", "/api/store/shared.cfg/greeting", `{"value": {"text": "héllo <b>", "n": [1, 2.5]}, "ttl": "1h"}`)
	body := in.mustAPI(200, "GET", "/api/store/shared.cfg/greeting", nil)
	if !strings.Contains(string(body), `"value":{"text":"héllo <b>","n":[1,2.5]}`) || !strings.Contains(string(body), `"expires_at"`) {
		t.Errorf("shared value %s", body)
	}
	// Refusals.
	for _, c := range []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"PUT", "/api/store/counter/big", `{"value": "` + strings.Repeat("x", 65536) + `"}`, 413, "value"},
		{"PUT", "/api/store/counter/k", `{"value": 1, "ttl": "soon"}`, 400, "ttl"},
		{"PUT", "/api/store/counter/k", `{}`, 400, "value"},
		{"PUT", "/api/store/bad%20name/k", `{"value": 1}`, 400, "namespace"},
		{"GET", "/api/store/counter/missing", "", 404, ""},
		{"DELETE", "/api/store/counter/missing", "", 404, ""},
	} {
		var b any
		if c.body != "" {
			b = c.body
		}
		code, data := in.api(c.method, c.path, b)
		if code != c.status || c.field != "" && !strings.Contains(string(data), `"field":"`+c.field+`"`) {
			t.Errorf("%s %s: %d %s, want %d naming %s", c.method, c.path, code, data, c.status, c.field)
		}
	}
	in.stop()
	in.start()
	if body := in.mustAPI(200, "GET", "/api/store/counter/conv%3Aa%2Fb", nil); !strings.Contains(string(body), `"value":42`) {
		t.Errorf("after a restart: %s", body)
	}
	in.mustAPI(204, "DELETE", "/api/store/counter/conv%3Aa%2Fb", nil)
	in.mustAPI(404, "GET", "/api/store/counter/conv%3Aa%2Fb", nil)
	// Changes by hand are in the audit trail, under the token.
	audit := string(in.mustAPI(200, "GET", "/api/audit?limit=100", nil))
	for _, want := range []string{`"action":"store.set","actor":{"kind":"token","name":"e2e"},"target":"counter/conv:a/b"`, `"action":"store.delete"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit trail lacks %s: %.1500s", want, audit)
		}
	}
	in.waitRun(in.hookJSON("counter", `{"conv": "a/b"}`))
	reqs = rec.all()
	if last := string(reqs[len(reqs)-1].Body); !strings.Contains(last, `"count":1`) {
		t.Errorf("after the delete the service heard %s", last)
	}
}

// TestFlowsValidateStoreLimits: `flows validate` refuses store steps that
// no run could carry out, naming each field; templates are left to run
// time.
func TestFlowsValidateStoreLimits(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"id": "s", "name": "s", "enabled": true,
	  "trigger": {"type": "webhook", "path": "s"},
	  "steps": [
	    {"id": "a", "use": "store.set", "with": {"key": "`+strings.Repeat("k", 513)+`", "value": "`+strings.Repeat("x", 65536)+`", "ttl": "100000h"}},
	    {"id": "b", "use": "store.get", "with": {"key": "k", "namespace": "no/slashes"}},
	    {"id": "c", "use": "store.increment", "with": {"key": "k", "by": "lots"}},
	    {"id": "d", "use": "store.delete", "with": {}},
	    {"id": "e", "use": "store.set", "with": {"key": "{{ trigger.body.k }}", "namespace": "{{ trigger.body.ns }}", "value": "{{ trigger.body.v }}", "ttl": "24h"}}]}`), 0o644)
	code, out, _ := runCLI(t, "flows", "validate", bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		":steps[0].with.key: longer than 512 bytes (513)",
		":steps[0].with.value: larger than 64 KiB",
		":steps[0].with.ttl: longer than",
		":steps[1].with.namespace: \"no/slashes\" is not a namespace name",
		":steps[2].with.by: must be a number",
		":steps[3].with.key: required",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "steps[4]") {
		t.Errorf("templates refused at save:\n%s", out)
	}
}
