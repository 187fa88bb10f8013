package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/invopop/jsonschema"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// The OpenAPI 3.1 description of the API, built from the Go types the
// handlers answer with (so a field added to a view shows up by itself) and
// from apiDocs below, one entry per route of the route table. A test holds
// apiDocs to the routes Fiber actually serves, another holds the committed
// docs/openapi.json to OpenAPI(), and the end-to-end tests validate every
// answer they get against it (internal/apicheck).

// ProblemContentType is the media type of error answers (RFC 9457).
const ProblemContentType = "application/problem+json"

// apiDoc describes one route for the OpenAPI document.
type apiDoc struct {
	method string
	// path is written as in routes.go ("/api/flows/:id").
	path    string
	summary string
	tag     string
	// public routes need no bearer token.
	public bool
	// query lists the query parameters.
	query []apiParam
	// body is the request body: a Go value whose type is reflected, or
	// an obj schema; nil for none.
	body any
	// bodyOptional marks a body that may be left out.
	bodyOptional bool
	// answers are the documented success answers; every route also has
	// the problem answer as its default.
	answers []apiAnswer
}

// apiParam is a query parameter.
type apiParam struct {
	name, desc string
	schema     obj
}

// apiAnswer is one documented answer of a route.
type apiAnswer struct {
	status int
	desc   string
	// body is a Go value whose type is reflected, an obj schema, or nil
	// for an empty body.
	body any
	// contentType defaults to application/json.
	contentType string
}

// obj is a JSON Schema or OpenAPI object under construction.
type obj = map[string]any

func str(desc string) obj { return obj{"type": "string", "description": desc} }

// closed is an object schema that admits exactly the given properties.
func closed(required []string, props obj) obj {
	return obj{"type": "object", "additionalProperties": false, "required": required, "properties": props}
}

func arrayOf(items any) obj { return obj{"type": "array", "items": items} }

func schemaRef(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

// flowList, connectorList … are the wrapper objects some routes answer with.
var (
	flowList    = closed([]string{"flows"}, obj{"flows": arrayOf(reflected(flowView{}))})
	resetAnswer = closed([]string{"reset", "at"}, obj{"reset": obj{"const": true},
		"at": obj{"type": "string", "format": "date-time"}})
	connectorList = closed([]string{"connectors", "connection_types"}, obj{
		"connectors":       arrayOf(reflected(connectors.Spec{})),
		"connection_types": arrayOf(reflected(connectors.ConnectionType{})),
	})
	connectionList = closed([]string{"connections"}, obj{"connections": arrayOf(reflected(engine.ConnectionInfo{}))})
	statusAnswer   = obj{"type": "object", "required": []string{"status"}, "properties": obj{"status": str("")}}
)

// pageParams are the query parameters of a listing paged by cursor.
var pageParams = []apiParam{
	{"limit", "Page size (default 50, at most 500).", obj{"type": "integer", "minimum": 1, "maximum": 500}},
	{"cursor", "The next_cursor of the previous page.", obj{"type": "string"}},
}

// pathParamDesc describes the path parameters of the routes.
var pathParamDesc = map[string]string{
	"id":        "The flow's or run's id.",
	"name":      "The connection's name.",
	"n":         "A version number of the flow (1, 2, …).",
	"namespace": "A data store namespace: a flow's id, or a shared name.",
	"key":       "A data store key, percent-encoded (a%2Fb is the key a/b).",
}

// apiDocs describes every route under /api (and the operational routes
// beside it). A route added to routes.go needs an entry here:
// TestOpenAPICoversRoutes fails until it has one.
var apiDocs = []apiDoc{
	{method: "GET", path: "/api/flows", tag: "flows", summary: "List the flows.",
		answers: []apiAnswer{{status: 200, body: flowList}}},
	{method: "POST", path: "/api/flows", tag: "flows", summary: "Create a flow; 400 with field errors when it is invalid, 409 when its id exists.",
		body: schemaRef("Flow"), answers: []apiAnswer{{status: 201, body: flowView{}}}},
	{method: "POST", path: "/api/flows/import", tag: "flows", summary: "Import a flow file as `switchyard flows import` does: 201 when it was created or saved as a new version, 200 when it was current as given (no new version); connections it names that do not exist yet are warnings.",
		body: schemaRef("Flow"), answers: []apiAnswer{{status: 201, body: importAnswer{}}, {status: 200, desc: "Unchanged: no new version.", body: importAnswer{}}}},
	{method: "POST", path: "/api/flows/test", tag: "flows", summary: "Run a flow given in the body once (it need not be saved) on a payload, storing nothing, with the server's connections; dry sends nothing out. `switchyard run FILE --server` uses it.",
		body: testFileRequest{}, answers: []apiAnswer{{status: 200, body: engine.Run{}}}},
	{method: "GET", path: "/api/flows/:id", tag: "flows", summary: "One flow.",
		answers: []apiAnswer{{status: 200, body: flowView{}}}},
	{method: "PUT", path: "/api/flows/:id", tag: "flows", summary: "Save a new version of a flow (the body's id must match).",
		body: schemaRef("Flow"), answers: []apiAnswer{{status: 200, body: flowView{}}}},
	{method: "DELETE", path: "/api/flows/:id", tag: "flows", summary: "Delete a flow; its runs stay readable. 409 naming them while other flows call it or name it as their error flow, or the settings make it the default error flow.",
		answers: []apiAnswer{{status: 204}}},
	{method: "POST", path: "/api/flows/:id/test", tag: "flows", summary: "Run the flow on a payload without storing anything; dry sends nothing out.",
		body: testRequest{}, answers: []apiAnswer{{status: 200, body: engine.Run{}}}},
	{method: "POST", path: "/api/flows/:id/run", tag: "flows", summary: "Run now, any trigger: a manual or webhook flow runs with the payload, a schedule flow runs one tick, a poll flow polls (or, given a payload, runs once with it as the item).",
		body: testRequest{}, bodyOptional: true,
		answers: []apiAnswer{{status: 202, desc: "A run started.", body: runNowResult{}}, {status: 200, desc: "Nothing new ran (see message).", body: runNowResult{}}}},
	{method: "GET", path: "/api/flows/:id/schedule", tag: "flows", summary: "A schedule or poll flow's next fire times, last poll and seen set.",
		answers: []apiAnswer{{status: 200, body: engine.PollInfo{}}}},
	{method: "POST", path: "/api/flows/:id/poll", tag: "flows", summary: "Poll now; force confirms a flood pause, seed records the new items without running them.",
		body: pollRequest{}, bodyOptional: true, answers: []apiAnswer{{status: 200, body: pollView{}}}},
	{method: "POST", path: "/api/flows/:id/seen/reset", tag: "flows", summary: "Forget the items a poll flow has seen.",
		answers: []apiAnswer{{status: 200, body: resetAnswer}}},
	{method: "GET", path: "/api/flows/:id/versions", tag: "flows", summary: "A flow's saved versions, newest first, and when it was turned on or off.",
		answers: []apiAnswer{{status: 200, body: engine.FlowHistory{}}}},
	{method: "GET", path: "/api/flows/:id/versions/:n", tag: "flows", summary: "One saved version of a flow and what changed against the one before (or ?against=N).",
		query:   []apiParam{{"against", "The version to compare with.", obj{"type": "integer", "minimum": 1}}},
		answers: []apiAnswer{{status: 200, body: versionView{}}}},
	{method: "POST", path: "/api/flows/:id/versions/:n/restore", tag: "flows", summary: "Make an old version current again (201 when that saved a new version, 200 when it was current already).",
		answers: []apiAnswer{{status: 200, body: flowView{}}, {status: 201, body: flowView{}}}},
	{method: "POST", path: "/api/flows/:id/pause", tag: "flows", summary: "Pause a flow: its webhooks are still acknowledged (202) and stored, its runs wait (runs in progress stop before their next step) until it is resumed. Answers the flow's hold: paused, held (the queue depth), in_progress.",
		answers: []apiAnswer{{status: 200, body: holdView{}}}},
	{method: "POST", path: "/api/flows/:id/resume", tag: "flows", summary: "Resume a paused flow: the runs it held start in order of arrival, within its concurrency limit.",
		answers: []apiAnswer{{status: 200, body: holdView{}}}},
	{method: "GET", path: "/api/flows/:id/refusals", tag: "refusals", summary: "The flow's refused webhook requests (answered 4xx or 5xx without a run), newest first, a page at a time; the newest 200 per flow are kept.",
		query: pageParams, answers: []apiAnswer{{status: 200, body: engine.RefusalPage{}}}},
	{method: "GET", path: "/api/refusals", tag: "refusals", summary: "Every refused webhook request, those to paths no flow listens on included, newest first, a page at a time; the newest 5,000 are kept.",
		query: pageParams, answers: []apiAnswer{{status: 200, body: engine.RefusalPage{}}}},
	{method: "GET", path: "/api/audit", tag: "audit", summary: "The audit trail: who saved, turned on or off, paused, deleted or restored flows, changed connections, created tokens, ran bulk actions, signed in; newest first.",
		query: append([]apiParam{
			{"action", "Only this action (flow.save), or every action under a group (flow, connection, token, login).", obj{"type": "string"}},
			{"target", "Only entries about this flow, connection or token.", obj{"type": "string"}},
		}, pageParams...),
		answers: []apiAnswer{{status: 200, body: engine.AuditPage{}}}},

	{method: "GET", path: "/api/runs", tag: "runs", summary: "Runs, newest first, a page at a time.",
		query: []apiParam{
			{"flow", "Only this flow's runs.", obj{"type": "string"}},
			{"status", "Only runs in this status.", obj{"enum": []string{"queued", "running", "waiting", "succeeded", "failed"}}},
			{"since", "Only runs created at or after this time.", obj{"type": "string", "format": "date-time"}},
			{"until", "Only runs created before this time.", obj{"type": "string", "format": "date-time"}},
			{"limit", "Page size (at most 500).", obj{"type": "integer", "minimum": 1}},
			{"cursor", "The next_cursor of the previous page.", obj{"type": "string"}},
			{"resolved", "Failed runs only: false lists those no retry or replay resolved yet (Needs attention), true those one did.", obj{"enum": []string{"true", "false"}}},
			{"q", "Search: runs whose payload, headers or step outputs hold every word (whole words, any case), or `path:value` for an exact field value (trigger.body.email:ada@example.com).", obj{"type": "string"}},
		},
		answers: []apiAnswer{{status: 200, body: engine.RunPage{}}}},
	{method: "POST", path: "/api/runs/bulk", tag: "runs", summary: "Retry (failed, unresolved runs, from their failed step) or replay the runs a filter or a list of ids selects, at most 10,000; dry_run only counts them. The runs start in the background at a bounded pace.",
		body: bulkRequest{}, answers: []apiAnswer{{status: 200, body: bulkResult{}}, {status: 202, body: bulkResult{}}}},
	{method: "GET", path: "/api/runs/:id", tag: "runs", summary: "A run with each step's result, the request that started it (secrets redacted), the runs that retried or replayed it and whether that resolved it; waiting_for says what holds an unfinished run back. With wait, answers once the run is final or the wait is over (with the run as it stands).",
		query:   []apiParam{{"wait", "Wait up to this long (a duration such as 30s; at most 60s) for the run to finish.", obj{"type": "string", "pattern": "^[0-9.]+(ms|s|m)$"}}},
		answers: []apiAnswer{{status: 200, body: runView{}}}},
	{method: "GET", path: "/api/runs/:id/loops/:step", tag: "runs", summary: "One page of a loop step's items (50 a page), each with its status and its inner steps' results; the run detail holds only the first page. 404 if the step is no loop of this run.",
		query:   []apiParam{{"page", "The page, from 1 (default 1); a page past the last is empty.", obj{"type": "integer", "minimum": 1}}},
		answers: []apiAnswer{{status: 200, body: engine.LoopPage{}}}},
	{method: "POST", path: "/api/runs/:id/retry", tag: "runs", summary: "Retry a failed run from its failed step; 409 if it did not fail or a retry or replay of it succeeded already.",
		answers: []apiAnswer{{status: 201, body: engine.Run{}}}},
	{method: "POST", path: "/api/runs/:id/replay", tag: "runs", summary: "Run the same event again from the first step; 409 while the run is queued, running or waiting.",
		answers: []apiAnswer{{status: 201, body: engine.Run{}}}},

	{method: "GET", path: "/api/connectors", tag: "connectors", summary: "Every connector's spec and every connection type.",
		answers: []apiAnswer{{status: 200, body: connectorList}}},
	{method: "GET", path: "/api/connections", tag: "connectors", summary: "Stored connections: names, types and which fields are set, never values.",
		answers: []apiAnswer{{status: 200, body: connectionList}}},
	{method: "POST", path: "/api/connections", tag: "connectors", summary: "Store a connection (values are encrypted at rest).",
		body: connectionRequest{}, answers: []apiAnswer{{status: 201, body: engine.ConnectionInfo{}}}},
	{method: "POST", path: "/api/connections/:name/test", tag: "connectors", summary: "Try a stored connection against its service (url: the address to try, for generic HTTP types).",
		body: connectionTestRequest{}, bodyOptional: true, answers: []apiAnswer{{status: 200, body: engine.ConnectionTest{}}}},
	{method: "DELETE", path: "/api/connections/:name", tag: "connectors", summary: "Delete a connection; 409 naming the flows that use it, unless force=true.",
		query:   []apiParam{{"force", "Delete it although flows name it.", obj{"type": "boolean"}}},
		answers: []apiAnswer{{status: 204}}},

	{method: "GET", path: "/api/store", tag: "store", summary: "The data store's namespaces that hold values, with their keys and bytes.",
		answers: []apiAnswer{{status: 200, body: kvNamespaceList{}}}},
	{method: "GET", path: "/api/store/:namespace", tag: "store", summary: "A namespace's values in key order, a page at a time.",
		query: []apiParam{
			{"after", "The next_cursor of the previous page.", obj{"type": "string"}},
			{"limit", "Page size (default 100, at most 1000).", obj{"type": "integer", "minimum": 1}},
		},
		answers: []apiAnswer{{status: 200, body: engine.KVPage{}}}},
	{method: "GET", path: "/api/store/:namespace/:key", tag: "store", summary: "One value; 404 when the key holds none (or it expired).",
		answers: []apiAnswer{{status: 200, body: engine.KVEntry{}}}},
	{method: "PUT", path: "/api/store/:namespace/:key", tag: "store", summary: "Store a value (any JSON), optionally expiring; 413 past a limit (64 KiB a value, 8 MiB and 10,000 keys a namespace).",
		body: kvPutRequest{}, answers: []apiAnswer{{status: 200, body: engine.KVEntry{}}}},
	{method: "DELETE", path: "/api/store/:namespace/:key", tag: "store", summary: "Delete a value; 404 when the key held none.",
		answers: []apiAnswer{{status: 204}}},

	{method: "GET", path: "/api/events", tag: "events", summary: "Server-Sent Events of run and step updates; send Last-Event-ID to resume.",
		query: []apiParam{
			{"flow", "Only this flow's updates.", obj{"type": "string"}},
			{"run", "Only this run's updates.", obj{"type": "string"}},
		},
		answers: []apiAnswer{{status: 200, contentType: "text/event-stream", body: obj{"type": "string"}}}},
	{method: "GET", path: "/api/backup", tag: "operations", summary: "A consistent copy of the database (a bbolt file, exact Content-Length), with every webhook acknowledged before the call; ingest goes on meanwhile. Never holds the key file (docs/operations.md, Backups).",
		answers: []apiAnswer{{status: 200, contentType: "application/octet-stream", body: obj{"type": "string", "contentMediaType": "application/octet-stream"}}}},
	{method: "GET", path: "/api/settings", tag: "settings", summary: "The instance-wide settings: the default error flow (on_failure) and the default notification endpoint (notify).",
		answers: []apiAnswer{{status: 200, body: engine.Settings{}}}},
	{method: "PUT", path: "/api/settings", tag: "settings", summary: "Replace the settings; 400 with field paths for an unknown flow, a bad URL or a signing secret that is no connection of type secret.",
		body: engine.Settings{}, answers: []apiAnswer{{status: 200, body: engine.Settings{}}}},
	{method: "POST", path: "/api/signing-secrets", tag: "settings", summary: "Make a whsec_ signing secret for run notifications, stored encrypted as a connection of type secret (name, or name_2, … when taken); the answer is the only time the secret is shown.",
		body: signingSecretRequest{}, answers: []apiAnswer{{status: 201, body: signingSecretAnswer{}}}},
	{method: "POST", path: "/api/tokens", tag: "operations", summary: "Create an API token (shown in this answer only). For a signed-in owner or a bearer token: every token has the owner's rights.",
		body: tokenRequest{}, answers: []apiAnswer{{status: 201, body: tokenAnswer{}}}},
	{method: "GET", path: "/api/history", tag: "operations", summary: "What the run history takes (bytes of its records, runs, unfinished runs), each flow's part and share, the retention limits in force and the database file's size and free part.",
		answers: []apiAnswer{{status: 200, body: engine.History{}}}},
	{method: "POST", path: "/api/compact", tag: "operations", summary: "Compact the database file now (it also happens by itself past --compact-free). Webhooks are acknowledged meanwhile; writes that need the database and reads of runs wait took_ms.",
		answers: []apiAnswer{{status: 200, body: compactAnswer{}}}},
	{method: "GET", path: "/api/schema/flow", tag: "flows", public: true, summary: "The JSON Schema of flow files.",
		answers: []apiAnswer{{status: 200, contentType: "application/schema+json", body: obj{"$ref": flows.SchemaDialect}}}},
	{method: "GET", path: "/api/openapi.json", tag: "operations", public: true, summary: "This document.",
		answers: []apiAnswer{{status: 200, body: obj{"type": "object", "required": []string{"openapi", "paths"}}}}},
	{method: "GET", path: "/healthz", tag: "operations", public: true, summary: "Liveness.",
		answers: []apiAnswer{{status: 200, body: closed([]string{"status"}, obj{"status": obj{"const": "ok"}})}}},
	{method: "GET", path: "/readyz", tag: "operations", public: true, summary: "200 once recovery is done; 503 while starting, while the database refuses writes, or (with --database) while PostgreSQL does not answer.",
		answers: []apiAnswer{{status: 200, body: statusAnswer}, {status: 503, body: statusAnswer}}},
	{method: "GET", path: "/metrics", tag: "operations", public: true, summary: "Prometheus metrics (see docs/operations.md for where they are served and who may read them).",
		answers: []apiAnswer{{status: 200, contentType: "text/plain", body: obj{"type": "string"}}}},
}

// problemSchema describes every error answer: errorBody as it is
// encoded, so an extension member added there is described at once.
var problemSchema = func() obj {
	o := reflected(errorBody{})
	o["description"] = "An RFC 9457 problem; `error` repeats `detail` for clients of earlier versions, `details` lists field errors."
	return o
}()

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
)

// OpenAPI returns the OpenAPI 3.1 document of the API, indented, built
// once. version goes into info.version only where the caller asks for it
// (the served document); the committed one says "dev".
func OpenAPI() []byte {
	openAPIOnce.Do(func() { openAPIDoc = buildOpenAPI() })
	return openAPIDoc
}

func buildOpenAPI() []byte {
	var flow obj
	if err := json.Unmarshal(flows.JSONSchema(), &flow); err != nil {
		panic("web: flow schema: " + err.Error())
	}
	// An embedded resource names its dialect through the document's
	// jsonSchemaDialect; $id keeps its own references resolving.
	delete(flow, "$schema")
	paths := obj{}
	for _, d := range apiDocs {
		p := openAPIPath(d.path)
		item, _ := paths[p].(obj)
		if item == nil {
			item = obj{}
			paths[p] = item
		}
		item[strings.ToLower(d.method)] = d.operation()
	}
	doc := obj{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": flows.SchemaDialect,
		"info": obj{
			"title":       "Switchyard API",
			"version":     "1",
			"description": "The HTTP API of Switchyard. Every answer carries X-Request-Id; errors are RFC 9457 problems (application/problem+json) that keep the `error` member of earlier versions. docs/api.md has the prose.",
			"license":     obj{"name": "Apache-2.0", "identifier": "Apache-2.0"},
		},
		"tags": []obj{
			{"name": "flows"}, {"name": "runs"}, {"name": "refusals"}, {"name": "connectors"}, {"name": "store"}, {"name": "events"}, {"name": "audit"}, {"name": "settings"}, {"name": "operations"},
		},
		"paths": paths,
		"components": obj{
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer",
				"description": "An API token from `switchyard token create` or the Tokens page."}},
			"schemas": obj{
				"Flow":    flow,
				"Problem": problemSchema,
			},
			"responses": obj{
				"Problem": obj{"description": "An error.", "content": obj{
					ProblemContentType: obj{"schema": schemaRef("Problem")},
				}},
			},
		},
		"security": []obj{{"bearer": []string{}}},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		panic("web: openapi: " + err.Error())
	}
	return buf.Bytes()
}

func (d apiDoc) operation() obj {
	op := obj{
		"operationId": operationID(d.method, d.path),
		"summary":     d.summary,
		"tags":        []string{d.tag},
	}
	if d.public {
		op["security"] = []obj{}
	}
	var params []obj
	for _, seg := range strings.Split(d.path, "/") {
		if name, ok := strings.CutPrefix(seg, ":"); ok {
			params = append(params, obj{"name": name, "in": "path", "required": true,
				"description": pathParamDesc[name], "schema": obj{"type": "string"}})
		}
	}
	for _, q := range d.query {
		params = append(params, obj{"name": q.name, "in": "query", "description": q.desc, "schema": q.schema})
	}
	if params != nil {
		op["parameters"] = params
	}
	if d.body != nil {
		op["requestBody"] = obj{"required": !d.bodyOptional, "content": obj{
			"application/json": obj{"schema": schemaOf(d.body)},
		}}
	}
	responses := obj{"default": obj{"$ref": "#/components/responses/Problem"}}
	for _, a := range d.answers {
		r := obj{"description": a.desc}
		if a.desc == "" {
			r["description"] = http.StatusText(a.status)
		}
		if a.body != nil {
			ct := a.contentType
			if ct == "" {
				ct = "application/json"
			}
			r["content"] = obj{ct: obj{"schema": schemaOf(a.body)}}
		}
		responses[strconv.Itoa(a.status)] = r
	}
	op["responses"] = responses
	return op
}

// openAPIPath turns "/api/flows/:id" into "/api/flows/{id}".
func openAPIPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + name + "}"
		}
	}
	return strings.Join(segs, "/")
}

// operationID is e.g. "get_flows_id_schedule".
func operationID(method, path string) string {
	var parts []string
	for _, s := range strings.Split(strings.TrimPrefix(path, "/api"), "/") {
		s = strings.TrimPrefix(s, ":")
		s = strings.NewReplacer(".", "_", "-", "_").Replace(s)
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.ToLower(method) + "_" + strings.Join(parts, "_")
}

func schemaOf(v any) any {
	if o, ok := v.(obj); ok {
		return o
	}
	return reflected(v)
}

// reflected is the JSON Schema of a Go value's type as encoding/json
// writes it: every struct closed, fields without omitempty required.
func reflected(v any) obj {
	r := &jsonschema.Reflector{
		DoNotReference: true,
		ExpandedStruct: true,
		Anonymous:      true,
		Mapper:         mapType,
	}
	s := r.Reflect(v)
	data, err := json.Marshal(s)
	if err != nil {
		panic("web: reflect schema: " + err.Error())
	}
	var o obj
	if err := json.Unmarshal(data, &o); err != nil {
		panic("web: reflect schema: " + err.Error())
	}
	delete(o, "$schema")
	delete(o, "$id")
	nullablePointers(reflect.TypeOf(v), o)
	return o
}

// nullablePointers lets the properties of pointer fields without
// omitempty be null, as encoding/json writes a nil one (the reflector
// describes only the pointed-to type). It walks t's structs, slices and
// maps beside their schemas.
func nullablePointers(t reflect.Type, schema obj) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if items, ok := schema["items"].(obj); ok {
			nullablePointers(t.Elem(), items)
		}
	case reflect.Map:
		if ap, ok := schema["additionalProperties"].(obj); ok {
			nullablePointers(t.Elem(), ap)
		}
	case reflect.Struct:
		if t == timeType {
			return
		}
		props, _ := schema["properties"].(obj)
		if props == nil {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				nullablePointers(f.Type, schema) // embedded: same object
				continue
			}
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			p, ok := props[name].(obj)
			if !ok {
				continue
			}
			nullablePointers(f.Type, p)
			if f.Type.Kind() == reflect.Pointer && !strings.Contains(opts, "omitempty") {
				props[name] = obj{"anyOf": []any{p, obj{"type": "null"}}}
			}
		}
	}
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	kvValueType    = reflect.TypeFor[engine.KVValue]()
	timeType       = reflect.TypeFor[time.Time]()
	durationType   = reflect.TypeFor[flows.Duration]()
)

// mapType gives the types the reflector cannot see through their schema.
func mapType(t reflect.Type) *jsonschema.Schema {
	switch t {
	case rawMessageType:
		// The only raw JSON in answers is a flow's stored definition.
		return &jsonschema.Schema{Ref: "#/components/schemas/Flow"}
	case kvValueType:
		return &jsonschema.Schema{Description: "Any JSON value."}
	case timeType:
		return &jsonschema.Schema{Type: "string", Format: "date-time"}
	case durationType:
		// Written as Go prints a duration ("1s", "1m0s").
		return &jsonschema.Schema{Type: "string", Description: "A duration such as 1s, 5m or 1h."}
	}
	return nil
}

// serveOpenAPI answers GET /api/openapi.json.
func (s *Server) serveOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(OpenAPI())
}

// apiRoute is one method and path pattern of the route table.
type apiRoute struct {
	method string
	segs   []string
}

// allowIndex lists the API routes Fiber serves, to answer a wrong method
// with 405 and the methods that would do (see apiNotFound).
func allowIndex(app *fiber.App) []apiRoute {
	var out []apiRoute
	for _, r := range app.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/") || strings.Contains(r.Path, "*") {
			continue
		}
		out = append(out, apiRoute{method: r.Method, segs: strings.Split(strings.TrimSuffix(r.Path, "/"), "/")})
	}
	return out
}

// allowedMethods returns the methods the route table serves at path,
// sorted; none when no route has that path.
func allowedMethods(routes []apiRoute, path string) []string {
	segs := strings.Split(strings.TrimSuffix(path, "/"), "/")
	var out []string
	for _, r := range routes {
		if len(r.segs) != len(segs) || slices.Contains(out, r.method) {
			continue
		}
		match := true
		for i, s := range r.segs {
			if !strings.HasPrefix(s, ":") && s != segs[i] || strings.HasPrefix(s, ":") && segs[i] == "" {
				match = false
				break
			}
		}
		if match {
			out = append(out, r.method)
		}
	}
	slices.Sort(out)
	return out
}
