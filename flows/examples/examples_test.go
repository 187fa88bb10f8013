// Package examples_test checks every example flow in this directory with
// the real connectors, as `switchyard flows validate` would.
package examples_test

import (
	"os"
	"path/filepath"
	"testing"

	_ "github.com/switchyard/switchyard/connectors/all"
	"github.com/switchyard/switchyard/flows"
)

func TestGalleryValid(t *testing.T) {
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) < 6 {
		t.Fatalf("expected the example gallery here, found %d files (%v)", len(files), err)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, err := flows.Decode(data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if f.ID+".json" != file {
				t.Errorf("flow id %q does not match its file name", f.ID)
			}
			if _, err := flows.Compile(f); err != nil {
				t.Fatalf("compile: %v", err)
			}
		})
	}
}
