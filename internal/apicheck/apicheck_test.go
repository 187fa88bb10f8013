package apicheck

import (
	"strings"
	"testing"
)

const doc = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/api/things/{id}": {
      "get": {"responses": {
        "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
        "204": {"description": "none"},
        "default": {"$ref": "#/components/responses/Problem"}
      }}
    },
    "/api/things/special": {
      "get": {"responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}}}
    }
  },
  "components": {
    "schemas": {
      "Thing": {"type": "object", "additionalProperties": false, "required": ["id", "at"],
        "properties": {"id": {"type": "string"}, "at": {"type": "string", "format": "date-time"}, "flow": {"$ref": "urn:x:flow"}}},
      "Flow": {"$id": "urn:x:flow", "type": "object", "properties": {"n": {"$ref": "#/$defs/n"}}, "$defs": {"n": {"type": "integer"}}},
      "Problem": {"type": "object", "required": ["status"], "properties": {"status": {"type": "integer"}}}
    },
    "responses": {"Problem": {"description": "error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}
  }
}`

func TestCheck(t *testing.T) {
	ck, err := New([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := ck.CompileAll(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path string
		status             int
		ctype, body        string
		wantErr            string // "" for a valid answer
	}{
		{"valid", "GET", "/api/things/a?x=1", 200, "application/json; charset=utf-8", `{"id": "a", "at": "2026-01-02T03:04:05Z"}`, ""},
		{"embedded $id resource", "GET", "/api/things/a", 200, "application/json", `{"id": "a", "at": "2026-01-02T03:04:05Z", "flow": {"n": 1}}`, ""},
		{"embedded schema refuses", "GET", "/api/things/a", 200, "application/json", `{"id": "a", "at": "2026-01-02T03:04:05Z", "flow": {"n": "x"}}`, "does not match"},
		{"unknown field", "GET", "/api/things/a", 200, "application/json", `{"id": "a", "at": "2026-01-02T03:04:05Z", "extra": 1}`, "does not match"},
		{"bad format", "GET", "/api/things/a", 200, "application/json", `{"id": "a", "at": "yesterday"}`, "does not match"},
		{"missing field", "GET", "/api/things/a", 200, "application/json", `{"id": "a"}`, "does not match"},
		{"not JSON", "GET", "/api/things/a", 200, "application/json", `{`, "not JSON"},
		{"wrong content type", "GET", "/api/things/a", 200, "text/html", `{}`, "not documented"},
		{"empty answer", "GET", "/api/things/a", 204, "", ``, ""},
		{"body where none is documented", "GET", "/api/things/a", 204, "application/json", `{}`, "documents no body"},
		{"problem by default", "GET", "/api/things/a", 404, "application/problem+json", `{"status": 404}`, ""},
		{"problem of the wrong shape", "GET", "/api/things/a", 500, "application/problem+json", `{"status": "x"}`, "does not match"},
		{"literal path wins", "GET", "/api/things/special", 200, "text/plain", `hello`, ""},
		{"undocumented method", "POST", "/api/things/a", 200, "application/json", `{}`, "not in the API description"},
		{"undocumented path", "GET", "/api/other", 200, "application/json", `{}`, "not in the API description"},
		{"refusal of an unknown path", "GET", "/api/other", 404, "application/problem+json", `{"status": 404}`, ""},
		{"undocumented status", "GET", "/api/things/special", 500, "text/plain", `x`, "not documented"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ck.Check(c.method, c.path, c.status, c.ctype, []byte(c.body))
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestNewRefusesOtherDocuments(t *testing.T) {
	for _, d := range []string{`{"openapi": "3.0.3", "paths": {}}`, `[]`, `{`} {
		if _, err := New([]byte(d)); err == nil {
			t.Errorf("%s: accepted", d)
		}
	}
}
