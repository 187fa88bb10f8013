package flows

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func condEnv(body any) Env {
	return NewEnv(EnvInput{Trigger: TriggerData{Body: body}})
}

func row(field, op, value string) CondRow { return CondRow{Field: field, Op: op, Value: value} }

func TestBuildCondition(t *testing.T) {
	tests := []struct {
		name string
		g    CondGroup
		want string
	}{
		{"one row", CondGroup{Rows: []CondRow{row("trigger.body.score", OpGreaterEq, "70")}},
			`check(trigger.body.score, ">=", 70)`},
		{"all of", CondGroup{Rows: []CondRow{row("trigger.body.score", OpGreater, " 1.50 "), row("trigger.body.email", OpEndsWith, "@acme.com")}},
			`check(trigger.body.score, ">", 1.5) && check(trigger.body.email, "ends with", "@acme.com")`},
		{"any of with a group", CondGroup{Any: true, Rows: []CondRow{
			row("trigger.body.vip", OpExists, "ignored"),
			{Group: &CondGroup{Rows: []CondRow{row(`trigger.body["plan name"]`, OpOneOf, "pro, team ,,"), row("trigger.body.seats", OpLess, "-3")}}},
		}}, `check(trigger.body.vip, "exists") || (check(trigger.body["plan name"], "is one of", ["pro", "team"]) && check(trigger.body.seats, "<", -3))`},
		{"group of one needs no parentheses", CondGroup{Any: true, Rows: []CondRow{
			row("steps.lookup.output.items[0]", OpIs, `say "hi"`),
			{Group: &CondGroup{Rows: []CondRow{row("trigger.body.a", OpEmpty, "")}}},
		}}, `check(steps.lookup.output.items[0], "is", "say \"hi\"") || check(trigger.body.a, "is empty")`},
		{"path written with brackets", CondGroup{Rows: []CondRow{row(`trigger.body["score"]`, OpMatches, `^\d+$`)}},
			`check(trigger.body.score, "matches", "^\\d+$")`},
		{"date", CondGroup{Rows: []CondRow{row("trigger.body.at", OpBefore, "2026-01-31")}},
			`check(trigger.body.at, "before", "2026-01-31")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildCondition(tt.g)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if err := CheckExpr(got, KindCondition); err != nil {
				t.Fatalf("built condition does not compile: %v", err)
			}
		})
	}
}

func TestBuildConditionErrors(t *testing.T) {
	tests := []struct {
		name       string
		g          CondGroup
		path, part string
		err        error
	}{
		{"no rows", CondGroup{}, "", "rows", ErrCondNoRows},
		{"no field", CondGroup{Rows: []CondRow{row("", OpIs, "x")}}, "1", "field", ErrCondField},
		{"no operator", CondGroup{Rows: []CondRow{row("trigger.body.a", "", "x")}}, "1", "op", ErrCondOp},
		{"not a number", CondGroup{Rows: []CondRow{row("trigger.body.a", OpIs, "x"), row("trigger.body.a", OpGreater, "seventy")}}, "2", "value", ErrCondNumber},
		{"not a date", CondGroup{Rows: []CondRow{row("trigger.body.a", OpAfter, "tomorrow")}}, "1", "value", ErrCondDate},
		{"bad pattern", CondGroup{Rows: []CondRow{row("trigger.body.a", OpMatches, "(")}}, "1", "value", ErrCondPattern},
		{"empty list", CondGroup{Rows: []CondRow{row("trigger.body.a", OpOneOf, " , ")}}, "1", "value", ErrCondList},
		{"too deep", CondGroup{Rows: []CondRow{{Group: &CondGroup{Rows: []CondRow{{Group: &CondGroup{Rows: []CondRow{row("trigger.body.a", OpExists, "")}}}}}}}}, "1.1", "group", ErrCondDepth},
		{"empty group", CondGroup{Rows: []CondRow{{Group: &CondGroup{}}}}, "1", "rows", ErrCondNoRows},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BuildCondition(tt.g)
			var re *CondRowError
			if !errors.As(err, &re) || re.Path != tt.path || re.Part != tt.part || !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want row %q %s: %v", err, tt.path, tt.part, tt.err)
			}
		})
	}
	// A field that is not a plain path cannot smuggle code in.
	for _, f := range []string{`trigger.body.a) || true || (1`, `len(trigger.body)`, `secrets.slack.token`, `trigger.body[trigger.body.k]`, `x`, `trigger.body.a + 1`, `now().Year()`} {
		if _, err := BuildCondition(CondGroup{Rows: []CondRow{row(f, OpExists, "")}}); err == nil {
			t.Errorf("field %q accepted", f)
		}
	}
}

func TestParseCondition(t *testing.T) {
	ok := []struct {
		src  string
		want CondGroup
	}{
		{`check(trigger.body.score, ">=", 70)`, CondGroup{Rows: []CondRow{row("trigger.body.score", OpGreaterEq, "70")}}},
		{`check(trigger.body.a, "is", "x") and check(trigger.body?.b, "<", -1.5) && check(trigger.body.c, "exists")`,
			CondGroup{Rows: []CondRow{row("trigger.body.a", OpIs, "x"), row("trigger.body.b", OpLess, "-1.5"), row("trigger.body.c", OpExists, "")}}},
		{`(check(trigger.body.a, "is one of", ["x", "y z"]) || check(trigger.body["b c"], "is empty")) && check(steps.s.output.n, "<=", 3)`,
			CondGroup{Rows: []CondRow{{Group: &CondGroup{Any: true, Rows: []CondRow{row("trigger.body.a", OpOneOf, "x, y z"), row(`trigger.body["b c"]`, OpIsEmpty(), "")}}}, row("steps.s.output.n", OpLessEq, "3")}}},
	}
	for _, tt := range ok {
		got, parsed := ParseCondition(tt.src)
		if !parsed || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCondition(%s) = %+v, %v; want %+v", tt.src, got, parsed, tt.want)
		}
	}
	for _, src := range []string{
		``, `true`, `trigger.body.score >= 70`, `!check(trigger.body.a, "exists")`,
		`check(trigger.body.a, "exists", 1)`, `check(trigger.body.a, ">=")`, `check(trigger.body.a, "nope", 1)`,
		`check(trigger.body.a, ">=", "70")`, `check(trigger.body.a, "is", 70)`, `check(len(trigger.body), "exists")`,
		`check(trigger.body.a, "is one of", ["a,b"])`, `check(trigger.body.a, "is", " padded")`,
		`check(trigger.body.a, "exists") && (check(trigger.body.b, "exists") || (check(trigger.body.c, "exists") && check(trigger.body.d, "exists")))`,
	} {
		if g, parsed := ParseCondition(src); parsed {
			t.Errorf("ParseCondition(%q) = %+v, want not simple", src, g)
		}
	}
}

// OpIsEmpty keeps the table above readable.
func OpIsEmpty() string { return OpEmpty }

func TestCheckEval(t *testing.T) {
	body := map[string]any{
		"score": "85", "n": 42.0, "name": "Ada Lovelace", "plan": "pro", "tags": []any{"a", "b"},
		"blank": "  ", "at": "2026-03-01T10:00:00Z", "nested": map[string]any{"x": 1.0}, "word": "n/a",
		"unix": 1767225600.0,
	}
	tests := []struct {
		src   string
		want  bool
		notes []string
	}{
		{`check(trigger.body.score, ">=", 70)`, true, nil},
		{`check(trigger.body.score, "<", 70)`, false, nil},
		{`check(trigger.body.n, ">", 41.5)`, true, nil},
		{`check(trigger.body.missing, ">=", 70)`, false, []string{"missing is missing"}},
		{`check(trigger.body.deep.er.path, "is", "x")`, false, []string{"deep.er.path is missing"}},
		{`check(trigger.body.word, ">=", 70)`, false, []string{"word is not a number"}},
		{`check(trigger.body.score, "is", 85)`, true, nil},
		{`check(trigger.body.n, "is", "42")`, true, nil},
		{`check(trigger.body.plan, "is not", "pro")`, false, nil},
		{`check(trigger.body.name, "contains", "LOVE")`, true, nil},
		{`check(trigger.body.name, "does not contain", "love")`, false, nil},
		{`check(trigger.body.tags, "contains", "b")`, true, nil},
		{`check(trigger.body.name, "starts with", "ada")`, true, nil},
		{`check(trigger.body.name, "ends with", "lace")`, true, nil},
		{`check(trigger.body.at, "before", "2026-03-02")`, true, nil},
		{`check(trigger.body.at, "after", "now")`, false, nil},
		{`check(trigger.body.unix, "after", "2025-12-31")`, true, nil},
		{`check(trigger.body.name, "before", "2026-01-01")`, false, []string{"name is not a date"}},
		{`check(trigger.body.blank, "is empty")`, true, nil},
		{`check(trigger.body.missing, "is empty")`, true, nil},
		{`check(trigger.body.nested, "is not empty")`, true, nil},
		{`check(trigger.body.nested.x, "exists")`, true, nil},
		{`check(trigger.body.nested.y.z, "does not exist")`, true, nil},
		{`check(trigger.body.name, "matches", "^Ada [A-Z]")`, true, nil},
		{`check(trigger.body.plan, "is one of", ["team", "pro"])`, true, nil},
		{`check(trigger.body.score, "is one of", ["84", "86"])`, false, nil},
		{`check(trigger.body.missing, ">=", 70) || check(trigger.body.score, ">=", 70)`, true, []string{"missing is missing"}},
		{`check(steps.nope.output.x, "is", "y")`, false, []string{"steps.nope.output.x is missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, _, err := compileExpr("steps[0].if", tt.src, shapeBase)
			if err != nil {
				t.Fatal(err)
			}
			got, notes, err := e.Explain(condEnv(body))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || !reflect.DeepEqual(notes, tt.notes) {
				t.Fatalf("got %v %q, want %v %q", got, notes, tt.want, tt.notes)
			}
			// The sample path of the builder says the same.
			got2, notes2, err := ExplainCondition(tt.src, condEnv(body))
			if err != nil || got2 != got || !reflect.DeepEqual(notes2, notes) {
				t.Fatalf("ExplainCondition = %v %q %v", got2, notes2, err)
			}
		})
	}
	// A body that is not an object (text, or none) is a missing field, not
	// a failed run.
	for _, b := range []any{nil, "plain text", []any{1.0}} {
		e, _, _ := compileExpr("if", `check(trigger.body.score, ">=", 70)`, shapeBase)
		ok, notes, err := e.Explain(condEnv(b))
		if err != nil || ok || len(notes) != 1 {
			t.Errorf("body %v: %v %q %v", b, ok, notes, err)
		}
	}
}

func TestExplainRows(t *testing.T) {
	g := CondGroup{Rows: []CondRow{
		row("trigger.body.score", OpGreaterEq, "70"),
		row("trigger.body.email", OpExists, ""),
		{Group: &CondGroup{Any: true, Rows: []CondRow{row("trigger.body.plan", OpIs, "pro"), row("trigger.body.plan", OpIs, "team")}}},
		row("trigger.body.score", OpGreaterEq, "lots"),
	}}
	res := ExplainRows(g, condEnv(map[string]any{"score": "85", "plan": "team"}))
	if !res[0].Result || res[0].Err != nil {
		t.Errorf("row 1: %+v", res[0])
	}
	if res[1].Result || res[1].Note != "" {
		t.Errorf("row 2: %+v", res[1])
	}
	if !res[2].Result {
		t.Errorf("group: %+v", res[2])
	}
	if !errors.Is(res[3].Err, ErrCondNumber) {
		t.Errorf("row 4: %+v", res[3])
	}
}

// check runs under the evaluation limits: a pattern that compiles to a
// huge program, a match over a huge text, a huge list.
func TestCheckLimits(t *testing.T) {
	big := strings.Repeat("a", 8<<20)
	tests := []struct {
		name string
		src  string
		body any
		want error
	}{
		{"huge pattern from the payload", `check(trigger.body.s, "matches", trigger.body.p)`, map[string]any{"s": "a", "p": strings.Repeat("a", 600000)}, ErrMemoryLimit},
		{"long text times pattern", `check(trigger.body.s, "matches", "(x|y|z|a)+(b|c|d)+[a-z]{200}$")`, map[string]any{"s": big}, ErrStepLimit},
		{"one of a built list", `check(trigger.body.s, "is one of", split(repeat("a,", 3000000), ","))`, map[string]any{"s": "b"}, ErrMemoryLimit},
		{"in a loop", `all(1..100000, {check(trigger.body.s, "contains", "a")})`, map[string]any{"s": strings.Repeat("a", 20000)}, ErrMemoryLimit},
		{"in a loop, small", `all(1..3000, {all(1..3000, {check(trigger.body.s, ">", 1)})})`, map[string]any{"s": "2"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, err := compileExpr("if", tt.src, shapeBase)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = e.Explain(condEnv(tt.body))
			// nil: whichever limit comes first (the loop's lists or its turns).
			if tt.want == nil && isLimitError(err) {
				return
			}
			if !errors.Is(err, tt.want) && !(tt.want == ErrStepLimit && errors.Is(err, ErrTimeLimit)) {
				t.Fatalf("got %v, want a limit error", err)
			}
		})
	}
}

// FuzzParseCondition: whatever ParseCondition reads back builds into an
// expression that compiles and reads back into the same rows.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		`check(trigger.body.score, ">=", 70)`,
		`check(trigger.body.a, "is", "x") || (check(trigger.body["b c"], "is one of", ["p", "q"]) && check(steps.s.output[0], "exists"))`,
		`check(trigger.body.d, "before", "2026-01-01") and check(trigger.body.e, "matches", "^a.*$")`,
		`check(trigger.body.n, "<", -0.5)`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		g, ok := ParseCondition(src)
		if !ok {
			return
		}
		built, err := BuildCondition(g)
		if err != nil {
			t.Fatalf("ParseCondition(%q) = %+v, which does not build: %v", src, g, err)
		}
		if err := CheckExpr(built, KindCondition); err != nil {
			t.Fatalf("built %q does not compile: %v", built, err)
		}
		again, ok := ParseCondition(built)
		if !ok || !reflect.DeepEqual(again, g) {
			t.Fatalf("round trip of %q: %+v, then %q reads as %+v", src, g, built, again)
		}
	})
}
