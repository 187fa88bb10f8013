package dataset_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/dataset"
)

func TestSet(t *testing.T) {
	cfg := map[string]any{"email": "a@b.c", "amount": float64(12), "nested": map[string]any{"x": []any{true}}}
	for _, dry := range []bool{false, true} {
		res, err := (&dataset.Set{}).Execute(context.Background(), connectors.Input{Config: cfg, DryRun: dry})
		if err != nil {
			t.Fatal(err)
		}
		out := res.Output.(map[string]any)
		if !reflect.DeepEqual(out, cfg) {
			t.Errorf("output = %v, want %v", out, cfg)
		}
		out["email"] = "changed"
		if cfg["email"] != "a@b.c" {
			t.Error("output aliases the config map")
		}
		if res.Respond != nil || !res.ResumeAt.IsZero() {
			t.Errorf("result = %+v", res)
		}
	}
	res, err := (&dataset.Set{}).Execute(context.Background(), connectors.Input{})
	if err != nil || len(res.Output.(map[string]any)) != 0 {
		t.Errorf("empty config: %v, %v", res.Output, err)
	}
}

func TestSpec(t *testing.T) {
	c, err := connectors.Lookup(dataset.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Spec()
	if s.SideEffects || s.Category != "Core" || len(s.Fields) != 1 {
		t.Fatalf("spec = %+v", s)
	}
	f := s.Fields[0]
	if f.Name != "*" || f.Label != "Fields" || f.Type != connectors.TypeJSON || f.Help != "any keys; each value may use {{ }} templates" {
		t.Errorf("field = %+v", f)
	}
}
