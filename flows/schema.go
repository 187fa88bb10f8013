package flows

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/switchyard/switchyard/connectors"
)

// SchemaDialect is the JSON Schema dialect JSONSchema declares.
const SchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// SchemaID is the flow schema's `$id`: a name, not a place to fetch it from
// (each server serves it at /api/schema/flow and `switchyard flows schema`
// prints it). It also makes the schema its own resource when another
// document embeds it (the OpenAPI description does), so its `#/$defs/…`
// references keep resolving inside it.
const SchemaID = "urn:switchyard:schema:flow"

// durationPattern matches the strings time.ParseDuration accepts without a
// sign (Duration rejects negative values).
const durationPattern = `^(0|([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`

// JSONSchema returns the JSON Schema (draft 2020-12) of the flow format, with
// the registered connector ids as the enum of `use` and each connector's
// `with` described by its spec. It is computed on every call so connectors
// registered later are included; the output is stable for a given set of
// connectors.
func JSONSchema() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	// The schema is built from maps, strings and bools only; encoding it
	// cannot fail.
	_ = enc.Encode(buildSchema(connectors.Specs()))
	return buf.Bytes()
}

// obj is a JSON Schema object under construction.
type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/$defs/" + name} }

// withDef names the $defs entry of a connector's `with`.
func withDef(id string) string { return "with:" + id }

func buildSchema(specs []connectors.Spec) obj {
	defs := obj{
		"duration": obj{
			"type":        "string",
			"pattern":     durationPattern,
			"description": `A Go duration such as "500ms", "30s", "5m" or "1h30m".`,
		},
		"expression": obj{
			"type":        "string",
			"minLength":   1,
			"maxLength":   MaxExprLen,
			"description": "An expr-lang expression. In scope: trigger, steps, run, flow and now().",
		},
		"template": obj{
			"type":        "string",
			"pattern":     `\{\{`,
			"description": "A string holding {{ expr }}; exactly one {{ expr }} keeps the value's type.",
		},
		"http_method": obj{"enum": HTTPMethods},
		"trigger":     triggerSchema(),
		"verify":      verifySchema(),
		"poll_request": obj{
			"type":                 "object",
			"additionalProperties": false,
			"required":             []string{"url"},
			"properties": obj{
				"method":     ref("http_method"),
				"url":        obj{"type": "string", "pattern": "^https?://", "description": "An absolute http or https URL."},
				"headers":    obj{"type": "object", "additionalProperties": obj{"type": "string"}},
				"connection": obj{"type": "string", "description": "The stored connection whose credentials the request uses."},
			},
		},
		"retry": obj{
			"type":                 "object",
			"description":          "Retries of retryable failures (429, 5xx, timeouts). Left out: a step whose connector calls a service is tried 3 times from 2s; others once. {\"attempts\": 1} turns retries off.",
			"additionalProperties": false,
			"required":             []string{"attempts"},
			"properties": obj{
				"attempts":    obj{"type": "integer", "minimum": 1, "maximum": MaxAttempts, "description": "Tries in all, counting the first."},
				"backoff":     ref("duration"),
				"max_backoff": ref("duration"),
			},
		},
		"notify": obj{
			"type":                 "object",
			"additionalProperties": false,
			"required":             []string{"url", "secret"},
			"description":          "An endpoint run outcomes are POSTed to as Standard Webhooks.",
			"properties": obj{
				"url":    obj{"type": "string", "pattern": "^https?://", "description": "An absolute http or https URL."},
				"secret": obj{"type": "string", "minLength": 1, "description": "The connection of type secret holding the whsec_ signing secret."},
				"events": obj{"type": "array", "items": obj{"enum": NotifyEvents}, "uniqueItems": true, "description": "Events sent (default run.succeeded and run.failed)."},
			},
		},
		"step":   stepSchema(specs),
		"case":   caseSchema(),
		"config": obj{"type": "object", "description": "The connector's settings; strings may hold {{ expr }} templates."},
	}
	for _, s := range specs {
		defs[withDef(s.ID)] = withSchema(s)
	}
	return obj{
		"$schema":              SchemaDialect,
		"$id":                  SchemaID,
		"title":                "Switchyard flow",
		"description":          "A trigger and the steps each run executes.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"id", "name", "trigger", "steps"},
		"properties": obj{
			"$schema":     obj{"type": "string", "description": "Where editors find this schema, e.g. a server's /api/schema/flow or a file written by `switchyard flows schema`; ignored by Switchyard."},
			"id":          obj{"type": "string", "pattern": flowIDPattern.String(), "description": "A lower-case slug, unique per instance."},
			"name":        obj{"type": "string", "minLength": 1, "maxLength": MaxNameLen},
			"description": obj{"type": "string"},
			"enabled":     obj{"type": "boolean"},
			"trigger":     ref("trigger"),
			"steps":       obj{"type": "array", "minItems": 1, "items": ref("step")},
			"concurrency": obj{"type": "integer", "minimum": 1, "maximum": MaxConcurrency, "description": "At most this many runs of the flow in progress at once; the others wait, durably, in order of arrival."},
			"on_failure": obj{"type": "object", "additionalProperties": false, "required": []string{"flow"},
				"description": "The flow started when a run of this one fails for good; its trigger body names the failed run, step and error.",
				"properties":  obj{"flow": obj{"type": "string", "pattern": flowIDPattern.String()}}},
			"notify": ref("notify"),
		},
		"$defs": defs,
	}
}

func triggerSchema() obj {
	props := obj{
		"type":          obj{"enum": TriggerTypes},
		"path":          obj{"type": "string", "pattern": hookPathPattern.String(), "maxLength": MaxHookPathLen, "description": "The webhook's path under /hooks/."},
		"methods":       obj{"type": "array", "items": ref("http_method"), "uniqueItems": true},
		"verify":        ref("verify"),
		"dedupe":        obj{"$ref": "#/$defs/expression", "description": "Gives each delivery's id; repeats within the window are answered with the first run."},
		"dedupe_window": ref("duration"),
		"respond":       obj{"enum": []string{RespondAsync, RespondSync}},
		"timeout":       obj{"$ref": "#/$defs/duration", "description": "How long a sync webhook waits for its run (at most 5m)."},
		"max_body":      obj{"type": "integer", "minimum": 1, "maximum": MaxMaxBody},
		"cron":          obj{"type": "string", "minLength": 1},
		"timezone":      obj{"type": "string", "description": `An IANA time zone such as "Europe/Berlin".`},
		"request":       ref("poll_request"),
		"items":         obj{"$ref": "#/$defs/expression", "description": "Gives the list of items from `response`."},
		"key":           obj{"$ref": "#/$defs/expression", "description": "Gives each `item`'s key."},
		"rate_limit": obj{"type": "object", "additionalProperties": false, "required": []string{"requests", "per"},
			"properties":  obj{"requests": obj{"type": "integer", "minimum": 1, "maximum": 1000000}, "per": ref("duration")},
			"description": "At most `requests` deliveries per `per`; beyond it callers get 429."},
		"misfire":        obj{"enum": []string{MisfireSkip, MisfireCatchUp}, "description": "Ticks missed while Switchyard was down: skip them (default) or catch up."},
		"catch_up_limit": obj{"type": "integer", "minimum": 1, "maximum": 1000},
		"cursor":         obj{"$ref": "#/$defs/expression", "description": "Gives the value saved after each poll, usable as {{ cursor }} in the request."},
		"backfill":       obj{"type": "integer", "minimum": 0, "maximum": 1000, "description": "How many of the newest items the first poll runs."},
		"flood_limit":    obj{"type": "integer", "minimum": 1, "description": "More new items in one poll pause the flow until confirmed."},
		"seen_limit":     obj{"type": "integer", "minimum": 1, "maximum": 1000000, "description": "How many item keys are remembered."},
	}
	required := map[string][]string{
		TriggerWebhook:  {"path"},
		TriggerManual:   {},
		TriggerSchedule: {"cron"},
		TriggerPoll:     {"cron", "request", "items", "key"},
	}
	var perType []any
	for _, typ := range TriggerTypes {
		forbidden := obj{}
		for _, name := range sortedKeys(props) {
			if name != "type" && !slices.Contains(triggerFields[typ], name) {
				forbidden[name] = false
			}
		}
		then := obj{"properties": forbidden}
		if r := required[typ]; len(r) > 0 {
			then["required"] = r
		}
		perType = append(perType, obj{
			"if":   obj{"properties": obj{"type": obj{"const": typ}}, "required": []string{"type"}},
			"then": then,
		})
	}
	return obj{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"type"},
		"properties":           props,
		"allOf":                perType,

		"dependentSchemas": obj{
			"timeout": obj{"required": []string{"respond"}, "properties": obj{"respond": obj{"const": RespondSync}}},
		},
	}
}

// verifySchema describes a webhook trigger's verify settings: the options
// each scheme takes, the ones it requires, and (as false schemas) the ones
// it does not take.
func verifySchema() obj {
	header := obj{"type": "string", "pattern": headerNamePattern.String()}
	ipList := obj{
		"type":        "array",
		"items":       obj{"type": "string", "minLength": 1},
		"uniqueItems": true,
		"description": `IP addresses or CIDR ranges, such as "203.0.113.7" or "192.0.2.0/24".`,
	}
	props := obj{
		"scheme":    obj{"enum": VerifySchemes, "description": "How requests are authenticated: a provider's signature scheme, hmac, token, basic, or none."},
		"secret":    obj{"type": "string", "minLength": 1, "description": `The name of a stored connection of type secret holding the signing secret (for basic: "user:password").`},
		"secrets":   obj{"type": "array", "items": obj{"type": "string", "minLength": 1}, "uniqueItems": true, "description": "Further secret connections, for rotation: a request signed with any of them passes."},
		"tolerance": obj{"$ref": "#/$defs/duration", "description": "How far a signed timestamp may lie in the past or the future (default 5m, at most 1h)."},
		"header":    merge(header, obj{"description": "The header carrying the signature (hmac) or the token (token)."}),
		"query":     obj{"type": "string", "minLength": 1, "description": "The query parameter carrying the token (token)."},
		"prefix":    obj{"type": "string", "description": `Text before the signature or token in the header, such as "sha256=" or "Bearer ".`},
		"algorithm": obj{"enum": []string{VerifySHA1, VerifySHA256, VerifySHA512}, "description": "The HMAC hash (default sha256)."},
		"encoding":  obj{"enum": []string{VerifyHex, VerifyBase64}, "description": "How the signature is written (default hex)."},
		"signed": obj{
			"type":        "string",
			"pattern":     `\{body\}`,
			"description": "The signed string over {body}, {timestamp}, {id}, {method} and {url} (default \"{body}\").",
		},
		"timestamp_header": merge(header, obj{"description": "The header holding the signed Unix time in seconds."}),
		"id_header":        merge(header, obj{"description": "The header holding the delivery id for {id}."}),
		"allow_ips":        ipList,
		"trusted_proxies":  merge(ipList, obj{"description": "Reverse proxies whose X-Forwarded-For is believed (IP addresses or CIDR ranges)."}),
	}
	var perScheme []any
	for _, scheme := range VerifySchemes {
		then := obj{}
		forbidden := obj{}
		for _, name := range verifyOptionNames {
			if !slices.Contains(verifyOptions[scheme], name) {
				forbidden[name] = false
			}
		}
		switch scheme {
		case VerifyNone:
			forbidden["secret"], forbidden["secrets"] = false, false
		case VerifyHMAC:
			then["required"] = []string{"secret", "header"}
			then["dependentRequired"] = obj{"tolerance": []string{"timestamp_header"}}
		case VerifyToken:
			then["required"] = []string{"secret"}
			then["oneOf"] = []any{
				obj{"required": []string{"header"}, "properties": obj{"query": false}},
				obj{"required": []string{"query"}, "properties": obj{"header": false, "prefix": false}},
			}
		default:
			then["required"] = []string{"secret"}
		}
		if len(forbidden) > 0 {
			then["properties"] = forbidden
		}
		perScheme = append(perScheme, obj{
			"if":   obj{"properties": obj{"scheme": obj{"const": scheme}}, "required": []string{"scheme"}},
			"then": then,
		})
	}
	return obj{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"scheme"},
		"properties":           props,
		"allOf":                perScheme,
	}
}

// merge returns a copy of a with b's keys added.
func merge(a, b obj) obj {
	out := make(obj, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func stepSchema(specs []connectors.Spec) obj {
	use := obj{"type": "string", "description": "The connector the step runs."}
	if len(specs) > 0 {
		ids := make([]string, len(specs))
		for i, s := range specs {
			ids[i] = s.ID
		}
		use["enum"] = ids
	}
	var perConnector []any
	for _, s := range specs {
		perConnector = append(perConnector, obj{
			"if":   obj{"properties": obj{"use": obj{"const": s.ID}}, "required": []string{"use"}},
			"then": obj{"properties": obj{"with": ref(withDef(s.ID))}},
		})
	}
	step := obj{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"id"},
		"properties": obj{
			"id":       obj{"type": "string", "pattern": stepIDPattern.String(), "description": "Unique in the flow; later steps read steps.<id>.output."},
			"name":     obj{"type": "string"},
			"if":       obj{"$ref": "#/$defs/expression", "description": "The step is skipped unless this holds."},
			"use":      use,
			"with":     ref("config"),
			"retry":    ref("retry"),
			"on_error": obj{"enum": []string{OnErrorFail, OnErrorContinue}},
			"switch":   obj{"type": "array", "minItems": 1, "items": ref("case"), "description": "Runs the steps of the first case whose when holds; later steps read steps.<id>.output.branch (the case's index, -1 when none held) and .output.result (the last output of its steps)."},
			"for_each": obj{"$ref": "#/$defs/expression", "description": "A list; the loop runs its steps once per element with item and index in scope. Its output is the list of the per-item outputs of the last inner step (or of collect)."},
			"steps":    obj{"type": "array", "minItems": 1, "items": ref("step"), "description": "A loop's inner steps (no loop inside a loop)."},
			"concurrency": obj{"type": "integer", "minimum": 1, "maximum": MaxLoopConcurrency, "default": 1,
				"description": "Items running at once (default 1: one after another, in order)."},
			"max_items": obj{"type": "integer", "minimum": 1, "maximum": MaxMaxItems, "default": DefaultMaxItems,
				"description": "A longer list fails the loop."},
			"collect": obj{"description": "A template rendered once per item after its steps (item, index and the inner steps' outputs in scope); its values make the loop's output."},
		},
		"oneOf": []any{
			obj{"required": []string{"use"}, "properties": obj{"switch": false, "for_each": false, "steps": false, "concurrency": false, "max_items": false, "collect": false}},
			obj{"required": []string{"switch"}, "properties": obj{"use": false, "with": false, "retry": false, "for_each": false, "steps": false, "concurrency": false, "max_items": false, "collect": false}},
			obj{"required": []string{"for_each", "steps"}, "properties": obj{"use": false, "with": false, "retry": false, "switch": false}},
		},
	}
	if len(perConnector) > 0 {
		step["allOf"] = perConnector
	}
	return step
}

func caseSchema() obj {
	return obj{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"steps"},
		"properties": obj{
			"when":    ref("expression"),
			"default": obj{"type": "boolean"},
			"steps":   obj{"type": "array", "minItems": 1, "items": ref("step")},
		},
		"oneOf": []any{
			obj{"required": []string{"when"}, "properties": obj{"default": obj{"const": false}}},
			obj{"required": []string{"default"}, "properties": obj{"default": obj{"const": true}, "when": false}},
		},
	}
}

// withSchema describes a connector's `with` from its spec.
func withSchema(s connectors.Spec) obj {
	props := obj{}
	var required []string
	var wildcard any = false
	for _, f := range s.Fields {
		if f.Name == WildcardField {
			wildcard = fieldSchema(f)
			continue
		}
		props[f.Name] = fieldSchema(f)
		if f.Required {
			required = append(required, f.Name)
		}
	}
	out := obj{
		"type":                 "object",
		"title":                s.Label,
		"properties":           props,
		"additionalProperties": wildcard,
	}
	if s.Help != "" {
		out["description"] = s.Help
	}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// fieldSchema describes one connector field. Every typed field also accepts
// a template, which is checked when it renders.
func fieldSchema(f connectors.Field) obj {
	orTemplate := func(s obj) obj { return obj{"anyOf": []any{s, ref("template")}} }
	var out obj
	switch f.Type {
	case connectors.TypeString, connectors.TypeText, connectors.TypeSecret:
		out = obj{"type": "string"}
	case connectors.TypeConnection:
		out = obj{"type": "string", "minLength": 1}
	case connectors.TypeFlow:
		// A flow id, never a template (calls.go).
		out = obj{"type": "string", "pattern": flowIDPattern.String()}
	case connectors.TypeNumber:
		out = orTemplate(obj{"type": "number"})
	case connectors.TypeBool:
		out = orTemplate(obj{"type": "boolean"})
	case connectors.TypeSelect:
		if len(f.Options) > 0 {
			out = orTemplate(obj{"enum": f.Options})
		} else {
			out = obj{"type": "string"}
		}
	case connectors.TypeDuration:
		out = orTemplate(ref("duration"))
	case connectors.TypeKeyValue:
		out = orTemplate(obj{"type": "object", "additionalProperties": obj{"type": "string"}})
	default:
		// json and types added later: any value.
		out = obj{}
	}
	if f.Label != "" {
		out["title"] = f.Label
	}
	if f.Help != "" {
		out["description"] = f.Help
	}
	if f.Default != nil {
		out["default"] = f.Default
	}
	if f.Type == connectors.TypeSecret {
		out["writeOnly"] = true
	}
	return out
}
