package flows

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// wantErr is one expected validation detail: the exact field and a part of
// the message.
type wantErr struct {
	field, msg string
}

// checkDetails asserts err is a *ValidationError holding every wanted
// detail (and, when exact is set, nothing else).
func checkDetails(t *testing.T, err error, want []wantErr, exact bool) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want *ValidationError", err, err)
	}
	for _, w := range want {
		found := false
		for _, d := range ve.Details {
			if d.Field == w.field && strings.Contains(d.Message, w.msg) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("missing detail %s: ...%s...\ngot: %s", w.field, w.msg, detailList(ve))
		}
	}
	if exact && len(ve.Details) != len(want) {
		t.Errorf("got %d details, want %d:\n%s", len(ve.Details), len(want), detailList(ve))
	}
}

func detailList(ve *ValidationError) string {
	var b strings.Builder
	for _, d := range ve.Details {
		b.WriteString("  " + d.Field + ": " + d.Message + "\n")
	}
	return b.String()
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []wantErr
	}{
		{"unknown nested field", `{"id":"a","name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","use":"x"},{"id":"b","wiht":{}}]}`,
			[]wantErr{{"steps[1].wiht", `unknown field (did you mean "with"?)`}}},
		{"unknown top-level field", `{"id":"a","nmae":"n","colour":"red"}`,
			[]wantErr{{"nmae", "unknown field"}, {"colour", "unknown field"}}},
		{"unknown trigger field", `{"trigger":{"type":"webhook","paht":"x"}}`,
			[]wantErr{{"trigger.paht", `did you mean "path"?`}}},
		{"unknown case field", `{"steps":[{"id":"r","switch":[{"whenn":"true","steps":[]}]}]}`,
			[]wantErr{{"steps[0].switch[0].whenn", "unknown field"}}},
		{"wrong type duration", `{"trigger":{"type":"webhook","timeout":5}}`,
			[]wantErr{{"trigger.timeout", `must be a duration string such as "30s", got number 5`}}},
		{"bad duration", `{"trigger":{"type":"webhook","timeout":"5 minutes"}}`,
			[]wantErr{{"trigger.timeout", `invalid duration "5 minutes"`}}},
		{"negative duration", `{"steps":[{"id":"a","retry":{"attempts":2,"backoff":"-1s"}}]}`,
			[]wantErr{{"steps[0].retry.backoff", "must not be negative"}}},
		{"wrong type string", `{"id":42,"name":true}`,
			[]wantErr{{"id", "must be a string, got number 42"}, {"name", "must be a string, got bool"}}},
		{"wrong type int", `{"trigger":{"type":"webhook","max_body":"1MB"}}`,
			[]wantErr{{"trigger.max_body", "must be a number, got string"}}},
		{"fractional int", `{"steps":[{"id":"a","retry":{"attempts":1.5}}]}`,
			[]wantErr{{"steps[0].retry.attempts", "must be a whole number, got 1.5"}}},
		{"wrong type bool", `{"enabled":"yes"}`,
			[]wantErr{{"enabled", "must be true or false, got string"}}},
		{"wrong type list", `{"steps":{"id":"a"}}`,
			[]wantErr{{"steps", "must be a list, got object"}}},
		{"wrong type object", `{"trigger":"webhook"}`,
			[]wantErr{{"trigger", "must be an object, got string"}}},
		{"wrong type with", `{"steps":[{"id":"a","with":[1]}]}`,
			[]wantErr{{"steps[0].with", "must be an object, got list"}}},
		{"typed map values", `{"trigger":{"type":"poll","request":{"url":"u","headers":{"Accept":1}}}}`,
			[]wantErr{{"trigger.request.headers.Accept", "must be a string, got number 1"}}},
		{"methods item type", `{"trigger":{"type":"webhook","methods":["GET",2]}}`,
			[]wantErr{{"trigger.methods[1]", "must be a string"}}},
		{"not an object", `[1,2]`, []wantErr{{"", "must be an object, got list"}}},
		{"empty", "  \n", []wantErr{{"", "empty document"}}},
		{"syntax error", "{\n  \"id\": \"a\",\n  \"name\": }\n}",
			[]wantErr{{"name", "invalid JSON at line 3, column 11: invalid character '}' looking for beginning of value"}}},
		{"missing comma", "{\"id\": \"a\"\n \"name\": \"b\"}",
			[]wantErr{{"", "invalid JSON at line 2, column 2: invalid character '\"' after object key:value pair"}}},
		{"bad literal", `{"id": x}`,
			[]wantErr{{"id", "invalid JSON at line 1, column 8: invalid character 'x' looking for beginning of value"}}},
		{"bad literal in list", "{\"steps\": [1,\n   tru]}",
			[]wantErr{{"steps[1]", "invalid JSON at line 2, column 7: invalid character ']' in literal true (expecting 'e')"}}},
		{"truncated", `{"id": "a", "steps": [`,
			[]wantErr{{"steps", "invalid JSON at line 1, column 23: unexpected end of input"}}},
		{"trailing data", "{\"id\":\"a\"}\n  x",
			[]wantErr{{"", "unexpected data after the flow object at line 2, column 3"}}},
		{"second object", `{"id":"a"} {"id":"b"}`,
			[]wantErr{{"", "unexpected data after the flow object at line 1, column 12"}}},
		{"duplicate key", `{"id":"a","steps":[{"id":"x","with":{"k":1,"k":2}}],"id":"b"}`,
			[]wantErr{{"steps[0].with.k", "duplicate key"}, {"id", "duplicate key"}}},
		{"number out of range", `{"steps":[{"id":"a","with":{"n":1e400}}]}`,
			[]wantErr{{"steps[0].with.n", "number 1e400 is out of range"}}},
		{"odd key path", `{"steps":[{"id":"a","with":{"a b":1,"a b":2}}]}`,
			[]wantErr{{`steps[0].with["a b"]`, "duplicate key"}}},
		{"too deep", `{"steps":[{"id":"a","with":{"x":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}}]}`,
			[]wantErr{{"steps[0].with.x" + strings.Repeat("[0]", 253), "nesting deeper than 256 levels"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode succeeded: %+v", f)
			}
			checkDetails(t, err, tt.want, true)
		})
	}
}

func TestDecodeNullIsUnset(t *testing.T) {
	f, err := Decode([]byte(`{"id":"a","name":null,"trigger":{"type":"manual","verify":null},"steps":[{"id":"s","use":"data.set","with":{"x":null}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "" || f.Trigger.Verify != nil {
		t.Errorf("null fields were set: %+v", f)
	}
	if v, ok := f.Steps[0].With["x"]; !ok || v != nil {
		t.Errorf("with.x = %v, %v; want nil, true", v, ok)
	}
}

func TestDecodeWithIsJSONShaped(t *testing.T) {
	f, err := Decode([]byte(`{"steps":[{"id":"a","with":{"s":"x","n":10,"f":1.5,"b":true,"z":null,"o":{"k":[1,"two",{"x":false}]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"s": "x", "n": 10.0, "f": 1.5, "b": true, "z": nil,
		"o": map[string]any{"k": []any{1.0, "two", map[string]any{"x": false}}},
	}
	if got := f.Steps[0].With; !reflect.DeepEqual(got, want) {
		t.Errorf("with = %#v\nwant %#v", got, want)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, file := range append(exampleFiles(t), goldenFlowFiles(t)...) {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f1, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			out1, err := Encode(f1)
			if err != nil {
				t.Fatal(err)
			}
			f2, err := Decode(out1)
			if err != nil {
				t.Fatalf("decode of encoded flow: %v\n%s", err, out1)
			}
			if !reflect.DeepEqual(f1, f2) {
				t.Errorf("round trip changed the flow:\n%+v\n%+v", f1, f2)
			}
			out2, err := Encode(f2)
			if err != nil {
				t.Fatal(err)
			}
			if string(out1) != string(out2) {
				t.Errorf("encoding is not stable:\n%s\n%s", out1, out2)
			}
			if strings.Contains(string(out1), `\u0026`) || strings.Contains(string(out1), `\u003c`) {
				t.Errorf("encoding escapes HTML characters:\n%s", out1)
			}
			if !strings.HasPrefix(string(out1), "{\n  \"id\": ") || !strings.HasSuffix(string(out1), "}\n") {
				t.Errorf("encoding is not indented with two spaces:\n%s", out1)
			}
		})
	}
}

func TestEncodeNil(t *testing.T) {
	if _, err := Encode(nil); err == nil {
		t.Error("Encode(nil) succeeded")
	}
}

func TestValidationErrorMessage(t *testing.T) {
	ve := &ValidationError{Details: []FieldError{{"id", "required"}, {"", "trailing data"}, {"steps[0].use", `unknown connector "x"`}}}
	want := `id: required; trailing data; steps[0].use: unknown connector "x"`
	if got := ve.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
