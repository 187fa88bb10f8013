package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// jsonValue reads a json field as its editor posted it (NAME.mode, see
// views.JSONField): rows of key, type and value; one item per line; or
// raw JSON. Text that is not valid JSON is a form error (shown at save
// and in Test), never a string sent in its place; a lone {{ expr }} is
// fine (it keeps the value's type), and so is plain text in a field
// shaped as a list (email recipients).
func (r *flowForm) jsonValue(name string, f connectors.Field) (any, bool) {
	switch r.str(name + ".mode") {
	case views.JSONRows:
		return r.jsonRows(name)
	case views.JSONList:
		return r.jsonList(name)
	}
	s := strings.TrimSpace(r.str(name))
	if s == "" {
		return nil, false
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v, true
	}
	if _, ok := flows.SingleExpr(s); ok {
		return s, true
	}
	if f.Shape == connectors.ShapeList && !looksJSON(s) {
		return s, true
	}
	r.errs.add(name, jsonProblem(s))
	return s, true
}

// jsonProblem explains why text is not valid JSON, where (validJSON, as
// webhook bodies are explained), and the usual fix.
func jsonProblem(s string) string {
	msg := "not valid JSON"
	if err := validJSON([]byte(s)); err != nil {
		msg += ": " + err.Error()
	}
	switch {
	case s == "":
		msg = "empty; write a list such as [1, 2] or an object such as {\"a\": 1}"
	case strings.Contains(s, "{{") && !strings.Contains(s, `"{{`):
		msg += `; put each {{ … }} in quotes, e.g. "email": "{{ trigger.body.email }}" (it keeps its type)`
	case s[0] != '{' && s[0] != '[' && s[0] != '"':
		msg += `; to send plain text, write it in quotes: "` + clip(s, 40) + `"`
	}
	return msg
}

// looksJSON reports whether text is meant as a JSON list or object: it
// starts with [ or with { (but not with a {{ template).
func looksJSON(s string) bool {
	return strings.HasPrefix(s, "[") || strings.HasPrefix(s, "{") && !strings.HasPrefix(s, "{{")
}

// jsonList reads one item per line: no line, unset; one line, that text;
// several, a list of them. Text starting with [ or { is read as JSON.
func (r *flowForm) jsonList(name string) (any, bool) {
	s := strings.TrimSpace(r.str(name))
	if s == "" {
		return nil, false
	}
	if looksJSON(s) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			r.errs.add(name, jsonProblem(s))
			return s, true
		}
		return v, true
	}
	var items []any
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			items = append(items, line)
		}
	}
	if len(items) == 1 {
		return items[0], true
	}
	return items, true
}

// jsonRows reads the rows editor into an object; rows without a name are
// dropped.
func (r *flowForm) jsonRows(name string) (any, bool) {
	keys, types, vals := r.v[name+".rk"], r.v[name+".rt"], r.v[name+".rv"]
	out := map[string]any{}
	for i, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		typ, val := views.RowAuto, ""
		if i < len(types) {
			typ = types[i]
		}
		if i < len(vals) {
			val = vals[i]
		}
		v, err := rowValue(typ, val)
		if err != nil {
			r.errs.add(name, fmt.Sprintf("%s: %s", k, err))
		}
		out[k] = v
	}
	return out, len(out) > 0
}

// rowValue is what one row's text becomes for its type. A field inserted
// alone in a Text or Number row is converted ({{ string(x) }},
// {{ float(x) }}), so "85" in the data is sent as 85 in a Number row.
func rowValue(typ, text string) (any, error) {
	trimmed := strings.TrimSpace(text)
	src, lone := flows.SingleExpr(trimmed)
	switch typ {
	case views.RowText:
		if lone {
			return "{{ string(" + src + ") }}", nil
		}
		return text, nil
	case views.RowNumber:
		if lone {
			return "{{ float(" + src + ") }}", nil
		}
		n, err := strconv.ParseFloat(trimmed, 64)
		if err != nil {
			return text, fmt.Errorf("%q is not a number", trimmed)
		}
		return n, nil
	case views.RowBool:
		switch strings.ToLower(trimmed) {
		case "true", "yes":
			return true, nil
		case "false", "no":
			return false, nil
		}
		if lone {
			return trimmed, nil
		}
		return text, fmt.Errorf("%q is not yes or no (true or false)", trimmed)
	case views.RowJSON:
		if lone {
			return trimmed, nil
		}
		var v any
		if json.Unmarshal([]byte(trimmed), &v) != nil {
			return text, errors.New(jsonProblem(trimmed))
		}
		return v, nil
	}
	return text, nil
}

// jsonModes are the json field modes the form was posted with.
func jsonModes(vals url.Values) map[string]string { return valuesBySuffix(vals, ".mode") }

// valuesBySuffix maps NAME to the last value posted as NAME+suffix.
func valuesBySuffix(vals url.Values, suffix string) map[string]string {
	out := map[string]string{}
	for k, v := range vals {
		if name, ok := strings.CutSuffix(k, suffix); ok && len(v) > 0 {
			out[name] = v[len(v)-1]
		}
	}
	return out
}

// dropJSONRow removes row i of a rows editor from the posted values.
func dropJSONRow(v url.Values, name string, i int) {
	for _, k := range []string{name + ".rk", name + ".rt", name + ".rv"} {
		if i >= 0 && i < len(v[k]) {
			v[k] = slices.Delete(slices.Clone(v[k]), i, i+1)
		}
	}
}
