package flows

import (
	"fmt"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// Limits and patterns Compile enforces.
const (
	MaxHookPathLen = 200
	MaxMaxBody     = 64 << 20
	MaxSyncTimeout = 5 * time.Minute
	MaxAttempts    = 20
	MaxBackoff     = time.Hour
	MaxMaxBackoff  = 24 * time.Hour
	MaxNameLen     = 200
	// MaxConcurrency bounds a flow's concurrency.
	MaxConcurrency = 1000
	// MaxVerifyTolerance bounds verify.tolerance: a longer window would let
	// a captured request be replayed for longer than is useful.
	MaxVerifyTolerance = time.Hour
	// WildcardField is the field name with which a connector spec accepts
	// any key in `with` (data.set declares it).
	WildcardField = "*"
)

var (
	flowIDPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	hookPathPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~/-]*$`)
	stepIDPattern   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// headerNamePattern is an HTTP field name (RFC 9110 token).
	headerNamePattern = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// HTTPMethods are the methods a webhook may accept and a poll may send.
var HTTPMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// TriggerTypes lists the trigger types in the order messages name them.
var TriggerTypes = []string{TriggerWebhook, TriggerManual, TriggerSchedule, TriggerPoll, TriggerCall}

// triggerFields says which trigger fields (besides type) each trigger type
// accepts.
var triggerFields = map[string][]string{
	TriggerWebhook:  {"path", "methods", "verify", "dedupe", "dedupe_window", "respond", "timeout", "max_body", "rate_limit"},
	TriggerManual:   {},
	TriggerCall:     {},
	TriggerSchedule: {"cron", "timezone", "misfire", "catch_up_limit"},
	TriggerPoll:     {"cron", "timezone", "request", "items", "key", "cursor", "backfill", "flood_limit", "seen_limit"},
}

// Compile validates f (schema, connector configs against their specs,
// unique step ids, every expression and template) and compiles every
// expression once. On failure it returns a *ValidationError listing every
// problem with its field path; expr errors keep expr's line:column.
func Compile(f *Flow) (*Compiled, error) {
	v := &validator{errs: &ValidationError{}, ids: map[string]string{}}
	if f == nil {
		v.errs.add("", "no flow given")
		return nil, v.errs
	}
	c := &Compiled{Flow: f, byID: map[string]*CompiledStep{}}
	v.byID = c.byID
	v.flowFields(f)
	v.flowLinks(f)
	// Step ids are needed to check trigger expressions, but their problems
	// are reported after the trigger's, in document order.
	idErrs := v.collectIDs(f.Steps)
	v.trigger(&f.Trigger, c)
	v.errs.Details = append(v.errs.Details, idErrs.Details...)
	if len(f.Steps) == 0 {
		v.errs.add("steps", "at least one step is required")
	}
	c.Steps = v.steps("steps", f.Steps, map[string]bool{})
	if err := v.errs.orNil(); err != nil {
		return nil, err
	}
	return c, nil
}

// validator collects every problem of one flow.
type validator struct {
	errs *ValidationError
	// ids maps every step id in the flow to the path where it first
	// appears.
	ids  map[string]string
	byID map[string]*CompiledStep
	// shape is what step expressions are compiled against: shapeLoop
	// inside a loop's steps (item, index), else shapeBase.
	shape envShape
}

func (v *validator) flowFields(f *Flow) {
	switch {
	case f.ID == "":
		v.errs.add("id", "required")
	case !flowIDPattern.MatchString(f.ID):
		v.errs.add("id", fmt.Sprintf("%q is not a valid flow id: use 1 to 64 lower-case letters, digits, \"_\" and \"-\", starting with a letter or digit", f.ID))
	}
	switch {
	case strings.TrimSpace(f.Name) == "":
		v.errs.add("name", "required")
	case len(f.Name) > MaxNameLen:
		v.errs.add("name", fmt.Sprintf("at most %d characters", MaxNameLen))
	}
	if f.Concurrency < 0 || f.Concurrency > MaxConcurrency {
		v.errs.add("concurrency", fmt.Sprintf("must be between 1 and %d, got %d", MaxConcurrency, f.Concurrency))
	}
}

// trigger validates the trigger and compiles its expressions into c.
func (v *validator) trigger(t *Trigger, c *Compiled) {
	switch {
	case t.Type == "":
		v.errs.add("trigger.type", "required (one of "+strings.Join(TriggerTypes, ", ")+")")
		return
	case triggerFields[t.Type] == nil:
		v.errs.add("trigger.type", fmt.Sprintf("unknown trigger type %q (use one of %s)", t.Type, strings.Join(TriggerTypes, ", ")))
		return
	}
	allowed := triggerFields[t.Type]
	for _, name := range setTriggerFields(t) {
		if !slices.Contains(allowed, name) {
			v.errs.add("trigger."+name, fmt.Sprintf("not allowed for %s triggers", t.Type))
		}
	}
	switch t.Type {
	case TriggerWebhook:
		v.webhook(t, c)
	case TriggerSchedule:
		v.schedule(t)
	case TriggerPoll:
		v.schedule(t)
		v.poll(t, c)
	}
}

// setTriggerFields names the trigger fields that hold a value, in
// declaration order.
func setTriggerFields(t *Trigger) []string {
	set := []struct {
		name string
		on   bool
	}{
		{"path", t.Path != ""},
		{"methods", len(t.Methods) > 0},
		{"verify", t.Verify != nil},
		{"dedupe", t.Dedupe != ""},
		{"dedupe_window", t.DedupeWindow != 0},
		{"respond", t.Respond != ""},
		{"timeout", t.Timeout != 0},
		{"max_body", t.MaxBody != 0},
		{"rate_limit", t.RateLimit != nil},
		{"cron", t.Cron != ""},
		{"timezone", t.Timezone != ""},
		{"request", t.Request != nil},
		{"items", t.Items != ""},
		{"key", t.Key != ""},
		{"misfire", t.Misfire != ""},
		{"catch_up_limit", t.CatchUpLimit != 0},
		{"cursor", t.Cursor != ""},
		{"backfill", t.Backfill != 0},
		{"flood_limit", t.FloodLimit != 0},
		{"seen_limit", t.SeenLimit != 0},
	}
	var out []string
	for _, s := range set {
		if s.on {
			out = append(out, s.name)
		}
	}
	return out
}

func (v *validator) webhook(t *Trigger, c *Compiled) {
	switch {
	case t.Path == "":
		v.errs.add("trigger.path", "required")
	case len(t.Path) > MaxHookPathLen:
		v.errs.add("trigger.path", fmt.Sprintf("at most %d characters", MaxHookPathLen))
	case !hookPathPattern.MatchString(t.Path):
		v.errs.add("trigger.path", fmt.Sprintf("%q is not a valid path: start with a letter or digit and use only letters, digits and . _ ~ / -", t.Path))
	case strings.Contains(t.Path, "..") || strings.Contains(t.Path, "//"):
		v.errs.add("trigger.path", fmt.Sprintf("%q must not contain \"..\" or \"//\"", t.Path))
	}
	v.methods("trigger.methods", t.Methods)

	switch t.Respond {
	case "", RespondAsync, RespondSync:
	default:
		v.errs.add("trigger.respond", fmt.Sprintf("must be %q or %q, got %q", RespondAsync, RespondSync, t.Respond))
	}
	if t.Timeout != 0 {
		switch {
		case t.Respond != RespondSync:
			v.errs.add("trigger.timeout", `only allowed with respond "sync"`)
		case t.Timeout.Std() > MaxSyncTimeout:
			v.errs.add("trigger.timeout", fmt.Sprintf("at most %s, got %s", MaxSyncTimeout, t.Timeout.Std()))
		}
	}
	if t.MaxBody != 0 && (t.MaxBody < 1 || t.MaxBody > MaxMaxBody) {
		v.errs.add("trigger.max_body", fmt.Sprintf("must be between 1 and %d bytes (64 MiB), got %d", MaxMaxBody, t.MaxBody))
	}
	preset := ""
	if t.Verify != nil {
		preset = DedupePresets[t.Verify.Scheme]
	}
	switch {
	case t.Dedupe != "":
		c.Dedupe = v.expr("trigger.dedupe", t.Dedupe, shapeBase, nil, false)
	case preset != "":
		c.Dedupe = v.expr("trigger.verify.scheme", preset, shapeBase, nil, false)
	}
	if t.DedupeWindow != 0 && t.Dedupe == "" && preset == "" {
		v.errs.add("trigger.dedupe_window", "only allowed with dedupe")
	}
	if r := t.RateLimit; r != nil {
		v.errs.Details = append(v.errs.Details, r.Check("trigger.rate_limit")...)
	}
	if t.Verify != nil {
		v.verify("trigger.verify", t.Verify)
	}
}

// verifyOptions says which options each verify scheme accepts besides
// scheme, secret, secrets, allow_ips and trusted_proxies.
var verifyOptions = map[string][]string{
	VerifyStandardWebhooks: {"tolerance"},
	VerifyGitHub:           {},
	VerifyStripe:           {"tolerance"},
	VerifySlack:            {"tolerance"},
	VerifyShopify:          {},
	VerifyTwilio:           {},
	VerifyHubSpot:          {"tolerance"},
	VerifyHMAC:             {"tolerance", "header", "prefix", "algorithm", "encoding", "signed", "timestamp_header", "id_header"},
	VerifyToken:            {"header", "query", "prefix"},
	VerifyBasic:            {},
	VerifyNone:             {},
}

// verifyOptionNames lists the scheme options in declaration order.
var verifyOptionNames = []string{"tolerance", "header", "query", "prefix", "algorithm", "encoding", "signed", "timestamp_header", "id_header"}

// setVerifyOptions names the scheme options that hold a value.
func setVerifyOptions(vf *Verify) []string {
	on := map[string]bool{
		"tolerance":        vf.Tolerance != 0,
		"header":           vf.Header != "",
		"query":            vf.Query != "",
		"prefix":           vf.Prefix != "",
		"algorithm":        vf.Algorithm != "",
		"encoding":         vf.Encoding != "",
		"signed":           vf.Signed != "",
		"timestamp_header": vf.TimestampHeader != "",
		"id_header":        vf.IDHeader != "",
	}
	var out []string
	for _, name := range verifyOptionNames {
		if on[name] {
			out = append(out, name)
		}
	}
	return out
}

// verify checks a webhook trigger's verify settings: a known scheme, the
// secret connections it needs, the options that scheme takes (and no
// others), and the IP lists.
func (v *validator) verify(p string, vf *Verify) {
	switch {
	case vf.Scheme == "":
		v.errs.add(p+".scheme", "required (one of "+strings.Join(VerifySchemes, ", ")+")")
		return
	case verifyOptions[vf.Scheme] == nil:
		v.errs.add(p+".scheme", fmt.Sprintf("unknown scheme %q (use one of %s)", vf.Scheme, strings.Join(VerifySchemes, ", ")))
		return
	}
	if vf.Scheme == VerifyNone {
		if vf.Secret != "" {
			v.errs.add(p+".secret", "not allowed with scheme none")
		}
		if len(vf.Secrets) > 0 {
			v.errs.add(p+".secrets", "not allowed with scheme none")
		}
	} else {
		if vf.Secret == "" {
			v.errs.add(p+".secret", "required: the name of a connection of type secret")
		}
		seen := map[string]bool{vf.Secret: vf.Secret != ""}
		for i, name := range vf.Secrets {
			sp := fmt.Sprintf("%s.secrets[%d]", p, i)
			switch {
			case name == "":
				v.errs.add(sp, "must be the name of a connection of type secret")
			case seen[name]:
				v.errs.add(sp, fmt.Sprintf("%q is listed twice", name))
			}
			seen[name] = true
		}
	}
	allowed := verifyOptions[vf.Scheme]
	for _, name := range setVerifyOptions(vf) {
		if !slices.Contains(allowed, name) {
			v.errs.add(p+"."+name, fmt.Sprintf("not allowed with scheme %s", vf.Scheme))
		}
	}
	if slices.Contains(allowed, "tolerance") && vf.Tolerance != 0 {
		switch d := vf.Tolerance.Std(); {
		case d < time.Second:
			v.errs.add(p+".tolerance", fmt.Sprintf("must be at least 1s (signed timestamps count seconds), got %s", d))
		case d > MaxVerifyTolerance:
			v.errs.add(p+".tolerance", fmt.Sprintf("at most %s, got %s", MaxVerifyTolerance, d))
		}
	}
	switch vf.Scheme {
	case VerifyHMAC:
		v.verifyHMAC(p, vf)
	case VerifyToken:
		switch {
		case vf.Header == "" && vf.Query == "":
			v.errs.add(p+".header", "required with scheme token (or query)")
		case vf.Header != "" && vf.Query != "":
			v.errs.add(p+".query", "not allowed together with header: the token comes from one place")
		case vf.Query != "" && vf.Prefix != "":
			v.errs.add(p+".prefix", "only allowed with header")
		}
		v.headerName(p+".header", vf.Header)
	}
	v.ipList(p+".allow_ips", vf.AllowIPs)
	v.ipList(p+".trusted_proxies", vf.TrustedProxies)
}

// verifyHMAC checks the options of the generic hmac scheme.
func (v *validator) verifyHMAC(p string, vf *Verify) {
	if vf.Header == "" {
		v.errs.add(p+".header", "required with scheme hmac: the header carrying the signature")
	}
	v.headerName(p+".header", vf.Header)
	v.headerName(p+".timestamp_header", vf.TimestampHeader)
	v.headerName(p+".id_header", vf.IDHeader)
	switch vf.Algorithm {
	case "", VerifySHA1, VerifySHA256, VerifySHA512:
	default:
		v.errs.add(p+".algorithm", "must be sha1, sha256 or sha512")
	}
	switch vf.Encoding {
	case "", VerifyHex, VerifyBase64:
	default:
		v.errs.add(p+".encoding", "must be hex or base64")
	}
	signed := vf.Signed
	if signed == "" {
		signed = VerifyDefaultSigned
	}
	uses, err := SignedPlaceholders(signed)
	if err != nil {
		v.errs.add(p+".signed", err.Error())
		return
	}
	if !uses["body"] {
		v.errs.add(p+".signed", "must include {body}: a signature that does not cover the body lets anyone change it")
	}
	switch {
	case uses["timestamp"] && vf.TimestampHeader == "":
		v.errs.add(p+".timestamp_header", "required when signed uses {timestamp}")
	case !uses["timestamp"] && vf.TimestampHeader != "":
		v.errs.add(p+".timestamp_header", "only allowed when signed uses {timestamp}: an unsigned timestamp proves nothing")
	case vf.Tolerance != 0 && vf.TimestampHeader == "":
		v.errs.add(p+".tolerance", "only allowed with timestamp_header")
	}
	switch {
	case uses["id"] && vf.IDHeader == "":
		v.errs.add(p+".id_header", "required when signed uses {id}")
	case !uses["id"] && vf.IDHeader != "":
		v.errs.add(p+".id_header", "only allowed when signed uses {id}")
	}
}

// SignedPlaceholders parses a Verify.Signed template and reports which
// placeholders it uses. A "{" must open one of VerifyPlaceholders; there
// is no escape for a literal "{".
func SignedPlaceholders(tmpl string) (map[string]bool, error) {
	uses := map[string]bool{}
	for rest := tmpl; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return uses, nil
		}
		rest = rest[i+1:]
		name, after, ok := strings.Cut(rest, "}")
		switch {
		case !ok:
			return nil, fmt.Errorf("%q has no closing \"}\" (placeholders are {body}, {timestamp}, {id}, {method} and {url})", "{"+clip(rest, 20))
		case !slices.Contains(VerifyPlaceholders, name):
			return nil, fmt.Errorf("unknown placeholder {%s} (use {body}, {timestamp}, {id}, {method} or {url}; a literal \"{\" is not supported)", clip(name, 20))
		}
		uses[name] = true
		rest = after
	}
}

// clip shortens s to at most n runes for a message.
func clip(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i] + "..."
		}
		n--
	}
	return s
}

// headerName checks an HTTP header name, if given.
func (v *validator) headerName(field, name string) {
	if name != "" && !headerNamePattern.MatchString(name) {
		v.errs.add(field, fmt.Sprintf("%q is not a valid header name", name))
	}
}

// ipList checks a list of IP addresses and CIDR ranges.
func (v *validator) ipList(field string, list []string) {
	for i, s := range list {
		if _, err := ParseIPRange(s); err != nil {
			v.errs.add(fmt.Sprintf("%s[%d]", field, i), err.Error())
		}
	}
}

// ParseIPRange reads an IP address ("203.0.113.7", "2001:db8::1") or a CIDR
// range ("203.0.113.0/24") as a prefix; a lone address is a prefix of its
// full length. IPv4-mapped IPv6 addresses are unmapped.
func ParseIPRange(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR range", s)
		}
		if p.Addr().Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR range", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), bits)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR range", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// methods checks a list of HTTP method names.
func (v *validator) methods(field string, methods []string) {
	seen := map[string]bool{}
	for i, m := range methods {
		p := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case !slices.Contains(HTTPMethods, m):
			v.errs.add(p, fmt.Sprintf("unknown HTTP method %q (use %s)", m, strings.Join(HTTPMethods, ", ")))
		case seen[m]:
			v.errs.add(p, fmt.Sprintf("%s is listed twice", m))
		}
		seen[m] = true
	}
}

func (v *validator) schedule(t *Trigger) {
	if strings.TrimSpace(t.Cron) == "" {
		v.errs.add("trigger.cron", "required")
	}
	if t.Timezone != "" {
		if _, err := time.LoadLocation(t.Timezone); err != nil {
			v.errs.add("trigger.timezone", fmt.Sprintf("unknown time zone %q (use an IANA name such as \"Europe/Berlin\")", t.Timezone))
		}
	}
	v.timedSchedule(t)
}

func (v *validator) poll(t *Trigger, c *Compiled) {
	if r := t.Request; r == nil {
		v.errs.add("trigger.request", "required")
	} else {
		if r.URL == "" {
			v.errs.add("trigger.request.url", "required")
		} else if u, err := url.Parse(pollURL(r.URL)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errs.add("trigger.request.url", fmt.Sprintf("%q is not an absolute http or https URL", r.URL))
		}
		if r.Method != "" {
			v.methods("trigger.request.method", []string{r.Method})
		}
	}
	if t.Items == "" {
		v.errs.add("trigger.items", "required")
	} else {
		c.Items = v.expr("trigger.items", t.Items, shapeResponse, nil, false)
	}
	if t.Key == "" {
		v.errs.add("trigger.key", "required")
	} else {
		c.Key = v.expr("trigger.key", t.Key, shapeItem, nil, false)
	}
	v.timedPoll(t, c)
}

// collectIDs checks every step id in the flow, at any depth, records
// where each first appears, and returns the problems found.
func (v *validator) collectIDs(steps []Step) *ValidationError {
	errs := &ValidationError{}
	Walk(steps, func(path string, s *Step) {
		switch {
		case s.ID == "":
			errs.add(path+".id", "required")
			return
		case !stepIDPattern.MatchString(s.ID):
			errs.add(path+".id", fmt.Sprintf("%q is not a valid step id: use letters, digits and \"_\", not starting with a digit", s.ID))
		}
		if first, dup := v.ids[s.ID]; dup {
			errs.add(path+".id", fmt.Sprintf("duplicate step id %q (first at %s)", s.ID, first))
			return
		}
		v.ids[s.ID] = path
	})
	return errs
}

// steps validates and compiles a list of steps. visible holds the ids of
// the steps that have run before the first of them; each step also sees
// the steps before it in the list, including those inside their switches.
func (v *validator) steps(prefix string, steps []Step, visible map[string]bool) []*CompiledStep {
	seen := make(map[string]bool, len(visible)+len(steps))
	for id := range visible {
		seen[id] = true
	}
	out := make([]*CompiledStep, 0, len(steps))
	for i := range steps {
		s := &steps[i]
		out = append(out, v.step(fmt.Sprintf("%s[%d]", prefix, i), s, seen))
		markRun(s, seen)
	}
	return out
}

// markRun adds the ids of s and the steps it runs to seen: a switch's
// steps, whose outputs later steps may read, but not a loop's inner steps,
// which have one output per item (later steps read the loop's list).
func markRun(s *Step, seen map[string]bool) {
	if s.ID != "" {
		seen[s.ID] = true
	}
	for j := range s.Switch {
		for k := range s.Switch[j].Steps {
			markRun(&s.Switch[j].Steps[k], seen)
		}
	}
}

func (v *validator) step(p string, s *Step, visible map[string]bool) *CompiledStep {
	cs := &CompiledStep{Step: s, Path: p}
	if s.ID != "" && v.ids[s.ID] == p {
		v.byID[s.ID] = cs
	}
	if s.If != "" {
		cs.If = v.expr(p+".if", s.If, v.shape, visible, true)
	}
	switch s.OnError {
	case "", OnErrorFail, OnErrorContinue:
	default:
		v.errs.add(p+".on_error", fmt.Sprintf("must be %q or %q, got %q", OnErrorFail, OnErrorContinue, s.OnError))
	}

	if s.IsLoop() {
		v.loop(p, s, cs, visible)
		return cs
	}
	hasSwitch := s.Switch != nil
	switch {
	case s.Use != "" && hasSwitch:
		v.errs.add(p+".switch", "not allowed together with use: a step either calls a connector or routes")
	case s.Use == "" && !hasSwitch:
		v.errs.add(p+".use", "required (or switch or for_each)")
	}
	v.notLoopFields(p, s)
	if s.Use != "" {
		if s.Retry != nil {
			v.retry(p+".retry", s.Retry)
		}
		cs.Spec, cs.With = v.config(p, s, visible)
		if s.Use == UseFlowCall {
			v.callStep(p, s)
		}
		return cs
	}
	if len(s.With) > 0 {
		v.errs.add(p+".with", "not allowed on a switch step")
	}
	if s.Retry != nil {
		v.errs.add(p+".retry", "not allowed on a switch step")
	}
	if hasSwitch {
		cs.Cases = v.cases(p, s.Switch, visible)
	}
	return cs
}

func (v *validator) retry(p string, r *Retry) {
	if r.Attempts < 1 || r.Attempts > MaxAttempts {
		v.errs.add(p+".attempts", fmt.Sprintf("must be between 1 and %d, got %d", MaxAttempts, r.Attempts))
	}
	if r.Backoff.Std() > MaxBackoff {
		v.errs.add(p+".backoff", fmt.Sprintf("at most %s, got %s", MaxBackoff, r.Backoff.Std()))
	}
	switch {
	case r.MaxBackoff.Std() > MaxMaxBackoff:
		v.errs.add(p+".max_backoff", fmt.Sprintf("at most %s, got %s", MaxMaxBackoff, r.MaxBackoff.Std()))
	case r.MaxBackoff != 0 && r.MaxBackoff < r.Backoff:
		v.errs.add(p+".max_backoff", fmt.Sprintf("must not be less than backoff (%s), got %s", r.Backoff.Std(), r.MaxBackoff.Std()))
	}
}

func (v *validator) cases(p string, cases []Case, visible map[string]bool) []*CompiledCase {
	if len(cases) == 0 {
		v.errs.add(p+".switch", "at least one case is required")
		return nil
	}
	out := make([]*CompiledCase, 0, len(cases))
	firstDefault := ""
	for j := range cases {
		c := &cases[j]
		cp := fmt.Sprintf("%s.switch[%d]", p, j)
		cc := &CompiledCase{Default: c.Default}
		switch {
		case c.Default && c.When != "":
			v.errs.add(cp+".when", "not allowed in the default case")
		case !c.Default && c.When == "":
			v.errs.add(cp+".when", `required (or "default": true)`)
		case c.When != "":
			cc.When = v.expr(cp+".when", c.When, v.shape, visible, true)
		}
		if c.Default {
			switch {
			case firstDefault != "":
				v.errs.add(cp+".default", fmt.Sprintf("only one default case is allowed (first at %s)", firstDefault))
			case j != len(cases)-1:
				v.errs.add(cp+".default", "the default case must be the last case")
			}
			if firstDefault == "" {
				firstDefault = cp
			}
		}
		if len(c.Steps) == 0 {
			v.errs.add(cp+".steps", "at least one step is required")
		}
		cc.Steps = v.steps(cp+".steps", c.Steps, visible)
		out = append(out, cc)
	}
	return out
}

// expr compiles a bare expression (if, when, dedupe, items, key) and checks
// what it refers to. visible is nil for trigger expressions, which run
// before any step. wantBool rejects expressions whose type is known not to
// be bool; unknown types are checked at run time by Bool.
func (v *validator) expr(field, src string, shape envShape, visible map[string]bool, wantBool bool) *Expr {
	e, refs, err := compileExpr(field, src, shape)
	if err != nil {
		v.errs.add(field, err.Error())
		return nil
	}
	if wantBool {
		if t := e.resultType(); t != nil && t.Kind() != reflect.Bool {
			v.errs.add(field, fmt.Sprintf("must yield true or false, but yields %s", t))
		}
	}
	if refs.secrets {
		v.errs.add(field, "secrets are only available inside a step's with")
	}
	v.checkSteps(field, refs, visible)
	return e
}

// checkSteps reports steps.<id> references to steps that do not exist or
// have not run by the time the expression is evaluated.
func (v *validator) checkSteps(field string, refs exprRefs, visible map[string]bool) {
	for _, id := range refs.steps {
		switch {
		case v.ids[id] == "":
			v.errs.add(field, fmt.Sprintf("unknown step %q in steps.%s", id, id))
		case !visible[id]:
			v.errs.add(field, fmt.Sprintf("step %q has not run yet here (steps.%s)", id, id))
		}
	}
}

// config checks a connector step's `with` against the connector's spec and
// compiles its templates.
func (v *validator) config(p string, s *Step, visible map[string]bool) (connectors.Spec, *Template) {
	var spec connectors.Spec
	known := false
	conn, err := connectors.Lookup(s.Use)
	if err != nil {
		v.errs.add(p+".use", fmt.Sprintf("unknown connector %q", s.Use))
	} else {
		spec, known = conn.Spec(), true
	}
	if known {
		v.checkConfig(p+".with", spec, s.With)
		if cc, ok := conn.(connectors.ConfigChecker); ok {
			for _, e := range cc.CheckConfig(s.With) {
				v.errs.add(keyPath(p+".with", e.Field), e.Msg)
			}
		}
	}
	if len(s.With) == 0 {
		return spec, nil
	}
	return spec, v.template(visible).compileTemplate(p+".with", s.With)
}

// template returns a compiler for the templates of a step that sees the
// steps in visible.
func (v *validator) template(visible map[string]bool) *templateCompiler {
	return &templateCompiler{
		errs:  v.errs,
		shape: v.shape,
		check: func(field string, refs exprRefs) { v.checkSteps(field, refs, visible) },
	}
}

// checkConfig compares `with` with the spec's fields: unknown keys,
// missing required fields, and the type of every value that is not a
// template.
func (v *validator) checkConfig(p string, spec connectors.Spec, with map[string]any) {
	wildcard, open := spec.Field(WildcardField)
	for _, k := range sortedKeys(with) {
		f, ok := spec.Field(k)
		if !ok && open {
			f, ok = wildcard, true
		}
		kp := keyPath(p, k)
		if !ok {
			v.errs.add(kp, fmt.Sprintf("unknown field for %s (fields: %s)", spec.ID, fieldNames(spec)))
			continue
		}
		v.checkValue(kp, f, with[k])
	}
	for _, f := range spec.Fields {
		if !f.Required || f.Name == WildcardField {
			continue
		}
		if val, ok := with[f.Name]; !ok || val == nil || val == "" {
			v.errs.add(keyPath(p, f.Name), "required")
		}
	}
}

// fieldNames lists a spec's field names for messages.
func fieldNames(spec connectors.Spec) string {
	names := make([]string, 0, len(spec.Fields))
	for _, f := range spec.Fields {
		names = append(names, f.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// checkValue checks one config value against its field's type. Templates
// are checked when they render, except that a template mixing text with
// expressions always renders a string.
func (v *validator) checkValue(p string, f connectors.Field, val any) {
	if val == nil {
		return
	}
	if s, ok := val.(string); ok && isTemplate(s) {
		switch f.Type {
		case connectors.TypeNumber, connectors.TypeBool, connectors.TypeKeyValue:
			if segs, err := parseTemplate(s); err == nil && !singleExpr(segs) {
				v.errs.add(p, fmt.Sprintf("must be a %s; text around {{ }} makes the value a string (use a single {{ expr }})", typeNoun(f.Type)))
			}
		}
		return
	}
	switch f.Type {
	case connectors.TypeString, connectors.TypeText, connectors.TypeSecret:
		if _, ok := val.(string); !ok {
			v.errs.add(p, "must be a string, got "+describe(val))
		}
	case connectors.TypeNumber:
		if !isNumber(val) {
			v.errs.add(p, "must be a number, got "+describe(val))
		}
	case connectors.TypeBool:
		if _, ok := val.(bool); !ok {
			v.errs.add(p, "must be true or false, got "+describe(val))
		}
	case connectors.TypeSelect:
		s, ok := val.(string)
		switch {
		case !ok:
			v.errs.add(p, "must be a string, got "+describe(val))
		case len(f.Options) > 0 && !slices.Contains(f.Options, s):
			v.errs.add(p, fmt.Sprintf("must be one of %s, got %q", strings.Join(f.Options, ", "), s))
		}
	case connectors.TypeDuration:
		s, ok := val.(string)
		if !ok {
			v.errs.add(p, "must be a duration string such as \"30s\", got "+describe(val))
			return
		}
		if d, err := time.ParseDuration(s); err != nil || d < 0 {
			v.errs.add(p, fmt.Sprintf("invalid duration %q (use e.g. \"500ms\", \"30s\", \"5m\")", s))
		}
	case connectors.TypeKeyValue:
		m, ok := val.(map[string]any)
		if !ok {
			v.errs.add(p, "must be an object of strings, got "+describe(val))
			return
		}
		for _, k := range sortedKeys(m) {
			if _, ok := m[k].(string); !ok {
				v.errs.add(keyPath(p, k), "must be a string, got "+describe(m[k]))
			}
		}
	case connectors.TypeFlow:
		if _, ok := val.(string); !ok {
			v.errs.add(p, "must be the id of a flow, got "+describe(val))
		}
	case connectors.TypeConnection:
		if s, ok := val.(string); !ok || s == "" {
			v.errs.add(p, "must be the name of a connection, got "+describe(val))
		}
	case connectors.TypeJSON:
		// Any JSON value.
	}
}

// typeNoun names a field type in a message.
func typeNoun(t connectors.FieldType) string {
	switch t {
	case connectors.TypeBool:
		return "bool"
	case connectors.TypeKeyValue:
		return "object of strings"
	default:
		return string(t)
	}
}

// isNumber reports whether v is a Go number (float64 after JSON decoding).
func isNumber(v any) bool {
	switch reflect.ValueOf(v).Kind() {
	case reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}
