package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/connectors"
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

func encodeEventFn(e *Event) func([]byte) ([]byte, error) {
	return func(dst []byte) ([]byte, error) { return appendEventJSON(dst, e), nil }
}

func encodeRunFn(r *Run) func([]byte) ([]byte, error) {
	return func(dst []byte) ([]byte, error) { return appendRunJSON(dst, r) }
}

func encodeSummaryFn(s *RunSummary) func([]byte) ([]byte, error) {
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

func fullEvent() *Event {
	return &Event{
		ID: "ev-1", FlowID: "flow<1>", Source: "webhook", Method: "POST", Path: "/hooks/a?b=c&d=<e>",
		Headers:    map[string]string{"Content-Type": "application/json", "X-B": "b\u2028", "A": "\xff", "x-lower": "é"},
		Query:      map[string]string{"q": "a&b", "": "empty key", "z": ""},
		RemoteAddr: "10.0.0.1:1234", ContentType: "application/json",
		Body: []byte(`{"a":1}` + "\x00\xff"), ReceivedAt: tZonePlus, DedupeKey: "dk\"1\"",
	}
}

func fullRun() *Run {
	return &Run{
		ID: "run-1", FlowID: "flow-1", FlowVersion: 42, EventID: "ev-1", Status: RunFailed,
		CreatedAt: tNano, StartedAt: ptr(tUTC), FinishedAt: ptr(tZoneNeg), DueAt: ptr(tMilli),
		Error: "step <b> failed: \"boom\"\n", ErrorStep: "b",
		Steps: []StepResult{fullStep(), {ID: "minimal", Status: StepSkipped}},
		Response: &connectors.Response{Status: 201, Headers: map[string]string{"X-A": "<1>"},
			Body: map[string]any{"ok": true, "n": 1.5}},
		RetryOf: "run-0", ReplayOf: "run-00",
	}
}

func fullStep() StepResult {
	return StepResult{
		ID: "a", Use: "http.request", Status: StepRetrying,
		Input:  map[string]any{"url": "https://x/?a=1&b=<2>", "n": 3, "nested": map[string]any{"z": []any{1, "two", nil, 3.5}, "a": nil}},
		Output: []any{map[string]any{"k": "v"}, 1e21, 1e-7, false}, Error: "timeout",
		Attempts: 3,
		Conditions: []Condition{
			{Field: "if", Expr: `input.x > 1 && y < 2`, Result: true, Error: "e"},
			{Field: "when", Expr: "z", Result: false},
		},
		Branch: ptr(-1), StartedAt: tZoneSec, FinishedAt: ptr(tNow), DurationMS: 123456.789,
		NextAttemptAt: ptr(tZone2359), ResumeAt: ptr(tYear9999), StatusCode: 503,
	}
}

func fullSummary() *RunSummary {
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
}

func TestAppendEventJSONMatchesMarshal(t *testing.T) {
	cases := map[string]*Event{
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
		cases["tricky "+string(rune('a'+i))] = &Event{ID: s, FlowID: s, Source: s, Method: s, Path: s,
			Headers: map[string]string{s: s, s + "x": s}, Query: map[string]string{s: s},
			RemoteAddr: s, ContentType: s, Body: []byte(s), DedupeKey: s}
	}
	for i, tm := range allTimes {
		cases["time "+string(rune('a'+i))] = &Event{ReceivedAt: tm}
	}
	for name, e := range cases {
		checkJSONEqual(t, "event "+name, e, encodeEventFn(e))
	}
}

func TestAppendRunJSONMatchesMarshal(t *testing.T) {
	cases := map[string]*Run{
		"zero":        {},
		"nil steps":   {ID: "r", Status: RunQueued, CreatedAt: tUTC},
		"empty steps": {ID: "r", Status: RunQueued, CreatedAt: tUTC, Steps: []StepResult{}},
		"all":         fullRun(),
		"empty step":  {Steps: []StepResult{{}}},
		"branch 0":    {Steps: []StepResult{{ID: "s", Branch: ptr(0)}}},
		"branch -1":   {Steps: []StepResult{{ID: "s", Branch: ptr(-1)}}},
		"empty input and conditions": {Steps: []StepResult{{ID: "s",
			Input: map[string]any{}, Conditions: []Condition{}}}},
		"output non-nil but empty": {Steps: []StepResult{
			{Output: ""}, {Output: 0}, {Output: false}, {Output: (*int)(nil)},
			{Output: map[string]any{}}, {Output: []any{}}, {Output: json.RawMessage(`{ "a" : [1, 2] }`)},
		}},
		"response minimal":  {Response: &connectors.Response{}},
		"response string":   {Response: &connectors.Response{Status: 200, Body: "<html>&amp;</html>"}},
		"negative versions": {FlowVersion: -5, Steps: []StepResult{{Attempts: -1, StatusCode: -2}}},
		"max ints": {FlowVersion: math.MaxInt64, Steps: []StepResult{
			{Attempts: math.MaxInt, StatusCode: math.MinInt, Branch: ptr(math.MaxInt)}}},
	}
	for i, f := range []float64{0, math.Copysign(0, -1), 1.5, 1e-7, 1e21, 123456.789, 0.1, 1e-6, 5e-324, math.MaxFloat64} {
		cases["float "+string(rune('a'+i))] = &Run{Steps: []StepResult{{ID: "s", DurationMS: f}}}
	}
	for i, s := range trickyStrings {
		cases["tricky "+string(rune('a'+i))] = &Run{ID: s, FlowID: s, EventID: s, Status: RunStatus(s),
			Error: s, ErrorStep: s, RetryOf: s, ReplayOf: s,
			Steps: []StepResult{{ID: s, Use: s, Status: StepStatus(s), Error: s,
				Input:      map[string]any{s: s},
				Output:     s,
				Conditions: []Condition{{Field: s, Expr: s, Error: s}}}}}
	}
	for i, tm := range allTimes {
		cases["time "+string(rune('a'+i))] = &Run{CreatedAt: tm, StartedAt: &tm, FinishedAt: &tm, DueAt: &tm,
			Steps: []StepResult{{StartedAt: tm, FinishedAt: &tm, NextAttemptAt: &tm, ResumeAt: &tm}}}
	}
	for name, r := range cases {
		checkJSONEqual(t, "run "+name, r, encodeRunFn(r))
	}
}

func TestAppendSummaryJSONMatchesMarshal(t *testing.T) {
	cases := map[string]*RunSummary{
		"zero":     {},
		"required": {ID: "r", FlowID: "f", FlowVersion: 1, EventID: "e", Status: RunQueued, CreatedAt: tUTC},
		"all":      fullSummary(),
		"negative": {FlowVersion: math.MinInt64, Steps: -1},
	}
	for i, s := range trickyStrings {
		cases["tricky "+string(rune('a'+i))] = &RunSummary{ID: s, FlowID: s, EventID: s, Status: RunStatus(s),
			Error: s, RetryOf: s, ReplayOf: s}
	}
	for i, tm := range allTimes {
		cases["time "+string(rune('a'+i))] = &RunSummary{CreatedAt: tm, FinishedAt: &tm, DueAt: &tm}
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
		runs := []*Run{
			{CreatedAt: bt},
			{StartedAt: &bt}, {FinishedAt: &bt}, {DueAt: &bt},
			{Steps: []StepResult{{StartedAt: bt}}},
			{Steps: []StepResult{{}, {FinishedAt: &bt}}},
			{Steps: []StepResult{{NextAttemptAt: &bt}}},
			{Steps: []StepResult{{ResumeAt: &bt}}},
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
		if got := appendEventJSON(nil, &Event{ReceivedAt: bt}); !bytes.Contains(got, []byte(`"received_at":`+want)) {
			t.Errorf("event with %v: got %s", bt, got)
		}
		if got := appendSummaryJSON(nil, &RunSummary{DueAt: &bt}); !bytes.Contains(got, []byte(`"due_at":`+want)) {
			t.Errorf("summary with %v: got %s", bt, got)
		}
	}
	unsupported := []*Run{
		{Steps: []StepResult{{DurationMS: math.NaN()}}},
		{Steps: []StepResult{{DurationMS: math.Inf(1)}}},
		{Steps: []StepResult{{DurationMS: math.Inf(-1)}}},
		{Steps: []StepResult{{Input: map[string]any{"c": make(chan int)}}}},
		{Steps: []StepResult{{Output: func() {}}}},
		{Steps: []StepResult{{Output: math.NaN()}}},
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
	_, err := appendRunJSON(nil, &Run{Steps: []StepResult{{}, {DurationMS: math.NaN()}}})
	if err == nil || !strings.Contains(err.Error(), "steps[1]: duration_ms") {
		t.Errorf("error should name the field: %v", err)
	}
}

// jsonGen builds random model values for the property test.
type jsonGen struct{ r *rand.Rand }

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

// value returns an arbitrary JSON-able value, nested at most depth deep.
func (g jsonGen) value(depth int) any {
	n := 6
	if depth > 0 {
		n = 8
	}
	switch g.r.IntN(n) {
	case 0:
		return nil
	case 1:
		return g.string()
	case 2:
		return g.float()
	case 3:
		return g.r.IntN(2) == 0
	case 4:
		return g.r.Int64() - math.MaxInt64/2
	case 5:
		return json.Number("12.5e3")
	case 6:
		m := map[string]any{}
		for range g.r.IntN(5) {
			m[g.string()] = g.value(depth - 1)
		}
		return m
	default:
		s := make([]any, g.r.IntN(5))
		for i := range s {
			s[i] = g.value(depth - 1)
		}
		return s
	}
}

func (g jsonGen) event() *Event {
	e := &Event{ID: g.string(), FlowID: g.string(), Source: g.string(), ReceivedAt: g.time()}
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

func (g jsonGen) step() StepResult {
	s := StepResult{ID: g.string(), Status: StepStatus(g.string()), Attempts: g.r.IntN(10), StartedAt: g.time(),
		FinishedAt: g.optTime(), DurationMS: g.float(), NextAttemptAt: g.optTime(), ResumeAt: g.optTime()}
	if g.maybe() {
		s.Use = g.string()
	}
	if g.maybe() {
		s.Input = map[string]any{}
		for range g.r.IntN(4) {
			s.Input[g.string()] = g.value(2)
		}
	}
	if g.maybe() {
		s.Output = g.value(3)
	}
	if g.maybe() {
		s.Error = g.string()
	}
	if g.maybe() {
		s.Conditions = make([]Condition, g.r.IntN(3))
		for i := range s.Conditions {
			s.Conditions[i] = Condition{Field: g.string(), Expr: g.string(), Result: g.maybe()}
			if g.maybe() {
				s.Conditions[i].Error = g.string()
			}
		}
	}
	if g.maybe() {
		s.Branch = ptr(g.r.IntN(5) - 1)
	}
	if g.maybe() {
		s.StatusCode = 100 + g.r.IntN(500)
	}
	return s
}

func (g jsonGen) run() *Run {
	r := &Run{ID: g.string(), FlowID: g.string(), FlowVersion: g.r.Int64N(1000), EventID: g.string(),
		Status: RunStatus(g.string()), CreatedAt: g.time(), StartedAt: g.optTime(), FinishedAt: g.optTime(),
		DueAt: g.optTime()}
	if g.maybe() {
		r.Error = g.string()
	}
	if g.maybe() {
		r.ErrorStep = g.string()
	}
	switch g.r.IntN(4) {
	case 0: // nil Steps
	case 1:
		r.Steps = []StepResult{}
	default:
		r.Steps = make([]StepResult, 1+g.r.IntN(4))
		for i := range r.Steps {
			r.Steps[i] = g.step()
		}
	}
	if g.maybe() {
		r.Response = &connectors.Response{Status: g.r.IntN(600), Headers: g.stringMap(), Body: g.value(2)}
	}
	if g.maybe() {
		r.RetryOf = g.string()
	}
	if g.maybe() {
		r.ReplayOf = g.string()
	}
	return r
}

func TestAppendJSONRandomMatchesMarshal(t *testing.T) {
	g := jsonGen{rand.New(rand.NewPCG(20240601, 7))}
	for i := range 3000 {
		e := g.event()
		checkJSONEqual(t, "random event", e, encodeEventFn(e))
		r := g.run()
		checkJSONEqual(t, "random run", r, encodeRunFn(r))
		s := r.Summary()
		if i%2 == 0 {
			s = RunSummary{ID: g.string(), Status: RunStatus(g.string()), CreatedAt: g.time(), Error: g.string(), DueAt: g.optTime()}
		}
		checkJSONEqual(t, "random summary", &s, encodeSummaryFn(&s))
	}
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
		r := &Run{ID: s1, FlowID: s2, FlowVersion: n, EventID: s1 + s2, Status: RunStatus(s2),
			CreatedAt: tm, DueAt: &tm, Error: s2,
			Steps: []StepResult{{ID: s1, Use: s2, Status: StepStatus(s1), Input: map[string]any{s1: s2, s2: dur},
				Output: []any{s1, float64(n)}, Attempts: int(n), Branch: branch, StartedAt: tm, FinishedAt: &tm,
				DurationMS: dur, Conditions: []Condition{{Field: s1, Expr: s2, Result: flag}}, StatusCode: int(n)}},
			Response: &connectors.Response{Status: int(n), Headers: map[string]string{s1: s2}, Body: s1}}
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

		e := &Event{ID: s1, FlowID: s2, Source: s1, Method: s2, Path: s1, Headers: map[string]string{s1: s2, s2: s1},
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
func benchRun() *Run {
	created := time.Date(2024, 6, 1, 12, 0, 0, 123456789, time.UTC)
	started := created.Add(150 * time.Microsecond)
	finished := started.Add(2 * time.Millisecond)
	return &Run{
		ID: "01HZX3K9Q7B8M2N4P6R8T0V2W4", FlowID: "orders", FlowVersion: 3, EventID: "01HZX3K9Q7B8M2N4P6R8T0V2W3",
		Status: RunSucceeded, CreatedAt: created, StartedAt: &started, FinishedAt: &finished,
		Steps: []StepResult{{
			ID: "set", Use: "data.set", Status: StepSucceeded,
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

func BenchmarkAppendEventJSON(b *testing.B) {
	e := &Event{ID: "01HZX3K9Q7B8M2N4P6R8T0V2W3", FlowID: "orders", Source: "webhook", Method: "POST",
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
