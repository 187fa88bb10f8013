package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
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

// flowSchema compiles JSONSchema with a JSON Schema 2020-12 validator
// (santhosh-tekuri/jsonschema, formats asserted).
func flowSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("the flow schema does not compile: %v", err)
	}
	return sch
}

func validateJSON(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(doc)
}

// TestSchemaAcceptsValidFlows checks every example and golden flow against
// the schema with a JSON Schema validator library, so Decode and Compile
// on one side and the published schema on the other cannot drift apart
// unnoticed.
func TestSchemaAcceptsValidFlows(t *testing.T) {
	sch := flowSchema(t)
	for _, file := range append(exampleFiles(t), goldenFlowFiles(t)...) {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateJSON(t, sch, data); err != nil {
				t.Errorf("schema rejects %s:\n%v", file, err)
			}
		})
	}
}

func TestSchemaRejectsInvalidFlows(t *testing.T) {
	sch := flowSchema(t)
	const steps = `"steps":[{"id":"a","use":"flow.delay","with":{"duration":"1s"}}]`
	tests := []struct {
		name, doc string
		// at is where the validator must report a problem, msg part of
		// what it says there.
		at, msg string
	}{
		{"valid control", `{"id":"a","name":"n","trigger":{"type":"manual"},` + steps + `}`, "", ""},
		{"$schema is allowed", `{"$schema":"../schema/flow.json","id":"a","name":"n","trigger":{"type":"manual"},` + steps + `}`, "", ""},
		{"$schema must be a string", `{"$schema":1,"id":"a","name":"n","trigger":{"type":"manual"},` + steps + `}`, "/$schema", "want string"},
		{"missing id", `{"name":"n","trigger":{"type":"manual"},` + steps + `}`, "", "missing property 'id'"},
		{"unknown field", `{"id":"a","name":"n","nmae":"x","trigger":{"type":"manual"},` + steps + `}`, "", "additional properties 'nmae' not allowed"},
		{"bad slug", `{"id":"A!","name":"n","trigger":{"type":"manual"},` + steps + `}`, "/id", "does not match pattern"},
		{"cron on webhook", `{"id":"a","name":"n","trigger":{"type":"webhook","path":"p","cron":"@daily"},` + steps + `}`, "/trigger/cron", "false schema"},
		{"webhook without path", `{"id":"a","name":"n","trigger":{"type":"webhook"},` + steps + `}`, "/trigger", "missing property 'path'"},
		{"timeout without sync", `{"id":"a","name":"n","trigger":{"type":"webhook","path":"p","timeout":"5s"},` + steps + `}`, "/trigger", "missing property 'respond'"},
		{"use and switch", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"flow.delay","switch":[{"default":true,"steps":[{"id":"b","use":"flow.delay"}]}]}]}`, "/steps/0", "oneOf"},
		{"unknown connector", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"nope"}]}`, "/steps/0/use", "value must be one of"},
		{"unknown with key", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"flow.delay","with":{"duration":"1s","x":1}}]}`, "/steps/0/with", "additional properties 'x' not allowed"},
		{"required with key", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"flow.delay","with":{}}]}`, "/steps/0/with", "missing property 'duration'"},
		{"case with when and default", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"r","switch":[{"when":"true","default":true,"steps":[{"id":"b","use":"flow.delay","with":{"duration":"1s"}}]}]}]}`, "/steps/0/switch/0", "oneOf"},
		{"retry attempts", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"flow.delay","with":{"duration":"1s"},"retry":{"attempts":0}}]}`, "/steps/0/retry/attempts", "minimum"},
		{"bad duration", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"flow.delay","with":{"duration":"soon"}}]}`, "/steps/0/with/duration", "anyOf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateJSON(t, sch, []byte(tt.doc))
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("not a validation error: %v", err)
			}
			if !reported(ve, tt.at, tt.msg) {
				t.Errorf("no error at %q saying %q in:\n%v", tt.at, tt.msg, err)
			}
		})
	}
}

// reported looks for an error at the instance location at (a JSON
// pointer) whose message holds msg, among ve and its causes.
func reported(ve *jsonschema.ValidationError, at, msg string) bool {
	loc := ""
	for _, tok := range ve.InstanceLocation {
		loc += "/" + tok
	}
	if loc == at && strings.Contains(ve.Error(), msg) {
		return true
	}
	for _, c := range ve.Causes {
		if reported(c, at, msg) {
			return true
		}
	}
	return false
}
