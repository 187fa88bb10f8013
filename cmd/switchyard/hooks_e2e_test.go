package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeHooksAddr: with --hooks-addr the real binary takes webhooks on
// a second listener only; the main one keeps the UI and the API and
// serves no webhooks; a SIGTERM stops both.
func TestServeHooksAddr(t *testing.T) {
	hooksAddr := freeAddr(t)
	in := newInstance(t, "--hooks-addr", hooksAddr, "--hooks-public-url", "https://hooks.example.net")
	in.start()
	in.mustAPI(201, "POST", "/api/flows", map[string]any{
		"id": "h", "name": "h", "enabled": true,
		"trigger": map[string]any{"type": "webhook", "path": "h"},
		"steps":   []any{map[string]any{"id": "s", "use": "data.set", "with": map[string]any{"n": "{{ trigger.body.n }}"}}},
	})
	send := func(method, addr, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, bytes.NewReader([]byte(`{"n": 7}`)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s %s on %s: no request id", method, path, addr)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := send("POST", hooksAddr, "/hooks/h"); code != 202 || !strings.Contains(body, "run_id") {
		t.Fatalf("webhook on the hooks listener: %d %s", code, body)
	}
	if code, body := send("POST", in.addr, "/hooks/h"); code != 404 || !strings.Contains(body, "https://hooks.example.net/hooks/") {
		t.Fatalf("webhook on the main listener: %d %s", code, body)
	}
	for _, path := range []string{"/api/flows", "/login", "/metrics"} {
		if code, _ := send("GET", hooksAddr, path); code != 404 {
			t.Errorf("GET %s on the hooks listener: %d", path, code)
		}
	}
	if code, _ := send("GET", hooksAddr, "/readyz"); code != 200 {
		t.Errorf("readyz on the hooks listener: %d", code)
	}
	if body := string(in.mustAPI(200, "GET", "/api/flows/h", nil)); !strings.Contains(body, `"webhook_url":"https://hooks.example.net/hooks/h"`) {
		t.Errorf("webhook URL: %s", body)
	}
	in.waitIdle(10 * time.Second)
	if runs := in.allRuns("&flow=h"); len(runs) != 1 || runs[0].Status != "succeeded" {
		t.Fatalf("runs: %+v", runs)
	}
	in.stop()
	if _, err := http.Get("http://" + hooksAddr + "/healthz"); err == nil {
		t.Fatal("the hooks listener outlived the server")
	}
}
