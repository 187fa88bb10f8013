package main

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func hmacHex(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// post sends a webhook with extra headers.
func (in *instance) post(path string, body []byte, headers map[string]string) (*http.Response, []byte) {
	in.t.Helper()
	req, _ := http.NewRequest("POST", in.url("/hooks/"+path), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

func signedFlow(id, scheme string) string {
	return fmt.Sprintf(`{"id": %q, "name": %q, "enabled": true,
	  "trigger": {"type": "webhook", "path": %q, "verify": {"scheme": %q, "secret": "%s_secret"}},
	  "steps": [{"id": "s", "use": "data.set", "with": {"got": "{{ trigger.body }}"}}]}`, id, id, id, scheme, id)
}

// TestSignedWebhooks: GitHub-, Stripe- and Slack-signed requests through
// the real binary each start exactly one run; the same requests with one
// body byte changed start none; a redelivery is recognised, also after a
// restart.
func TestSignedWebhooks(t *testing.T) {
	in := newInstance(t)
	in.start()
	secrets := map[string]string{"gh": "It's a Secret to Everybody", "st": "whsec_test_5ecret", "sl": "8f742231b10e8888abcd99yyyzzz85a5"}
	for id, sec := range secrets {
		in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": id + "_secret", "type": "secret", "values": map[string]string{"value": sec}})
	}
	in.mustAPI(201, "POST", "/api/flows", signedFlow("gh", "github"))
	in.mustAPI(201, "POST", "/api/flows", signedFlow("st", "stripe"))
	in.mustAPI(201, "POST", "/api/flows", signedFlow("sl", "slack"))

	now := strconv.FormatInt(time.Now().Unix(), 10)
	ghBody := []byte(`{"action":"opened","number":1}`)
	stBody := []byte(`{"id":"evt_1","type":"checkout.session.completed"}`)
	slBody := []byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"message"}}`)
	requests := []struct {
		path    string
		body    []byte
		headers func(body []byte) map[string]string
	}{
		{"gh", ghBody, func(b []byte) map[string]string {
			return map[string]string{"X-Hub-Signature-256": "sha256=" + hmacHex(secrets["gh"], string(b)), "X-GitHub-Delivery": "d-1"}
		}},
		{"st", stBody, func(b []byte) map[string]string {
			return map[string]string{"Stripe-Signature": "t=" + now + ",v1=" + hmacHex(secrets["st"], now+"."+string(b))}
		}},
		{"sl", slBody, func(b []byte) map[string]string {
			return map[string]string{"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + hmacHex(secrets["sl"], "v0:"+now+":"+string(b))}
		}},
	}
	for _, r := range requests {
		// One byte changed after signing: refused, no run.
		tampered := bytes.Replace(r.body, []byte("1"), []byte("2"), 1)
		resp, data := in.post(r.path, tampered, r.headers(r.body))
		if resp.StatusCode != 401 || strings.Contains(string(data), "mismatch") {
			t.Errorf("%s tampered: %d %s", r.path, resp.StatusCode, data)
		}
		resp, data = in.post(r.path, r.body, r.headers(r.body))
		if resp.StatusCode != 202 {
			t.Fatalf("%s signed: %d %s", r.path, resp.StatusCode, data)
		}
		// The same delivery again: recognised by the provider's id.
		resp, _ = in.post(r.path, r.body, r.headers(r.body))
		if resp.StatusCode != 200 || resp.Header.Get("Switchyard-Duplicate") != "true" {
			t.Errorf("%s redelivery: %d dup=%q", r.path, resp.StatusCode, resp.Header.Get("Switchyard-Duplicate"))
		}
	}
	in.waitIdle(10 * time.Second)
	for _, id := range []string{"gh", "st", "sl"} {
		if runs := in.allRuns("&flow=" + id); len(runs) != 1 {
			t.Errorf("flow %s: %d runs, want 1", id, len(runs))
		}
		var rf struct {
			Refusals []struct {
				Reason string `json:"reason"`
				Status int    `json:"status"`
			} `json:"refusals"`
		}
		json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/"+id+"/refusals", nil), &rf)
		if len(rf.Refusals) != 1 || rf.Refusals[0].Status != 401 || rf.Refusals[0].Reason == "" {
			t.Errorf("flow %s refusals: %+v", id, rf.Refusals)
		}
	}
	// A redelivery after a restart is still recognised.
	in.stop()
	in.start()
	resp, _ := in.post("gh", ghBody, requests[0].headers(ghBody))
	if resp.StatusCode != 200 || resp.Header.Get("Switchyard-Duplicate") != "true" {
		t.Errorf("redelivery after restart: %d", resp.StatusCode)
	}
	if runs := in.allRuns("&flow=gh"); len(runs) != 1 {
		t.Errorf("after restart: %d runs, want 1", len(runs))
	}
	// Slack's url_verification handshake is answered and starts no run.
	ch := []byte(`{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","token":"x"}`)
	resp, data := in.post("sl", ch, requests[2].headers(ch))
	if resp.StatusCode != 200 || string(data) != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("challenge: %d %s", resp.StatusCode, data)
	}
	if runs := in.allRuns("&flow=sl"); len(runs) != 1 {
		t.Errorf("the challenge started a run")
	}
}

// rss reads a process's resident and peak resident memory in kB.
func rss(t *testing.T, pid int) (cur, peak int) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			cur, _ = strconv.Atoi(f[1])
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			peak, _ = strconv.Atoi(f[1])
		}
	}
	return
}

// TestOversizeBodies: a gzip bomb and a 50 MB body are refused while the
// process grows by less than 20 MB, and nothing is stored.
func TestOversizeBodies(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{"id": "big", "name": "big", "enabled": true,
	  "trigger": {"type": "webhook", "path": "big"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`)
	_, before := rss(t, in.cmd.Process.Pid)

	// 1 GiB of zeros compresses to about 1 MB.
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	chunk := make([]byte, 1<<20)
	zw.Write([]byte(`{"a":"`))
	for i := 0; i < 1024; i++ {
		zw.Write(chunk)
	}
	zw.Close()
	if bomb.Len() > 1<<20 {
		t.Skip("bomb larger than the limit; it would be refused unread")
	}
	resp, data := in.post("big", bomb.Bytes(), map[string]string{"Content-Encoding": "gzip"})
	if resp.StatusCode != 413 {
		t.Errorf("gzip bomb: %d %s", resp.StatusCode, data)
	}
	// A 50 MB body, declared up front.
	huge := bytes.Repeat([]byte("x"), 50<<20)
	req, _ := http.NewRequest("POST", in.url("/hooks/big"), bytes.NewReader(huge))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := client.Do(req); err == nil {
		if resp.StatusCode != 413 {
			t.Errorf("50 MB body: %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	// The same, streamed without a length (chunked).
	req, _ = http.NewRequest("POST", in.url("/hooks/big"), struct{ *bytes.Reader }{bytes.NewReader(huge)})
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := client.Do(req); err == nil {
		if resp.StatusCode != 413 {
			t.Errorf("50 MB chunked body: %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	_, peak := rss(t, in.cmd.Process.Pid)
	if grew := peak - before; grew > 20*1024 {
		t.Errorf("peak memory grew by %d kB", grew)
	}
	t.Logf("peak RSS %d kB → %d kB", before, peak)
	if runs := in.allRuns(""); len(runs) != 0 {
		t.Errorf("%d runs stored for refused bodies", len(runs))
	}
	// A small gzip body within the limit is decompressed and accepted.
	var small bytes.Buffer
	zw = gzip.NewWriter(&small)
	zw.Write([]byte(`{"hello": "world"}`))
	zw.Close()
	resp, data = in.post("big", small.Bytes(), map[string]string{"Content-Encoding": "gzip"})
	if resp.StatusCode != 202 {
		t.Errorf("gzip body: %d %s", resp.StatusCode, data)
	}
	// Deep nesting is refused.
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	resp, data = in.post("big", []byte(deep), nil)
	if resp.StatusCode != 400 || !strings.Contains(string(data), "deeper") {
		t.Errorf("deep JSON: %d %s", resp.StatusCode, data)
	}
}

// TestRateLimit: beyond a flow's rate limit callers get 429 with
// Retry-After and nothing is stored.
func TestRateLimit(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{"id": "rl", "name": "rl", "enabled": true,
	  "trigger": {"type": "webhook", "path": "rl", "rate_limit": {"requests": 3, "per": "1m"}},
	  "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`)
	codes := []int{}
	for i := 0; i < 5; i++ {
		resp, _ := in.post("rl", []byte(`{}`), nil)
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if fmt.Sprint(codes) != "[202 202 202 429 429]" {
		t.Errorf("statuses %v", codes)
	}
	in.waitIdle(5 * time.Second)
	if runs := in.allRuns("&flow=rl"); len(runs) != 3 {
		t.Errorf("%d runs, want 3", len(runs))
	}
}
