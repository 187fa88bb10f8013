package flows

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenFlowFiles lists testdata/golden/*.json: valid flows kept in the
// canonical Encode format.
func goldenFlowFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden flows in testdata/golden/")
	}
	return files
}

// golden compares got with the file at path, or rewrites the file with
// -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./flows -run %s -update to create it)", err, t.Name())
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the output (run with -update if the change is intended):\n%s", path, got)
	}
}

// TestGoldenFlows checks that the golden flows compile and are in the
// canonical format Encode writes.
func TestGoldenFlows(t *testing.T) {
	for _, file := range goldenFlowFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Compile(f); err != nil {
				t.Fatal(err)
			}
			out, err := Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, file, out)
		})
	}
}

// readFile is os.ReadFile, for tests that read one fixture.
func readFile(path string) ([]byte, error) { return os.ReadFile(path) }
