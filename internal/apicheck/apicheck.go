// Package apicheck holds real HTTP answers to an OpenAPI 3.1 document: the
// status must be documented (or covered by the operation's default), the
// content type must be one the answer lists, and the body must validate
// against its schema. The end-to-end tests run every API answer they get
// through it, so the published description cannot drift from what the
// server does.
package apicheck

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// docURL is the name the document is known by inside the compiler.
const docURL = "urn:switchyard:openapi"

// Checker validates answers against one OpenAPI document.
type Checker struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	paths    []pathTemplate

	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema
}

// pathTemplate is one key of the document's paths.
type pathTemplate struct {
	raw  string
	segs []string
	// literals counts the segments that are not parameters; the most
	// specific template wins.
	literals int
}

// New parses an OpenAPI 3.1 document.
func New(doc []byte) (*Checker, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("apicheck: parse document: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok || !strings.HasPrefix(fmt.Sprint(m["openapi"]), "3.1") {
		return nil, errors.New("apicheck: not an OpenAPI 3.1 document")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, m); err != nil {
		return nil, fmt.Errorf("apicheck: %w", err)
	}
	// A schema embedded with its own $id (the flow schema) is also added
	// as a resource of its own: the document is not a schema, so the
	// compiler does not look for $id inside it.
	if comps, ok := m["components"].(map[string]any); ok {
		if schemas, ok := comps["schemas"].(map[string]any); ok {
			for _, s := range schemas {
				if sm, ok := s.(map[string]any); ok {
					if id, ok := sm["$id"].(string); ok {
						if err := c.AddResource(id, sm); err != nil {
							return nil, fmt.Errorf("apicheck: %w", err)
						}
					}
				}
			}
		}
	}
	ck := &Checker{doc: m, compiler: c, schemas: map[string]*jsonschema.Schema{}}
	paths, _ := m["paths"].(map[string]any)
	for p := range paths {
		t := pathTemplate{raw: p, segs: strings.Split(p, "/")}
		for _, s := range t.segs {
			if !strings.HasPrefix(s, "{") {
				t.literals++
			}
		}
		ck.paths = append(ck.paths, t)
	}
	sort.Slice(ck.paths, func(i, j int) bool { return ck.paths[i].literals > ck.paths[j].literals })
	return ck, nil
}

// CompileAll compiles every schema the document's answers and request
// bodies name, so a broken schema is found without an answer that uses it.
func (ck *Checker) CompileAll() error {
	var errs []error
	paths, _ := ck.doc["paths"].(map[string]any)
	for p, item := range paths {
		ops, _ := item.(map[string]any)
		for method, op := range ops {
			o, _ := op.(map[string]any)
			var locs []string
			if rb, ok := o["requestBody"].(map[string]any); ok {
				for ct := range asMap(rb["content"]) {
					locs = append(locs, pointer("paths", p, method, "requestBody", "content", ct, "schema"))
				}
			}
			for status, r := range asMap(o["responses"]) {
				r = ck.deref(r)
				for ct := range asMap(asMap(r)["content"]) {
					locs = append(locs, ck.responsePointer(p, method, status, ct))
				}
			}
			for _, loc := range locs {
				if _, err := ck.schema(loc); err != nil {
					errs = append(errs, fmt.Errorf("%s %s: %w", strings.ToUpper(method), p, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Check validates one answer to method on target (a path with an
// optional query). A path or method the document does not describe is an
// error unless the answer is the problem that refuses it (401, 404, 405).
func (ck *Checker) Check(method, target string, status int, contentType string, body []byte) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("apicheck: %w", err)
	}
	// Segments as sent: a parameter may hold an escaped slash
	// (/api/store/ns/a%2Fb is the key "a/b").
	tmpl, ok := ck.match(u.EscapedPath())
	if !ok {
		if status == 404 || status == 401 {
			// No such route: the problem answer applies.
			return ck.checkProblem(status, contentType, body)
		}
		return fmt.Errorf("%s is not in the API description (answered %d)", u.Path, status)
	}
	method = strings.ToLower(method)
	op := asMap(asMap(asMap(ck.doc["paths"])[tmpl])[method])
	if op == nil {
		if status == 405 || status == 404 || status == 401 {
			// Refused before any operation: the problem answer applies.
			return ck.checkProblem(status, contentType, body)
		}
		return fmt.Errorf("%s %s is not in the API description (answered %d)", strings.ToUpper(method), tmpl, status)
	}
	responses := asMap(op["responses"])
	key := strconv.Itoa(status)
	r, ok := responses[key]
	if !ok {
		key = "default"
		if r, ok = responses[key]; !ok {
			return fmt.Errorf("%s %s: status %d is not documented", strings.ToUpper(method), tmpl, status)
		}
	}
	content := asMap(asMap(ck.deref(r))["content"])
	if len(content) == 0 {
		if len(body) > 0 {
			return fmt.Errorf("%s %s: status %d documents no body, got %d bytes", strings.ToUpper(method), tmpl, status, len(body))
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("%s %s: status %d: content type %q: %v", strings.ToUpper(method), tmpl, status, contentType, err)
	}
	if _, ok := content[mt]; !ok {
		return fmt.Errorf("%s %s: status %d: content type %s is not documented (documented: %s)",
			strings.ToUpper(method), tmpl, status, mt, strings.Join(keys(content), ", "))
	}
	if !isJSON(mt) {
		return nil
	}
	return ck.validate(ck.responsePointer(tmpl, method, key, mt), body, fmt.Sprintf("%s %s: status %d", strings.ToUpper(method), tmpl, status))
}

func (ck *Checker) checkProblem(status int, contentType string, body []byte) error {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/problem+json" {
		return fmt.Errorf("status %d: content type %q, want application/problem+json", status, contentType)
	}
	return ck.validate(pointer("components", "schemas", "Problem"), body, fmt.Sprintf("status %d", status))
}

func (ck *Checker) validate(loc string, body []byte, what string) error {
	sch, err := ck.schema(loc)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: body is not JSON: %v", what, err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("%s: answer does not match the API description: %v", what, err)
	}
	return nil
}

// responsePointer locates a response's schema, through a $ref to
// components/responses when the response is one.
func (ck *Checker) responsePointer(path, method, status, ct string) string {
	r := asMap(asMap(asMap(asMap(ck.doc["paths"])[path])[method])["responses"])[status]
	if ref, ok := asMap(r)["$ref"].(string); ok {
		return docURL + ref + "/" + escape("content") + "/" + escape(ct) + "/schema"
	}
	return pointer("paths", path, method, "responses", status, "content", ct, "schema")
}

func (ck *Checker) deref(r any) any {
	ref, ok := asMap(r)["$ref"].(string)
	if !ok {
		return r
	}
	var cur any = ck.doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		cur = asMap(cur)[tok]
	}
	return cur
}

func (ck *Checker) schema(loc string) (*jsonschema.Schema, error) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if s, ok := ck.schemas[loc]; ok {
		return s, nil
	}
	s, err := ck.compiler.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", loc, err)
	}
	ck.schemas[loc] = s
	return s, nil
}

func (ck *Checker) match(path string) (string, bool) {
	segs := strings.Split(strings.TrimSuffix(path, "/"), "/")
	for _, t := range ck.paths {
		if len(t.segs) != len(segs) {
			continue
		}
		ok := true
		for i, s := range t.segs {
			if strings.HasPrefix(s, "{") {
				if segs[i] == "" {
					ok = false
				}
			} else if s != segs[i] {
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok {
			return t.raw, true
		}
	}
	return "", false
}

func pointer(tokens ...string) string {
	var b strings.Builder
	b.WriteString(docURL + "#")
	for _, t := range tokens {
		b.WriteString("/" + escape(t))
	}
	return b.String()
}

// escape encodes a JSON pointer token, then percent-encodes what a URL
// fragment cannot hold ("{" and "}" of path templates).
func escape(t string) string {
	t = strings.NewReplacer("~", "~0", "/", "~1").Replace(t)
	return (&url.URL{Fragment: t}).EscapedFragment()
}

func isJSON(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
