package views

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// htmxConfig turns off what the CSP would refuse anyway (inline indicator
// styles, eval) so htmx never tries.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}`

// WildcardName stands for a connector's "*" field (any key) in form names
// and element ids.
const WildcardName = "_any"

// ID turns a form field name such as steps.0.with.url into the element id
// steps-0-with-url: ids stay usable as CSS selectors.
func ID(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		case r == '*':
			b.WriteString(WildcardName)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

func asset(p PageProps, name string) string {
	return "/static/" + name + "?v=" + p.AssetVersion
}

func itoa(i int) string { return strconv.Itoa(i) }

func join(parts ...string) string { return strings.Join(parts, ".") }

// Pretty formats a value as indented JSON without HTML escaping (templ
// escapes the text when it writes it).
func Pretty(v any) string {
	if v == nil {
		return "null"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimRight(buf.String(), "\n")
}

// compact formats a value as one line of JSON.
func compact(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimRight(buf.String(), "\n")
}

// TextValue is how a string-like field shows a `with` value: strings as
// they are, anything else as JSON.
func TextValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return compact(x)
	}
}

// JSONValue is how a json field shows a value. The form reads its text
// back as JSON when it parses and as a string otherwise, so strings that
// would parse as JSON are shown quoted.
func JSONValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		var probe any
		if json.Unmarshal([]byte(x), &probe) == nil {
			return compact(x)
		}
		return x
	default:
		return Pretty(x)
	}
}

// kvRow is one row of a key-value field.
type kvRow struct{ Key, Value string }

// kvRows lists a key-value value's entries sorted by key, plus one empty
// row to type into. With jsonValues (a connector taking any key) values
// are shown the way a json field shows them.
func kvRows(v any, jsonValues bool) []kvRow {
	var rows []kvRow
	if m, ok := v.(map[string]any); ok {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val := TextValue(m[k])
			if jsonValues {
				val = rowJSON(m[k])
			}
			rows = append(rows, kvRow{Key: k, Value: val})
		}
	}
	return append(rows, kvRow{})
}

func boolValue(v any, f connectors.Field) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	if v == nil {
		b, _ := f.Default.(bool)
		return b
	}
	return false
}

func defaultLabel(f connectors.Field) string {
	if f.Default == nil {
		return "Not set"
	}
	return "Default (" + TextValue(f.Default) + ")"
}

// connOptions lists the stored connections a connection field accepts.
func connOptions(conns []engine.ConnectionInfo, f connectors.Field) []string {
	var out []string
	for _, c := range conns {
		if len(f.ConnectionTypes) == 0 || slices.Contains(f.ConnectionTypes, c.Type) {
			out = append(out, c.Name)
		}
	}
	return out
}

func secretConnections(conns []engine.ConnectionInfo) []string {
	var out []string
	for _, c := range conns {
		if c.Type == "secret" {
			out = append(out, c.Name)
		}
	}
	return out
}

// fieldKind says how a `with` field's text is checked as the user types.
func fieldKind(f connectors.Field) string {
	switch f.Type {
	case connectors.TypeJSON:
		return flows.KindJSON
	case connectors.TypeString, connectors.TypeText, connectors.TypeNumber, connectors.TypeKeyValue:
		return flows.KindTemplate
	}
	return ""
}

func checkURL(p *BuilderProps, kind, name string) string {
	sep := "?"
	if strings.Contains(p.CheckURL, "?") {
		sep = "&"
	}
	u := p.CheckURL + sep + "kind=" + url.QueryEscape(kind) + "&field=" + url.QueryEscape(name)
	if list, ok := loopListOf(p.Flow, name); ok {
		// A field inside a loop sees item and index: the check tries it
		// on the first element of the loop's list.
		u += "&list=" + url.QueryEscape(list)
	}
	return u
}

func (p *BuilderProps) errs(name string) []string { return p.Errors[name] }

func describedBy(id string) string { return id + "-check " + id + "-error" }

// spec returns the connector spec of a step (zero when unknown).
func (p *BuilderProps) spec(use string) (connectors.Spec, bool) {
	s, ok := p.Specs[use]
	return s, ok
}

func basicFields(s connectors.Spec) []connectors.Field {
	var out []connectors.Field
	for _, f := range s.Fields {
		if !f.Advanced {
			out = append(out, f)
		}
	}
	return out
}

func advancedFields(s connectors.Spec) []connectors.Field {
	var out []connectors.Field
	for _, f := range s.Fields {
		if f.Advanced {
			out = append(out, f)
		}
	}
	return out
}

// fieldName is the form name of a `with` field.
func fieldName(stepPrefix string, f connectors.Field) string {
	if f.Name == flows.WildcardField {
		return stepPrefix + ".with." + WildcardName
	}
	return stepPrefix + ".with." + f.Name
}

// withValue is the value a step holds for a spec field; for the wildcard
// field, the keys no other field declares.
func withValue(s flows.Step, spec connectors.Spec, f connectors.Field) any {
	if f.Name != flows.WildcardField {
		return s.With[f.Name]
	}
	rest := map[string]any{}
	for k, v := range s.With {
		if _, declared := spec.Field(k); !declared {
			rest[k] = v
		}
	}
	return rest
}

// extraWith are the keys of a step's `with` its spec does not declare,
// kept as JSON in a hidden field so that no edit loses them.
func extraWith(s flows.Step, spec connectors.Spec, known bool) string {
	if _, open := spec.Field(flows.WildcardField); open && known {
		return ""
	}
	rest := map[string]any{}
	for k, v := range s.With {
		if _, declared := spec.Field(k); !declared || !known {
			rest[k] = v
		}
	}
	if len(rest) == 0 {
		return ""
	}
	return compact(rest)
}

func stepTitle(p *BuilderProps, s flows.Step) string {
	if s.IsLoop() {
		return LoopLabel
	}
	if s.IsSwitch() || s.Use == "" {
		return "Choose a branch"
	}
	if sp, ok := p.Specs[s.Use]; ok {
		return sp.Label
	}
	return s.Use
}

// retryAttempts is a step's retry attempts as the form shows them.
func retryAttempts(r *flows.Retry) string {
	if r == nil || r.Attempts == 0 {
		return ""
	}
	return strconv.Itoa(r.Attempts)
}

// retryWait is a step's backoff or, for "max_backoff", its max backoff
// (zero when not set).
func retryWait(r *flows.Retry, which string) time.Duration {
	switch {
	case r == nil:
		return 0
	case which == "max_backoff":
		return r.MaxBackoff.Std()
	default:
		return r.Backoff.Std()
	}
}

// refreshOnChange makes an input re-render the builder when it changes,
// so that what depends on it (a step's retry summary) says so at once.
func refreshOnChange(p *BuilderProps) templ.Attributes {
	return templ.Attributes{"hx-post": p.Action, "hx-trigger": "change", "hx-target": "#builder", "hx-select": "#builder",
		"hx-swap": "outerHTML", "hx-vals": `{"_op":"refresh"}`}
}

func int64Text(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func verifyScheme(t flows.Trigger) string {
	if t.Verify == nil {
		return ""
	}
	return t.Verify.Scheme
}

func verifySecret(t flows.Trigger) string {
	if t.Verify == nil {
		return ""
	}
	return t.Verify.Secret
}

// verifyExtra keeps the verify options the form does not show (see
// verifyOptions: today it shows them all, so only fields added to
// flows.Verify later ride along here).
func verifyExtra(t flows.Trigger) string {
	if t.Verify == nil {
		return ""
	}
	v := flows.Verify{}
	keepUnshownVerify(&v, t.Verify)
	b, _ := json.Marshal(v)
	if string(b) == `{"scheme":""}` {
		return ""
	}
	return string(b)
}

func pollRequest(t flows.Trigger) flows.PollRequest {
	if t.Request == nil {
		return flows.PollRequest{}
	}
	return *t.Request
}

func pollHeaders(t flows.Trigger) any {
	if t.Request == nil || len(t.Request.Headers) == 0 {
		return nil
	}
	m := map[string]any{}
	for k, v := range t.Request.Headers {
		m[k] = v
	}
	return m
}

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	// The zone is always written: the server's here, the browser's once
	// pictures.js rewrites it (with UTC on hover).
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func whenPtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return when(*t)
}

// RunDuration is how long a run took (or has taken so far).
func runDuration(created time.Time, finished *time.Time) string {
	if finished == nil {
		return "—"
	}
	return roundDur(finished.Sub(created))
}

func roundDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

func ms(v float64) string {
	return roundDur(time.Duration(v * float64(time.Millisecond)))
}

func statusClass(s string) string { return "badge status-" + ID(s) }

func runsCount(r FlowRow) string {
	if r.RunsCapped {
		return strconv.Itoa(r.Runs24h) + "+"
	}
	return strconv.Itoa(r.Runs24h)
}

func sortedMap(m map[string]string) []kvRow {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]kvRow, len(keys))
	for i, k := range keys {
		out[i] = kvRow{Key: k, Value: m[k]}
	}
	return out
}

func conditionResult(c engine.Condition) string {
	switch {
	case c.Error != "":
		return "error"
	case c.Result:
		return "true"
	default:
		return "false"
	}
}

func branchText(b *int) string {
	if b == nil {
		return ""
	}
	// The output's "case" counts from 0; the UI names branches from 1,
	// and says both so the two never seem to disagree.
	if *b < 0 {
		return "No branch matched: went on after the switch (output case -1)"
	}
	return "Took Branch " + strconv.Itoa(*b+1) + " (output case " + strconv.Itoa(*b) + ")"
}

func hasInput(s engine.StepResult) bool { return len(s.Input) > 0 }

// caseLabel names a switch case the way every page does: Branch 1, Branch
// 2, … and Otherwise for the default case.
func caseLabel(c flows.Case, j int) string {
	if c.Default {
		return "Otherwise"
	}
	return "Branch " + strconv.Itoa(j+1)
}

func statusOptions() []string {
	return []string{"queued", "running", "waiting", "succeeded", "failed"}
}

type periodOption struct{ Value, Label string }

// triggerField is a trigger field's path as the run page names it:
// body.email for trigger.body.email.
func triggerField(path string) string { return strings.TrimPrefix(path, "trigger.") }

func periodOptions() []periodOption {
	return []periodOption{{"", "Any time"}, {"1h", "Last hour"}, {"24h", "Last 24 hours"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"}}
}

func hasTypes(f connectors.Field) string {
	if len(f.ConnectionTypes) == 0 {
		return ""
	}
	return "Accepts connections of type " + strings.Join(f.ConnectionTypes, ", ") + "."
}

func methodChecked(t flows.Trigger, m string) bool {
	return slices.ContainsFunc(t.Methods, func(x string) bool { return strings.EqualFold(x, m) })
}

func webhookURL(p *BuilderProps) string {
	path := strings.Trim(p.Flow.Trigger.Path, "/")
	if path == "" {
		return p.WebhookBase + "…"
	}
	return p.WebhookBase + path
}

// stepHasError reports whether any problem lies inside the step (so its
// folded sections open).
func (p *BuilderProps) stepHasError(prefix string) bool {
	for k := range p.Errors {
		if k == prefix || strings.HasPrefix(k, prefix+".") {
			return true
		}
	}
	return false
}

func (p *BuilderProps) advancedOpen(prefix string, s flows.Step, spec connectors.Spec) bool {
	for _, f := range advancedFields(spec) {
		if _, set := s.With[f.Name]; set || len(p.Errors[fieldName(prefix, f)]) > 0 {
			return true
		}
	}
	return false
}

func (p *BuilderProps) retryOpen(prefix string, s flows.Step) bool {
	if s.Retry != nil || s.OnError != "" {
		return true
	}
	for _, k := range []string{".retry.attempts", ".retry.backoff", ".retry.max_backoff", ".on_error"} {
		if len(p.Errors[prefix+k]) > 0 {
			return true
		}
	}
	return false
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

func hasDefault(s flows.Step) bool {
	for _, c := range s.Switch {
		if c.Default {
			return true
		}
	}
	return false
}

// checkAttrs are the htmx attributes of a field checked as the user
// types: a GET of the check URL with the field's own value, answered into
// the field's -check output.
func checkAttrs(p *BuilderProps, kind, name, id string) templ.Attributes {
	if kind == "" || p.CheckURL == "" {
		return templ.Attributes{}
	}
	return templ.Attributes{
		// A POST, so it carries the CSRF token; data-check makes app.js
		// send this field's text alone, not the whole builder form.
		"hx-post":    checkURL(p, kind, name),
		"data-check": true,
		"hx-trigger": "keyup changed delay:300ms, ref-inserted",
		"hx-target":  "#" + id + "-check",
		"hx-swap":    "innerHTML",
		// A newer check waits for the one in flight instead of aborting
		// it: htmx reports every abort as a console error.
		"hx-sync": "this:queue last",
	}
}

func joinComma(s []string) string { return strings.Join(s, ", ") }

// rowJSON is JSONValue on one line (a row is a one-line input).
func rowJSON(v any) string {
	if _, ok := v.(string); ok {
		return JSONValue(v)
	}
	return compact(v)
}

func kvKind(jsonValues bool) string {
	if jsonValues {
		return flows.KindJSON
	}
	return flows.KindTemplate
}

// attentionText is the navigation's count of unresolved failures.
func attentionText(p PageProps) string {
	if p.AttentionMore {
		return strconv.Itoa(p.Attention) + "+"
	}
	return strconv.Itoa(p.Attention)
}

func attentionLabel(p PageProps) string {
	return attentionText(p) + " failed runs need attention"
}
