package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/switchyard/switchyard/internal/jsontext"
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
		eachWord(strings.ToLower(part), func(w string) { add("w" + w) })
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
	if r < utf8.RuneSelf {
		return asciiBreaks[r]
	}
	return unicode.IsSpace(r) || unicode.IsControl(r)
}

// asciiBreaks is wordBreak of each ASCII character, looked up rather
// than asked of package unicode for every byte of every indexed value.
var asciiBreaks = func() (t [utf8.RuneSelf]bool) {
	for r := range rune(utf8.RuneSelf) {
		t[r] = unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("\"'`()[]{}<>,;|", r)
	}
	return t
}()

// partBreak reports the characters that end a run of letters and digits
// inside a word.
func partBreak(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// eachWord calls yield with the whole words of lowercased text, and the
// runs of letters and digits inside each word that has other characters.
// It builds no lists: the indexer splits every value it reads.
func eachWord(s string, yield func(string)) {
	for len(s) > 0 {
		w, rest := nextField(s, wordBreak)
		s = rest
		w = strings.TrimRight(w, ".:!?")
		w = strings.TrimLeft(w, ".:!?")
		if w == "" || len(w) > maxSearchWord || !utf8.ValidString(w) {
			continue
		}
		yield(w)
		if first, rest := nextField(w, partBreak); first == w && rest == "" {
			continue // all letters and digits: no parts but itself
		}
		for part := w; part != ""; {
			var p string
			p, part = nextField(part, partBreak)
			if p != "" {
				yield(p)
			}
		}
	}
}

// nextField returns the first run of s between runes that sep reports
// (empty when there is none) and what follows it, as strings.FieldsFunc
// would split s.
func nextField(s string, sep func(rune) bool) (field, rest string) {
	start := len(s)
	for i, r := range s {
		if !sep(r) {
			start = i
			break
		}
	}
	s = s[start:]
	for i, r := range s {
		if sep(r) {
			return s[:i], s[i:]
		}
	}
	return s, ""
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
	// members is walkStored's stack of the members of the objects it is
	// inside, one allocation for a whole run rather than one per object.
	members []storedMember
	// onField, when set, hears each field term's path and value as they
	// were before lowercasing (EventSearchFields).
	onField func(path, value string)
}

// storedMember is a member of an object walkStored reads.
type storedMember struct {
	key string
	val gjson.Result
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
		if t.onField != nil && !t.full() {
			t.onField(path, s)
		}
	}
	if len(low) > maxSearchText {
		low = low[:maxSearchText]
	}
	eachWord(low, func(w string) { t.add("w" + w) })
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
// decoded with encoding/json into an any: numbers as float64, or, with
// rawNumbers, as json.Number (a decoder's UseNumber, as event bodies are
// read). The indexer reads stored step outputs and event bodies this
// way, which costs a fraction of decoding them first (issue 16: decoding
// outputs was 7 % of W1's CPU, a body a third of the indexer's under W0).
func (t *termSet) walkStored(path string, v gjson.Result, depth int, rawNumbers bool) {
	if t.full() || depth > maxSearchDepth {
		return
	}
	switch v.Type {
	case gjson.JSON:
		if v.IsArray() {
			v.ForEach(func(_, e gjson.Result) bool {
				t.walkStored(path, e, depth+1, rawNumbers)
				return true
			})
			return
		}
		skip := skipsKeys(path)
		base := len(t.members)
		v.ForEach(func(k, e gjson.Result) bool {
			key := storedText(k)
			if skip == nil || !skip(key) {
				t.members = append(t.members, storedMember{key, e})
			}
			return true
		})
		// Sorted as walk sorts a map's keys; of a key given twice the
		// last value counts, as it does in a decoded map.
		slices.SortStableFunc(t.members[base:], func(a, b storedMember) int { return strings.Compare(a.key, b.key) })
		end := len(t.members)
		for i := base; i < end; i++ {
			// Indexed afresh each time: the walks below push and pop
			// their own members, and may move the stack.
			m := t.members[i]
			if i+1 < end && t.members[i+1].key == m.key {
				continue
			}
			t.walkStored(path+"."+m.key, m.val, depth+1, rawNumbers)
		}
		t.members = t.members[:base]
	case gjson.String:
		t.value(path, storedText(v))
	case gjson.Number:
		if rawNumbers {
			t.value(path, v.Raw) // a json.Number is its literal text
			break
		}
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

// SearchField is a field of an event that a search can ask for by its
// exact value: Query is the search that does (ParseSearch's path:value).
type SearchField struct {
	Path, Value, Query string
}

// EventSearchFields lists up to max fields of ev's body, query and
// headers, in the order they are indexed, with the search that finds the
// runs of events holding the same value: the run page's "Find runs with
// the same value", so that nobody has to type path:value. A field whose
// path or value the query syntax cannot carry (a quote, a colon or a
// blank in its path) is left out.
func EventSearchFields(ev *Event, max int) []SearchField {
	var out []SearchField
	t := &termSet{m: map[string]struct{}{}}
	t.onField = func(path, value string) {
		if len(out) == max {
			return
		}
		q := path + ":" + value
		if strings.ContainsFunc(value, unicode.IsSpace) {
			q = path + `:"` + value + `"`
		}
		if terms, err := ParseSearch(q); err == nil && len(terms) == 1 && terms[0] == fieldTerm(path, value) {
			out = append(out, SearchField{Path: path, Value: value, Query: q})
		}
	}
	t.event(ev)
	return out
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
	// encoding/json's grammar, not gjson's: iterative, and refusing
	// nesting over 10,000 levels, as decoding the record did before.
	if !jsontext.Valid(run) {
		return nil, "", false
	}
	fields := StoredFields(run, "event_id", "steps")
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

// StoredFields returns the members of the JSON object js named names, as
// gjson.GetMany(js, names...) does for names without path syntax (the
// first member of each name; a missing one is the zero Result), reading
// the object once rather than once per name (issue 16: GetMany was a
// sixth of what the indexer spent on a run).
func StoredFields(js []byte, names ...string) []gjson.Result {
	out := make([]gjson.Result, len(names))
	left := len(names)
	gjson.ParseBytes(js).ForEach(func(k, v gjson.Result) bool {
		for i, n := range names {
			// Raw is empty until found: every JSON value has text.
			if out[i].Raw == "" && k.Str == n {
				out[i] = v
				left--
			}
		}
		return left > 0
	})
	return out
}

// SearchTermsStored is SearchTerms of a run read back as JSON text
// (StoredSteps): the same terms, without decoding its outputs into maps.
func SearchTermsStored(ev *Event, steps []StoredStep) []string {
	t := &termSet{m: map[string]struct{}{}}
	t.event(ev)
	for _, s := range steps {
		if s.Output.Exists() && s.Output.Type != gjson.Null {
			t.walkStored("steps."+s.ID+".output", s.Output, 0, false)
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
		t.body(ev.Body)
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

// body indexes an event's body as a decoder with UseNumber reads it:
// its first JSON value, or its text when none decodes.
func (t *termSet) body(b []byte) {
	if jsontext.Valid(b) {
		// The common case, read without decoding: the same terms.
		t.walkStored("trigger.body", gjson.ParseBytes(b), 0, true)
		return
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if d.Decode(&v) == nil {
		t.walk("trigger.body", v, 0) // a value followed by more text
	} else {
		t.value("trigger.body", string(b[:min(len(b), maxSearchText)]))
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
