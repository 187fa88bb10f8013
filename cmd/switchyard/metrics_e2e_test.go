package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape reads a metrics page; token "" sends none.
func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// sample is the value of the series whose line starts with series
// (name and labels as exposed), or -1.
func sample(page, series string) float64 {
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// TestMetricsListenerAndLogs runs the binary with --metrics-addr: the
// metrics are served there without a token and not on the main listener;
// webhooks, runs, steps and refusals show in them; a failed run is
// logged at WARN with its ids; log lines of a request carry its request
// id, the one its answer names.
func TestMetricsListenerAndLogs(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	metricsAddr := freeAddr(t)
	in := newInstance(t, "--metrics-addr", metricsAddr)
	in.start()

	// Saved through the API: the "flow saved" line carries the request id
	// of that answer.
	req, _ := http.NewRequest("POST", in.url("/api/flows"), strings.NewReader(`{"id": "m", "name": "m", "enabled": true,
	  "trigger": {"type": "webhook", "path": "m"},
	  "steps": [{"id": "shape", "use": "data.set", "with": {"ok": "{{ trigger.body.ok }}"}},
	            {"id": "call", "if": "steps.shape.output.ok == false", "use": "http.request", "with": {"url": "`+down.URL+`/x", "method": "POST"}}]}`))
	req.Header.Set("Authorization", "Bearer "+in.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	saveID := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 201 || saveID == "" {
		t.Fatalf("save: %d, request id %q", resp.StatusCode, saveID)
	}

	var failed string
	for i := 0; i < 5; i++ {
		body := `{"ok": true}`
		if i == 4 {
			body = `{"ok": false}`
		}
		r, data, err := in.hook("m", "application/json", []byte(body))
		if err != nil || r.StatusCode != 202 {
			t.Fatalf("hook: %v %v %s", r, err, data)
		}
		failed = r.Header.Get("Switchyard-Run-Id")
	}
	if r, _, _ := in.hook("nowhere", "application/json", []byte(`{}`)); r.StatusCode != 404 {
		t.Fatalf("unknown hook: %d", r.StatusCode)
	}
	if r, _, _ := in.hook("m", "application/octet-stream", []byte{1, 2}); r.StatusCode != 415 {
		t.Fatalf("binary hook: %d", r.StatusCode)
	}
	waitUntil(t, 20*time.Second, "runs finish", func() bool {
		return len(in.allRuns("&status=succeeded")) == 4 && len(in.allRuns("&status=failed")) == 1
	})

	if code, _ := scrape(t, in.url("/metrics"), in.token); code != 404 {
		t.Errorf("main listener /metrics with --metrics-addr: %d, want 404", code)
	}
	code, page := scrape(t, "http://"+metricsAddr+"/metrics", "")
	if code != 200 {
		t.Fatalf("metrics listener: %d %s", code, page)
	}
	for _, series := range []string{
		"go_goroutines", "process_cpu_seconds_total", "process_resident_memory_bytes",
		"switchyard_runs_in_progress", "switchyard_runs_pending", "switchyard_store_backlog", "switchyard_store_apply_lag_seconds",
		"switchyard_search_backlog_runs",
	} {
		if sample(page, series) < 0 {
			t.Errorf("%s missing", series)
		}
	}
	waitUntil(t, 20*time.Second, "the search index catches up", func() bool {
		_, page := scrape(t, "http://"+metricsAddr+"/metrics", "")
		return sample(page, "switchyard_search_backlog_runs") == 0
	})
	want := map[string]float64{
		`switchyard_webhook_ack_seconds_count`:                                              5,
		`switchyard_run_duration_seconds_count{outcome="succeeded"}`:                        4,
		`switchyard_run_duration_seconds_count{outcome="failed"}`:                           1,
		`switchyard_step_duration_seconds_count{connector="data.set",outcome="succeeded"}`:  5,
		`switchyard_step_duration_seconds_count{connector="http.request",outcome="failed"}`: 1,
		`switchyard_webhook_refusals_total{reason="no_flow"}`:                               1,
		`switchyard_webhook_refusals_total{reason="media_type"}`:                            1,
		`switchyard_webhook_refusals_total{reason="signature"}`:                             0,
		`switchyard_events_accepted_total`:                                                  5,
	}
	for series, n := range want {
		if got := sample(page, series); got != n {
			t.Errorf("%s = %v, want %v", series, got, n)
		}
	}
	if !regexp.MustCompile(`(?m)^switchyard_build_info\{goversion="go[^"]+",version="[^"]+"\} 1$`).MatchString(page) {
		t.Errorf("switchyard_build_info missing:\n%.3000s", page)
	}

	// The logs: JSON lines.
	var sawFailure, sawSave bool
	for _, line := range strings.Split(in.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch rec["msg"] {
		case "run failed":
			sawFailure = rec["level"] == "WARN" && rec["run_id"] == failed && rec["flow_id"] == "m" && rec["step_id"] == "call"
		case "flow saved":
			sawSave = rec["request_id"] == saveID
		}
	}
	if !sawFailure || !sawSave {
		t.Errorf("run failed logged at WARN with its ids: %v; flow saved with the request's id %s: %v\n%s", sawFailure, saveID, sawSave, in.logs.String())
	}
}

// TestMetricsNeedToken: without --metrics-addr, /metrics is on the main
// listener and needs an API token.
func TestMetricsNeedToken(t *testing.T) {
	in := newInstance(t)
	in.start()
	if code, _ := scrape(t, in.url("/metrics"), ""); code != 401 {
		t.Errorf("without a token: %d, want 401", code)
	}
	code, page := scrape(t, in.url("/metrics"), in.token)
	if code != 200 || sample(page, "switchyard_workers") <= 0 {
		t.Errorf("with a token: %d\n%.500s", code, page)
	}
}
