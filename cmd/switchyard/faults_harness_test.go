package main

import (
	"bytes"
	"context"
	le "encoding/binary"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers for the tests of damaged and failing storage.

// faultBinary builds, once per test process, the binary with the
// switchyard_faults tag: the same program plus the failure injection of
// engine/faults_testhooks.go, driven by SWITCHYARD_TEST_FAULTS.
func faultBinary(t *testing.T) string { return binaryWithTags(t, "switchyard_faults") }

// newFaultInstance is newInstance running the fault-injecting binary with
// SWITCHYARD_TEST_FAULTS set to faults.
func newFaultInstance(t *testing.T, faults string) *instance {
	t.Helper()
	in := newInstance(t)
	in.bin = faultBinary(t)
	in.env = []string{"SWITCHYARD_TEST_FAULTS=" + faults}
	return in
}

// command is the instance's binary with args, under its wrapper and with
// its environment.
func (in *instance) command(args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if len(in.wrap) > 0 {
		full := append(append([]string{}, in.wrap[1:]...), in.bin)
		cmd = exec.Command(in.wrap[0], append(full, args...)...)
	} else {
		cmd = exec.Command(in.bin, args...)
	}
	if len(in.env) > 0 {
		cmd.Env = append(os.Environ(), in.env...)
	}
	return cmd
}

// cli runs a command of the instance's binary to its end (at most 30 s)
// and returns its output and exit code (-1: killed by a signal).
func (in *instance) cli(args ...string) (string, int) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := in.command(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		in.t.Fatalf("%v did not end within 30s:\n%s", args, out.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		in.t.Fatal(err)
	}
	return out.String(), 0
}

// metric reads one value from /metrics.
func (in *instance) metric(name string) int64 {
	in.t.Helper()
	req, _ := http.NewRequest("GET", in.url("/metrics"), nil)
	req.Header.Set("Authorization", "Bearer "+in.token)
	resp, err := client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				in.t.Fatalf("metric %s: %q", name, v)
			}
			return n
		}
	}
	in.t.Fatalf("metric %s missing:\n%s", name, body)
	return 0
}

// status is the answer's status to a GET, or 0 when none came in time.
func status(url string, timeout time.Duration) (int, string) {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitUntil polls cond every 20 ms for up to timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logFrames returns where each frame of a write-ahead log segment starts,
// going by the length in each frame's header (engine/boltstore/wal/log.go: u32 length,
// u32 checksum, then the payload).
func logFrames(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for off := 0; len(data)-off >= 8; {
		n := int(le.LittleEndian.Uint32(data[off:]))
		if n == 0 || n > len(data)-off-8 {
			break
		}
		offs = append(offs, off)
		off += 8 + n
	}
	return offs
}

// TestReleaseBinaryHasNoFaultHooks: failure injection exists only in the
// binary built for these tests.
func TestReleaseBinaryHasNoFaultHooks(t *testing.T) {
	for bin, want := range map[string]bool{binary(t): false, faultBinary(t): true} {
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(data, []byte("SWITCHYARD_TEST_FAULTS")); got != want {
			t.Errorf("%s holds the fault hooks: %v, want %v", bin, got, want)
		}
	}
}
