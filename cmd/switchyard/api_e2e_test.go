package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenAPIServedByBinary: the real binary serves the committed API
// description without a token, and answers a wrong method with 405, Allow
// and a problem (in.api validates that answer against the description).
func TestOpenAPIServedByBinary(t *testing.T) {
	in := newInstance(t)
	in.start()
	resp, err := client.Get(in.url("/api/openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	committed, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !bytes.Equal(served, committed) {
		t.Fatalf("GET /api/openapi.json: %d, equal to docs/openapi.json: %v", resp.StatusCode, bytes.Equal(served, committed))
	}

	req, _ := http.NewRequest("PATCH", in.url("/api/flows/x"), strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+in.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("PATCH: %d, Allow %q, Content-Type %q", resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"))
	}
	if code, body := in.api("PATCH", "/api/runs/run_1", `{}`); code != 405 {
		t.Fatalf("PATCH run: %d %s", code, body)
	}
}
