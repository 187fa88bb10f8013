package web

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// The builder form names every value after its place in the flow, with
// list indexes as path segments: name, trigger.path, steps.0.if,
// steps.0.with.url, steps.1.switch.0.when, steps.1.switch.0.steps.0.use.
// Key-value fields post their rows as repeated NAME.k and NAME.v values;
// bool fields post a hidden "false" before the checkbox's "true"; `with`
// keys the connector does not declare travel as JSON in STEP.with_extra.
// parseFlowForm turns such a form back into a Flow.

// formErrors maps a form field name to its problems.
type formErrors map[string][]string

func (e formErrors) add(name, msg string) { e[name] = append(e[name], msg) }

// flowForm reads the builder's posted values.
type flowForm struct {
	v    url.Values
	errs formErrors
}

// str returns the last value posted under name (the checkbox after its
// hidden default).
func (r *flowForm) str(name string) string {
	vs := r.v[name]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

func (r *flowForm) trim(name string) string { return strings.TrimSpace(r.str(name)) }

// duration reads a duration picker (a number in name, its unit in
// name.unit) or, from a form without the unit, duration text.
func (r *flowForm) duration(name string) flows.Duration {
	s := r.trim(name)
	if s == "" {
		return 0
	}
	if d, picked := r.picked(name, s); picked {
		return flows.Duration(d)
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		r.errs.add(name, fmt.Sprintf("%q is not a duration (use e.g. 500ms, 30s, 5m)", s))
		return 0
	}
	return flows.Duration(d)
}

// picked reads the duration picker name whose number is s, when the form
// posted its unit; a refused number is recorded as name's error (d 0).
func (r *flowForm) picked(name, s string) (d time.Duration, picked bool) {
	if _, picked = r.v[name+".unit"]; !picked || s == "" {
		return 0, picked
	}
	d, msg := pickedDuration(s, r.str(name+".unit"), views.DurationUnits)
	if msg != "" {
		r.errs.add(name, msg)
	}
	return d, true
}

// size reads a size picker (a number in name, its unit in name.unit) or,
// from a form without the unit, a number of bytes.
func (r *flowForm) size(name string) int64 {
	if _, picked := r.v[name+".unit"]; !picked {
		return r.integer(name)
	}
	n, msg := pickedAmount(r.trim(name), r.str(name+".unit"), views.SizeUnits, maxPickedSize, "1 TB")
	if msg != "" {
		r.errs.add(name, msg)
	}
	return n
}

func (r *flowForm) integer(name string) int64 {
	s := r.trim(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		r.errs.add(name, fmt.Sprintf("%q is not a whole number", s))
	}
	return n
}

// indices lists the N of every "prefix.N.marker" field, in order.
func (r *flowForm) indices(prefix, marker string) []int {
	var out []int
	for k := range r.v {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		n, tail, ok := strings.Cut(rest, ".")
		if !ok || tail != marker {
			continue
		}
		if i, err := strconv.Atoi(n); err == nil && i >= 0 {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return slices.Compact(out)
}

// parseFlowForm rebuilds a flow from the builder form. Values the form
// cannot even read (a duration that is not one) come back as errors by
// field name; everything else is left to flow validation.
func parseFlowForm(v url.Values) (*flows.Flow, formErrors) {
	r := &flowForm{v: v, errs: formErrors{}}
	f := &flows.Flow{
		ID:          r.trim("id"),
		Name:        r.trim("name"),
		Description: strings.TrimSpace(r.str("description")),
		Enabled:     r.str("enabled") == "true",
		Concurrency: int(r.integer("concurrency")),
	}
	r.trigger(&f.Trigger)
	f.Steps = r.steps("steps")
	r.flowLinks(f)
	return f, r.errs
}

func (r *flowForm) trigger(t *flows.Trigger) {
	t.Type = r.trim("trigger.type")
	if t.Type == "" {
		t.Type = flows.TriggerWebhook
	}
	switch t.Type {
	case flows.TriggerWebhook:
		t.Path = strings.Trim(r.trim("trigger.path"), "/")
		for _, m := range r.v["trigger.methods"] {
			if m = strings.TrimSpace(m); m != "" {
				t.Methods = append(t.Methods, m)
			}
		}
		t.Respond = r.trim("trigger.respond")
		t.Timeout = r.duration("trigger.timeout")
		t.Dedupe = r.trim("trigger.dedupe")
		switch t.Dedupe {
		case views.DedupeNone:
			t.Dedupe = ""
		case views.ListExpression, "":
			t.Dedupe = r.trim("trigger.dedupe_expr")
		}
		t.DedupeWindow = r.duration("trigger.dedupe_window")
		t.MaxBody = r.size("trigger.max_body")
		if scheme := r.trim("trigger.verify.scheme"); scheme != "" {
			vf := &flows.Verify{}
			if extra := r.str("trigger.verify_extra"); extra != "" {
				if err := json.Unmarshal([]byte(extra), vf); err != nil {
					r.errs.add("trigger.verify", "the hidden verify options are damaged: "+err.Error())
				}
			}
			vf.Scheme, vf.Secret = scheme, r.trim("trigger.verify.secret")
			r.verifyOptions(vf)
			t.Verify = vf
		}
	case flows.TriggerSchedule, flows.TriggerPoll:
		t.Cron = r.cron()
		t.Timezone = r.trim("trigger.timezone")
		if t.Type == flows.TriggerSchedule {
			t.Misfire = r.trim("trigger.misfire")
			t.CatchUpLimit = int(r.integer("trigger.catch_up_limit"))
		}
		if t.Type == flows.TriggerPoll {
			req := &flows.PollRequest{Method: r.trim("trigger.request.method"), URL: r.trim("trigger.request.url"),
				Connection: r.trim("trigger.request.connection")}
			if kv, ok := r.keyValues("trigger.request.headers", false); ok {
				req.Headers = map[string]string{}
				for k, val := range kv {
					req.Headers[k] = fmt.Sprint(val)
				}
			}
			t.Request = req
			t.Items = r.trim("trigger.items")
			t.Key = r.trim("trigger.key")
			t.Cursor = r.trim("trigger.cursor")
			t.Backfill = int(r.integer("trigger.backfill"))
			t.FloodLimit = int(r.integer("trigger.flood_limit"))
			t.SeenLimit = int(r.integer("trigger.seen_limit"))
		}
	}
}

// verifyOptions reads the verify settings besides scheme and secret. A
// field the form did not post keeps what trigger.verify_extra held; an
// option the chosen scheme does not read is dropped (it stayed behind from
// another scheme).
func (r *flowForm) verifyOptions(vf *flows.Verify) {
	posted := func(name string) bool { _, ok := r.v["trigger.verify."+name]; return ok }
	list := func(name string, dst *[]string) {
		if !posted(name) {
			return
		}
		*dst = nil
		for _, part := range strings.FieldsFunc(r.str("trigger.verify."+name), func(c rune) bool { return c == ',' || c == '\n' || c == ' ' }) {
			*dst = append(*dst, part)
		}
	}
	list("secrets", &vf.Secrets)
	list("allow_ips", &vf.AllowIPs)
	list("trusted_proxies", &vf.TrustedProxies)
	if posted("tolerance") {
		vf.Tolerance = r.duration("trigger.verify.tolerance")
	}
	texts := map[string]*string{"header": &vf.Header, "prefix": &vf.Prefix, "query": &vf.Query, "algorithm": &vf.Algorithm,
		"encoding": &vf.Encoding, "signed": &vf.Signed, "timestamp_header": &vf.TimestampHeader, "id_header": &vf.IDHeader}
	for name, dst := range texts {
		if posted(name) {
			*dst = r.trim("trigger.verify." + name)
			if name == "prefix" {
				// "Bearer " ends in the space that separates it from the token.
				*dst = r.str("trigger.verify.prefix")
			}
		}
	}
	for _, name := range views.VerifyOptionNames {
		if views.VerifyTakes(vf.Scheme, name) {
			continue
		}
		if name == "tolerance" {
			vf.Tolerance = 0
		} else {
			*texts[name] = ""
		}
	}
}

// steps reads the steps listed under prefix (steps, or a case's
// steps.1.switch.0.steps). It never returns nil, so an empty case stays a
// list.
func (r *flowForm) steps(prefix string) []flows.Step {
	out := []flows.Step{}
	for _, i := range r.indices(prefix, "kind") {
		out = append(out, r.step(prefix+"."+strconv.Itoa(i)))
	}
	return out
}

func (r *flowForm) step(sp string) flows.Step {
	s := flows.Step{ID: r.trim(sp + ".id"), Name: r.trim(sp + ".name"), If: r.condition(sp + ".if"), OnError: r.trim(sp + ".on_error")}
	if r.str(sp+".kind") == "loop" {
		r.loop(sp, &s)
		return s
	}
	if r.str(sp+".kind") == "switch" {
		s.Switch = []flows.Case{}
		for _, j := range r.indices(sp+".switch", "case") {
			cp := sp + ".switch." + strconv.Itoa(j)
			c := flows.Case{Default: r.str(cp+".case") == "default", Steps: r.steps(cp + ".steps")}
			if !c.Default {
				c.When = r.condition(cp + ".when")
			}
			s.Switch = append(s.Switch, c)
		}
		return s
	}
	s.Use = r.trim(sp + ".use")
	with := map[string]any{}
	if extra := r.str(sp + ".with_extra"); extra != "" {
		if err := json.Unmarshal([]byte(extra), &with); err != nil {
			r.errs.add(sp+".with", "the hidden settings are damaged: "+err.Error())
		}
	}
	if spec, err := lookupSpec(s.Use); err == nil {
		for _, f := range spec.Fields {
			name := fieldFormName(sp, f)
			if f.Name == flows.WildcardField {
				if kv, ok := r.keyValues(name, true); ok {
					for k, val := range kv {
						with[k] = val
					}
				}
				continue
			}
			if val, ok := r.fieldValue(name, f); ok {
				with[f.Name] = val
			}
		}
	}
	if len(with) > 0 {
		s.With = with
	}
	a, b, m := r.trim(sp+".retry.attempts"), r.trim(sp+".retry.backoff"), r.trim(sp+".retry.max_backoff")
	if a != "" || b != "" || m != "" {
		s.Retry = &flows.Retry{Attempts: int(r.integer(sp + ".retry.attempts")), Backoff: r.duration(sp + ".retry.backoff"),
			MaxBackoff: r.duration(sp + ".retry.max_backoff")}
	}
	return s
}

func lookupSpec(use string) (connectors.Spec, error) {
	c, err := connectors.Lookup(use)
	if err != nil {
		return connectors.Spec{}, err
	}
	return c.Spec(), nil
}

// fieldFormName is the form name of a `with` field (views decides it).
func fieldFormName(sp string, f connectors.Field) string {
	if f.Name == flows.WildcardField {
		return sp + ".with." + views.WildcardName
	}
	return sp + ".with." + f.Name
}

// fieldValue reads one `with` field by its type; false means "not set".
func (r *flowForm) fieldValue(name string, f connectors.Field) (any, bool) {
	switch f.Type {
	case connectors.TypeBool:
		if len(r.v[name]) == 0 {
			return nil, false
		}
		b := r.str(name) == "true"
		def, _ := f.Default.(bool)
		// The default need not be written down; leaving it out keeps
		// the flow as short as the user's intent.
		if b == def {
			return nil, false
		}
		return b, true
	case connectors.TypeKeyValue:
		return r.keyValues(name, false)
	case connectors.TypeNumber:
		s := r.trim(name)
		if s == "" {
			return nil, false
		}
		if n, err := strconv.ParseFloat(s, 64); err == nil {
			return n, true
		}
		return s, true
	case connectors.TypeJSON:
		return r.jsonValue(name, f)
	case connectors.TypeText, connectors.TypeSecret:
		s := r.str(name)
		return s, s != ""
	case connectors.TypeDuration:
		s := r.trim(name)
		if d, picked := r.picked(name, s); picked && d > 0 {
			return views.DurationText(d), true
		}
		// Text: a template, a form without the unit, or a number refused
		// (kept as typed beside its error).
		return s, s != ""
	default:
		s := r.trim(name)
		return s, s != ""
	}
}

// jsonOrString reads text as JSON when it parses, else as a string (which
// may be a template).
func jsonOrString(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v
	}
	return s
}

// keyValues zips the NAME.k and NAME.v rows; rows without a key are
// dropped. With jsonValues each value is read as JSON when it parses.
func (r *flowForm) keyValues(name string, jsonValues bool) (map[string]any, bool) {
	keys, vals := r.v[name+".k"], r.v[name+".v"]
	out := map[string]any{}
	for i, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		val := ""
		if i < len(vals) {
			val = vals[i]
		}
		if jsonValues {
			out[k] = jsonOrString(strings.TrimSpace(val))
		} else {
			out[k] = val
		}
	}
	return out, len(out) > 0
}

// dropRow removes row i of a key-value field from the posted values.
func dropRow(v url.Values, name string, i int) {
	for _, k := range []string{name + ".k", name + ".v"} {
		if i >= 0 && i < len(v[k]) {
			v[k] = slices.Delete(slices.Clone(v[k]), i, i+1)
		}
	}
}

// formName turns a validation path (steps[1].switch[0].when) into the
// builder's field name (steps.1.switch.0.when).
func formName(path string) string { return views.FormName(path) }

// fieldAnchors lists the names under which the builder shows problems for
// flow f, and the `with` prefixes of steps whose connector takes any key.
func fieldAnchors(f *flows.Flow) (map[string]bool, map[string]bool) {
	a := map[string]bool{"id": true, "name": true, "description": true, "enabled": true, "concurrency": true, "trigger.type": true, "steps": true,
		"on_failure.flow": true, "notify.url": true, "notify.secret": true}
	open := map[string]bool{}
	switch f.Trigger.Type {
	case flows.TriggerWebhook:
		for _, k := range []string{"path", "methods", "respond", "timeout", "dedupe", "dedupe_window", "max_body", "verify", "verify.scheme", "verify.secret",
			"verify.secrets", "verify.allow_ips", "verify.trusted_proxies"} {
			a["trigger."+k] = true
		}
		for _, k := range views.VerifyOptionNames {
			a["trigger.verify."+k] = true
		}
	case flows.TriggerSchedule:
		for _, k := range []string{"cron", "timezone", "misfire", "catch_up_limit"} {
			a["trigger."+k] = true
		}
	case flows.TriggerPoll:
		for _, k := range []string{"cron", "timezone", "request", "request.method", "request.url", "request.connection", "request.headers", "items", "key", "cursor", "backfill", "flood_limit", "seen_limit"} {
			a["trigger."+k] = true
		}
	}
	var walk func(prefix string, steps []flows.Step)
	walk = func(prefix string, steps []flows.Step) {
		for i, s := range steps {
			sp := prefix + "." + strconv.Itoa(i)
			for _, k := range []string{"", ".id", ".name", ".if", ".use"} {
				a[sp+k] = true
			}
			if s.IsLoop() {
				for _, k := range []string{".for_each", ".max_items", ".concurrency", ".collect", ".steps", ".on_error"} {
					a[sp+k] = true
				}
				walk(sp+".steps", s.Steps)
				continue
			}
			if s.IsSwitch() || s.Use == "" {
				a[sp+".switch"] = true
				for j, c := range s.Switch {
					cp := sp + ".switch." + strconv.Itoa(j)
					a[cp+".when"], a[cp+".default"], a[cp+".steps"] = !c.Default, true, true
					walk(cp+".steps", c.Steps)
				}
				continue
			}
			for _, k := range []string{".with", ".retry", ".retry.attempts", ".retry.backoff", ".retry.max_backoff", ".on_error"} {
				a[sp+k] = true
			}
			if spec, err := lookupSpec(s.Use); err == nil {
				for _, fd := range spec.Fields {
					a[fieldFormName(sp, fd)] = true
				}
				if _, ok := spec.Field(flows.WildcardField); ok {
					open[sp+".with"] = true
				}
			}
		}
	}
	walk("steps", f.Steps)
	return a, open
}

// placeErrors puts every validation problem next to the field that shows
// it: the field itself, else its nearest shown parent (the message then
// names the rest of the path). Problems no field shows are unplaced.
func placeErrors(f *flows.Flow, details []flows.FieldError, into formErrors) (problems []views.Problem, unplaced []string) {
	anchors, open := fieldAnchors(f)
	for _, d := range details {
		name := formName(d.Field)
		msg, at := d.Message, name
		for at != "" && !anchors[at] {
			i := strings.LastIndex(at, ".")
			if i < 0 {
				at = ""
				break
			}
			parent := at[:i]
			if open[parent] {
				msg = at[i+1:] + ": " + d.Message
				at = parent + "." + views.WildcardName
				break
			}
			at = parent
		}
		if at != name && at != "" && !strings.HasSuffix(at, views.WildcardName) {
			msg = strings.TrimPrefix(name[len(at):], ".") + ": " + d.Message
		}
		p := views.Problem{Field: d.Field, Message: d.Message}
		if at == "" {
			unplaced = append(unplaced, d.Field+": "+d.Message)
		} else {
			into.add(at, msg)
			p.Anchor = views.ID(at) + "-error"
		}
		problems = append(problems, p)
	}
	return problems, unplaced
}
