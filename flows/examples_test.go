package flows

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/connectors"
)

// exampleFiles lists flows/examples/*.json whose connectors this test
// binary knows (the fakes in fakes_test.go). Gallery flows that use the CRM,
// chat and email connectors are checked with the real connectors by
// flows/examples/examples_test.go.
func exampleFiles(t testing.TB) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join("examples", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, file := range all {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		known := true
		if f, err := Decode(data); err == nil {
			Walk(f.Steps, func(_ string, s *Step) {
				if _, err := connectors.Lookup(s.Use); s.Use != "" && err != nil {
					known = false
				}
			})
		}
		if known {
			files = append(files, file)
		}
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

// TestCompileConcurrent compiles the examples from many goroutines at
// once, as API handlers do; run it with -race.
func TestCompileConcurrent(t *testing.T) {
	var docs [][]byte
	for _, file := range exampleFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, data)
	}
	done := make(chan error)
	for i := range 16 {
		go func() {
			f, err := Decode(docs[i%len(docs)])
			if err == nil {
				_, err = Compile(f)
			}
			done <- err
		}()
	}
	for range 16 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkCompileExample(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("examples", "orders-router.json"))
	if err != nil {
		b.Fatal(err)
	}
	f, err := Decode(data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderAndBool(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("examples", "orders-router.json"))
	if err != nil {
		b.Fatal(err)
	}
	f, err := Decode(data)
	if err != nil {
		b.Fatal(err)
	}
	c, err := Compile(f)
	if err != nil {
		b.Fatal(err)
	}
	env := NewEnv(EnvInput{
		Flow: f,
		Trigger: TriggerData{Body: map[string]any{"id": "evt_1", "type": "checkout.session.completed", "data": map[string]any{"object": map[string]any{
			"amount_total": 250000.0, "currency": "eur", "customer_details": map[string]any{"email": "ada@example.com", "name": "Ada"},
		}}}},
		Steps: map[string]StepState{"order": {Output: map[string]any{"email": "ada@example.com", "name": "Ada", "amount": 2500.0, "currency": "EUR"}}},
	})
	step := c.Step("crm_upsert")
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := step.If.Bool(env); err != nil || !ok {
			b.Fatal(ok, err)
		}
		if _, err := step.With.Render(env); err != nil {
			b.Fatal(err)
		}
	}
}
