package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// refusalJSON is a refusal as the API lists it.
type refusalJSON struct {
	ID            string            `json:"id"`
	FlowID        string            `json:"flow_id"`
	Status        int               `json:"status"`
	Kind          string            `json:"kind"`
	Reason        string            `json:"reason"`
	Method        string            `json:"method"`
	Path          string            `json:"path"`
	Remote        string            `json:"remote"`
	ContentType   string            `json:"content_type"`
	Size          int64             `json:"size"`
	Body          string            `json:"body"`
	BodyTruncated bool              `json:"body_truncated"`
	Headers       map[string]string `json:"headers"`
}

type refusalPageJSON struct {
	Refusals   []refusalJSON `json:"refusals"`
	NextCursor string        `json:"next_cursor"`
}

func (in *instance) refusals(path string) refusalPageJSON {
	in.t.Helper()
	var p refusalPageJSON
	if err := json.Unmarshal(in.mustAPI(200, "GET", path, nil), &p); err != nil {
		in.t.Fatal(err)
	}
	return p
}

// rawHook sends a webhook request built by hand.
func (in *instance) rawHook(method, path string, header map[string]string, body string) int {
	in.t.Helper()
	req, err := http.NewRequest(method, in.url(path), strings.NewReader(body))
	if err != nil {
		in.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestEveryRefusalIsRecorded sends the real binary one request for every
// way a webhook is refused without a run and finds each in GET
// /api/refusals (and the flow's own list) with what was kept of it, and no
// credential.
func TestEveryRefusalIsRecorded(t *testing.T) {
	in := newInstance(t, "--queue-limit", "1")
	in.start()
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "hook_token", "type": "secret", "values": map[string]string{"value": "right-token-value"}})
	for _, f := range []string{
		`{"id": "open", "name": "open", "enabled": true, "trigger": {"type": "webhook", "path": "open", "methods": ["POST"]}, "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`,
		`{"id": "small", "name": "small", "enabled": true, "trigger": {"type": "webhook", "path": "small", "max_body": 64}, "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`,
		`{"id": "guarded", "name": "guarded", "enabled": true, "trigger": {"type": "webhook", "path": "guarded", "verify": {"scheme": "token", "secret": "hook_token", "header": "X-Hook-Token"}}, "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`,
		`{"id": "limited", "name": "limited", "enabled": true, "trigger": {"type": "webhook", "path": "limited", "rate_limit": {"requests": 1, "per": "1h"}}, "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`,
		`{"id": "off", "name": "off", "enabled": false, "trigger": {"type": "webhook", "path": "off"}, "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`,
		`{"id": "slow", "name": "slow", "enabled": true, "trigger": {"type": "webhook", "path": "slow"}, "steps": [{"id": "wait", "use": "flow.delay", "with": {"duration": "1h"}}]}`,
	} {
		in.mustAPI(201, "POST", "/api/flows", f)
	}
	jsonCT := map[string]string{"Content-Type": "application/json"}
	const malformed = `{"lead": "ada@example.com", "password": "hunter2-secret", "broken": `
	tests := []struct {
		name, flow, kind string
		status           int
		send             func() int
		check            func(t *testing.T, r refusalJSON)
	}{
		{"malformed JSON", "open", "malformed_body", 400, func() int {
			return in.rawHook("POST", "/hooks/open", jsonCT, malformed)
		}, func(t *testing.T, r refusalJSON) {
			if !strings.Contains(r.Body, `"lead": "ada@example.com"`) || r.ContentType != "application/json" || r.Size != int64(len(malformed)) || r.Method != "POST" || r.Path != "/hooks/open" {
				t.Errorf("what was kept: %+v", r)
			}
			if !strings.Contains(r.Reason, "malformed JSON") {
				t.Errorf("reason %q", r.Reason)
			}
		}},
		{"unsupported media type", "open", "media_type", 415, func() int {
			return in.rawHook("POST", "/hooks/open", map[string]string{"Content-Type": "application/octet-stream"}, "\x00\x01binary")
		}, nil},
		{"too large", "small", "too_large", 413, func() int {
			return in.rawHook("POST", "/hooks/small", jsonCT, `{"pad": "`+strings.Repeat("x", 200)+`"}`)
		}, func(t *testing.T, r refusalJSON) {
			if r.Size < 200 {
				t.Errorf("size %d, want the announced length", r.Size)
			}
		}},
		{"too deep", "open", "too_deep", 400, func() int {
			return in.rawHook("POST", "/hooks/open", jsonCT, strings.Repeat("[", 70)+strings.Repeat("]", 70))
		}, nil},
		{"token failure", "guarded", "signature", 401, func() int {
			return in.rawHook("POST", "/hooks/guarded", map[string]string{"Content-Type": "application/json",
				"X-Hook-Token": "wrong-token-value", "Authorization": "Bearer caller-credential", "Cookie": "sid=caller-cookie", "X-Trace": "kept"}, `{"a": 1}`)
		}, func(t *testing.T, r refusalJSON) {
			for _, h := range []string{"x-hook-token", "authorization", "cookie"} {
				if r.Headers[h] != "[redacted]" {
					t.Errorf("header %s kept as %q", h, r.Headers[h])
				}
			}
			if r.Headers["x-trace"] != "kept" || r.Body != `{"a": 1}` {
				t.Errorf("headers %v body %q", r.Headers, r.Body)
			}
		}},
		{"method", "open", "method", 405, func() int { return in.rawHook("GET", "/hooks/open", nil, "") }, nil},
		{"rate limit", "limited", "rate_limit", 429, func() int {
			if code := in.rawHook("POST", "/hooks/limited", jsonCT, `{}`); code != 202 {
				t.Fatalf("first delivery to the limited flow: %d", code)
			}
			in.waitIdle(10 * time.Second)
			return in.rawHook("POST", "/hooks/limited", jsonCT, `{}`)
		}, nil},
		{"flow disabled", "off", "flow_disabled", 404, func() int { return in.rawHook("POST", "/hooks/off", jsonCT, `{}`) }, nil},
		{"no such path", "", "no_flow", 404, func() int { return in.rawHook("POST", "/hooks/nobody/listens", jsonCT, `{}`) }, func(t *testing.T, r refusalJSON) {
			if r.Path != "/hooks/nobody/listens" {
				t.Errorf("path %q", r.Path)
			}
		}},
		{"framing", "open", "bad_request", 400, func() int {
			return rawFraming(t, in.addr, "/hooks/open")
		}, nil},
		{"queue full", "open", "queue_full", 429, func() int {
			// One run waiting an hour fills a queue of one.
			if code := in.rawHook("POST", "/hooks/slow", jsonCT, `{}`); code != 202 {
				t.Fatalf("delivery to the slow flow: %d", code)
			}
			return in.rawHook("POST", "/hooks/open", jsonCT, `{"ok": true}`)
		}, nil},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code := tc.send(); code != tc.status {
				t.Fatalf("answered %d, want %d", code, tc.status)
			}
			// The newest refusal in all is this one (a listing writes the
			// pending batch first).
			p := in.refusals("/api/refusals?limit=1")
			if len(p.Refusals) != 1 {
				t.Fatalf("no refusal listed: %+v", p)
			}
			r := p.Refusals[0]
			if seen[r.ID] || r.Kind != tc.kind || r.FlowID != tc.flow || r.Status != tc.status || r.Remote == "" || r.Reason == "" {
				t.Fatalf("newest refusal: %+v, want kind %s flow %q status %d", r, tc.kind, tc.flow, tc.status)
			}
			seen[r.ID] = true
			if tc.flow != "" {
				fp := in.refusals("/api/flows/" + tc.flow + "/refusals?limit=1")
				if len(fp.Refusals) != 1 || fp.Refusals[0].ID != r.ID {
					t.Errorf("the flow's list does not start with it: %+v", fp)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}

	// Nothing credential-like is in any answer.
	all := in.mustAPI(200, "GET", "/api/refusals?limit=500", nil)
	for _, secret := range []string{"hunter2-secret", "wrong-token-value", "right-token-value", "caller-credential", "caller-cookie"} {
		if strings.Contains(string(all), secret) {
			t.Errorf("GET /api/refusals shows %q", secret)
		}
	}
	// Pages of the flow's list follow on without overlap.
	first := in.refusals("/api/flows/open/refusals?limit=2")
	if len(first.Refusals) != 2 || first.NextCursor == "" {
		t.Fatalf("first page: %+v", first)
	}
	rest := in.refusals("/api/flows/open/refusals?limit=500&cursor=" + first.NextCursor)
	if got := len(first.Refusals) + len(rest.Refusals); got != 6 || rest.NextCursor != "" {
		t.Errorf("open's refusals over two pages: %d (next %q), want 6", got, rest.NextCursor)
	}
	for _, r := range rest.Refusals {
		if r.ID == first.Refusals[0].ID || r.ID == first.Refusals[1].ID {
			t.Errorf("refusal %s on both pages", r.ID)
		}
	}
	if code, body := in.api("GET", "/api/refusals?cursor=nonsense", nil); code != 400 {
		t.Errorf("bad cursor: %d %s", code, body)
	}
	if code, _ := in.api("GET", "/api/flows/nope/refusals", nil); code != 404 {
		t.Errorf("refusals of a flow that does not exist: %d", code)
	}
	// The flows list counts the last day's refusals.
	var flows struct {
		Flows []struct {
			ID         string `json:"id"`
			Refused24h int    `json:"refused_24h"`
		} `json:"flows"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/flows", nil), &flows)
	counts := map[string]int{}
	for _, f := range flows.Flows {
		counts[f.ID] = f.Refused24h
	}
	if counts["open"] != 6 || counts["guarded"] != 1 || counts["off"] != 1 || counts["slow"] != 0 {
		t.Errorf("refused_24h: %v", counts)
	}

	// Refusals survive a restart.
	in.stop()
	in.start()
	if p := in.refusals("/api/refusals?limit=500"); len(p.Refusals) != len(tests) {
		t.Errorf("%d refusals after a restart, want %d", len(p.Refusals), len(tests))
	}
}

// rawFraming sends a request with both Content-Length and
// Transfer-Encoding and returns the status of the answer.
func rawFraming(t *testing.T, addr, path string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", path, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("framing request: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRefusalsOfUnknownPathsAreRateLimited floods paths no flow listens
// on: a bounded number are recorded, the rest counted as unrecorded, and
// every request is answered.
func TestRefusalsOfUnknownPathsAreRateLimited(t *testing.T) {
	in := newInstance(t)
	in.start()
	const n = 200
	for i := range n {
		if code := in.rawHook("POST", fmt.Sprintf("/hooks/scan/%d", i), nil, ""); code != 404 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	p := in.refusals("/api/refusals?limit=500")
	// A burst of 20, then 10 a second for as long as the loop took.
	if len(p.Refusals) < 20 || len(p.Refusals) > 80 {
		t.Errorf("%d of %d refusals of unknown paths recorded, want the burst of 20 and a few more", len(p.Refusals), n)
	}
	resp, err := http.NewRequest("GET", in.url("/metrics"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Header.Set("Authorization", "Bearer "+in.token)
	mr, err := client.Do(resp)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mr.Body)
	mr.Body.Close()
	want := fmt.Sprintf("switchyard_refusals_unrecorded_total %d", n-len(p.Refusals))
	if !strings.Contains(string(metrics), want) {
		t.Errorf("metrics lack %q", want)
	}
}

// auditJSON is an audit entry as the API lists it.
type auditJSON struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Actor  struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"actor"`
	Target  string `json:"target"`
	Address string `json:"address"`
	Detail  string `json:"detail"`
}

func (in *instance) audit(query string) ([]auditJSON, string) {
	in.t.Helper()
	var p struct {
		Entries    []auditJSON `json:"entries"`
		NextCursor string      `json:"next_cursor"`
	}
	if err := json.Unmarshal(in.mustAPI(200, "GET", "/api/audit"+query, nil), &p); err != nil {
		in.t.Fatal(err)
	}
	return p.Entries, p.NextCursor
}

func auditActions(es []auditJSON) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Action+" "+e.Target)
	}
	return strings.Join(out, ", ")
}

// TestAuditTrailE2E changes flows and connections through the API of the
// real binary and reads who did what back from GET /api/audit, filtered
// and paged.
func TestAuditTrailE2E(t *testing.T) {
	in := newInstance(t)
	in.start()
	flow := `{"id": "a", "name": "one", "enabled": true, "trigger": {"type": "webhook", "path": "a"}, "steps": [{"id": "s", "use": "data.set", "with": {"x": 1}}]}`
	in.mustAPI(201, "POST", "/api/flows", flow)
	in.mustAPI(200, "PUT", "/api/flows/a", strings.Replace(flow, `"one"`, `"two"`, 1))
	in.mustAPI(200, "PUT", "/api/flows/a", strings.NewReplacer(`"one"`, `"two"`, `"enabled": true`, `"enabled": false`).Replace(flow))
	in.mustAPI(200, "PUT", "/api/flows/a", strings.Replace(flow, `"one"`, `"two"`, 1))
	// Saved unchanged: nothing happened, nothing is recorded.
	in.mustAPI(200, "PUT", "/api/flows/a", strings.Replace(flow, `"one"`, `"two"`, 1))
	in.mustAPI(201, "POST", "/api/flows/a/versions/1/restore", nil)
	// A bulk replay of the flow's one run.
	runID := in.hookJSON("a", `{"n": 1}`)
	in.waitIdle(10 * time.Second)
	in.mustAPI(202, "POST", "/api/runs/bulk", map[string]any{"action": "replay", "run_ids": []string{runID}})
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "crm", "type": "secret", "values": map[string]string{"value": "connection-secret-value"}})
	in.mustAPI(204, "DELETE", "/api/connections/crm", nil)
	in.mustAPI(204, "DELETE", "/api/flows/a", nil)

	all, _ := in.audit("")
	want := "flow.delete a, connection.delete crm, connection.save crm, runs.bulk a (1), flow.restore a, flow.enable a, flow.disable a, flow.save a, flow.create a, token.create e2e"
	if got := auditActions(all); got != want {
		t.Fatalf("audit trail:\n got %s\nwant %s", got, want)
	}
	for _, e := range all[:len(all)-1] {
		if e.Actor.Kind != "token" || e.Actor.Name != "e2e" || e.Address != "127.0.0.1" || e.ID == "" {
			t.Errorf("entry %s %s: by %+v from %q", e.Action, e.Target, e.Actor, e.Address)
		}
	}
	if cli := all[len(all)-1]; cli.Actor.Kind != "cli" || cli.Address != "" {
		t.Errorf("token created on the command line: %+v", cli)
	}
	if all[7].Detail != "version 2" || all[4].Detail != "restored version 1 as version 3" || all[3].Detail != "replay 1 runs" {
		t.Errorf("details: %q, %q, %q", all[7].Detail, all[4].Detail, all[3].Detail)
	}
	if got, _ := in.audit("?action=flow&target=a"); len(got) != 6 {
		t.Errorf("flow entries of a: %s", auditActions(got))
	}
	if got, _ := in.audit("?action=connection.save"); auditActions(got) != "connection.save crm" {
		t.Errorf("connection.save: %s", auditActions(got))
	}
	page1, next := in.audit("?limit=4")
	page2, next2 := in.audit("?limit=4&cursor=" + next)
	page3, next3 := in.audit("?limit=4&cursor=" + next2)
	if auditActions(append(append(page1, page2...), page3...)) != want || next3 != "" || len(page3) != 2 {
		t.Errorf("pages of 4: %s / %s / %s (next %q)", auditActions(page1), auditActions(page2), auditActions(page3), next3)
	}
	if code, _ := in.api("GET", "/api/audit?cursor=x", nil); code != 400 {
		t.Errorf("bad cursor: %d", code)
	}
	if body := in.mustAPI(200, "GET", "/api/audit?limit=500", nil); strings.Contains(string(body), "connection-secret-value") {
		t.Error("the audit trail shows a connection's value")
	}
}
