package flows

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestJSONSchemaGolden(t *testing.T) {
	golden(t, filepath.Join("testdata", "schema.golden.json"), JSONSchema())
}

func TestJSONSchemaShape(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(JSONSchema(), &s); err != nil {
		t.Fatal(err)
	}
	if s["$schema"] != SchemaDialect || s["additionalProperties"] != false {
		t.Errorf("root: $schema %v, additionalProperties %v", s["$schema"], s["additionalProperties"])
	}
	defs := s["$defs"].(map[string]any)
	use := defs["step"].(map[string]any)["properties"].(map[string]any)["use"].(map[string]any)
	var ids []string
	for _, v := range use["enum"].([]any) {
		ids = append(ids, v.(string))
	}
	for _, want := range []string{"data.set", "flow.delay", "http.request", "test.strict", "webhook.respond"} {
		if !slices.Contains(ids, want) {
			t.Errorf("use enum %v lacks %s", ids, want)
		}
	}
	// Every $ref must point at a definition.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				name := strings.TrimPrefix(r, "#/$defs/")
				if _, ok := defs[name]; !ok {
					t.Errorf("dangling $ref %s", r)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(s)
	// data.set's wildcard field opens its `with`; http.request's is closed.
	if ap := defs[withDef("data.set")].(map[string]any)["additionalProperties"]; ap == false {
		t.Error("data.set with is closed")
	}
	if ap := defs[withDef("http.request")].(map[string]any)["additionalProperties"]; ap != false {
		t.Errorf("http.request with additionalProperties = %v", ap)
	}
}

// TestSchemaAcceptsValidFlows checks every example and golden flow against
// the schema with a small validator written for this test, so Decode and
// Compile on one side and the published schema on the other cannot drift
// apart unnoticed.
func TestSchemaAcceptsValidFlows(t *testing.T) {
	sv := newSchemaValidator(t)
	for _, file := range append(exampleFiles(t), goldenFlowFiles(t)...) {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			if errs := sv.validate(sv.root, doc, ""); len(errs) > 0 {
				t.Errorf("schema rejects %s:\n  %s", file, strings.Join(errs, "\n  "))
			}
		})
	}
}

func TestSchemaRejectsInvalidFlows(t *testing.T) {
	sv := newSchemaValidator(t)
	const steps = `"steps":[{"id":"a","use":"flow.delay","with":{"duration":"1s"}}]`
	tests := []struct {
		name, doc, want string
	}{
		{"valid control", `{"id":"a","name":"n","trigger":{"type":"manual"},` + steps + `}`, ""},
		{"missing id", `{"name":"n","trigger":{"type":"manual"},` + steps + `}`, `missing "id"`},
		{"unknown field", `{"id":"a","name":"n","nmae":"x","trigger":{"type":"manual"},` + steps + `}`, `/nmae: not allowed`},
		{"bad slug", `{"id":"A!","name":"n","trigger":{"type":"manual"},` + steps + `}`, "/id: does not match"},
		{"cron on webhook", `{"id":"a","name":"n","trigger":{"type":"webhook","path":"p","cron":"@daily"},` + steps + `}`, "/trigger/cron: false schema"},
		{"webhook without path", `{"id":"a","name":"n","trigger":{"type":"webhook"},` + steps + `}`, `/trigger: missing "path"`},
		{"timeout without sync", `{"id":"a","name":"n","trigger":{"type":"webhook","path":"p","timeout":"5s"},` + steps + `}`, `/trigger: missing "respond"`},
		{"use and switch", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"flow.delay","switch":[{"default":true,"steps":[{"id":"b","use":"flow.delay"}]}]}]}`, "oneOf"},
		{"unknown connector", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"nope"}]}`, "/steps/0/use: not in enum"},
		{"unknown with key", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"flow.delay","with":{"duration":"1s","x":1}}]}`, "/steps/0/with/x: not allowed"},
		{"required with key", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"flow.delay","with":{}}]}`, `/steps/0/with: missing "duration"`},
		{"case with when and default", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"r","switch":[{"when":"true","default":true,"steps":[{"id":"b","use":"flow.delay","with":{"duration":"1s"}}]}]}]}`, "oneOf"},
		{"retry attempts", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"flow.delay","with":{"duration":"1s"},"retry":{"attempts":0}}]}`, "/steps/0/retry/attempts: below minimum"},
		{"bad duration", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"flow.delay","with":{"duration":"soon"}}]}`, "anyOf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc any
			if err := json.Unmarshal([]byte(tt.doc), &doc); err != nil {
				t.Fatal(err)
			}
			errs := sv.validate(sv.root, doc, "")
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatalf("rejected: %v", errs)
				}
				return
			}
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tt.want) }) {
				t.Errorf("errors %q lack %q", errs, tt.want)
			}
		})
	}
}

// schemaValidator implements the part of JSON Schema 2020-12 that
// JSONSchema uses: $ref into $defs, type, enum, const, required,
// properties, additionalProperties, items, min/maxItems, uniqueItems,
// min/maxLength, pattern, minimum, maximum, allOf, anyOf, oneOf, if/then,
// dependentRequired and dependentSchemas.
type schemaValidator struct {
	root map[string]any
	defs map[string]any
}

func newSchemaValidator(t *testing.T) *schemaValidator {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(JSONSchema(), &root); err != nil {
		t.Fatal(err)
	}
	return &schemaValidator{root: root, defs: root["$defs"].(map[string]any)}
}

func (sv *schemaValidator) validate(schema any, v any, at string) []string {
	if b, ok := schema.(bool); ok {
		if b {
			return nil
		}
		return []string{at + ": false schema"}
	}
	s := schema.(map[string]any)
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if r, ok := s["$ref"].(string); ok {
		errs = append(errs, sv.validate(sv.defs[strings.TrimPrefix(r, "#/$defs/")], v, at)...)
	}
	if typ, ok := s["type"].(string); ok && !hasJSONType(v, typ) {
		fail("not of type %s", typ)
		return errs
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		fail("not in enum %v", enum)
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, v) {
		fail("not %v", c)
	}
	if p, ok := s["pattern"].(string); ok {
		if str, ok := v.(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("does not match %s", p)
		}
	}
	if str, ok := v.(string); ok {
		if n, ok := s["minLength"].(float64); ok && float64(utf8.RuneCountInString(str)) < n {
			fail("shorter than %v", n)
		}
		if n, ok := s["maxLength"].(float64); ok && float64(utf8.RuneCountInString(str)) > n {
			fail("longer than %v", n)
		}
	}
	if num, ok := v.(float64); ok {
		if n, ok := s["minimum"].(float64); ok && num < n {
			fail("below minimum %v", n)
		}
		if n, ok := s["maximum"].(float64); ok && num > n {
			fail("above maximum %v", n)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		for _, r := range asList(s["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				fail("missing %q", r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, val := range obj {
			if ps, ok := props[k]; ok {
				errs = append(errs, sv.validate(ps, val, at+"/"+k)...)
			} else if ap, ok := s["additionalProperties"]; ok {
				if ap == false {
					errs = append(errs, at+"/"+k+": not allowed")
				} else {
					errs = append(errs, sv.validate(ap, val, at+"/"+k)...)
				}
			}
		}
		if dr, ok := s["dependentRequired"].(map[string]any); ok {
			for k, req := range dr {
				if _, ok := obj[k]; ok {
					for _, r := range asList(req) {
						if _, ok := obj[r.(string)]; !ok {
							fail("missing %q (needed by %q)", r, k)
						}
					}
				}
			}
		}
		if ds, ok := s["dependentSchemas"].(map[string]any); ok {
			for k, sub := range ds {
				if _, ok := obj[k]; ok {
					errs = append(errs, sv.validate(sub, v, at)...)
				}
			}
		}
	}
	if list, ok := v.([]any); ok {
		if n, ok := s["minItems"].(float64); ok && float64(len(list)) < n {
			fail("fewer than %v items", n)
		}
		if s["uniqueItems"] == true {
			for i := range list {
				for j := i + 1; j < len(list); j++ {
					if reflect.DeepEqual(list[i], list[j]) {
						fail("items %d and %d are equal", i, j)
					}
				}
			}
		}
		if items, ok := s["items"]; ok {
			for i, it := range list {
				errs = append(errs, sv.validate(items, it, fmt.Sprintf("%s/%d", at, i))...)
			}
		}
	}
	for _, sub := range asList(s["allOf"]) {
		errs = append(errs, sv.validate(sub, v, at)...)
	}
	if anyOf := asList(s["anyOf"]); len(anyOf) > 0 {
		if !slices.ContainsFunc(anyOf, func(sub any) bool { return len(sv.validate(sub, v, at)) == 0 }) {
			fail("matches no anyOf branch")
		}
	}
	if oneOf := asList(s["oneOf"]); len(oneOf) > 0 {
		n := 0
		for _, sub := range oneOf {
			if len(sv.validate(sub, v, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("matches %d oneOf branches, want 1", n)
		}
	}
	if cond, ok := s["if"]; ok && len(sv.validate(cond, v, at)) == 0 {
		if then, ok := s["then"]; ok {
			errs = append(errs, sv.validate(then, v, at)...)
		}
	}
	return errs
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func hasJSONType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "null":
		return v == nil
	}
	return false
}
