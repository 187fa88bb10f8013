package flows

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// mustExpr compiles src against the base environment.
func mustExpr(t *testing.T, field, src string) *Expr {
	t.Helper()
	e, _, err := compileExpr(field, src, shapeBase)
	if err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	return e
}

func testEnv() Env {
	return NewEnv(EnvInput{
		Flow: &Flow{ID: "f", Name: "F", Steps: []Step{{ID: "a"}, {ID: "later"}}},
		Trigger: TriggerData{
			Body:    map[string]any{"paid": true, "amount": 1250.0, "name": "Ada", "tags": []any{"x", "y"}, "n": nil},
			Headers: map[string]string{"x-github-delivery": "d-1"},
			Method:  "POST",
		},
		RunID:   "r1",
		Attempt: 2,
		Steps:   map[string]StepState{"a": {Output: map[string]any{"v": 3.0}, Status: "ok"}},
		Secrets: map[string]map[string]string{"crm": {"value": "s3cret"}},
	})
}

func TestExprEval(t *testing.T) {
	tests := []struct {
		src  string
		want any
	}{
		{"trigger.body.paid == true", true},
		{"trigger.body.amount / 100", 12.5},
		{"trigger.body.missing", nil},
		{"trigger.body.n", nil},
		{"trigger.headers['x-github-delivery']", "d-1"},
		{"trigger.method", "POST"},
		{"steps.a.output.v + 1", 4.0},
		{"steps.a.status", "ok"},
		{"steps.later.output", nil},
		{"steps.later.status", ""},
		{"run.id + '/' + string(run.attempt)", "r1/2"},
		{"flow.name", "F"},
		{"secrets.crm.value", "s3cret"},
		{"len(trigger.body.tags)", 2},
		{"upper(trigger.body.name)", "ADA"},
	}
	env := testEnv()
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := mustExpr(t, "steps[0].if", tt.src).Eval(env)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("= %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestExprNow(t *testing.T) {
	got, err := mustExpr(t, "f", "now()").Eval(testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if ts, ok := got.(time.Time); !ok || time.Since(ts) > time.Minute {
		t.Errorf("now() = %#v", got)
	}
}

func TestExprCompileErrors(t *testing.T) {
	tests := []struct {
		src   string
		shape envShape
		want  string
	}{
		{"foo.bar", shapeBase, "unknown name foo (1:1)"},
		{"trigger.body.x +", shapeBase, "unexpected token EOF (1:16)"},
		{"trigger.body.a == 1\n&& bogus", shapeBase, "unknown name bogus (2:4)"},
		{"response.body", shapeBase, "unknown name response (1:1)"},
		{"item.id", shapeResponse, "unknown name item (1:1)"},
		{"response.body", shapeItem, "unknown name response (1:1)"},
		{"", shapeBase, "empty expression"},
		{strings.Repeat("1+", MaxExprLen/2) + "1", shapeBase, "the limit is 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, _, err := compileExpr("f", tt.src, tt.shape)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestExprRuntimeError(t *testing.T) {
	e := mustExpr(t, "steps[1].if", "trigger.body.x.y")
	_, err := e.Eval(testEnv())
	want := `steps[1].if: expression "trigger.body.x.y": cannot fetch y from <nil> (1:16)`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Field != "steps[1].if" || ee.Source != "trigger.body.x.y" {
		t.Errorf("error is not an *EvalError with field and source: %#v", err)
	}
}

func TestExprBool(t *testing.T) {
	tests := []struct {
		src     string
		want    bool
		wantErr string
	}{
		{"trigger.body.paid", true, ""},
		{"trigger.body.amount > 2000", false, ""},
		{"trigger.body.missing", false, ""},
		{"trigger.body.name", false, `steps[0].if: expression "trigger.body.name": expression did not yield a bool (got string "Ada")`},
		{"trigger.body.tags", false, "expression did not yield a bool (got list)"},
	}
	env := testEnv()
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := mustExpr(t, "steps[0].if", tt.src).Bool(env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrNotBool) {
					t.Fatalf("error = %v, want %q wrapping ErrNotBool", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("= %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestExprMissingVariables(t *testing.T) {
	// An Env without some variables (a caller building its own) reads
	// them as empty rather than failing inside the VM.
	e := mustExpr(t, "f", "secrets.crm?.value ?? 'none'")
	got, err := e.Eval(Env{"trigger": map[string]any{}})
	if err != nil || got != "none" {
		t.Errorf("= %#v, %v", got, err)
	}
	if _, err := e.Eval(nil); err != nil {
		t.Errorf("nil env: %v", err)
	}
}

func TestExprNotCompiled(t *testing.T) {
	for _, e := range []*Expr{nil, {Source: "x", Field: "f"}} {
		if _, err := e.Eval(nil); !errors.Is(err, ErrNotCompiled) {
			t.Errorf("Eval on %+v = %v, want ErrNotCompiled", e, err)
		}
	}
}

func TestExprRefs(t *testing.T) {
	_, refs, err := compileExpr("f", `steps.a.output + steps["b"].output + len(steps.a.x) + (secrets.k?.v ?? 0)`, shapeBase)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(refs.steps, ",") != "a,b" || !refs.secrets {
		t.Errorf("refs = %+v", refs)
	}
	e := mustExpr(t, "f", "trigger.body")
	if e.UsesSecrets() {
		t.Error("UsesSecrets on an expression without secrets")
	}
}

func TestEscapeFunctions(t *testing.T) {
	tests := []struct{ src, want string }{
		{`escapeHTML(trigger.body.name)`, "&lt;img src=x onerror=alert(1)&gt; &amp; &#34;Bob&#34;"},
		{`escapeQuery(trigger.body.name)`, "%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E+%26+%22Bob%22"},
		{`escapeHTML(trigger.body.missing)`, ""},
		{`escapeHTML(trigger.body.n)`, "42"},
	}
	env := NewEnv(EnvInput{Flow: &Flow{ID: "f"}, Trigger: TriggerData{Body: map[string]any{"name": `<img src=x onerror=alert(1)> & "Bob"`, "n": 42.0}}})
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			f := &Flow{ID: "f", Name: "f", Enabled: true, Trigger: Trigger{Type: TriggerManual},
				Steps: []Step{{ID: "s", Use: "data.set", With: map[string]any{"v": "{{ " + tc.src + " }}"}}}}
			c, err := Compile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Step("s").With.Render(env)
			if err != nil {
				t.Fatal(err)
			}
			if out["v"] != tc.want {
				t.Errorf("got %q, want %q", out["v"], tc.want)
			}
		})
	}
}
