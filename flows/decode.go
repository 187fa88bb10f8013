package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxDepth bounds how deeply a flow document may nest, so a hostile
// document cannot exhaust the stack.
const maxDepth = 256

// Decode parses flow JSON strictly: unknown fields, wrong types, duplicate
// keys and syntax errors are reported as a *ValidationError whose details
// carry field paths (syntax errors carry line:column in the message).
//
// It reads the document twice: once into a generic tree, which is checked
// against the shape of Flow so every problem is found with its path, and
// once into the Flow itself when the tree is sound.
func Decode(data []byte) (*Flow, error) {
	tree, err := readTree(data)
	if err != nil {
		return nil, err
	}
	verr := &ValidationError{}
	checkShape(tree, reflect.TypeFor[Flow](), "", verr)
	if err := verr.orNil(); err != nil {
		return nil, err
	}
	var f Flow
	if err := json.Unmarshal(data, &f); err != nil {
		// The shape check accepts only what Unmarshal accepts; reaching
		// this is a bug in checkShape, still reported rather than panicking.
		verr.add("", fmt.Sprintf("invalid flow: %v", err))
		return nil, verr
	}
	return &f, nil
}

// Encode writes a flow as indented, stable JSON (for export and git): two
// spaces, struct fields in declaration order, map keys sorted, no HTML
// escaping (so `&&` in expressions stays readable), and a final newline.
func Encode(f *Flow) ([]byte, error) {
	if f == nil {
		return nil, errors.New("flows: encode: nil flow")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("flows: encode %q: %w", f.ID, err)
	}
	return buf.Bytes(), nil
}

// object is a decoded JSON object that keeps its keys in document order, so
// errors come out in the order a reader meets them.
type object struct {
	keys []string
	vals map[string]any
}

// treeReader reads a JSON document token by token into object, []any,
// string, json.Number, bool and nil.
type treeReader struct {
	data []byte
	dec  *json.Decoder
	errs *ValidationError
}

// readTree parses data into a tree. Syntax errors stop the read and are
// returned with line:column; duplicate keys and out-of-range numbers are
// collected and returned together once the document is read.
func readTree(data []byte) (any, error) {
	r := &treeReader{data: data, dec: json.NewDecoder(bytes.NewReader(data)), errs: &ValidationError{}}
	r.dec.UseNumber()
	if len(bytes.TrimSpace(data)) == 0 {
		r.errs.add("", "empty document: a flow is a JSON object")
		return nil, r.errs
	}
	v, err := r.value("", 0)
	if err != nil {
		return nil, &ValidationError{Details: []FieldError{{Field: err.field, Message: err.msg}}}
	}
	end := r.dec.InputOffset()
	if _, err := r.dec.Token(); err != io.EOF {
		off := int(end)
		for off < len(data) && isSpace(data[off]) {
			off++
		}
		line, col := position(data, off)
		r.errs.add("", fmt.Sprintf("unexpected data after the flow object at line %d, column %d", line, col))
	}
	if err := r.errs.orNil(); err != nil {
		return nil, err
	}
	return v, nil
}

// readError is a syntax problem met while reading, at the path being read.
type readError struct {
	field, msg string
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// value reads one JSON value at path.
func (r *treeReader) value(path string, depth int) (any, *readError) {
	if depth > maxDepth {
		return nil, &readError{field: path, msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	tok, err := r.dec.Token()
	if err != nil {
		return nil, r.syntax(path, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &object{vals: map[string]any{}}
			for r.dec.More() {
				kt, err := r.dec.Token()
				if err != nil {
					return nil, r.syntax(path, err)
				}
				k, _ := kt.(string)
				kp := keyPath(path, k)
				v, rerr := r.value(kp, depth+1)
				if rerr != nil {
					return nil, rerr
				}
				if _, dup := obj.vals[k]; dup {
					r.errs.add(kp, "duplicate key")
					continue
				}
				obj.keys = append(obj.keys, k)
				obj.vals[k] = v
			}
			if _, err := r.dec.Token(); err != nil {
				return nil, r.syntax(path, err)
			}
			return obj, nil
		case '[':
			list := []any{}
			for r.dec.More() {
				v, rerr := r.value(fmt.Sprintf("%s[%d]", path, len(list)), depth+1)
				if rerr != nil {
					return nil, rerr
				}
				list = append(list, v)
			}
			if _, err := r.dec.Token(); err != nil {
				return nil, r.syntax(path, err)
			}
			return list, nil
		}
		return nil, &readError{field: path, msg: fmt.Sprintf("unexpected %q", rune(t))}
	case json.Number:
		// Unmarshal into float64 fails on numbers such as 1e400; say so
		// here, where the path is known.
		if _, err := strconv.ParseFloat(string(t), 64); err != nil {
			r.errs.add(path, fmt.Sprintf("number %s is out of range", t))
		}
		return t, nil
	default:
		return t, nil
	}
}

// syntax turns a decoder error into a readError with line:column. The
// token decoder reports where the broken value starts, not the offending
// byte, so the document is scanned again by json.Unmarshal, whose syntax
// check stops at the exact byte.
func (r *treeReader) syntax(path string, err error) *readError {
	var se *json.SyntaxError
	if uerr := json.Unmarshal(r.data, new(any)); errors.As(uerr, &se) {
		off := int(se.Offset)
		// Offset counts the offending byte as read; at the end of the input
		// there is no such byte.
		if off > 0 && off <= len(r.data) && !strings.HasPrefix(se.Error(), "unexpected end") {
			off--
		}
		msg := se.Error()
		if strings.HasPrefix(msg, "unexpected end") {
			msg = "unexpected end of input"
		}
		line, col := position(r.data, off)
		return &readError{field: path, msg: fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, msg)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		line, col := position(r.data, len(r.data))
		return &readError{field: path, msg: fmt.Sprintf("invalid JSON at line %d, column %d: unexpected end of input", line, col)}
	}
	return &readError{field: path, msg: "invalid JSON: " + err.Error()}
}

// position converts a byte offset into a 1-based line and column (columns
// count runes).
func position(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, utf8.RuneCount(data[start:off]) + 1
}

// durationType is Flow's Duration, checked as a string that parses.
var durationType = reflect.TypeFor[Duration]()

// checkShape compares a tree value with the Go type it will be decoded
// into, reporting unknown fields and wrong types with their paths. JSON
// null is accepted everywhere, as encoding/json leaves the field unset.
func checkShape(v any, t reflect.Type, path string, errs *ValidationError) {
	if v == nil {
		return
	}
	if t == durationType {
		s, ok := v.(string)
		if !ok {
			errs.add(path, "must be a duration string such as \"30s\", got "+jsonKind(v))
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			errs.add(path, fmt.Sprintf("invalid duration %q (use e.g. \"500ms\", \"30s\", \"5m\")", s))
		} else if d < 0 {
			errs.add(path, fmt.Sprintf("duration %q must not be negative", s))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkShape(v, t.Elem(), path, errs)
	case reflect.Struct:
		obj, ok := v.(*object)
		if !ok {
			errs.add(path, "must be an object, got "+jsonKind(v))
			return
		}
		fields := jsonFields(t)
		for _, k := range obj.keys {
			kp := keyPath(path, k)
			sf, ok := fields[k]
			if !ok {
				errs.add(kp, unknownFieldMessage(k, fields))
				continue
			}
			checkShape(obj.vals[k], sf.Type, kp, errs)
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			errs.add(path, "must be a list, got "+jsonKind(v))
			return
		}
		for i, it := range list {
			checkShape(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Map:
		obj, ok := v.(*object)
		if !ok {
			errs.add(path, "must be an object, got "+jsonKind(v))
			return
		}
		// map[string]any (`with`) holds any JSON; typed maps check values.
		if t.Elem().Kind() == reflect.Interface {
			return
		}
		for _, k := range obj.keys {
			checkShape(obj.vals[k], t.Elem(), keyPath(path, k), errs)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			errs.add(path, "must be a string, got "+jsonKind(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			errs.add(path, "must be true or false, got "+jsonKind(v))
		}
	case reflect.Int, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			errs.add(path, "must be a number, got "+jsonKind(v))
			return
		}
		if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
			errs.add(path, fmt.Sprintf("must be a whole number, got %s", n))
		}
	case reflect.Interface:
		// Free-form JSON.
	default:
		errs.add(path, fmt.Sprintf("cannot decode into %s", t))
	}
}

// jsonKind names a tree value's JSON type.
func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case *object:
		return "object"
	case []any:
		return "list"
	case string:
		return "string"
	case json.Number:
		return "number " + string(x)
	case bool:
		return "bool"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// jsonFields maps a struct's JSON names to its fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := make(map[string]reflect.StructField, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out[name] = sf
	}
	return out
}

// unknownFieldMessage says a key is unknown, suggesting a near miss.
func unknownFieldMessage(key string, fields map[string]reflect.StructField) string {
	best, bestDist := "", 3
	for _, name := range sortedKeys(fields) {
		if d := editDistance(strings.ToLower(key), name); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown field (did you mean %q?)", best)
	}
	return "unknown field"
}

// editDistance is the Levenshtein distance between short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 10
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
