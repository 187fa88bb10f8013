package boltstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
)

// jsonPrefix is what the equivalence checks put in dst before appending,
// to show the encoders append rather than overwrite.
const jsonPrefix = `prefix{"x":1},`

// checkJSONEqual compares an encoder's output for v, appended to an empty
// and to a non-empty dst, with json.Marshal(v). encode returns an error
// only for the Run encoder; the others always report nil.
func checkJSONEqual(t testing.TB, name string, v any, encode func(dst []byte) ([]byte, error)) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, gotErr := encode(nil)
	if wantErr != nil {
		t.Fatalf("%s: json.Marshal failed on a value expected to encode: %v", name, wantErr)
	}
	if gotErr != nil {
		t.Fatalf("%s: encoder failed: %v\nwant %s", name, gotErr, want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: output differs from json.Marshal\n got %q\nwant %q", name, got, want)
	}
	prefixed, err := encode([]byte(jsonPrefix))
	if err != nil {
		t.Fatalf("%s: encoder failed with a prefix: %v", name, err)
	}
	if !bytes.HasPrefix(prefixed, []byte(jsonPrefix)) || !bytes.Equal(prefixed[len(jsonPrefix):], want) {
		t.Fatalf("%s: output with a prefix differs\n got %q\nwant %q", name, prefixed, jsonPrefix+string(want))
	}
}

func encodeEventFn(e *engine.Event) func([]byte) ([]byte, error) {
	return func(dst []byte) ([]byte, error) { return appendEventJSON(dst, e), nil }
}

func encodeRunFn(r *engine.Run) func([]byte) ([]byte, error) {
	return func(dst []byte) ([]byte, error) { return appendRunJSON(dst, r) }
}

func encodeSummaryFn(s *engine.RunSummary) func([]byte) ([]byte, error) {
	return func(dst []byte) ([]byte, error) { return appendSummaryJSON(dst, s), nil }
}

// requireAllFieldsSet fails unless every field of the struct v points to
// is non-zero, recursing into the first element of struct slices. The
// "all fields set" cases use it, so a field added to a model struct without
// a test value (and so, likely, without an encoder change) fails here.
func requireAllFieldsSet(t *testing.T, v any) {
	t.Helper()
	var walk func(path string, rv reflect.Value)
	walk = func(path string, rv reflect.Value) {
		for i := range rv.NumField() {
			f, fv := rv.Type().Field(i), rv.Field(i)
			p := path + "." + f.Name
			if fv.IsZero() {
				t.Errorf("%s is unset in the all-fields case: add it to the test and to the encoder", p)
				continue
			}
			if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct && fv.Len() > 0 {
				walk(p+"[0]", fv.Index(0))
			}
		}
	}
	rv := reflect.ValueOf(v).Elem()
	walk(rv.Type().Name(), rv)
}

func ptr[T any](v T) *T { return &v }

// Strings that exercise every escaping rule.
var trickyStrings = []string{
	"",
	"plain-ascii_123",
	`<script>alert("x")</script> & \ back\slash`,
	"ctl:\x00\x01\x07\b\t\n\v\f\r\x1b\x1f\x7f end",
	"line\u2028sep\u2029para",
	"bad utf8: \xff\xfe \xc3 \xe2\x80 \xed\xa0\x80 \xf4\x90\x80\x80 end\xc3",
	"non-ascii: é ü ß 日本 😀 \U0010ffff",
	"\ufffd literal replacement char",
	"trailing\\",
	`"`,
	"\u2028",
	"\xff",
}

func TestAppendJSONStringMatchesMarshal(t *testing.T) {
	for _, s := range trickyStrings {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q) = %q, want %q", s, got, want)
		}
	}
	// Every single byte and every rune around the special ranges.
	for b := range 256 {
		s := string([]byte{'a', byte(b), 'z'})
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("byte %#x: got %q, want %q", b, got, want)
		}
	}
	for r := rune(0x7f); r < 0x3000; r++ {
		s := string(r)
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("rune %U: got %q, want %q", r, got, want)
		}
	}
}

func TestAppendFloatJSONMatchesMarshal(t *testing.T) {
	floats := []float64{
		0, math.Copysign(0, -1), 1, -1, 1.5, 0.1, 1e-7, -1e-7, 1e-6, 9.999999e-7,
		1e20, 1e21, -1e21, 9.99999999999999e20, 123456.789, 1e-300, 5e-324,
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
		1e100, 1.234e-10, 12.5, 0.000001234, 1 << 53, 3.141592653589793,
	}
	for _, f := range floats {
		want, _ := json.Marshal(f)
		got, err := appendFloatJSON(nil, f)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("appendFloatJSON(%v) = %q, %v; want %q", f, got, err, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := appendFloatJSON(nil, f); err == nil {
			t.Errorf("appendFloatJSON(%v): want an error", f)
		}
	}
}

// Fixed times for the tables: whole seconds and nanoseconds, UTC, a
// positive and a negative fixed offset, an offset with seconds, year 0 and
// 9999, and a time with a monotonic reading.
var (
	tUTC      = time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)
	tNano     = time.Date(2024, 12, 31, 23, 59, 59, 123456789, time.UTC)
	tMilli    = time.Date(2024, 1, 1, 0, 0, 0, 120000000, time.UTC)
	tZonePlus = time.Date(2023, 6, 1, 12, 0, 0, 500, time.FixedZone("CEST", 2*3600))
	tZoneNeg  = time.Date(2023, 6, 1, 12, 0, 0, 0, time.FixedZone("X", -(9*3600+30*60)))
	tZoneSec  = time.Date(2023, 6, 1, 12, 0, 0, 0, time.FixedZone("LMT", 3600+23*60+17))
	tZone2359 = time.Date(2023, 6, 1, 12, 0, 0, 0, time.FixedZone("edge", -(23*3600+59*60)))
	tYear0    = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	tYear9999 = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	tNow      = time.Now()
	tZero     time.Time
)

var allTimes = []time.Time{tUTC, tNano, tMilli, tZonePlus, tZoneNeg, tZoneSec, tZone2359, tYear0, tYear9999, tNow, tZero}

func fullEvent() *engine.Event {
	return &engine.Event{
		ID: "ev-1", FlowID: "flow<1>", Source: "webhook", Method: "POST", Path: "/hooks/a?b=c&d=<e>",
		Headers:    map[string]string{"Content-Type": "application/json", "X-B": "b\u2028", "A": "\xff", "x-lower": "é"},
		Query:      map[string]string{"q": "a&b", "": "empty key", "z": ""},
		RemoteAddr: "10.0.0.1:1234", ContentType: "application/json",
		Body: []byte(`{"a":1}` + "\x00\xff"), ReceivedAt: tZonePlus, DedupeKey: "dk\"1\"",
	}
}

func fullRun() *engine.Run {
	return &engine.Run{
		ID: "run-1", FlowID: "flow-1", FlowVersion: 42, EventID: "ev-1", Status: engine.RunFailed,
		CreatedAt: tNano, StartedAt: ptr(tUTC), FinishedAt: ptr(tZoneNeg), DueAt: ptr(tMilli),
		Error: "step <b> failed: \"boom\"\n", ErrorStep: "b", WaitingFor: "waiting for <crm> rate limit",
		Steps: []engine.StepResult{fullStep(), {ID: "minimal", Status: engine.StepSkipped}},
		Response: &connectors.Response{Status: 201, Headers: map[string]string{"X-A": "<1>"},
			Body: map[string]any{"ok": true, "n": 1.5}},
		RetryOf: "run-0", ReplayOf: "run-00",
		Crash: &engine.CrashCount{Step: "b<", Count: 2}, IdempotencyRun: "run-<0>",
		CalledBy:  &engine.CallLink{RunID: "run-<c>", FlowID: "caller", StepID: "call\"1", Depth: 3},
		FailureOf: "run-<f>", FailureRun: "run-<e>",
	}
}

func fullStep() engine.StepResult {
	return engine.StepResult{
		ID: "a", Use: "http.request", Status: engine.StepRetrying,
		Input:  map[string]any{"url": "https://x/?a=1&b=<2>", "n": 3, "nested": map[string]any{"z": []any{1, "two", nil, 3.5}, "a": nil}},
		Output: []any{map[string]any{"k": "v"}, 1e21, 1e-7, false}, Error: "timeout",
		Attempts: 3,
		Conditions: []engine.Condition{
			{Field: "if", Expr: `input.x > 1 && y < 2`, Result: true, Error: "e", Why: []string{"x"}},
			{Field: "when", Expr: "z", Result: false, Why: []string{"score is missing", "a \"b\" <c>"}},
		},
		Branch: ptr(-1), Loop: "each", Iteration: ptr(7), ItemCount: ptr(12), StartedAt: tZoneSec, FinishedAt: ptr(tNow), DurationMS: 123456.789,
		NextAttemptAt: ptr(tZone2359), ResumeAt: ptr(tYear9999), StatusCode: 503, Calls: "run-<callee>",
	}
}

func fullSummary() *engine.RunSummary {
	s := fullRun().Summary()
	return &s
}

func TestAppendJSONCasesSetEveryField(t *testing.T) {
	requireAllFieldsSet(t, fullEvent())
	requireAllFieldsSet(t, fullRun())
	requireAllFieldsSet(t, fullSummary())
	st := fullStep()
	requireAllFieldsSet(t, &st)
	requireAllFieldsSet(t, &st.Conditions[0])
	requireAllFieldsSet(t, fullRun().Response)
	requireAllFieldsSet(t, fullRun().Crash)
	requireAllFieldsSet(t, fullRun().CalledBy)
}

func TestAppendEventJSONMatchesMarshal(t *testing.T) {
	cases := map[string]*engine.Event{
		"zero":       {},
		"required":   {ID: "e", FlowID: "f", Source: "manual", ReceivedAt: tUTC},
		"all":        fullEvent(),
		"empty maps": {ID: "e", Headers: map[string]string{}, Query: map[string]string{}, Body: []byte{}},
		"one byte":   {Body: []byte{0xfb}},
		"big maps": {Headers: func() map[string]string {
			m := map[string]string{}
			for i := range 40 { // more keys than the stack sort buffer
				m[strings.Repeat("k", i%7)+string(rune('a'+i%26))+string(rune('0'+i/26))] = trickyStrings[i%len(trickyStrings)]
			}
			return m
		}()},
	}
	for i, s := range trickyStrings {
		cases["tricky "+string(rune('a'+i))] = &engine.Event{ID: s, FlowID: s, Source: s, Method: s, Path: s,
			Headers: map[string]string{s: s, s + "x": s}, Query: map[string]string{s: s},
			RemoteAddr: s, ContentType: s, Body: []byte(s), DedupeKey: s}
	}
	for i, tm := range allTimes {
		cases["time "+string(rune('a'+i))] = &engine.Event{ReceivedAt: tm}
	}
	for name, e := range cases {
		checkJSONEqual(t, "event "+name, e, encodeEventFn(e))
	}
}

func TestAppendRunJSONMatchesMarshal(t *testing.T) {
	cases := map[string]*engine.Run{
		"zero":        {},
		"nil steps":   {ID: "r", Status: engine.RunQueued, CreatedAt: tUTC},
		"empty steps": {ID: "r", Status: engine.RunQueued, CreatedAt: tUTC, Steps: []engine.StepResult{}},
		"all":         fullRun(),
		"empty step":  {Steps: []engine.StepResult{{}}},
		"branch 0":    {Steps: []engine.StepResult{{ID: "s", Branch: ptr(0)}}},
		"branch -1":   {Steps: []engine.StepResult{{ID: "s", Branch: ptr(-1)}}},
		"empty input and conditions": {Steps: []engine.StepResult{{ID: "s",
			Input: map[string]any{}, Conditions: []engine.Condition{}}}},
		"output non-nil but empty": {Steps: []engine.StepResult{
			{Output: ""}, {Output: 0}, {Output: false}, {Output: (*int)(nil)},
			{Output: map[string]any{}}, {Output: []any{}}, {Output: json.RawMessage(`{ "a" : [1, 2] }`)},
		}},
		"response minimal":  {Response: &connectors.Response{}},
		"response string":   {Response: &connectors.Response{Status: 200, Body: "<html>&amp;</html>"}},
		"negative versions": {FlowVersion: -5, Steps: []engine.StepResult{{Attempts: -1, StatusCode: -2}}},
		"max ints": {FlowVersion: math.MaxInt64, Steps: []engine.StepResult{
			{Attempts: math.MaxInt, StatusCode: math.MinInt, Branch: ptr(math.MaxInt)}}},
	}
	for i, f := range []float64{0, math.Copysign(0, -1), 1.5, 1e-7, 1e21, 123456.789, 0.1, 1e-6, 5e-324, math.MaxFloat64} {
		cases["float "+string(rune('a'+i))] = &engine.Run{Steps: []engine.StepResult{{ID: "s", DurationMS: f}}}
	}
	for i, s := range trickyStrings {
		cases["tricky "+string(rune('a'+i))] = &engine.Run{ID: s, FlowID: s, EventID: s, Status: engine.RunStatus(s),
			Error: s, ErrorStep: s, WaitingFor: s, RetryOf: s, ReplayOf: s, Crash: &engine.CrashCount{Step: s, Count: -i}, IdempotencyRun: s,
			Steps: []engine.StepResult{{ID: s, Use: s, Status: engine.StepStatus(s), Error: s,
				Input:      map[string]any{s: s},
				Output:     s,
				Conditions: []engine.Condition{{Field: s, Expr: s, Error: s}}}}}
	}
	for i, tm := range allTimes {
		cases["time "+string(rune('a'+i))] = &engine.Run{CreatedAt: tm, StartedAt: &tm, FinishedAt: &tm, DueAt: &tm,
			Steps: []engine.StepResult{{StartedAt: tm, FinishedAt: &tm, NextAttemptAt: &tm, ResumeAt: &tm}}}
	}
	for name, r := range cases {
		checkJSONEqual(t, "run "+name, r, encodeRunFn(r))
	}
}

func TestAppendSummaryJSONMatchesMarshal(t *testing.T) {
	cases := map[string]*engine.RunSummary{
		"zero":     {},
		"required": {ID: "r", FlowID: "f", FlowVersion: 1, EventID: "e", Status: engine.RunQueued, CreatedAt: tUTC},
		"all":      fullSummary(),
		"negative": {FlowVersion: math.MinInt64, Steps: -1},
	}
	for i, s := range trickyStrings {
		cases["tricky "+string(rune('a'+i))] = &engine.RunSummary{ID: s, FlowID: s, EventID: s, Status: engine.RunStatus(s),
			Error: s, RetryOf: s, ReplayOf: s}
	}
	for i, tm := range allTimes {
		cases["time "+string(rune('a'+i))] = &engine.RunSummary{CreatedAt: tm, FinishedAt: &tm, DueAt: &tm}
	}
	for name, s := range cases {
		checkJSONEqual(t, "summary "+name, s, encodeSummaryFn(s))
	}
}

// Times json.Marshal refuses: a year that is not four digits, a zone
// offset of 24 hours or more.
var badTimes = []time.Time{
	time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
	time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("24h", 24*3600)),
	time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("-24h", -24*3600)),
	time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("100h", 100*3600)),
	time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("-100h", -100*3600-60)),
}

func TestAppendJSONInvalidValues(t *testing.T) {
	for _, bt := range badTimes {
		if _, err := bt.MarshalJSON(); err == nil {
			t.Fatalf("%v: expected MarshalJSON to refuse it", bt)
		}
		runs := []*engine.Run{
			{CreatedAt: bt},
			{StartedAt: &bt}, {FinishedAt: &bt}, {DueAt: &bt},
			{Steps: []engine.StepResult{{StartedAt: bt}}},
			{Steps: []engine.StepResult{{}, {FinishedAt: &bt}}},
			{Steps: []engine.StepResult{{NextAttemptAt: &bt}}},
			{Steps: []engine.StepResult{{ResumeAt: &bt}}},
		}
		for i, r := range runs {
			if _, err := json.Marshal(r); err == nil {
				t.Fatalf("run %d with %v: json.Marshal accepted it", i, bt)
			}
			if _, err := appendRunJSON(nil, r); err == nil {
				t.Errorf("run %d with %v: appendRunJSON accepted it", i, bt)
			}
		}
		// Event and summary have no error to report: they write the time
		// as AppendFormat prints it (see appendEventJSON).
		want := `"` + bt.Format(time.RFC3339Nano) + `"`
		if got := appendEventJSON(nil, &engine.Event{ReceivedAt: bt}); !bytes.Contains(got, []byte(`"received_at":`+want)) {
			t.Errorf("event with %v: got %s", bt, got)
		}
		if got := appendSummaryJSON(nil, &engine.RunSummary{DueAt: &bt}); !bytes.Contains(got, []byte(`"due_at":`+want)) {
			t.Errorf("summary with %v: got %s", bt, got)
		}
	}
	unsupported := []*engine.Run{
		{Steps: []engine.StepResult{{DurationMS: math.NaN()}}},
		{Steps: []engine.StepResult{{DurationMS: math.Inf(1)}}},
		{Steps: []engine.StepResult{{DurationMS: math.Inf(-1)}}},
		{Steps: []engine.StepResult{{Input: map[string]any{"c": make(chan int)}}}},
		{Steps: []engine.StepResult{{Output: func() {}}}},
		{Steps: []engine.StepResult{{Output: math.NaN()}}},
		{Response: &connectors.Response{Body: complex(1, 2)}},
	}
	for i, r := range unsupported {
		if _, err := json.Marshal(r); err == nil {
			t.Fatalf("unsupported %d: json.Marshal accepted it", i)
		}
		if b, err := appendRunJSON([]byte("keep"), r); err == nil {
			t.Errorf("unsupported %d: appendRunJSON accepted it", i)
		} else if !bytes.HasPrefix(b, []byte("keep")) {
			t.Errorf("unsupported %d: dst prefix lost: %q", i, b)
		}
	}
	_, err := appendRunJSON(nil, &engine.Run{Steps: []engine.StepResult{{}, {DurationMS: math.NaN()}}})
	if err == nil || !strings.Contains(err.Error(), "steps[1]: duration_ms") {
		t.Errorf("error should name the field: %v", err)
	}
}

// jsonGen builds random model values for the property tests. With bad
// set, value now and then returns a value json.Marshal refuses.
type jsonGen struct {
	r   *rand.Rand
	bad bool
}

var genRunes = []rune{'a', 'Z', '0', ' ', '"', '\\', '<', '>', '&', '/', '\n', '\t', '\b', '\f', '\r', 0, 0x1f, 0x7f,
	'é', 'ß', '日', '😀', '\u2028', '\u2029', '\ufffd', utf8.MaxRune}

func (g jsonGen) string() string {
	switch g.r.IntN(6) {
	case 0:
		return ""
	case 1, 2: // plain: the fast path
		const alpha = "abcdefghijklmnopqrstuvwxyz-_./:0123456789ABC"
		b := make([]byte, g.r.IntN(24))
		for i := range b {
			b[i] = alpha[g.r.IntN(len(alpha))]
		}
		return string(b)
	case 3: // arbitrary bytes, mostly invalid UTF-8
		b := make([]byte, g.r.IntN(16))
		for i := range b {
			b[i] = byte(g.r.UintN(256))
		}
		return string(b)
	default: // a mix of special runes, with a stray byte now and then
		var sb strings.Builder
		for range g.r.IntN(16) {
			if g.r.IntN(10) == 0 {
				sb.WriteByte(byte(0x80 + g.r.IntN(0x80)))
			} else {
				sb.WriteRune(genRunes[g.r.IntN(len(genRunes))])
			}
		}
		return sb.String()
	}
}

func (g jsonGen) maybe() bool { return g.r.IntN(2) == 0 }

func (g jsonGen) time() time.Time {
	// Any instant in years 0..9999, seen from UTC, a fixed offset under a
	// day (with seconds sometimes) or the local zone.
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + 2*86400
	hi := time.Date(9999, 12, 29, 0, 0, 0, 0, time.UTC).Unix()
	t := time.Unix(lo+g.r.Int64N(hi-lo), 0)
	switch g.r.IntN(3) {
	case 0: // whole seconds
	case 1:
		t = t.Add(time.Duration(g.r.IntN(1e9)))
	default: // a few significant digits, to vary trailing-zero trimming
		t = t.Add(time.Duration(g.r.IntN(1000)) * time.Millisecond)
	}
	switch g.r.IntN(4) {
	case 0:
		return t.UTC()
	case 1:
		return t.In(time.FixedZone("", (g.r.IntN(47)-23)*3600+g.r.IntN(4)*15*60))
	case 2:
		return t.In(time.FixedZone("", g.r.IntN(2*86400-1)-86400+1))
	default:
		return t.Local()
	}
}

func (g jsonGen) optTime() *time.Time {
	if g.maybe() {
		return nil
	}
	t := g.time()
	return &t
}

func (g jsonGen) stringMap() map[string]string {
	switch g.r.IntN(3) {
	case 0:
		return nil
	case 1:
		return map[string]string{}
	}
	m := map[string]string{}
	for range 1 + g.r.IntN(20) {
		m[g.string()] = g.string()
	}
	return m
}

func (g jsonGen) float() float64 {
	switch g.r.IntN(6) {
	case 0:
		return 0
	case 1:
		return float64(g.r.IntN(100000)) / 1000
	case 2: // near the 'f'/'e' switch points
		return []float64{1e-6, 1e21}[g.r.IntN(2)] * (1 + (g.r.Float64()-0.5)*1e-3)
	case 3:
		return math.Pow(10, g.r.Float64()*60-30) * float64(1-2*g.r.IntN(2))
	default:
		for {
			f := math.Float64frombits(g.r.Uint64())
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f
			}
		}
	}
}

func (g jsonGen) float32() float32 {
	switch g.r.IntN(5) {
	case 0:
		return 0
	case 1:
		return float32(g.r.IntN(100000)) / 1000
	case 2: // near the 'f'/'e' switch points, which are float32(1e-6) and float32(1e21)
		f := []float32{1e-6, 1e21}[g.r.IntN(2)]
		for range g.r.IntN(4) {
			f = math.Nextafter32(f, float32(g.r.IntN(2))*math.MaxFloat32)
		}
		return f * float32(1-2*g.r.IntN(2))
	case 3:
		return float32(math.Pow(10, g.r.Float64()*60-30) * float64(1-2*g.r.IntN(2)))
	default:
		for {
			f := math.Float32frombits(g.r.Uint32())
			if !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) {
				return f
			}
		}
	}
}

// integer returns a random value of one of the integer types.
func (g jsonGen) integer() any {
	u := g.r.Uint64() >> g.r.IntN(64) // small values as often as large
	switch g.r.IntN(10) {
	case 0:
		return int(u)
	case 1:
		return int8(u)
	case 2:
		return int16(u)
	case 3:
		return int32(u)
	case 4:
		return int64(u)
	case 5:
		return uint(u)
	case 6:
		return uint8(u)
	case 7:
		return uint16(u)
	case 8:
		return uint32(u)
	default:
		return u
	}
}

// number returns a random valid json.Number, the empty one included.
func (g jsonGen) number() json.Number {
	if g.r.IntN(10) == 0 {
		return ""
	}
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + g.r.IntN(10))
		}
		return string(b)
	}
	var sb strings.Builder
	if g.maybe() {
		sb.WriteByte('-')
	}
	if g.r.IntN(4) == 0 {
		sb.WriteByte('0')
	} else {
		sb.WriteByte(byte('1' + g.r.IntN(9)))
		sb.WriteString(digits(g.r.IntN(25)))
	}
	if g.maybe() {
		sb.WriteString("." + digits(1+g.r.IntN(10)))
	}
	if g.maybe() {
		sb.WriteString([]string{"e", "E"}[g.r.IntN(2)] + []string{"", "+", "-"}[g.r.IntN(3)] + digits(1+g.r.IntN(3)))
	}
	return json.Number(sb.String())
}

// Keys whose order or escaping is easy to get wrong: prefixes, case,
// non-ASCII, HTML characters, invalid UTF-8 that escapes to the same
// \ufffd, a NUL.
var sortKeys = []string{"", "a", "A", "b", "aa", "a\x00", "é", "e", "<", ">", "&", "\xff", "\xfe", "Z", "~", "\u2028", "\x7f"}

func (g jsonGen) key() string {
	if g.r.IntN(3) == 0 {
		return sortKeys[g.r.IntN(len(sortKeys))]
	}
	return g.string()
}

// size is the length of a random map or slice: mostly small, sometimes
// more than appendAnyJSON's stack sort buffer holds.
func (g jsonGen) size() int {
	if g.r.IntN(12) == 0 {
		return 17 + g.r.IntN(24)
	}
	return g.r.IntN(5)
}

// Raw messages with whitespace to compact and HTML characters to escape.
var rawMessages = []json.RawMessage{nil, json.RawMessage(`null`), json.RawMessage(` { "a" : [ 1 , 2.5e3 , "<&>" ] , "b" : { } } `),
	json.RawMessage("\n\t\"x\u2028y\"\r\n"), json.RawMessage(`-0.0e+0`), json.RawMessage(`[]`)}

// fallback returns a value appendAnyJSON must hand to json.Marshal: a
// named type over a fast-path kind (with and without its own marshaling
// methods), or a type it does not list.
func (g jsonGen) fallback() any {
	switch g.r.IntN(14) {
	case 0:
		return jsonShout(g.string())
	case 1:
		return jsonUpper(g.string())
	case 2:
		return jsonName(g.string())
	case 3:
		return jsonCelsius(g.float())
	case 4:
		return jsonAttrs{g.key(): g.string(), g.key(): g.float()}
	case 5:
		return rawMessages[g.r.IntN(len(rawMessages))]
	case 6:
		if g.r.IntN(4) == 0 {
			return []byte(nil)
		}
		return []byte(g.string())
	case 7:
		return g.time()
	case 8:
		if g.maybe() {
			return (*int)(nil)
		}
		return ptr(g.r.IntN(100))
	case 9:
		return struct {
			A string  `json:"a"`
			B float64 `json:"b,omitempty"`
		}{g.string(), g.float()}
	case 10:
		return map[string]int{g.key(): g.r.Int(), g.key(): -1}
	case 11:
		return []int{g.r.Int(), 0}
	case 12:
		return map[int]string{g.r.IntN(20): g.string(), -g.r.IntN(20): g.string()}
	default:
		return uintptr(g.r.Uint64())
	}
}

// badValue returns a value json.Marshal refuses.
func (g jsonGen) badValue() any {
	switch g.r.IntN(8) {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(1 - 2*g.r.IntN(2))
	case 2:
		return float32(math.Inf(1 - 2*g.r.IntN(2)))
	case 3:
		return json.Number(g.string() + "x")
	case 4:
		return json.RawMessage(`{"a":` + g.string())
	case 5:
		return jsonFailing{}
	case 6:
		return make(chan int)
	default:
		return map[string]any{g.key(): g.badValue()}
	}
}

// value returns an arbitrary dynamic value, of the types steps produce
// and some that must fall back to json.Marshal, nested at most depth maps
// and slices deep.
func (g jsonGen) value(depth int) any {
	if g.bad && g.r.IntN(40) == 0 {
		return g.badValue()
	}
	n := 10
	if depth > 0 {
		n = 16
	}
	switch g.r.IntN(n) {
	case 0:
		return nil
	case 1, 2:
		return g.string()
	case 3:
		return g.float()
	case 4:
		return g.float32()
	case 5:
		return g.r.IntN(2) == 0
	case 6:
		return g.integer()
	case 7:
		return g.number()
	case 8:
		return g.fallback()
	case 9: // typed nils: null, unlike the empty values
		return []any{map[string]any(nil), []any(nil), map[string]string(nil), []string(nil)}[g.r.IntN(4)]
	case 10, 11:
		m := map[string]any{}
		for range g.size() {
			m[g.key()] = g.value(depth - 1)
		}
		return m
	case 12, 13:
		s := make([]any, g.size())
		for i := range s {
			s[i] = g.value(depth - 1)
		}
		return s
	case 14:
		m := map[string]string{}
		for range g.size() {
			m[g.key()] = g.string()
		}
		return m
	default:
		s := make([]string, g.size())
		for i := range s {
			s[i] = g.string()
		}
		return s
	}
}

func (g jsonGen) event() *engine.Event {
	e := &engine.Event{ID: g.string(), FlowID: g.string(), Source: g.string(), ReceivedAt: g.time()}
	if g.maybe() {
		e.Method = g.string()
	}
	if g.maybe() {
		e.Path = g.string()
	}
	e.Headers, e.Query = g.stringMap(), g.stringMap()
	if g.maybe() {
		e.RemoteAddr = g.string()
	}
	if g.maybe() {
		e.ContentType = g.string()
	}
	if g.maybe() {
		e.Body = []byte(g.string())
	}
	if g.maybe() {
		e.DedupeKey = g.string()
	}
	return e
}

func (g jsonGen) step() engine.StepResult {
	s := engine.StepResult{ID: g.string(), Status: engine.StepStatus(g.string()), Attempts: g.r.IntN(10), StartedAt: g.time(),
		FinishedAt: g.optTime(), DurationMS: g.float(), NextAttemptAt: g.optTime(), ResumeAt: g.optTime()}
	if g.maybe() {
		s.Use = g.string()
	}
	// Input is one map deep itself: at most 4 in all, as for Output.
	if g.maybe() {
		s.Input = map[string]any{}
		for range g.size() {
			s.Input[g.key()] = g.value(g.r.IntN(4))
		}
	}
	if g.maybe() {
		s.Output = g.value(g.r.IntN(5))
	}
	if g.maybe() {
		s.Error = g.string()
	}
	if g.maybe() {
		s.Conditions = make([]engine.Condition, g.r.IntN(3))
		for i := range s.Conditions {
			s.Conditions[i] = engine.Condition{Field: g.string(), Expr: g.string(), Result: g.maybe()}
			if g.maybe() {
				s.Conditions[i].Error = g.string()
			}
		}
	}
	if g.maybe() {
		s.Branch = ptr(g.r.IntN(5) - 1)
	}
	if g.maybe() {
		s.Loop, s.Iteration = g.string(), ptr(g.r.IntN(1000))
	}
	if g.maybe() {
		s.ItemCount = ptr(g.r.IntN(1000))
	}
	if g.maybe() {
		s.StatusCode = 100 + g.r.IntN(500)
	}
	if g.maybe() {
		s.Calls = g.string()
	}
	return s
}

func (g jsonGen) run() *engine.Run {
	r := &engine.Run{ID: g.string(), FlowID: g.string(), FlowVersion: g.r.Int64N(1000), EventID: g.string(),
		Status: engine.RunStatus(g.string()), CreatedAt: g.time(), StartedAt: g.optTime(), FinishedAt: g.optTime(),
		DueAt: g.optTime()}
	if g.maybe() {
		r.Error = g.string()
	}
	if g.maybe() {
		r.ErrorStep = g.string()
		r.WaitingFor = g.string()
	}
	switch g.r.IntN(4) {
	case 0: // nil Steps
	case 1:
		r.Steps = []engine.StepResult{}
	default:
		r.Steps = make([]engine.StepResult, 1+g.r.IntN(4))
		for i := range r.Steps {
			r.Steps[i] = g.step()
		}
	}
	if g.maybe() {
		r.Response = &connectors.Response{Status: g.r.IntN(600), Headers: g.stringMap(), Body: g.value(g.r.IntN(5))}
	}
	if g.maybe() {
		r.RetryOf = g.string()
	}
	if g.maybe() {
		r.ReplayOf = g.string()
	}
	if g.maybe() {
		r.Crash = &engine.CrashCount{Step: g.string(), Count: g.r.IntN(5)}
	}
	if g.maybe() {
		r.IdempotencyRun = g.string()
	}
	if g.maybe() {
		r.CalledBy = &engine.CallLink{RunID: g.string(), FlowID: g.string(), StepID: g.string(), Depth: g.r.IntN(9)}
	}
	if g.maybe() {
		r.FailureOf = g.string()
	}
	if g.maybe() {
		r.FailureRun = g.string()
	}
	return r
}

func TestAppendJSONRandomMatchesMarshal(t *testing.T) {
	g := jsonGen{r: rand.New(rand.NewPCG(20240601, 7))}
	for i := range 3000 {
		e := g.event()
		checkJSONEqual(t, "random event", e, encodeEventFn(e))
		r := g.run()
		checkJSONEqual(t, "random run", r, encodeRunFn(r))
		s := r.Summary()
		if i%2 == 0 {
			s = engine.RunSummary{ID: g.string(), Status: engine.RunStatus(g.string()), CreatedAt: g.time(), Error: g.string(), DueAt: g.optTime()}
		}
		checkJSONEqual(t, "random summary", &s, encodeSummaryFn(&s))
	}
}

// Named types over fast-path kinds: appendAnyJSON must leave them to
// json.Marshal, which honors their methods.
type (
	// jsonShout has its own MarshalJSON, whose output json.Marshal
	// compacts and HTML-escapes.
	jsonShout string
	// jsonUpper has MarshalText, which json.Marshal writes as a string.
	jsonUpper   string
	jsonName    string
	jsonCelsius float64
	jsonAttrs   map[string]any
	// jsonFailing's MarshalJSON fails.
	jsonFailing struct{}
)

func (s jsonShout) MarshalJSON() ([]byte, error) {
	q, err := json.Marshal(strings.ToUpper(string(s)))
	return []byte(" { \"shout\" :\t" + string(q) + " , \"html\" : \"<&>\" } "), err
}

func (s jsonUpper) MarshalText() ([]byte, error) { return []byte(strings.ToUpper(string(s))), nil }

func (jsonFailing) MarshalJSON() ([]byte, error) { return nil, errors.New("boom") }

// checkAnyJSON holds appendAnyJSON(v) to json.Marshal(v): the same bytes,
// or an error with the same message and dst left as it was.
func checkAnyJSON(t testing.TB, name string, v any) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, gotErr := appendAnyJSON([]byte(jsonPrefix), v)
	switch {
	case wantErr != nil && gotErr == nil:
		t.Fatalf("%s: json.Marshal failed (%v) but appendAnyJSON wrote %q", name, wantErr, got)
	case wantErr == nil && gotErr != nil:
		t.Fatalf("%s: appendAnyJSON failed (%v) but json.Marshal wrote %q", name, gotErr, want)
	case wantErr != nil:
		if gotErr.Error() != wantErr.Error() {
			t.Errorf("%s: error differs\n got %v\nwant %v", name, gotErr, wantErr)
		}
		if string(got) != jsonPrefix {
			t.Errorf("%s: dst changed on error: %q", name, got)
		}
	case !bytes.Equal(got, []byte(jsonPrefix+string(want))):
		t.Fatalf("%s: output differs from json.Marshal\n got %q\nwant %q", name, got, jsonPrefix+string(want))
	}
}

// checkAnyInRunJSON holds appendRunJSON to json.Marshal for a run that
// carries v as a step's input and output and as the response body.
func checkAnyInRunJSON(t testing.TB, name string, v any) {
	t.Helper()
	r := &engine.Run{ID: "r", Steps: []engine.StepResult{{ID: "s", Input: map[string]any{"v": v}, Output: v}},
		Response: &connectors.Response{Status: 200, Body: v}}
	want, wantErr := json.Marshal(r)
	got, gotErr := appendRunJSON(nil, r)
	switch {
	case (wantErr == nil) != (gotErr == nil):
		t.Fatalf("%s in a run: json.Marshal error %v, appendRunJSON error %v", name, wantErr, gotErr)
	case wantErr == nil && !bytes.Equal(got, want):
		t.Fatalf("%s in a run: output differs\n got %q\nwant %q", name, got, want)
	}
}

// nestJSON wraps v n times, alternating a one-entry map and a
// one-element slice.
func nestJSON(v any, n int) any {
	for i := range n {
		if i%2 == 0 {
			v = map[string]any{"k": v}
		} else {
			v = []any{v}
		}
	}
	return v
}

func TestAppendAnyJSONMatchesMarshal(t *testing.T) {
	selfMap := map[string]any{"a": 1}
	selfMap["self"] = selfMap
	selfSlice := []any{1, nil}
	selfSlice[1] = selfSlice
	viaSlice := map[string]any{"x": "y"}
	viaSlice["s"] = []any{"z", viaSlice}
	manyKeys := map[string]any{}
	for i := range 40 { // more keys than the stack sort buffer
		manyKeys[strconv.Itoa(i*7919%1000)] = i
	}
	for _, k := range sortKeys {
		manyKeys[k] = k
	}
	type anyCase struct {
		name string
		v    any
	}
	cases := []anyCase{
		{"nil", nil},
		{"true", true},
		{"false", false},
		{"ints", []any{0, -1, 42, math.MaxInt, math.MinInt, int8(math.MinInt8), int8(math.MaxInt8),
			int16(math.MinInt16), int32(math.MinInt32), int64(math.MinInt64), int64(math.MaxInt64)}},
		{"uints", []any{uint(math.MaxUint), uint8(255), uint16(math.MaxUint16), uint32(math.MaxUint32),
			uint64(math.MaxUint64), uint64(0)}},
		{"float64s", []any{0.0, math.Copysign(0, -1), 0.1, 1e-7, -1e-7, 1e-6, 9.999999e-7, 1e20, 1e21, -1e21,
			9.99999999999999e20, 123456789.0, 123456.789, 5e-324, math.MaxFloat64, 1e100, 1 << 53}},
		{"float32s", []any{float32(0), float32(math.Copysign(0, -1)), float32(0.1), float32(1e-7), float32(1e-6),
			math.Nextafter32(1e-6, 0), math.Nextafter32(1e-6, 1), float32(1e21), math.Nextafter32(1e21, 0),
			math.Nextafter32(1e21, math.MaxFloat32), float32(123456789), float32(16777217), float32(3.14159),
			float32(math.MaxFloat32), float32(-math.MaxFloat32), float32(math.SmallestNonzeroFloat32), float32(1e-40)}},
		{"numbers", []any{json.Number(""), json.Number("0"), json.Number("-0"), json.Number("12.5e3"),
			json.Number("1E+5"), json.Number("-1.0e-10"), json.Number("123456789012345678901234567890"),
			json.Number("0.000"), json.Number("1e007")}},
		{"empty map", map[string]any{}},
		{"nil map", map[string]any(nil)},
		{"empty slice", []any{}},
		{"nil slice", []any(nil)},
		{"empty string map", map[string]string{}},
		{"nil string map", map[string]string(nil)},
		{"empty strings", []string{}},
		{"nil strings", []string(nil)},
		{"typed nils inside", map[string]any{"m": map[string]any(nil), "s": []any(nil),
			"sm": map[string]string(nil), "ss": []string(nil), "p": (*int)(nil), "n": nil}},
		{"key order and escaping", map[string]any{"b": 1, "a": 2, "A": 3, "é": 4, "<": 5, "": 6, "aa": 7,
			"a\x00": 8, "\xff": 9, "\xfe": 10, "\u2028": 11, "\"": 12, "\\": 13, "\n": 14}},
		{"many keys", manyKeys},
		{"string map", map[string]string{"b": "<>", "a": "\xff", "A": "\u2029", "é": "", "": "x"}},
		{"strings", []string{"", "a", "<script>", "\xff\xfe", "line\u2028"}},
		{"nested", map[string]any{
			"order": map[string]any{"id": "o-1", "lines": []any{
				map[string]any{"sku": "a", "qty": 2, "price": 9.99, "tags": []string{"x", "<y>"}},
				map[string]any{"sku": "b", "qty": int64(1), "price": float32(0.1), "meta": map[string]string{"k": "v"}},
			}},
			"total": json.Number("29.97"), "paid": true, "note": nil, "empty": []any{map[string]any{}, []any{}},
		}},
		{"named string with MarshalJSON", map[string]any{"s": jsonShout("hi <there>"), "t": "plain"}},
		{"named string with MarshalText", []any{jsonUpper("abc\xff")}},
		{"named string", map[string]any{"n": jsonName("x<y")}},
		{"named float", []any{jsonCelsius(1e21), jsonCelsius(0.5)}},
		{"named map", map[string]any{"m": jsonAttrs{"b": 1, "a": jsonShout("z")}}},
		{"raw message", map[string]any{"r": json.RawMessage(" { \"a\" : [1, 2], \"b\":\"<\" } ")}},
		{"raw messages", []any{json.RawMessage(nil), json.RawMessage("  true "), json.RawMessage(`"\u2028"`)}},
		{"bytes", []any{[]byte("hi\xff"), []byte{}, []byte(nil)}},
		{"time", map[string]any{"t": tZonePlus, "p": &tNano}},
		{"pointers", []any{ptr(5), ptr("s"), ptr(map[string]any{"a": 1})}},
		{"struct", struct {
			A string `json:"a"`
			B any    `json:"b,omitempty"`
		}{A: "<", B: map[string]any{"z": 1, "y": 2}}},
		{"other maps and slices", []any{map[string]int{"b": 1, "a": 2}, map[int]string{10: "x", 9: "y", -1: "z"},
			[]int{1, 2}, []map[string]any{{"a": 1}}, [2]any{1, "x"}, []float32{0.1}, uintptr(7)}},
		{"deep maps and slices", nestJSON("leaf", 1500)},
		{"deep maps", func() any {
			var v any = 1.5
			for range 2500 {
				v = map[string]any{"k": v, "e": ""}
			}
			return v
		}()},
		{"deep slices", func() any {
			var v any = "x"
			for range 2500 {
				v = []any{v}
			}
			return v
		}()},

		// Values json.Marshal refuses: appendAnyJSON must refuse them too.
		{"NaN in a map", map[string]any{"a": 1, "b": math.NaN()}},
		{"+Inf", []any{math.Inf(1)}},
		{"-Inf", math.Inf(-1)},
		{"float32 Inf", map[string]any{"f": float32(math.Inf(1))}},
		{"float32 NaN", float32(math.NaN())},
		{"first error in key order", map[string]any{"b": math.NaN(), "a": json.Number("x"), "c": jsonFailing{}}},
		{"MarshalJSON fails", map[string]any{"f": jsonFailing{}}},
		{"invalid raw message", map[string]any{"r": json.RawMessage(`{"a":`)}},
		{"channel", map[string]any{"c": make(chan int)}},
		{"func", []any{func() {}}},
		{"complex", complex(1, 2)},
		{"self-containing map", selfMap},
		{"self-containing slice", selfSlice},
		{"cycle through a slice", viaSlice},
		{"deep cycle", nestJSON(selfMap, 1200)},
	}
	for _, s := range []string{"abc", "1.", ".5", "01", "-01", "+1", "1e", "1e+", "1e-", "-", "--1", " 1", "1 ",
		"NaN", "Infinity", "1_000", "0x10", "1.5e3.2", "1ee5", "1.e5", "0.", "٣", "1e5x"} {
		cases = append(cases, anyCase{"invalid number " + strconv.Quote(s), map[string]any{"n": json.Number(s)}})
	}
	for _, s := range trickyStrings {
		cases = append(cases, anyCase{"tricky " + strconv.Quote(s), map[string]any{s: s, s + "x": []any{s}}})
	}
	for _, c := range cases {
		checkAnyJSON(t, c.name, c.v)
		checkAnyInRunJSON(t, c.name, c.v)
	}

	// NaN and infinities are refused with json.Marshal's error type.
	var uve *json.UnsupportedValueError
	if _, err := appendAnyJSON(nil, []any{float32(math.Inf(-1))}); !errors.As(err, &uve) || uve.Value.Kind() != reflect.Float32 {
		t.Errorf("float32 -Inf: got %v, want a *json.UnsupportedValueError for a float32", err)
	}
	// Errors in a run name their field.
	for field, r := range map[string]*engine.Run{
		"steps[1]: input: json: invalid number literal":  {Steps: []engine.StepResult{{}, {Input: map[string]any{"n": json.Number("x")}}}},
		"steps[0]: output: json: unsupported value: NaN": {Steps: []engine.StepResult{{Output: []any{math.NaN()}}}},
		"response: body: json: unsupported value: +Inf":  {Response: &connectors.Response{Body: math.Inf(1)}},
	} {
		if _, err := appendRunJSON(nil, r); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("error %v: want it to contain %q", err, field)
		}
	}
}

func TestIsJSONNumberMatchesMarshal(t *testing.T) {
	// Every string of up to 4 bytes over the characters numbers use.
	const alpha = "-+.eE019 x"
	var walk func(s string)
	walk = func(s string) {
		_, err := json.Marshal(json.Number(s))
		if s != "" && isJSONNumber(s) != (err == nil) {
			t.Errorf("isJSONNumber(%q) = %v; json.Marshal error: %v", s, isJSONNumber(s), err)
		}
		if len(s) < 4 {
			for i := range len(alpha) {
				walk(s + alpha[i:i+1])
			}
		}
	}
	walk("")
}

func TestAppendAnyJSONRandomMatchesMarshal(t *testing.T) {
	g := jsonGen{r: rand.New(rand.NewPCG(20260101, 11)), bad: true}
	for i := range 5000 {
		v := g.value(g.r.IntN(5))
		checkAnyJSON(t, "random value "+strconv.Itoa(i), v)
		checkAnyInRunJSON(t, "random value "+strconv.Itoa(i), v)
	}
}

// fuzzAny builds a dynamic value from fuzzer input: data chooses the
// shape, strs the strings and keys, f and n the numbers.
type fuzzAny struct {
	data []byte
	strs []string
	f    float64
	n    int64
}

func (z *fuzzAny) next() byte {
	if len(z.data) == 0 {
		return 0
	}
	c := z.data[0]
	z.data = z.data[1:]
	return c
}

func (z *fuzzAny) str() string { return z.strs[int(z.next())%len(z.strs)] }

func (z *fuzzAny) value(depth int) any {
	c := z.next()
	op := c % 26
	if depth <= 0 && op >= 20 {
		op %= 20
	}
	alt := c&0x80 != 0 // a second choice within some ops
	switch op {
	case 0:
		return nil
	case 1, 2:
		return z.str()
	case 3:
		if alt {
			return math.Float64frombits(uint64(z.n))
		}
		return z.f
	case 4:
		if alt {
			return math.Float32frombits(uint32(z.n))
		}
		return float32(z.f)
	case 5:
		return alt
	case 6:
		return int(z.n)
	case 7:
		return int8(z.n)
	case 8:
		return int16(z.n)
	case 9:
		return int32(z.n)
	case 10:
		return z.n
	case 11:
		return uint(z.n)
	case 12:
		return uint8(z.n)
	case 13:
		return uint16(z.n)
	case 14:
		return uint32(z.n)
	case 15:
		return uint64(z.n)
	case 16:
		return json.Number(z.str())
	case 17:
		if alt {
			return json.RawMessage(z.str())
		}
		return []byte(z.str())
	case 18:
		if alt {
			return jsonShout(z.str())
		}
		return jsonName(z.str())
	case 19:
		if alt {
			return map[string]string{z.str(): z.str(), z.str(): z.str()}
		}
		return []string{z.str(), z.str()}
	case 20, 21, 22:
		if alt && op == 20 {
			return map[string]any(nil)
		}
		m := map[string]any{}
		for range z.next() % 6 {
			m[z.str()] = z.value(depth - 1)
		}
		return m
	default:
		if alt && op == 23 {
			return []any(nil)
		}
		s := make([]any, z.next()%6)
		for i := range s {
			s[i] = z.value(depth - 1)
		}
		return s
	}
}

func FuzzAppendAnyJSON(f *testing.F) {
	f.Add([]byte{20, 3, 1, 16, 2, 23, 4, 4, 1, 5, 0}, "a|<b>|\xff|12.5e3", 1.5, int64(-7))
	f.Add([]byte{21, 5, 2, 22, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, "|é|1e5|0", 1e21, int64(math.MaxInt64))
	f.Add([]byte{24, 6, 3, 131, 4, 132, 17, 145, 18, 146, 19, 147}, "x| { \"a\" : 1 } |\u2028", 1e-7, int64(1)<<62)
	f.Add([]byte{3, 0}, "", math.NaN(), int64(0))
	f.Add([]byte{16, 1}, "1.|01|-0", 0.0, int64(-1))
	f.Fuzz(func(t *testing.T, data []byte, s string, fl float64, n int64) {
		z := &fuzzAny{data: data, strs: strings.Split(s, "|"), f: fl, n: n}
		v := z.value(6)
		checkAnyJSON(t, "fuzzed value", v)
		checkAnyInRunJSON(t, "fuzzed value", v)
	})
}

func FuzzAppendRunJSON(f *testing.F) {
	f.Add("run-1", "é<\u2028>", []byte("body\xff"), 1.5, int64(3), int64(1717171717), int64(123456789), 7200, true)
	f.Add("", "\x00", []byte(nil), 1e-7, int64(-1), int64(-62135596800), int64(0), 0, false)
	f.Add("a\"b", "\\", []byte{}, 1e21, int64(0), int64(253402300799), int64(999999999), -86399, true)
	f.Add("x", "y", []byte("z"), math.NaN(), int64(1), int64(253402300800), int64(0), 86400, false)
	f.Fuzz(func(t *testing.T, s1, s2 string, body []byte, dur float64, n, sec, nsec int64, offset int, flag bool) {
		tm := time.Unix(sec, nsec).In(time.FixedZone(s2, offset))
		var branch *int
		if flag {
			branch = ptr(int(n))
		}
		// Dynamic values of every fast-path type, built from the fuzzed
		// strings and numbers; s1 as a json.Number is mostly invalid, so
		// only some inputs carry it.
		input := map[string]any{
			s1: s2, s2: dur, "n": n, "f32": float32(dur), "u": uint64(n),
			"ints":   []any{int(n), int8(n), int16(n), int32(n), uint(n), uint8(n), uint16(n), uint32(n)},
			"num":    json.Number(strconv.FormatInt(n, 10)),
			"sm":     map[string]string{s1: s2, s2: s1},
			"ss":     []string{s1, s2},
			"nested": map[string]any{s2: []any{s1, nil, flag, map[string]any{s1: dur}}},
		}
		output := []any{s1, float64(n), map[string]any{s1: []any{}, s2: map[string]any(nil)}, []any(nil), jsonShout(s2)}
		if offset%3 == 0 {
			output = append(output, json.Number(s1))
		}
		r := &engine.Run{ID: s1, FlowID: s2, FlowVersion: n, EventID: s1 + s2, Status: engine.RunStatus(s2),
			CreatedAt: tm, DueAt: &tm, Error: s2,
			Steps: []engine.StepResult{{ID: s1, Use: s2, Status: engine.StepStatus(s1), Input: input,
				Output: output, Attempts: int(n), Branch: branch, StartedAt: tm, FinishedAt: &tm,
				DurationMS: dur, Conditions: []engine.Condition{{Field: s1, Expr: s2, Result: flag}}, StatusCode: int(n)}},
			Response: &connectors.Response{Status: int(n), Headers: map[string]string{s1: s2},
				Body: map[string]any{s1: []any{s2, dur}, "f32": float32(dur)}}}
		if !flag {
			r.Response.Body = s1
		}
		want, wantErr := json.Marshal(r)
		got, gotErr := appendRunJSON([]byte(jsonPrefix), r)
		switch {
		case wantErr != nil && gotErr == nil:
			t.Fatalf("json.Marshal failed (%v) but appendRunJSON did not", wantErr)
		case wantErr == nil && gotErr != nil:
			t.Fatalf("appendRunJSON failed (%v) but json.Marshal did not", gotErr)
		case wantErr == nil && !bytes.Equal(got[len(jsonPrefix):], want):
			t.Fatalf("run differs\n got %q\nwant %q", got[len(jsonPrefix):], want)
		}

		e := &engine.Event{ID: s1, FlowID: s2, Source: s1, Method: s2, Path: s1, Headers: map[string]string{s1: s2, s2: s1},
			Query: map[string]string{s2: s1}, RemoteAddr: s2, ContentType: s1, Body: body, ReceivedAt: tm, DedupeKey: s2}
		sum := r.Summary()
		if want, err := json.Marshal(e); err == nil {
			if got := appendEventJSON(nil, e); !bytes.Equal(got, want) {
				t.Fatalf("event differs\n got %q\nwant %q", got, want)
			}
		}
		if want, err := json.Marshal(&sum); err == nil {
			if got := appendSummaryJSON(nil, &sum); !bytes.Equal(got, want) {
				t.Fatalf("summary differs\n got %q\nwant %q", got, want)
			}
		}
	})
}

// benchRun is a realistic checkpoint: one data.set step that succeeded.
func benchRun() *engine.Run {
	created := time.Date(2024, 6, 1, 12, 0, 0, 123456789, time.UTC)
	started := created.Add(150 * time.Microsecond)
	finished := started.Add(2 * time.Millisecond)
	return &engine.Run{
		ID: "01HZX3K9Q7B8M2N4P6R8T0V2W4", FlowID: "orders", FlowVersion: 3, EventID: "01HZX3K9Q7B8M2N4P6R8T0V2W3",
		Status: engine.RunSucceeded, CreatedAt: created, StartedAt: &started, FinishedAt: &finished,
		Steps: []engine.StepResult{{
			ID: "set", Use: "data.set", Status: engine.StepSucceeded,
			Input:    map[string]any{"order": "o-123", "total": 42},
			Output:   map[string]any{"order": "o-123", "total": 42},
			Attempts: 1, StartedAt: started, FinishedAt: &finished, DurationMS: 0.412,
		}},
	}
}

func BenchmarkAppendRunJSON(b *testing.B) {
	r := benchRun()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = appendRunJSON(buf[:0], r); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkMarshalRun(b *testing.B) {
	r := benchRun()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = json.Marshal(r); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkAppendAnyJSON encodes an http.request step's output: headers
// and a decoded JSON body.
func BenchmarkAppendAnyJSON(b *testing.B) {
	out := map[string]any{
		"status":  200,
		"headers": map[string]string{"Content-Type": "application/json", "Date": "Sat, 01 Jun 2024 12:00:00 GMT", "X-Request-Id": "abc123"},
		"body": map[string]any{
			"id": "o-123", "total": 42.5, "paid": true, "customer": map[string]any{"name": "Ada <ada@example.com>", "tier": nil},
			"lines": []any{
				map[string]any{"sku": "A-1", "qty": 2.0, "price": 9.99},
				map[string]any{"sku": "B-2", "qty": 1.0, "price": 22.52},
			},
		},
	}
	b.Run("append", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = appendAnyJSON(buf[:0], out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAppendEventJSON(b *testing.B) {
	e := &engine.Event{ID: "01HZX3K9Q7B8M2N4P6R8T0V2W3", FlowID: "orders", Source: "webhook", Method: "POST",
		Path: "/hooks/orders", Headers: map[string]string{"Content-Type": "application/json", "User-Agent": "curl/8.5.0"},
		RemoteAddr: "10.0.0.7:51234", ContentType: "application/json", Body: []byte(`{"order":"o-123","total":42}`),
		ReceivedAt: time.Date(2024, 6, 1, 12, 0, 0, 123456789, time.UTC)}
	b.Run("append", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = appendEventJSON(buf[:0], e)
		}
	})
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAppendSummaryJSON(b *testing.B) {
	s := benchRun().Summary()
	b.Run("append", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = appendSummaryJSON(buf[:0], &s)
		}
	})
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
