package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestStaticBinary: the binary the tests run, built as make build and make
// release build it, needs no dynamic loader or shared library.
func TestStaticBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ELF check")
	}
	f, err := elf.Open(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary names a dynamic loader (PT_INTERP): it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries: %v", libs)
	}
}

// TestHealthcheckCommand: `switchyard healthcheck` (the image's
// HEALTHCHECK) exits 0 against a ready server, also when given the
// wildcard address it listens on, and 1 with a reason when none answers.
func TestHealthcheckCommand(t *testing.T) {
	in := newInstance(t)
	in.start()
	_, port, _ := strings.Cut(in.addr, ":")
	for _, addr := range []string{in.addr, "0.0.0.0:" + port} {
		out, err := exec.Command(in.bin, "healthcheck", "--addr", addr).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "200") {
			t.Errorf("healthcheck --addr %s: %v\n%s", addr, err, out)
		}
	}
	cmd := exec.Command(in.bin, "healthcheck")
	cmd.Env = append(os.Environ(), "SWITCHYARD_ADDR="+freeAddr(t))
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "healthcheck:") {
		t.Errorf("no server: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

// TestReleaseScript runs make release's script for one platform: the
// archive holds the binary, LICENSE and README, SHA256SUMS matches it, and
// the binary carries the version.
func TestReleaseScript(t *testing.T) {
	if testing.Short() || runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("builds a release binary for linux/amd64")
	}
	dist := t.TempDir()
	const version = "v0.0.0-releasetest"
	cmd := exec.Command("bash", "packaging/release.sh")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "RELEASE_TARGETS=linux/amd64", "VERSION="+version, "DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	name := "switchyard_" + version + "_linux_amd64"
	archive := filepath.Join(dist, name+".tar.gz")
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sums, _ := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if want := hex.EncodeToString(sum[:]) + "  " + name + ".tar.gz\n"; string(sums) != want {
		t.Errorf("SHA256SUMS = %q, want %q", sums, want)
	}
	f, _ := os.Open(archive)
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	found := map[string]bool{}
	bin := filepath.Join(t.TempDir(), "switchyard")
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		found[h.Name] = true
		if h.Name == name+"/switchyard" {
			out, _ := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			io.Copy(out, tr)
			out.Close()
		}
	}
	for _, want := range []string{"switchyard", "LICENSE", "README.md"} {
		if !found[name+"/"+want] {
			t.Errorf("archive lacks %s: %v", want, found)
		}
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.Contains(string(out), version) {
		t.Errorf("version: %v %s", err, out)
	}
}

// TestDockerfile checks what the image promises where no Docker engine
// runs to build it: an empty base, a static binary, a non-root user, the
// /data volume, and a HEALTHCHECK through the healthcheck subcommand.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var final []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "FROM ") {
			final = nil
		}
		final = append(final, line)
	}
	stage := strings.Join(final, "\n")
	for _, want := range []string{"FROM scratch", "VOLUME [\"/data\"]", `CMD ["/switchyard", "healthcheck"]`, "SWITCHYARD_DATA=/data"} {
		if !strings.Contains(stage, want) {
			t.Errorf("final stage lacks %q", want)
		}
	}
	if !strings.Contains(string(data), "CGO_ENABLED=0 go build") {
		t.Error("the binary is not built with CGO_ENABLED=0")
	}
	user := ""
	for _, line := range final {
		if u, ok := strings.CutPrefix(line, "USER "); ok {
			user = strings.TrimSpace(u)
		}
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0:") || user == "0" {
		t.Errorf("final stage runs as %q, want a non-root user", user)
	}
}

// TestSystemdUnit verifies packaging/switchyard.service with
// systemd-analyze (its ExecStart pointed at a real binary).
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze")
	}
	unit, err := os.ReadFile(filepath.Join("..", "..", "packaging", "switchyard.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n", "StateDirectory=switchyard"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q", strings.TrimSpace(want))
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "switchyard.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/switchyard", binary(t))), 0o644)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
