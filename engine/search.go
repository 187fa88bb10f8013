package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// Search of runs by payload. A store that offers it keeps an inverted
// index of search terms: for every run, the terms of its trigger payload,
// headers and query and of its step outputs, as SearchTerms derives them.
// A query (ParseSearch) is a conjunction of terms; a run matches when it
// holds every one. Both sides use the functions of this file, so every
// store finds the same runs.
//
// Terms are lowercased. A word term is "w" + a whole word: a run of text
// between blanks and brackets, quotes, commas and semicolons, with
// trailing sentence punctuation cut ("ada@example.com"), and each run of
// letters and digits inside such a word ("ada", "example", "com"). A field
// term is "f" + path + "=" + the whole value of a payload field
// ("ftrigger.body.email=ada@example.com"); list elements share their
// list's path. Credential and transport headers (see searchSkipsHeader), of the
// request and of what a step's call got back, and redacted values are never
// terms, so the index holds no secret.

// Limits of what is indexed per run: they bound the index, and a run
// whose payload exceeds them is still found by its first terms.
const (
	// MaxSearchTerms is how many distinct terms one run contributes.
	MaxSearchTerms = 2000
	// maxSearchWord is the longest word indexed, in bytes.
	maxSearchWord = 64
	// maxSearchValue is the longest field value indexed, in bytes.
	maxSearchValue = 200
	// maxSearchText is how much of a body that is not JSON is read.
	maxSearchText = 64 << 10
	// maxSearchDepth is how deep inside a payload or an output values
	// are indexed: reading deeper costs more (each level of JSON text is
	// scanned once per level above it) and nobody searches there.
	maxSearchDepth = 32
	// maxSearchQueryTerms bounds the terms of one query.
	maxSearchQueryTerms = 8
)

// Sentinel errors of run listings.
var (
	// ErrNoSearch: the store does not index runs for search.
	ErrNoSearch = errors.New("store does not support searching runs")
	// ErrBadFilter: a run filter that cannot be applied (the message
	// says which part).
	ErrBadFilter = errors.New("bad run filter")
)

// SearchBacklogger is a store that builds its search index behind its
// writes (boltstore): SearchBacklog counts the runs waiting to be indexed,
// which searches do not find yet.
type SearchBacklogger interface {
	SearchBacklog(ctx context.Context) (int64, error)
}

// RunSearcher is what a store offers to search runs (RunFilter.Search).
type RunSearcher interface {
	// SearchRuns lists the runs holding every term of f.Search
	// (ParseSearch) newest first, filtered by f's FlowID, Status, Since,
	// Until, Limit and Cursor like ListRuns.
	SearchRuns(ctx context.Context, f RunFilter) (RunPage, error)
}

// filterError is a bad part of a run filter; it is an ErrBadFilter.
type filterError string

func (e filterError) Error() string { return string(e) }

// Is makes a filterError an ErrBadFilter for errors.Is.
func (filterError) Is(target error) bool { return target == ErrBadFilter }

func badFilter(format string, args ...any) error { return filterError(fmt.Sprintf(format, args...)) }

// ParseSearch turns a query into the terms a run must all hold. Blanks
// separate parts; a part `path:value` whose path starts with trigger. or
// steps. asks for an exact field value (the value may be quoted to hold
// blanks: trigger.body.name:"Ada Lovelace"); any other part asks for
// whole words.
func ParseSearch(q string) ([]string, error) {
	var terms []string
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			terms = append(terms, t)
		}
	}
	rest := strings.TrimSpace(q)
	for rest != "" {
		part, tail := nextSearchPart(rest)
		rest = strings.TrimSpace(tail)
		if path, value, ok := fieldPart(part); ok {
			if value == "" {
				return nil, badFilter("%s: needs a value after the colon", path)
			}
			add(fieldTerm(path, value))
			continue
		}
		for _, w := range splitWords(strings.ToLower(part)) {
			add("w" + w)
		}
	}
	if len(terms) == 0 {
		return nil, badFilter("give at least one word")
	}
	if len(terms) > maxSearchQueryTerms {
		return nil, badFilter("at most %d words", maxSearchQueryTerms)
	}
	return terms, nil
}

// nextSearchPart cuts the first part of a query: up to a blank, but a
// double-quoted stretch keeps its blanks.
func nextSearchPart(s string) (part, rest string) {
	quoted := false
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case unicode.IsSpace(r) && !quoted:
			return s[:i], s[i:]
		}
	}
	return s, ""
}

// fieldPart splits `trigger.body.email:ada@example.com`.
func fieldPart(part string) (path, value string, ok bool) {
	if !strings.HasPrefix(part, "trigger.") && !strings.HasPrefix(part, "steps.") {
		return "", "", false
	}
	path, value, ok = strings.Cut(part, ":")
	if !ok || strings.ContainsAny(path, " \"") {
		return "", "", false
	}
	value = strings.TrimSpace(value)
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	return path, value, true
}

func fieldTerm(path, value string) string {
	return "f" + strings.ToLower(path) + "=" + strings.ToLower(value)
}

// wordBreak reports the characters that end a word.
func wordBreak(r rune) bool {
	if unicode.IsSpace(r) || unicode.IsControl(r) {
		return true
	}
	switch r {
	case '"', '\'', '`', '(', ')', '[', ']', '{', '}', '<', '>', ',', ';', '|':
		return true
	}
	return false
}

// splitWords yields the whole words of lowercased text, and the runs of
// letters and digits inside each word that has other characters.
func splitWords(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, wordBreak) {
		w = strings.TrimRight(w, ".:!?")
		w = strings.TrimLeft(w, ".:!?")
		if w == "" || len(w) > maxSearchWord || !utf8.ValidString(w) {
			continue
		}
		out = append(out, w)
		inner := strings.FieldsFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if len(inner) == 1 && inner[0] == w {
			continue
		}
		out = append(out, inner...)
	}
	return out
}

// searchSkipsHeader reports request headers that are not indexed: those
// that carry credentials or values computed from them (signatures), and
// the transport's own (transportHeaders), which nearly every run holds
// with the same few values and nobody searches for, and which were most
// of a webhook's index entries (issue 16: 11 of 20 terms of a W0 run).
func searchSkipsHeader(name string) bool {
	n := strings.ToLower(name)
	if _, ok := transportHeaders[n]; ok || strings.HasPrefix(n, "x-forwarded-") {
		return true
	}
	for _, s := range []string{"auth", "cookie", "token", "key", "secret", "signature", "password", "session", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// transportHeaders are the request headers about the connection and the
// encoding rather than the delivery: never indexed for search.
var transportHeaders = map[string]struct{}{
	"accept": {}, "accept-encoding": {}, "accept-language": {}, "cache-control": {}, "connection": {},
	"content-length": {}, "content-type": {}, "expect": {}, "forwarded": {}, "host": {}, "keep-alive": {},
	"pragma": {}, "te": {}, "traceparent": {}, "tracestate": {}, "transfer-encoding": {}, "upgrade": {},
	"via": {}, "x-real-ip": {},
	// Answers' (a step's call's response headers).
	"age": {}, "alt-svc": {}, "date": {}, "etag": {}, "expires": {}, "last-modified": {}, "server": {},
	"strict-transport-security": {}, "vary": {}, "x-content-type-options": {}, "x-frame-options": {},
}

// redactedValue is what run history records in place of a secret.
const redactedValue = "[redacted]"

// termSet gathers a run's terms up to MaxSearchTerms.
type termSet struct {
	m   map[string]struct{}
	out []string
}

// full says no more terms are taken (MaxSearchTerms reached).
func (t *termSet) full() bool { return len(t.out) >= MaxSearchTerms }

func (t *termSet) add(term string) {
	if len(t.out) >= MaxSearchTerms || strings.IndexByte(term, 0) >= 0 {
		return
	}
	if _, ok := t.m[term]; ok {
		return
	}
	t.m[term] = struct{}{}
	t.out = append(t.out, term)
}

// value indexes a leaf value at path: its words, and the whole value as a
// field term.
func (t *termSet) value(path string, s string) {
	if s == "" || strings.Contains(s, redactedValue) {
		return
	}
	low := strings.ToLower(s)
	if len(low) <= maxSearchValue {
		t.add("f" + strings.ToLower(path) + "=" + low)
	}
	if len(low) > maxSearchText {
		low = low[:maxSearchText]
	}
	for _, w := range splitWords(low) {
		t.add("w" + w)
	}
}

// walk indexes a decoded JSON value.
func (t *termSet) walk(path string, v any, depth int) {
	if t.full() || depth > maxSearchDepth {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		skip := skipsKeys(path)
		keys := make([]string, 0, len(x))
		for k := range x {
			if skip != nil && skip(k) {
				continue
			}
			keys = append(keys, k)
		}
		sort.Strings(keys) // the same terms win under MaxSearchTerms every time
		for _, k := range keys {
			t.walk(path+"."+k, x[k], depth+1)
		}
	case []any:
		for _, e := range x {
			t.walk(path, e, depth+1)
		}
	case string:
		t.value(path, x)
	case float64:
		t.value(path, strconv.FormatFloat(x, 'f', -1, 64))
	case json.Number:
		t.value(path, x.String())
	case bool:
		t.value(path, strconv.FormatBool(x))
	}
}

// skipsKeys says which keys of the object at path are no terms: the
// headers a step's call got back skip the transport's and the
// credentials', as a request's do (an HTTP call's date alone gave every
// W1 run eight terms). Nil skips none.
func skipsKeys(path string) func(string) bool {
	if strings.HasPrefix(path, "steps.") && strings.HasSuffix(path, ".output.headers") {
		return searchSkipsHeader
	}
	return nil
}

// walkStored indexes a value as JSON text, the same as walk indexes it
// decoded with encoding/json into an any (numbers as float64): the
// indexer reads stored step outputs this way, which costs a fraction of
// decoding them into maps first (issue 16: decoding was 7 % of W1's CPU).
func (t *termSet) walkStored(path string, v gjson.Result, depth int) {
	if t.full() || depth > maxSearchDepth {
		return
	}
	switch v.Type {
	case gjson.JSON:
		if v.IsArray() {
			v.ForEach(func(_, e gjson.Result) bool {
				t.walkStored(path, e, depth+1)
				return true
			})
			return
		}
		skip := skipsKeys(path)
		type member struct {
			key string
			val gjson.Result
		}
		var members []member
		v.ForEach(func(k, e gjson.Result) bool {
			key := storedText(k)
			if skip == nil || !skip(key) {
				members = append(members, member{key, e})
			}
			return true
		})
		// Sorted as walk sorts a map's keys; of a key given twice the
		// last value counts, as it does in a decoded map.
		sort.SliceStable(members, func(i, j int) bool { return members[i].key < members[j].key })
		for i, m := range members {
			if i+1 < len(members) && members[i+1].key == m.key {
				continue
			}
			t.walkStored(path+"."+m.key, m.val, depth+1)
		}
	case gjson.String:
		t.value(path, storedText(v))
	case gjson.Number:
		// As decoded into float64 and formatted back.
		if f, err := strconv.ParseFloat(v.Raw, 64); err == nil {
			t.value(path, strconv.FormatFloat(f, 'f', -1, 64))
		}
	case gjson.True:
		t.value(path, "true")
	case gjson.False:
		t.value(path, "false")
	}
}

// storedText is the text of a JSON string as encoding/json decodes it.
// gjson's own reading differs for \u escapes (a \u0000 is dropped), so a
// string that holds one is decoded by encoding/json; the others are
// read as gjson reads them.
func storedText(v gjson.Result) string {
	if strings.Contains(v.Raw, `\u`) {
		var s string
		if json.Unmarshal([]byte(v.Raw), &s) == nil {
			return s
		}
	}
	return validText(v.Str)
}

// validText replaces each byte of s that is not UTF-8 with U+FFFD, as
// encoding/json does when it decodes a string.
func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte: U+FFFD
		i += n
	}
	return b.String()
}

// SearchTerms are the index terms of a run: its event's body, query and
// headers (ev may be nil) and its steps' recorded outputs. What a run
// records holds no secret (redacted before it is stored), credential
// headers are skipped, and so the terms hold none either.
func SearchTerms(ev *Event, run *Run) []string {
	t := &termSet{m: map[string]struct{}{}}
	t.event(ev)
	if run != nil {
		for _, s := range run.Steps {
			if s.Output != nil {
				t.walk("steps."+s.ID+".output", s.Output, 0)
			}
		}
	}
	return t.out
}

// StoredStep is what search reads of a step a store holds as JSON: its
// id and its output as JSON text.
type StoredStep struct {
	ID     string
	Output gjson.Result
}

// StoredSteps reads the steps' ids and outputs from a run stored as JSON
// text; ok is false when that is not valid JSON.
func StoredSteps(run []byte) (steps []StoredStep, eventID string, ok bool) {
	// encoding/json's check, not gjson's: it is iterative and refuses
	// nesting over 10,000 levels, as decoding the record did before.
	if !json.Valid(run) {
		return nil, "", false
	}
	fields := gjson.GetMany(string(run), "event_id", "steps")
	fields[1].ForEach(func(_, s gjson.Result) bool {
		f := s.Get("id")
		id := f.String()
		if f.Type == gjson.String {
			id = storedText(f)
		}
		steps = append(steps, StoredStep{ID: id, Output: s.Get("output")})
		return true
	})
	return steps, storedText(fields[0]), true
}

// SearchTermsStored is SearchTerms of a run read back as JSON text
// (StoredSteps): the same terms, without decoding its outputs into maps.
func SearchTermsStored(ev *Event, steps []StoredStep) []string {
	t := &termSet{m: map[string]struct{}{}}
	t.event(ev)
	for _, s := range steps {
		if s.Output.Exists() && s.Output.Type != gjson.Null {
			t.walkStored("steps."+s.ID+".output", s.Output, 0)
		}
	}
	return t.out
}

// event indexes the event's body, query and headers (ev may be nil).
func (t *termSet) event(ev *Event) {
	if ev == nil {
		return
	}
	if len(ev.Body) > 0 {
		var body any
		d := json.NewDecoder(strings.NewReader(string(ev.Body)))
		d.UseNumber()
		if d.Decode(&body) == nil {
			t.walk("trigger.body", body, 0)
		} else {
			t.value("trigger.body", string(ev.Body[:min(len(ev.Body), maxSearchText)]))
		}
	}
	for _, k := range sortedKeys(ev.Query) {
		t.value("trigger.query."+k, ev.Query[k])
	}
	for _, k := range sortedKeys(ev.Headers) {
		if !searchSkipsHeader(k) {
			t.value("trigger.headers."+strings.ToLower(k), ev.Headers[k])
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// listRuns lists runs by f's store-level filters, searching when f.Search
// is set.
func (e *Engine) listRuns(ctx context.Context, f RunFilter) (RunPage, error) {
	if f.Search == "" {
		return e.store.ListRuns(ctx, f)
	}
	rs, ok := e.store.(RunSearcher)
	if !ok {
		return RunPage{}, ErrNoSearch
	}
	if _, err := ParseSearch(f.Search); err != nil {
		return RunPage{}, err
	}
	return rs.SearchRuns(ctx, f)
}

// listResolved applies f.Resolved: the unresolved failures come from the
// store's index of them; otherwise failed runs are listed and kept when
// their resolution matches (a page may then hold fewer runs than the
// limit: follow NextCursor).
func (e *Engine) listResolved(ctx context.Context, f RunFilter) (RunPage, error) {
	if f.Status != "" && f.Status != RunFailed {
		return RunPage{}, badFilter("resolved: only failed runs are resolved or not (status=failed)")
	}
	want := *f.Resolved
	if !want && f.Search == "" {
		return e.ListUnresolved(ctx, f)
	}
	f.Status = RunFailed
	page, err := e.listRuns(ctx, f)
	if err != nil {
		return page, err
	}
	ids := make([]string, len(page.Runs))
	for i, r := range page.Runs {
		ids[i] = r.ID
	}
	done, err := e.ResolvedAmong(ctx, ids)
	if err != nil {
		return page, err
	}
	kept := page.Runs[:0]
	for _, r := range page.Runs {
		if done[r.ID] == want {
			kept = append(kept, r)
		}
	}
	page.Runs = kept
	return page, nil
}
