package views

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/flows"
)

// A json field is edited one of three ways (its NAME.mode in the form):
// JSONRows, rows of key, type and value that make up an object, for
// fields shaped as objects (an HTTP body); JSONList, plain text with one
// item per line, for fields shaped as lists (email recipients, Slack
// blocks); JSONRaw, the JSON text itself, the advanced mode.
const (
	JSONRows = "rows"
	JSONList = "list"
	JSONRaw  = "raw"
)

// Row types of the JSONRows editor: what a row's text becomes.
const (
	RowAuto   = "auto"   // text; a field inserted alone keeps its type
	RowText   = "text"   // always text
	RowNumber = "number" // a number
	RowBool   = "bool"   // true or false
	RowJSON   = "json"   // a list or object written as JSON
)

// RowTypes are the choices of a row's type, in the order shown.
var RowTypes = []struct{ Value, Label string }{
	{RowAuto, "Automatic"},
	{RowText, "Text"},
	{RowNumber, "Number"},
	{RowBool, "Yes / no"},
	{RowJSON, "List or object (JSON)"},
}

// JSONRow is one row of the JSONRows editor.
type JSONRow struct{ Key, Type, Value string }

// wrapRE finds the conversions the Text and Number row types write
// around a field inserted alone: {{ string(x) }} and {{ float(x) }}.
var wrapRE = regexp.MustCompile(`^\{\{\s*(string|float)\((.*)\)\s*\}\}$`)

// jsonMode is how the builder shows a json field: the mode the user chose
// (p.JSONModes), else rows for an object-shaped field whose value is an
// object (or unset), a list editor for a list-shaped one holding text,
// else the raw JSON.
func (p *BuilderProps) jsonMode(name string, f connectors.Field, v any) string {
	mode := p.JSONModes[name]
	switch {
	case mode == JSONRaw:
		return JSONRaw
	case f.Shape == connectors.ShapeObject && rowsFit(v):
		return JSONRows
	case f.Shape == connectors.ShapeList && mode != JSONRaw && listFits(v):
		return JSONList
	}
	return JSONRaw
}

// rowsFit reports whether a value can be shown as rows: unset or an
// object.
func rowsFit(v any) bool {
	switch v.(type) {
	case nil, map[string]any:
		return true
	}
	return false
}

// listFits reports whether a value can be shown one item per line: unset,
// text, or a list of single-line texts.
func listFits(v any) bool {
	switch x := v.(type) {
	case nil, string:
		return true
	case []any:
		for _, it := range x {
			s, ok := it.(string)
			if !ok || strings.Contains(s, "\n") {
				return false
			}
		}
		return true
	}
	return false
}

// listText is a list-shaped value as lines.
func listText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		lines := make([]string, len(x))
		for i, it := range x {
			lines[i] = TextValue(it)
		}
		return strings.Join(lines, "\n")
	}
	return JSONValue(v)
}

// jsonRows lists an object's keys as rows (sorted), each with the type
// its value has, plus an empty row to type into.
func jsonRows(v any) []JSONRow {
	var rows []JSONRow
	if m, ok := v.(map[string]any); ok {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			rows = append(rows, rowOf(k, m[k]))
		}
	}
	return append(rows, JSONRow{Type: RowAuto})
}

func rowOf(k string, v any) JSONRow {
	switch x := v.(type) {
	case string:
		if m := wrapRE.FindStringSubmatch(x); m != nil {
			typ := RowText
			if m[1] == "float" {
				typ = RowNumber
			}
			return JSONRow{Key: k, Type: typ, Value: "{{ " + m[2] + " }}"}
		}
		return JSONRow{Key: k, Type: RowAuto, Value: x}
	case float64:
		return JSONRow{Key: k, Type: RowNumber, Value: strconv.FormatFloat(x, 'f', -1, 64)}
	case bool:
		return JSONRow{Key: k, Type: RowBool, Value: strconv.FormatBool(x)}
	}
	return JSONRow{Key: k, Type: RowJSON, Value: compact(v)}
}

// TemplateHint is the placeholder of every template field: what {{ }}
// does, where the user looks while typing.
const TemplateHint = "Text, or {{ a field }} from Insert data"

func kvPlaceholder(kind string) string {
	if kind == flows.KindTemplate {
		return TemplateHint
	}
	return "value"
}

// hasTemplateFields reports whether a connector has a field whose text is
// a template.
func hasTemplateFields(s connectors.Spec) bool {
	for _, f := range s.Fields {
		if fieldKind(f) == flows.KindTemplate || f.Type == connectors.TypeJSON {
			return true
		}
	}
	return false
}
