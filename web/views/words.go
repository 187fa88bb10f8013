package views

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// Words a business user reads: field paths such as
// steps[1].switch[0].when become the labels the form shows ("Step 2 “How
// hot is the lead?” › Branch 1 condition"), connector ids their names.

var (
	pathIndexRE  = regexp.MustCompile(`\[(\d+)\]`)
	pathMapKeyRE = regexp.MustCompile(`\["((?:[^"\\]|\\.)*)"\]`)
)

// triggerWords are the labels of the trigger's fields in the builder.
var triggerWords = map[string]string{
	"type": "Starts when", "path": "Webhook path", "methods": "Accepted methods", "respond": "Reply to the sender",
	"timeout": "How long the sender waits", "dedupe": "Deduplicate by", "dedupe_window": "Remember duplicates for",
	"max_body": "Body limit", "verify": "Signature check", "verify.scheme": "Signature check", "verify.secret": "Signing secret",
	"verify.secrets": "Older secrets still accepted", "verify.allow_ips": "Allowed addresses", "verify.trusted_proxies": "Trusted proxies",
	"verify.header": "Signature header", "verify.prefix": "Signature prefix", "verify.query": "Token query parameter",
	"verify.algorithm": "Signature algorithm", "verify.encoding": "Signature encoding", "verify.signed": "Signed string",
	"verify.timestamp_header": "Timestamp header", "verify.id_header": "Delivery id header", "verify.tolerance": "Timestamp tolerance",
	"cron": "Schedule", "timezone": "Time zone", "misfire": "Ticks missed while stopped", "catch_up_limit": "Catch up at most",
	"request": "Request", "request.url": "Request URL", "request.method": "Request method", "request.connection": "Request connection",
	"request.headers": "Request headers", "items": "Items", "key": "Item key", "cursor": "Cursor", "backfill": "Backfill",
	"flood_limit": "Flood limit", "seen_limit": "Seen keys kept", "rate_limit": "Rate limit",
}

// stepWords are the labels of a step's own fields.
var stepWords = map[string]string{
	"if": "Run only if", "id": "Step id", "name": "Label", "use": "Connector", "on_error": "When the step fails",
	"retry": "Retries", "retry.attempts": "Attempts", "retry.backoff": "Backoff", "retry.max_backoff": "Max backoff",
	"with": "Settings", "switch": "Branches",
	"for_each": "List to repeat over", "max_items": "At most this many items", "concurrency": "Items at once", "collect": "Output per item",
}

// topWords are the flow's own fields.
var topWords = map[string]string{"name": "Name", "id": "Flow id", "description": "Description", "enabled": "Enabled", "steps": "Steps", "trigger": "Trigger"}

// FormName turns a validation path (steps[1].with["x"]) into the form's
// field name (steps.1.with.x).
func FormName(path string) string {
	path = pathMapKeyRE.ReplaceAllStringFunc(path, func(m string) string {
		k, err := strconv.Unquote(m[1 : len(m)-1])
		if err != nil {
			k = m[2 : len(m)-2]
		}
		return "." + k
	})
	return pathIndexRE.ReplaceAllString(path, ".$1")
}

// FieldWords names a field of flow f, given by its form name or its
// validation path, in the words of the form's labels. Parts it cannot
// place are named as they are.
func FieldWords(f *flows.Flow, specs map[string]connectors.Spec, name string) string {
	parts := strings.Split(FormName(name), ".")
	if len(parts) == 0 || parts[0] == "" {
		return name
	}
	switch parts[0] {
	case "trigger":
		if len(parts) == 1 {
			return "Trigger"
		}
		rest := strings.Join(parts[1:], ".")
		if w, ok := triggerWords[rest]; ok {
			return "Trigger › " + w
		}
		if w, ok := triggerWords[parts[1]]; ok {
			return "Trigger › " + w + " › " + strings.Join(parts[2:], " › ")
		}
		return "Trigger › " + rest
	case "steps":
		var list []flows.Step
		if f != nil {
			list = f.Steps
		}
		return stepsWords(list, specs, parts[1:])
	}
	if w, ok := topWords[strings.Join(parts, ".")]; ok {
		return w
	}
	return name
}

// stepsWords names what parts point at inside a list of steps.
func stepsWords(list []flows.Step, specs map[string]connectors.Spec, parts []string) string {
	if len(parts) == 0 {
		return "Steps"
	}
	n, err := strconv.Atoi(parts[0])
	if err != nil {
		return "Steps › " + strings.Join(parts, " › ")
	}
	var s *flows.Step
	if n >= 0 && n < len(list) {
		s = &list[n]
	}
	words := "Step " + strconv.Itoa(n+1)
	if s != nil {
		words += " “" + stepLabel(s, specs) + "”"
	}
	rest := parts[1:]
	if len(rest) == 0 {
		return words
	}
	switch rest[0] {
	case "switch":
		if len(rest) == 1 {
			return words + " › Branches"
		}
		m, err := strconv.Atoi(rest[1])
		if err != nil {
			return words + " › Branches › " + strings.Join(rest[1:], " › ")
		}
		c := flows.Case{}
		if s != nil && m >= 0 && m < len(s.Switch) {
			c = s.Switch[m]
		}
		branch := words + " › " + caseLabel(c, m)
		tail := rest[2:]
		switch {
		case len(tail) == 0:
			return branch
		case tail[0] == "when":
			return branch + " condition"
		case tail[0] == "default":
			return branch + " (otherwise)"
		case tail[0] == "steps":
			return branch + " › " + stepsWords(c.Steps, specs, tail[1:])
		}
		return branch + " › " + strings.Join(tail, " › ")
	case "steps":
		// A loop's inner steps.
		var inner []flows.Step
		if s != nil {
			inner = s.Steps
		}
		if len(rest) == 1 {
			return words + " › Steps for each item"
		}
		return words + " › " + stepsWords(inner, specs, rest[1:])
	case "with":
		if len(rest) == 1 {
			return words + " › Settings"
		}
		label := rest[1]
		if s != nil {
			if sp, ok := specs[s.Use]; ok {
				if fd, ok := sp.Field(rest[1]); ok {
					label = fd.Label
				} else if rest[1] == WildcardName {
					if fd, ok := sp.Field(flows.WildcardField); ok {
						label = fd.Label
					}
				}
			}
		}
		if len(rest) > 2 {
			label += " › " + strings.Join(rest[2:], " › ")
		}
		return words + " › " + label
	}
	if w, ok := stepWords[strings.Join(rest, ".")]; ok {
		return words + " › " + w
	}
	return words + " › " + strings.Join(rest, " › ")
}

// stepLabel is what the UI calls a step: its label, else its connector's
// name.
func stepLabel(s *flows.Step, specs map[string]connectors.Spec) string {
	if s.Name != "" {
		return s.Name
	}
	if s.IsLoop() {
		return LoopLabel
	}
	if s.IsSwitch() || s.Use == "" {
		return "Choose a branch"
	}
	if sp, ok := specs[s.Use]; ok {
		return sp.Label
	}
	return s.Use
}

// LoopLabel is what the builder, diagrams and runs call a loop step.
const LoopLabel = "Repeat for each item"

// resultLabel is what a run's step result is called: its connector's
// name, or what kind of step it is.
func resultLabel(s engine.StepResult) string {
	if s.IsLoop() {
		return LoopLabel
	}
	return connectorName(s.Use)
}

// connectorName is a connector's name as the palette shows it, for a
// step result (which knows only the id).
func connectorName(use string) string {
	if use == "" {
		return "Choose a branch"
	}
	if c, err := connectors.Lookup(use); err == nil {
		return c.Spec().Label
	}
	return use
}

// conditionWords names a condition of a run's trace (its field path,
// relative to nothing the page shows) by its place in the step: "Run only
// if" or "Branch 2 condition".
func conditionWords(field string) string {
	parts := strings.Split(FormName(field), ".")
	if n := len(parts); n >= 3 && parts[n-1] == "when" && parts[n-3] == "switch" {
		if m, err := strconv.Atoi(parts[n-2]); err == nil {
			return caseLabel(flows.Case{}, m) + " condition"
		}
	}
	if parts[len(parts)-1] == "if" {
		return "Run only if"
	}
	return field
}

// problemCount is "1 problem" or "N problems".
func problemCount(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return strconv.Itoa(n) + " problems"
}

// fillIDs lists the element ids of the fields a template left to fill.
func fillIDs(ps []Problem) string {
	var ids []string
	for _, p := range ps {
		if p.Anchor != "" {
			ids = append(ids, p.Anchor)
		}
	}
	return strings.Join(ids, " ")
}

// Place is a step list a step can move to.
type Place struct{ List, Label string }

// movePlaces lists where the step at sp can move: the main steps and
// every branch, in the form's words, except the list it is in and its own
// branches.
func movePlaces(p *BuilderProps, sp string) []Place {
	own := sp[:strings.LastIndex(sp, ".")]
	moved := stepByFormName(p.Flow, sp)
	var out []Place
	if own != "steps" {
		out = append(out, Place{List: "steps", Label: "Main steps (at the end)"})
	}
	var walk func(prefix string, steps []flows.Step)
	walk = func(prefix string, steps []flows.Step) {
		for i, s := range steps {
			step := prefix + "." + strconv.Itoa(i)
			if step == sp {
				continue // not into its own branches
			}
			for j := range s.Switch {
				branch := step + ".switch." + strconv.Itoa(j)
				if list := branch + ".steps"; list != own {
					out = append(out, Place{List: list, Label: FieldWords(p.Flow, p.Specs, branch)})
				}
				walk(branch+".steps", s.Switch[j].Steps)
			}
			// A loop's steps, unless the step moved is a loop (no loop
			// inside a loop).
			if s.IsLoop() && (moved == nil || !moved.IsLoop()) {
				if list := step + ".steps"; list != own {
					out = append(out, Place{List: list, Label: FieldWords(p.Flow, p.Specs, list)})
				}
				walk(step+".steps", s.Steps)
			}
		}
	}
	walk("steps", p.Flow.Steps)
	return out
}

// ProviderName is the service a provider's signature scheme belongs to
// ("GitHub"); false for the generic schemes.
func ProviderName(scheme string) (string, bool) {
	switch scheme {
	case flows.VerifyGitHub:
		return "GitHub", true
	case flows.VerifyStripe:
		return "Stripe", true
	case flows.VerifySlack:
		return "Slack", true
	case flows.VerifyShopify:
		return "Shopify", true
	case flows.VerifyTwilio:
		return "Twilio", true
	case flows.VerifyHubSpot:
		return "HubSpot", true
	}
	return "", false
}

// schemeWords names a signature scheme in the select: the provider, or
// what the generic ones check.
func schemeWords(s string) string {
	if name, ok := ProviderName(s); ok {
		return name
	}
	switch s {
	case flows.VerifyStandardWebhooks:
		return "Standard Webhooks (Svix and others)"
	case flows.VerifyHMAC:
		return "HMAC signature (any service)"
	case flows.VerifyToken:
		return "A shared token in a header or the query"
	case flows.VerifyBasic:
		return "User name and password (basic auth)"
	case flows.VerifyNone:
		return "No signature (allowed addresses only)"
	}
	return s
}

// TriggerWords says what kind of trigger starts a flow, for lists.
func TriggerWords(typ string) string {
	switch typ {
	case flows.TriggerWebhook:
		return "Webhook"
	case flows.TriggerSchedule:
		return "Schedule"
	case flows.TriggerPoll:
		return "Polling"
	case flows.TriggerManual:
		return "By hand"
	case flows.TriggerCall:
		return "Called by flows"
	}
	return typ
}

// runFlowName is the name of the flow a run ran, else its id.
func runFlowName(p RunDetailProps) string {
	if p.Flow != nil && p.Flow.Name != "" {
		return p.Flow.Name
	}
	return p.Run.FlowID
}

var weekdayNames = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// ScheduleWords says a cron schedule in words for the common shapes
// (every N minutes, hourly, daily, weekdays, weekly, monthly, @every);
// anything else is the cron itself. The zone is the flow's, else UTC.
func ScheduleWords(cron, zone string) string {
	if zone == "" {
		zone = "UTC"
	}
	c := strings.TrimSpace(cron)
	if d, ok := strings.CutPrefix(c, "@every "); ok {
		return "Every " + strings.TrimSpace(d)
	}
	switch c {
	case "@hourly":
		return "Every hour"
	case "@daily", "@midnight":
		return "Daily at 00:00 (" + zone + ")"
	}
	f := strings.Fields(c)
	if len(f) != 5 {
		return c
	}
	num := func(s string, hi int) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 0 && n <= hi
	}
	minute, mok := num(f[0], 59)
	hour, hok := num(f[1], 23)
	at := func() string { return fmt.Sprintf("%02d:%02d (%s)", hour, minute, zone) }
	switch {
	case strings.HasPrefix(f[0], "*/") && f[1] == "*" && f[2] == "*" && f[3] == "*" && f[4] == "*":
		return "Every " + strings.TrimPrefix(f[0], "*/") + " minutes"
	case mok && f[1] == "*" && f[2] == "*" && f[3] == "*" && f[4] == "*":
		return fmt.Sprintf("Hourly at :%02d", minute)
	case mok && hok && f[2] == "*" && f[3] == "*" && f[4] == "*":
		return "Daily at " + at()
	case mok && hok && f[2] == "*" && f[3] == "*" && f[4] == "1-5":
		return "Weekdays at " + at()
	case mok && hok && f[2] == "*" && f[3] == "*":
		var days []string
		for _, d := range strings.Split(f[4], ",") {
			n, ok := num(d, 7)
			if !ok {
				return c
			}
			days = append(days, weekdayNames[n%7])
		}
		return "Weekly on " + strings.Join(days, ", ") + " at " + at()
	case mok && hok && f[3] == "*" && f[4] == "*":
		if d, ok := num(f[2], 31); ok && d > 0 {
			return fmt.Sprintf("Monthly on day %d at %s", d, at())
		}
	}
	return c
}
