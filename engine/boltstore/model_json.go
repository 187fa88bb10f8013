package boltstore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
)

// Hand-rolled JSON encoders for the records written on the hot path. Each
// appends exactly the bytes json.Marshal produces for the same value, so
// stored records do not change and still decode with json.Unmarshal; they
// only skip reflection and the re-compaction encoding/json runs over every
// time.Time's MarshalJSON output. The rules followed are those of
// encoding/json's encoder (escapeHTML on, as json.Marshal sets it); the
// tests in model_json_test.go hold the encoders to json.Marshal byte for
// byte, so a field added to a struct without a matching change here fails
// them.
//
// Values of arbitrary shape (StepResult.Input and Output, Response.Body)
// go through appendAnyJSON, which writes the types steps produce (strings,
// numbers, bools, and maps and slices of them) itself and hands any other
// type to json.Marshal.

// appendEventJSON appends json.Marshal(e)'s bytes to dst.
//
// The only value of an Event that json.Marshal refuses is a ReceivedAt that
// RFC 3339 cannot represent (a year outside [0,9999] or a zone offset of 24
// hours or more). Such a time is written as time.Time.AppendFormat with
// time.RFC3339Nano prints it, where json.Marshal would have returned an
// error; it will not decode again. Callers that can hold such times must
// check them first (time.Time.MarshalJSON reports them).
func appendEventJSON(dst []byte, e *engine.Event) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, e.ID)
	dst = append(dst, `,"flow_id":`...)
	dst = appendJSONString(dst, e.FlowID)
	dst = append(dst, `,"source":`...)
	dst = appendJSONString(dst, e.Source)
	if e.Method != "" {
		dst = append(dst, `,"method":`...)
		dst = appendJSONString(dst, e.Method)
	}
	if e.Path != "" {
		dst = append(dst, `,"path":`...)
		dst = appendJSONString(dst, e.Path)
	}
	if len(e.Headers) > 0 {
		dst = append(dst, `,"headers":`...)
		dst = appendStringMapJSON(dst, e.Headers)
	}
	if len(e.Query) > 0 {
		dst = append(dst, `,"query":`...)
		dst = appendStringMapJSON(dst, e.Query)
	}
	if e.RemoteAddr != "" {
		dst = append(dst, `,"remote_addr":`...)
		dst = appendJSONString(dst, e.RemoteAddr)
	}
	if e.ContentType != "" {
		dst = append(dst, `,"content_type":`...)
		dst = appendJSONString(dst, e.ContentType)
	}
	if len(e.Body) > 0 {
		// encoding/json writes a []byte as standard, padded base64.
		dst = append(dst, `,"body":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, e.Body)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"received_at":`...)
	dst, _ = appendTimeJSON(dst, e.ReceivedAt) // see the doc comment
	if e.DedupeKey != "" {
		dst = append(dst, `,"dedupe_key":`...)
		dst = appendJSONString(dst, e.DedupeKey)
	}
	return append(dst, '}')
}

// appendRunJSON appends json.Marshal(r)'s bytes to dst.
//
// It fails where json.Marshal fails: a time RFC 3339 cannot represent, a
// NaN or infinite StepResult.DurationMS, or an Input, Output or Response
// that json.Marshal rejects. On error the returned slice holds a partial
// record past len(dst) and must be discarded; dst[:len(dst)] is intact.
func appendRunJSON(dst []byte, r *engine.Run) ([]byte, error) {
	var err error
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, r.ID)
	dst = append(dst, `,"flow_id":`...)
	dst = appendJSONString(dst, r.FlowID)
	dst = append(dst, `,"flow_version":`...)
	dst = strconv.AppendInt(dst, r.FlowVersion, 10)
	dst = append(dst, `,"event_id":`...)
	dst = appendJSONString(dst, r.EventID)
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, string(r.Status))
	dst = append(dst, `,"created_at":`...)
	if dst, err = appendTimeJSON(dst, r.CreatedAt); err != nil {
		return dst, runFieldError("created_at", err)
	}
	if dst, err = appendOptTimeJSON(dst, `,"started_at":`, r.StartedAt); err != nil {
		return dst, runFieldError("started_at", err)
	}
	if dst, err = appendOptTimeJSON(dst, `,"finished_at":`, r.FinishedAt); err != nil {
		return dst, runFieldError("finished_at", err)
	}
	if dst, err = appendOptTimeJSON(dst, `,"due_at":`, r.DueAt); err != nil {
		return dst, runFieldError("due_at", err)
	}
	if r.Error != "" {
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, r.Error)
	}
	if r.ErrorStep != "" {
		dst = append(dst, `,"error_step":`...)
		dst = appendJSONString(dst, r.ErrorStep)
	}
	if r.WaitingFor != "" {
		dst = append(dst, `,"waiting_for":`...)
		dst = appendJSONString(dst, r.WaitingFor)
	}
	// Steps has no omitempty: a nil slice is null, an empty one [].
	dst = append(dst, `,"steps":`...)
	if r.Steps == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range r.Steps {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendStepResultJSON(dst, &r.Steps[i]); err != nil {
				return dst, runFieldError("steps["+strconv.Itoa(i)+"]", err)
			}
		}
		dst = append(dst, ']')
	}
	if r.Response != nil {
		dst = append(dst, `,"response":`...)
		if dst, err = appendResponseJSON(dst, r.Response); err != nil {
			return dst, runFieldError("response", err)
		}
	}
	if r.RetryOf != "" {
		dst = append(dst, `,"retry_of":`...)
		dst = appendJSONString(dst, r.RetryOf)
	}
	if r.ReplayOf != "" {
		dst = append(dst, `,"replay_of":`...)
		dst = appendJSONString(dst, r.ReplayOf)
	}
	if r.Crash != nil {
		dst = append(dst, `,"crash":{"step":`...)
		dst = appendJSONString(dst, r.Crash.Step)
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendInt(dst, int64(r.Crash.Count), 10)
		dst = append(dst, '}')
	}
	if r.IdempotencyRun != "" {
		dst = append(dst, `,"idempotency_run":`...)
		dst = appendJSONString(dst, r.IdempotencyRun)
	}
	if c := r.CalledBy; c != nil {
		dst = appendCallLinkJSON(dst, c)
	}
	if r.FailureOf != "" {
		dst = append(dst, `,"failure_of":`...)
		dst = appendJSONString(dst, r.FailureOf)
	}
	if r.FailureRun != "" {
		dst = append(dst, `,"failure_run":`...)
		dst = appendJSONString(dst, r.FailureRun)
	}
	return append(dst, '}'), nil
}

// appendSummaryJSON appends json.Marshal(s)'s bytes to dst.
//
// As with appendEventJSON, a time RFC 3339 cannot represent, which
// json.Marshal would refuse, is written as AppendFormat prints it.
func appendSummaryJSON(dst []byte, s *engine.RunSummary) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, s.ID)
	dst = append(dst, `,"flow_id":`...)
	dst = appendJSONString(dst, s.FlowID)
	dst = append(dst, `,"flow_version":`...)
	dst = strconv.AppendInt(dst, s.FlowVersion, 10)
	dst = append(dst, `,"event_id":`...)
	dst = appendJSONString(dst, s.EventID)
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, string(s.Status))
	dst = append(dst, `,"created_at":`...)
	dst, _ = appendTimeJSON(dst, s.CreatedAt) // see the doc comment
	dst, _ = appendOptTimeJSON(dst, `,"finished_at":`, s.FinishedAt)
	if s.Error != "" {
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, s.Error)
	}
	dst = append(dst, `,"steps":`...)
	dst = strconv.AppendInt(dst, int64(s.Steps), 10)
	if s.RetryOf != "" {
		dst = append(dst, `,"retry_of":`...)
		dst = appendJSONString(dst, s.RetryOf)
	}
	if s.ReplayOf != "" {
		dst = append(dst, `,"replay_of":`...)
		dst = appendJSONString(dst, s.ReplayOf)
	}
	dst, _ = appendOptTimeJSON(dst, `,"due_at":`, s.DueAt)
	if c := s.CalledBy; c != nil {
		dst = appendCallLinkJSON(dst, c)
	}
	if s.FailureOf != "" {
		dst = append(dst, `,"failure_of":`...)
		dst = appendJSONString(dst, s.FailureOf)
	}
	return append(dst, '}')
}

// appendCallLinkJSON appends `,"called_by":` and json.Marshal(c)'s bytes.
func appendCallLinkJSON(dst []byte, c *engine.CallLink) []byte {
	dst = append(dst, `,"called_by":{"run_id":`...)
	dst = appendJSONString(dst, c.RunID)
	dst = append(dst, `,"flow_id":`...)
	dst = appendJSONString(dst, c.FlowID)
	dst = append(dst, `,"step_id":`...)
	dst = appendJSONString(dst, c.StepID)
	dst = append(dst, `,"depth":`...)
	dst = strconv.AppendInt(dst, int64(c.Depth), 10)
	return append(dst, '}')
}

// runFieldError wraps an encoding error with the JSON path of its field.
func runFieldError(field string, err error) error {
	return fmt.Errorf("engine: encode run: %s: %w", field, err)
}

// appendStepResultJSON appends json.Marshal(s)'s bytes to dst. An error
// names the field it came from.
func appendStepResultJSON(dst []byte, s *engine.StepResult) ([]byte, error) {
	var err error
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, s.ID)
	if s.Use != "" {
		dst = append(dst, `,"use":`...)
		dst = appendJSONString(dst, s.Use)
	}
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, string(s.Status))
	if len(s.Input) > 0 {
		dst = append(dst, `,"input":`...)
		if dst, err = appendAnyJSON(dst, s.Input); err != nil {
			return dst, fmt.Errorf("input: %w", err)
		}
	}
	// omitempty on an interface omits only a nil interface: one holding a
	// nil pointer or an empty value is still written.
	if s.Output != nil {
		dst = append(dst, `,"output":`...)
		if dst, err = appendAnyJSON(dst, s.Output); err != nil {
			return dst, fmt.Errorf("output: %w", err)
		}
	}
	if s.Error != "" {
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, s.Error)
	}
	dst = append(dst, `,"attempts":`...)
	dst = strconv.AppendInt(dst, int64(s.Attempts), 10)
	if len(s.Conditions) > 0 {
		dst = append(dst, `,"conditions":[`...)
		for i := range s.Conditions {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendConditionJSON(dst, &s.Conditions[i])
		}
		dst = append(dst, ']')
	}
	if s.Branch != nil {
		dst = append(dst, `,"branch":`...)
		dst = strconv.AppendInt(dst, int64(*s.Branch), 10)
	}
	if s.Loop != "" {
		dst = append(dst, `,"loop":`...)
		dst = appendJSONString(dst, s.Loop)
	}
	if s.Iteration != nil {
		dst = append(dst, `,"iteration":`...)
		dst = strconv.AppendInt(dst, int64(*s.Iteration), 10)
	}
	if s.ItemCount != nil {
		dst = append(dst, `,"item_count":`...)
		dst = strconv.AppendInt(dst, int64(*s.ItemCount), 10)
	}
	dst = append(dst, `,"started_at":`...)
	if dst, err = appendTimeJSON(dst, s.StartedAt); err != nil {
		return dst, fmt.Errorf("started_at: %w", err)
	}
	if dst, err = appendOptTimeJSON(dst, `,"finished_at":`, s.FinishedAt); err != nil {
		return dst, fmt.Errorf("finished_at: %w", err)
	}
	dst = append(dst, `,"duration_ms":`...)
	if dst, err = appendFloatJSON(dst, s.DurationMS); err != nil {
		return dst, fmt.Errorf("duration_ms: %w", err)
	}
	if dst, err = appendOptTimeJSON(dst, `,"next_attempt_at":`, s.NextAttemptAt); err != nil {
		return dst, fmt.Errorf("next_attempt_at: %w", err)
	}
	if dst, err = appendOptTimeJSON(dst, `,"resume_at":`, s.ResumeAt); err != nil {
		return dst, fmt.Errorf("resume_at: %w", err)
	}
	if s.StatusCode != 0 {
		dst = append(dst, `,"status_code":`...)
		dst = strconv.AppendInt(dst, int64(s.StatusCode), 10)
	}
	if s.Calls != "" {
		dst = append(dst, `,"calls":`...)
		dst = appendJSONString(dst, s.Calls)
	}
	return append(dst, '}'), nil
}

// appendConditionJSON appends json.Marshal(c)'s bytes to dst.
func appendConditionJSON(dst []byte, c *engine.Condition) []byte {
	dst = append(dst, `{"field":`...)
	dst = appendJSONString(dst, c.Field)
	dst = append(dst, `,"expr":`...)
	dst = appendJSONString(dst, c.Expr)
	dst = append(dst, `,"result":`...)
	dst = strconv.AppendBool(dst, c.Result)
	if c.Error != "" {
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, c.Error)
	}
	if len(c.Why) > 0 {
		dst = append(dst, `,"why":[`...)
		for i, w := range c.Why {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, w)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendResponseJSON appends json.Marshal(r)'s bytes to dst. An error
// names the field it came from. (The all-fields test case catches a field
// added to connectors.Response and not written here.)
func appendResponseJSON(dst []byte, r *connectors.Response) ([]byte, error) {
	dst = append(dst, `{"status":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	if len(r.Headers) > 0 {
		dst = append(dst, `,"headers":`...)
		dst = appendStringMapJSON(dst, r.Headers)
	}
	// As for StepResult.Output, omitempty omits only a nil interface.
	if r.Body != nil {
		dst = append(dst, `,"body":`...)
		var err error
		if dst, err = appendAnyJSON(dst, r.Body); err != nil {
			return dst, fmt.Errorf("body: %w", err)
		}
	}
	return append(dst, '}'), nil
}

// maxAnyDepth is how many maps and slices deep appendAnyJSON encodes a
// value itself before handing what is inside to json.Marshal. Only a
// pathological or a cyclic value (a map that holds itself) gets that deep:
// json.Marshal then reports the cycle with its own error where a plain
// recursion would overflow the stack. It is the depth at which encoding/json
// starts to look for cycles.
const maxAnyDepth = 1000

// appendAnyJSON appends json.Marshal(v)'s bytes to dst, for the values of
// arbitrary shape steps produce, and fails where json.Marshal fails, with
// an error of the same text. On error dst is returned with its length
// unchanged.
//
// nil, string, bool, float64, float32, the int and uint types, json.Number,
// map[string]any, []any, map[string]string and []string, nested in one
// another up to maxAnyDepth deep, are encoded here. Any other type, named
// types included (a named type may have its own MarshalJSON or MarshalText;
// a type switch on string does not match them), is encoded by json.Marshal,
// whose output for a value does not depend on what encloses it.
func appendAnyJSON(dst []byte, v any) ([]byte, error) {
	n := len(dst)
	dst, err := appendAnyJSONAt(dst, v, 0)
	if err != nil {
		return dst[:n], err
	}
	return dst, nil
}

// appendAnyJSONAt is appendAnyJSON for a value inside depth maps and
// slices; on error dst holds a partial encoding.
func appendAnyJSONAt(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case float64:
		return appendFloatBitsJSON(dst, x, 64)
	case float32:
		return appendFloatBitsJSON(dst, float64(x), 32)
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case json.Number:
		return appendNumberJSON(dst, x)
	case map[string]any:
		return appendAnyMapJSON(dst, x, depth)
	case []any:
		return appendAnySliceJSON(dst, x, depth)
	case map[string]string:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendStringMapJSON(dst, x), nil
	case []string:
		return appendStringSliceJSON(dst, x), nil
	}
	return appendMarshalJSON(dst, v)
}

// anyField is a map[string]any entry, for sorting by key.
type anyField struct {
	key string
	val any
}

func compareAnyFields(a, b anyField) int { return strings.Compare(a.key, b.key) }

// appendAnyMapJSON appends m as encoding/json writes a map[string]any: null
// if nil, else its entries in byte order of the keys, keys escaped as
// strings. m is inside depth maps and slices.
func appendAnyMapJSON(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	if depth >= maxAnyDepth {
		return appendMarshalJSON(dst, m)
	}
	// Step inputs and outputs are small: sort the entries in a stack
	// buffer, keeping the values to save a second lookup per key.
	var buf [16]anyField
	fields := buf[:0]
	for k, v := range m {
		fields = append(fields, anyField{k, v})
	}
	slices.SortFunc(fields, compareAnyFields)
	dst = append(dst, '{')
	var err error
	for i := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, fields[i].key)
		dst = append(dst, ':')
		if dst, err = appendAnyJSONAt(dst, fields[i].val, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendAnySliceJSON appends s as encoding/json writes a []any: null if
// nil, else its elements in order. s is inside depth maps and slices.
func appendAnySliceJSON(dst []byte, s []any, depth int) ([]byte, error) {
	if s == nil {
		return append(dst, "null"...), nil
	}
	if depth >= maxAnyDepth {
		return appendMarshalJSON(dst, s)
	}
	dst = append(dst, '[')
	var err error
	for i, v := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendAnyJSONAt(dst, v, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// appendStringSliceJSON appends s as encoding/json writes a []string: null
// if nil, else its elements escaped as strings.
func appendStringSliceJSON(dst []byte, s []string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, v := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, v)
	}
	return append(dst, ']')
}

// appendNumberJSON appends n as encoding/json writes a json.Number: as is,
// unquoted, and the empty Number as 0. A Number that is not a JSON number
// is json.Marshal's error.
func appendNumberJSON(dst []byte, n json.Number) ([]byte, error) {
	s := string(n)
	if s == "" {
		s = "0"
	}
	if !isJSONNumber(s) {
		return dst, fmt.Errorf("json: invalid number literal %q", s)
	}
	return append(dst, s...), nil
}

// isJSONNumber reports whether s is a number in JSON's grammar (RFC 8259
// section 6): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = skipDigits(s, i+1)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := skipDigits(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := skipDigits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

// skipDigits returns the index of the first byte at or after i in s that
// is not an ASCII digit.
func skipDigits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// appendMarshalJSON appends json.Marshal(v)'s bytes to dst: the fallback
// for types appendAnyJSON does not encode itself. On error dst is returned
// unchanged.
func appendMarshalJSON(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// appendOptTimeJSON appends key and the time if t is set: omitempty on a
// *time.Time omits only nil.
func appendOptTimeJSON(dst []byte, key string, t *time.Time) ([]byte, error) {
	if t == nil {
		return dst, nil
	}
	dst = append(dst, key...)
	return appendTimeJSON(dst, *t)
}

// appendTimeJSON appends t as time.Time.MarshalJSON writes it: RFC 3339
// with nanoseconds, quoted. MarshalJSON refuses a time whose year is not
// four digits or whose zone offset is 24 hours or more; then the error is
// MarshalJSON's own, and dst still holds the time as AppendFormat prints it.
func appendTimeJSON(dst []byte, t time.Time) ([]byte, error) {
	dst = append(dst, '"')
	n0 := len(dst)
	// AppendFormat has a fast path for RFC3339Nano that writes the same
	// bytes as MarshalJSON; only its range checks remain to be repeated.
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	if !rfc3339Strict(dst[n0:]) {
		if _, err := t.MarshalJSON(); err != nil {
			return append(dst, '"'), err
		}
		// Not reached while rfc3339Strict mirrors the time package; if it
		// ever is stricter, MarshalJSON's verdict wins and its bytes match.
	}
	return append(dst, '"'), nil
}

// rfc3339Strict reports whether an RFC 3339 time as AppendFormat prints it
// passes the checks time.Time.MarshalJSON applies: a year exactly four
// digits wide and, unless the zone is Z, an offset hour in [0,23].
func rfc3339Strict(b []byte) bool {
	if len(b) < len("2006-01-02T15:04:05Z") || b[4] != '-' {
		return false
	}
	n := len(b)
	if b[n-1] == 'Z' {
		return true
	}
	// An offset of 100 hours or more is printed with three digits, which
	// moves a digit to where the sign should be.
	if c := b[n-6]; '0' <= c && c <= '9' {
		return false
	}
	return 10*(b[n-5]-'0')+(b[n-4]-'0') < 24
}

// appendFloatJSON appends f as encoding/json writes a float64: like
// JavaScript's Number#toString, plain decimal for magnitudes in [1e-6,
// 1e21) and exponent form outside it, with the shortest digits that round
// trip. NaN and infinities have no JSON form and are an error.
func appendFloatJSON(dst []byte, f float64) ([]byte, error) {
	return appendFloatBitsJSON(dst, f, 64)
}

// appendFloatBitsJSON is appendFloatJSON for a float64 (bits 64) or for a
// float32 widened to float64 (bits 32), which encoding/json writes with
// the shortest digits that round trip as a float32.
func appendFloatBitsJSON(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// json.Marshal's error, with the value in its original type.
		rv := reflect.ValueOf(f)
		if bits == 32 {
			rv = reflect.ValueOf(float32(f))
		}
		return dst, &json.UnsupportedValueError{Value: rv, Str: strconv.FormatFloat(f, 'g', -1, bits)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		// A float32's cutoffs are float32(1e-6) and float32(1e21), which
		// differ from 1e-6 and 1e21: compare in float32 as encoding/json does.
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// strconv pads negative exponents to two digits (1e-07); JSON
		// writers conventionally do not (1e-7).
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// appendStringMapJSON appends a map[string]string as encoding/json writes
// it: keys in byte order, keys and values escaped as strings.
func appendStringMapJSON(dst []byte, m map[string]string) []byte {
	// Headers and queries are small: sort the keys in a stack buffer.
	var buf [16]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, m[k])
	}
	return append(dst, '}')
}

// jsonSafeASCII marks the ASCII bytes encoding/json (with HTML escaping on)
// copies into a string unchanged: printable ASCII except '"', '\\', '<',
// '>' and '&'.
var jsonSafeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf-1; c++ { // 0x7F (DEL) is safe too
		t[c] = true
	}
	t[utf8.RuneSelf-1] = true
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// appendJSONString appends s as a quoted JSON string escaped as
// json.Marshal escapes it.
func appendJSONString(dst []byte, s string) []byte {
	// Fast path: ids, statuses and most text need no escaping and are
	// copied whole.
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || !jsonSafeASCII[c] {
			return appendJSONStringSlow(dst, s, i)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONStringSlow is appendJSONString for a string whose first byte
// that may need escaping is at i; s[:i] is copied as is. It escapes '"',
// '\\' and control characters (\b \f \n \r \t in short form, the others as
// \u00XX), '<' '>' '&' as \u003c \u003e \u0026, U+2028 and U+2029, and
// writes each byte of invalid UTF-8 as \ufffd.
func appendJSONStringSlow(dst []byte, s string, i int) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, to be copied unchanged
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafeASCII[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other controls, and <, >, & for HTML safety
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but line terminators to JavaScript (JSONP).
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
