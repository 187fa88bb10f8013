package flows

import (
	"os"
	"path/filepath"
	"testing"
)

// exampleFiles lists flows/examples/*.json.
func exampleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("examples", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example flows in examples/")
	}
	return files
}

func TestExamplesValid(t *testing.T) {
	for _, file := range exampleFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Decode(data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if want := filepath.Base(file); f.ID+".json" != want {
				t.Errorf("flow id %q does not match file name %s", f.ID, want)
			}
			c, err := Compile(f)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			Walk(f.Steps, func(path string, s *Step) {
				cs := c.Step(s.ID)
				if cs == nil || cs.Path != path {
					t.Errorf("Step(%q) = %+v, want path %s", s.ID, cs, path)
				}
			})
		})
	}
}
