package flows

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// baseFlowJSON is a valid webhook flow the table tests break one way each.
const baseFlowJSON = `{
  "id": "base",
  "name": "Base",
  "enabled": true,
  "trigger": {"type": "webhook", "path": "base"},
  "steps": [
    {"id": "first", "use": "data.set", "with": {"x": "{{ trigger.body.x }}"}},
    {"id": "second", "use": "http.request", "with": {"url": "https://example.com/{{ steps.first.output.x }}"}}
  ]
}`

func baseFlow(t *testing.T) *Flow {
	t.Helper()
	f, err := Decode([]byte(baseFlowJSON))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// use returns a connector step.
func use(id, connector string, with map[string]any) Step {
	return Step{ID: id, Use: connector, With: with}
}

func TestCompileBaseFlow(t *testing.T) {
	if _, err := Compile(baseFlow(t)); err != nil {
		t.Fatal(err)
	}
}

func TestCompileErrors(t *testing.T) {
	pollTrigger := func(f *Flow) {
		f.Trigger = Trigger{Type: TriggerPoll, Cron: "@every 5m", Request: &PollRequest{URL: "https://example.com/items"}, Items: "response.body.items", Key: "item.id"}
	}
	tests := []struct {
		name   string
		mutate func(f *Flow)
		want   []wantErr
	}{
		// Flow.
		{"id missing", func(f *Flow) { f.ID = "" }, []wantErr{{"id", "required"}}},
		{"id not a slug", func(f *Flow) { f.ID = "Orders!" }, []wantErr{{"id", `"Orders!" is not a valid flow id`}}},
		{"id too long", func(f *Flow) { f.ID = strings.Repeat("a", 65) }, []wantErr{{"id", "is not a valid flow id"}}},
		{"id starts with dash", func(f *Flow) { f.ID = "-a" }, []wantErr{{"id", "is not a valid flow id"}}},
		{"name missing", func(f *Flow) { f.Name = "  " }, []wantErr{{"name", "required"}}},
		{"name too long", func(f *Flow) { f.Name = strings.Repeat("n", 201) }, []wantErr{{"name", "at most 200 characters"}}},
		{"concurrency negative", func(f *Flow) { f.Concurrency = -1 }, []wantErr{{"concurrency", "must be between 1 and 1000, got -1"}}},
		{"concurrency too high", func(f *Flow) { f.Concurrency = 1001 }, []wantErr{{"concurrency", "must be between 1 and 1000"}}},
		{"rate limit out of bounds", func(f *Flow) {
			f.Trigger.RateLimit = &RateLimit{Requests: 0, Per: Duration(time.Millisecond)}
		}, []wantErr{{"trigger.rate_limit.requests", "must be between 1 and 1000000, got 0"}, {"trigger.rate_limit.per", "must be between 1s and 24h"}}},

		// Trigger type and fields that do not belong.
		{"trigger type missing", func(f *Flow) { f.Trigger.Type = "" }, []wantErr{{"trigger.type", "required (one of webhook, manual, schedule, poll, call)"}}},
		{"trigger type unknown", func(f *Flow) { f.Trigger.Type = "email" }, []wantErr{{"trigger.type", `unknown trigger type "email"`}}},
		{"cron on webhook", func(f *Flow) { f.Trigger.Cron = "@daily" }, []wantErr{{"trigger.cron", "not allowed for webhook triggers"}}},
		{"items on webhook", func(f *Flow) { f.Trigger.Items = "x" }, []wantErr{{"trigger.items", "not allowed for webhook triggers"}}},
		{"path on manual", func(f *Flow) { f.Trigger.Type = TriggerManual }, []wantErr{{"trigger.path", "not allowed for manual triggers"}}},
		{"path and methods on schedule", func(f *Flow) {
			f.Trigger.Type, f.Trigger.Cron, f.Trigger.Methods = TriggerSchedule, "@daily", []string{"GET"}
		}, []wantErr{{"trigger.path", "not allowed for schedule triggers"}, {"trigger.methods", "not allowed for schedule triggers"}}},
		{"respond on poll", func(f *Flow) { pollTrigger(f); f.Trigger.Respond = "sync" }, []wantErr{{"trigger.respond", "not allowed for poll triggers"}}},

		// Webhook.
		{"path missing", func(f *Flow) { f.Trigger.Path = "" }, []wantErr{{"trigger.path", "required"}}},
		{"path leading slash", func(f *Flow) { f.Trigger.Path = "/orders" }, []wantErr{{"trigger.path", "is not a valid path"}}},
		{"path bad character", func(f *Flow) { f.Trigger.Path = "a b" }, []wantErr{{"trigger.path", "is not a valid path"}}},
		{"path dot dot", func(f *Flow) { f.Trigger.Path = "a/../b" }, []wantErr{{"trigger.path", `must not contain ".." or "//"`}}},
		{"path double slash", func(f *Flow) { f.Trigger.Path = "a//b" }, []wantErr{{"trigger.path", `must not contain ".." or "//"`}}},
		{"path too long", func(f *Flow) { f.Trigger.Path = strings.Repeat("a", 201) }, []wantErr{{"trigger.path", "at most 200 characters"}}},
		{"method lower case", func(f *Flow) { f.Trigger.Methods = []string{"POST", "get"} }, []wantErr{{"trigger.methods[1]", `unknown HTTP method "get"`}}},
		{"method twice", func(f *Flow) { f.Trigger.Methods = []string{"POST", "POST"} }, []wantErr{{"trigger.methods[1]", "POST is listed twice"}}},
		{"respond unknown", func(f *Flow) { f.Trigger.Respond = "later" }, []wantErr{{"trigger.respond", `must be "async" or "sync", got "later"`}}},
		{"timeout without sync", func(f *Flow) { f.Trigger.Timeout = Duration(time.Second) }, []wantErr{{"trigger.timeout", `only allowed with respond "sync"`}}},
		{"timeout with async", func(f *Flow) { f.Trigger.Respond, f.Trigger.Timeout = RespondAsync, Duration(time.Second) }, []wantErr{{"trigger.timeout", `only allowed with respond "sync"`}}},
		{"timeout too long", func(f *Flow) { f.Trigger.Respond, f.Trigger.Timeout = RespondSync, Duration(6*time.Minute) }, []wantErr{{"trigger.timeout", "at most 5m0s, got 6m0s"}}},
		{"max body negative", func(f *Flow) { f.Trigger.MaxBody = -1 }, []wantErr{{"trigger.max_body", "must be between 1 and 67108864 bytes (64 MiB), got -1"}}},
		{"max body too big", func(f *Flow) { f.Trigger.MaxBody = 64<<20 + 1 }, []wantErr{{"trigger.max_body", "must be between 1 and"}}},
		{"dedupe does not compile", func(f *Flow) { f.Trigger.Dedupe = "trigger.body.id +" }, []wantErr{{"trigger.dedupe", "unexpected token EOF (1:17)"}}},
		{"dedupe unknown name", func(f *Flow) { f.Trigger.Dedupe = "body.id" }, []wantErr{{"trigger.dedupe", "unknown name body (1:1)"}}},
		{"dedupe reads secrets", func(f *Flow) { f.Trigger.Dedupe = "secrets.x.value" }, []wantErr{{"trigger.dedupe", "secrets are only available inside a step's with"}}},
		{"dedupe reads steps", func(f *Flow) { f.Trigger.Dedupe = "steps.first.output" }, []wantErr{{"trigger.dedupe", `step "first" has not run yet here (steps.first)`}}},
		{"dedupe window alone", func(f *Flow) { f.Trigger.DedupeWindow = Duration(time.Hour) }, []wantErr{{"trigger.dedupe_window", "only allowed with dedupe"}}},
		{"verify scheme missing", func(f *Flow) { f.Trigger.Verify = &Verify{Secret: "s"} }, []wantErr{{"trigger.verify.scheme", "required"}}},
		{"verify scheme bad", func(f *Flow) { f.Trigger.Verify = &Verify{Scheme: "Stripe!", Secret: "s"} }, []wantErr{{"trigger.verify.scheme", `unknown scheme "Stripe!" (use one of standard-webhooks, github,`}}},
		{"verify secret missing", func(f *Flow) { f.Trigger.Verify = &Verify{Scheme: "stripe"} }, []wantErr{{"trigger.verify.secret", "required"}}},

		// Schedule and poll.
		{"schedule cron missing", func(f *Flow) { f.Trigger = Trigger{Type: TriggerSchedule} }, []wantErr{{"trigger.cron", "required"}}},
		{"schedule bad timezone", func(f *Flow) { f.Trigger = Trigger{Type: TriggerSchedule, Cron: "@daily", Timezone: "Mars/Olympus"} }, []wantErr{{"trigger.timezone", `unknown time zone "Mars/Olympus"`}}},
		{"poll cron missing", func(f *Flow) { pollTrigger(f); f.Trigger.Cron = "" }, []wantErr{{"trigger.cron", "required"}}},
		{"poll request missing", func(f *Flow) { pollTrigger(f); f.Trigger.Request = nil }, []wantErr{{"trigger.request", "required"}}},
		{"poll url missing", func(f *Flow) { pollTrigger(f); f.Trigger.Request.URL = "" }, []wantErr{{"trigger.request.url", "required"}}},
		{"poll url relative", func(f *Flow) { pollTrigger(f); f.Trigger.Request.URL = "/items" }, []wantErr{{"trigger.request.url", "is not an absolute http or https URL"}}},
		{"poll method bad", func(f *Flow) { pollTrigger(f); f.Trigger.Request.Method = "FETCH" }, []wantErr{{"trigger.request.method[0]", `unknown HTTP method "FETCH"`}}},
		{"poll items missing", func(f *Flow) { pollTrigger(f); f.Trigger.Items = "" }, []wantErr{{"trigger.items", "required"}}},
		{"poll key missing", func(f *Flow) { pollTrigger(f); f.Trigger.Key = "" }, []wantErr{{"trigger.key", "required"}}},
		{"poll items sees no item", func(f *Flow) { pollTrigger(f); f.Trigger.Items = "item.list" }, []wantErr{{"trigger.items", "unknown name item (1:1)"}}},
		{"poll key sees no response", func(f *Flow) { pollTrigger(f); f.Trigger.Key = "response.id" }, []wantErr{{"trigger.key", "unknown name response (1:1)"}}},
		{"steps see no response", func(f *Flow) { f.Steps[0].If = "response.status == 200" }, []wantErr{{"steps[0].if", "unknown name response (1:1)"}}},

		// Steps.
		{"no steps", func(f *Flow) { f.Steps = nil }, []wantErr{{"steps", "at least one step is required"}}},
		{"step id missing", func(f *Flow) { f.Steps[0].ID = "" }, []wantErr{{"steps[0].id", "required"}, {"steps[1].with.url", `unknown step "first" in steps.first`}}},
		{"step id bad", func(f *Flow) { f.Steps[1].ID = "9lives" }, []wantErr{{"steps[1].id", `"9lives" is not a valid step id`}}},
		{"step id with dash", func(f *Flow) { f.Steps[1].ID = "a-b" }, []wantErr{{"steps[1].id", "is not a valid step id"}}},
		{"duplicate step id", func(f *Flow) { f.Steps[1].ID = "first" }, []wantErr{{"steps[1].id", `duplicate step id "first" (first at steps[0])`}}},
		{"duplicate id in switch", func(f *Flow) {
			f.Steps = append(f.Steps, Step{ID: "route", Switch: []Case{{Default: true, Steps: []Step{use("second", "flow.delay", map[string]any{"duration": "1s"})}}}})
		}, []wantErr{{"steps[2].switch[0].steps[0].id", `duplicate step id "second" (first at steps[1])`}}},
		{"use and switch", func(f *Flow) {
			f.Steps[1].Switch = []Case{{Default: true, Steps: []Step{use("inner", "flow.delay", map[string]any{"duration": "1s"})}}}
		}, []wantErr{{"steps[1].switch", "not allowed together with use"}}},
		{"neither use nor switch", func(f *Flow) { f.Steps[1] = Step{ID: "second"} }, []wantErr{{"steps[1].use", "required (or switch or for_each)"}}},
		{"on_error unknown", func(f *Flow) { f.Steps[0].OnError = "ignore" }, []wantErr{{"steps[0].on_error", `must be "fail" or "continue", got "ignore"`}}},
		{"retry attempts zero", func(f *Flow) { f.Steps[0].Retry = &Retry{} }, []wantErr{{"steps[0].retry.attempts", "must be between 1 and 20, got 0"}}},
		{"retry attempts too many", func(f *Flow) { f.Steps[0].Retry = &Retry{Attempts: 21} }, []wantErr{{"steps[0].retry.attempts", "must be between 1 and 20, got 21"}}},
		{"retry backoff too long", func(f *Flow) { f.Steps[0].Retry = &Retry{Attempts: 2, Backoff: Duration(2 * time.Hour)} }, []wantErr{{"steps[0].retry.backoff", "at most 1h0m0s"}}},
		{"retry max backoff too long", func(f *Flow) { f.Steps[0].Retry = &Retry{Attempts: 2, MaxBackoff: Duration(25 * time.Hour)} }, []wantErr{{"steps[0].retry.max_backoff", "at most 24h0m0s"}}},
		{"retry max below backoff", func(f *Flow) {
			f.Steps[0].Retry = &Retry{Attempts: 2, Backoff: Duration(time.Minute), MaxBackoff: Duration(time.Second)}
		}, []wantErr{{"steps[0].retry.max_backoff", "must not be less than backoff (1m0s), got 1s"}}},

		// Switch.
		{"switch empty", func(f *Flow) { f.Steps[1] = Step{ID: "second", Switch: []Case{}} }, []wantErr{{"steps[1].switch", "at least one case is required"}}},
		{"case without when", func(f *Flow) {
			f.Steps[1] = Step{ID: "second", Switch: []Case{{Steps: []Step{use("a", "flow.delay", map[string]any{"duration": "1s"})}}}}
		}, []wantErr{{"steps[1].switch[0].when", `required (or "default": true)`}}},
		{"case with when and default", func(f *Flow) {
			f.Steps[1] = Step{ID: "second", Switch: []Case{{When: "true", Default: true, Steps: []Step{use("a", "flow.delay", map[string]any{"duration": "1s"})}}}}
		}, []wantErr{{"steps[1].switch[0].when", "not allowed in the default case"}}},
		{"default not last", func(f *Flow) {
			f.Steps[1] = Step{ID: "second", Switch: []Case{
				{Default: true, Steps: []Step{use("a", "flow.delay", map[string]any{"duration": "1s"})}},
				{When: "true", Steps: []Step{use("b", "flow.delay", map[string]any{"duration": "1s"})}},
			}}
		}, []wantErr{{"steps[1].switch[0].default", "the default case must be the last case"}}},
		{"two defaults", func(f *Flow) {
			f.Steps[1] = Step{ID: "second", Switch: []Case{
				{Default: true, Steps: []Step{use("a", "flow.delay", map[string]any{"duration": "1s"})}},
				{Default: true, Steps: []Step{use("b", "flow.delay", map[string]any{"duration": "1s"})}},
			}}
		}, []wantErr{{"steps[1].switch[0].default", "must be the last case"}, {"steps[1].switch[1].default", "only one default case is allowed (first at steps[1].switch[0])"}}},
		{"case without steps", func(f *Flow) { f.Steps[1] = Step{ID: "second", Switch: []Case{{When: "true"}}} }, []wantErr{{"steps[1].switch[0].steps", "at least one step is required"}}},
		{"when does not compile", func(f *Flow) {
			f.Steps[1] = Step{ID: "second", Switch: []Case{{When: "trigger.body.a ==", Steps: []Step{use("a", "flow.delay", map[string]any{"duration": "1s"})}}}}
		}, []wantErr{{"steps[1].switch[0].when", "(1:"}}},
		{"nested case errors", func(f *Flow) {
			f.Steps[1] = Step{ID: "second", Switch: []Case{{When: "true", Steps: []Step{{ID: "a", Use: "flow.delay"}}}}}
		}, []wantErr{{"steps[1].switch[0].steps[0].with.duration", "required"}}},
		{"with on switch", func(f *Flow) {
			f.Steps[1] = Step{ID: "second", With: map[string]any{"x": 1}, Switch: []Case{{Default: true, Steps: []Step{use("a", "flow.delay", map[string]any{"duration": "1s"})}}}}
		}, []wantErr{{"steps[1].with", "not allowed on a switch step"}}},
		{"retry on switch", func(f *Flow) {
			f.Steps[1] = Step{ID: "second", Retry: &Retry{Attempts: 2}, Switch: []Case{{Default: true, Steps: []Step{use("a", "flow.delay", map[string]any{"duration": "1s"})}}}}
		}, []wantErr{{"steps[1].retry", "not allowed on a switch step"}}},

		// Expressions in if.
		{"if does not compile", func(f *Flow) { f.Steps[1].If = "trigger.body.paid = true" }, []wantErr{{"steps[1].if", "(1:"}}},
		{"if multi-line error position", func(f *Flow) { f.Steps[1].If = "trigger.body.a == 1 &&\n  nope" }, []wantErr{{"steps[1].if", "unknown name nope (2:3)"}}},
		{"if not bool", func(f *Flow) { f.Steps[1].If = "1 + 2" }, []wantErr{{"steps[1].if", "must yield true or false, but yields int"}}},
		{"if string", func(f *Flow) { f.Steps[1].If = "'yes'" }, []wantErr{{"steps[1].if", "must yield true or false, but yields string"}}},
		{"if empty after trim", func(f *Flow) { f.Steps[1].If = "   " }, []wantErr{{"steps[1].if", "empty expression"}}},
		{"if too long", func(f *Flow) { f.Steps[1].If = "true" + strings.Repeat(" ", MaxExprLen) }, []wantErr{{"steps[1].if", "the limit is 4096"}}},
		{"if unknown step", func(f *Flow) { f.Steps[1].If = "steps.foo.output == 1" }, []wantErr{{"steps[1].if", `unknown step "foo" in steps.foo`}}},
		{"if unknown step by index", func(f *Flow) { f.Steps[1].If = `steps["foo"].status == 'ok'` }, []wantErr{{"steps[1].if", `unknown step "foo" in steps.foo`}}},
		{"if later step", func(f *Flow) { f.Steps[0].If = "steps.second.output != nil" }, []wantErr{{"steps[0].if", `step "second" has not run yet here (steps.second)`}}},
		{"if own step", func(f *Flow) { f.Steps[0].If = "steps.first.status == 'ok'" }, []wantErr{{"steps[0].if", `step "first" has not run yet here`}}},
		{"if reads secrets", func(f *Flow) { f.Steps[0].If = "secrets.crm.value != ''" }, []wantErr{{"steps[0].if", "secrets are only available inside a step's with"}}},
		{"sibling branch", func(f *Flow) {
			f.Steps = append(f.Steps, Step{ID: "route", Switch: []Case{
				{When: "true", Steps: []Step{use("left", "data.set", map[string]any{"v": 1})}},
				{Default: true, Steps: []Step{use("right", "data.set", map[string]any{"v": "{{ steps.left.output.v }}"})}},
			}})
		}, []wantErr{{"steps[2].switch[1].steps[0].with.v", `step "left" has not run yet here (steps.left)`}}},
		{"switch reads itself", func(f *Flow) {
			f.Steps = append(f.Steps, Step{ID: "route", Switch: []Case{{When: "steps.route.output == nil", Steps: []Step{use("left", "data.set", nil)}}}})
		}, []wantErr{{"steps[2].switch[0].when", `step "route" has not run yet here`}}},

		// Connector configs.
		{"unknown connector", func(f *Flow) { f.Steps[0].Use = "x" }, []wantErr{{"steps[0].use", `unknown connector "x"`}}},
		{"unknown connector still compiles templates", func(f *Flow) { f.Steps[0].Use = "x"; f.Steps[0].With["y"] = "{{ nope }}" }, []wantErr{{"steps[0].use", `unknown connector "x"`}, {"steps[0].with.y", "unknown name nope"}}},
		{"unknown with key", func(f *Flow) { f.Steps[1].With["wiht"] = 1 }, []wantErr{{"steps[1].with.wiht", "unknown field for http.request (fields: method, url,"}}},
		{"required missing", func(f *Flow) { delete(f.Steps[1].With, "url") }, []wantErr{{"steps[1].with.url", "required"}}},
		{"required empty", func(f *Flow) { f.Steps[1].With["url"] = "" }, []wantErr{{"steps[1].with.url", "required"}}},
		{"required null", func(f *Flow) { f.Steps[1].With["url"] = nil }, []wantErr{{"steps[1].with.url", "required"}}},
		{"string wrong type", func(f *Flow) { f.Steps[1].With["url"] = 5.0 }, []wantErr{{"steps[1].with.url", "must be a string, got number 5"}}},
		{"select not an option", func(f *Flow) { f.Steps[1].With["method"] = "FETCH" }, []wantErr{{"steps[1].with.method", `must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got "FETCH"`}}},
		{"select wrong type", func(f *Flow) { f.Steps[1].With["auth"] = true }, []wantErr{{"steps[1].with.auth", "must be a string, got bool"}}},
		{"duration bad", func(f *Flow) { f.Steps[1].With["timeout"] = "soon" }, []wantErr{{"steps[1].with.timeout", `invalid duration "soon"`}}},
		{"duration negative", func(f *Flow) { f.Steps[1].With["timeout"] = "-1s" }, []wantErr{{"steps[1].with.timeout", `invalid duration "-1s"`}}},
		{"duration wrong type", func(f *Flow) { f.Steps[1].With["timeout"] = 30.0 }, []wantErr{{"steps[1].with.timeout", "must be a duration string"}}},
		{"bool wrong type", func(f *Flow) { f.Steps[1].With["idempotency_key"] = "yes" }, []wantErr{{"steps[1].with.idempotency_key", `must be true or false, got string "yes"`}}},
		{"key-value not object", func(f *Flow) { f.Steps[1].With["headers"] = []any{"a"} }, []wantErr{{"steps[1].with.headers", "must be an object of strings, got list"}}},
		{"key-value value not string", func(f *Flow) { f.Steps[1].With["headers"] = map[string]any{"X-N": 1.0} }, []wantErr{{"steps[1].with.headers.X-N", "must be a string, got number 1"}}},
		{"connection not string", func(f *Flow) { f.Steps[1].With["connection"] = 1.0 }, []wantErr{{"steps[1].with.connection", "must be the name of a connection"}}},
		{"number wrong type", func(f *Flow) {
			f.Steps[1] = use("second", "webhook.respond", map[string]any{"status": "200"})
		}, []wantErr{{"steps[1].with.status", `must be a number, got string "200"`}}},
		{"mixed template in number", func(f *Flow) {
			f.Steps[1] = use("second", "webhook.respond", map[string]any{"status": "2{{ 0 }}0"})
		}, []wantErr{{"steps[1].with.status", "must be a number; text around {{ }} makes the value a string"}}},
		{"mixed template in bool", func(f *Flow) { f.Steps[1].With["idempotency_key"] = "{{ true }} " }, []wantErr{{"steps[1].with.idempotency_key", "must be a bool; text around"}}},
		{"strict connector types", func(f *Flow) {
			f.Steps[1] = use("second", "test.strict", map[string]any{"s": "ok", "text": 1.0, "token": false, "n": true, "b": 0.0, "conn": ""})
		}, []wantErr{
			{"steps[1].with.text", "must be a string, got number 1"},
			{"steps[1].with.token", "must be a string, got bool"},
			{"steps[1].with.n", "must be a number, got bool"},
			{"steps[1].with.b", "must be true or false, got number 0"},
			{"steps[1].with.conn", "must be the name of a connection"},
		}},
		{"with on unknown key of data.set is fine but templates still checked", func(f *Flow) {
			f.Steps[0].With["deep"] = map[string]any{"list": []any{1.0, map[string]any{"t": "{{ trigger.body.x"}}}
		}, []wantErr{{"steps[0].with.deep.list[1].t", "unclosed {{ at offset 0"}}},

		// Templates.
		{"template unclosed", func(f *Flow) { f.Steps[1].With["body"] = map[string]any{"text": "Hello there {{ trigger.body.name"} }, []wantErr{{"steps[1].with.body.text", "unclosed {{ at offset 12"}}},
		{"template empty", func(f *Flow) { f.Steps[1].With["body"] = map[string]any{"text": "a {{ }} b"} }, []wantErr{{"steps[1].with.body.text", "empty {{ }} at offset 2"}}},
		{"template does not compile", func(f *Flow) { f.Steps[1].With["body"] = map[string]any{"text": "a {{ trigger.body. }} b"} }, []wantErr{{"steps[1].with.body.text", `expression "trigger.body." at offset 2:`}}},
		{"template unknown name", func(f *Flow) { f.Steps[1].With["body"] = []any{"x", "{{ triger.body }}"} }, []wantErr{{"steps[1].with.body[1]", "unknown name triger (1:1)"}}},
		{"template unknown step", func(f *Flow) { f.Steps[1].With["url"] = "https://x/{{ steps.nope.output.id }}" }, []wantErr{{"steps[1].with.url", `unknown step "nope" in steps.nope`}}},
		{"template own step", func(f *Flow) { f.Steps[1].With["url"] = "https://x/{{ steps.second.output.id }}" }, []wantErr{{"steps[1].with.url", `step "second" has not run yet here`}}},
		{"template too long", func(f *Flow) { f.Steps[1].With["url"] = "{{ '" + strings.Repeat("a", MaxExprLen) + "' }}" }, []wantErr{{"steps[1].with.url", "the limit is 4096"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFlow(t)
			tt.mutate(f)
			c, err := Compile(f)
			if err == nil {
				t.Fatalf("Compile succeeded: %+v", c)
			}
			checkDetails(t, err, tt.want, true)
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(f *Flow)
	}{
		{"verify none needs no secret", func(f *Flow) { f.Trigger.Verify = &Verify{Scheme: VerifyNone} }},
		{"sync with timeout", func(f *Flow) { f.Trigger.Respond, f.Trigger.Timeout = RespondSync, Duration(5*time.Minute) }},
		{"max body at limit", func(f *Flow) { f.Trigger.MaxBody = 64 << 20 }},
		{"methods", func(f *Flow) { f.Trigger.Methods = []string{"GET", "POST", "PATCH"} }},
		{"dedupe and window", func(f *Flow) {
			f.Trigger.Dedupe, f.Trigger.DedupeWindow = "trigger.headers['x-id']", Duration(time.Hour)
		}},
		{"manual", func(f *Flow) { f.Trigger = Trigger{Type: TriggerManual} }},
		{"schedule", func(f *Flow) {
			f.Trigger = Trigger{Type: TriggerSchedule, Cron: "*/5 * * * *", Timezone: "Europe/Berlin"}
		}},
		{"if on a maybe-bool", func(f *Flow) { f.Steps[1].If = "trigger.body.paid" }},
		{"if comparison", func(f *Flow) { f.Steps[1].If = "trigger.body.paid == true && now().Year() > 2000" }},
		{"if reads run and flow", func(f *Flow) { f.Steps[1].If = "run.attempt > 1 || flow.id == 'base'" }},
		{"single template in number", func(f *Flow) {
			f.Steps[1] = use("second", "webhook.respond", map[string]any{"status": "{{ trigger.body.code }}"})
		}},
		{"template in select and duration", func(f *Flow) {
			f.Steps[1].With["method"], f.Steps[1].With["timeout"] = "{{ trigger.body.m }}", "{{ trigger.body.t }}"
		}},
		{"secrets in with", func(f *Flow) {
			f.Steps[1].With["headers"] = map[string]any{"Authorization": "Bearer {{ secrets.api.value }}"}
		}},
		{"dynamic step index", func(f *Flow) { f.Steps[1].If = "steps[trigger.body.which] != nil" }},
		{"data.set takes any key", func(f *Flow) { f.Steps[0].With["anything"] = map[string]any{"goes": []any{1.0, true}} }},
		{"step after switch reads branch", func(f *Flow) {
			f.Steps = append(f.Steps,
				Step{ID: "route", Switch: []Case{
					{When: "steps.first.output.x > 1", Steps: []Step{use("big", "data.set", map[string]any{"v": 1.0})}},
					{Default: true, Steps: []Step{use("small", "data.set", map[string]any{"v": "{{ steps.first.output.x }}"})}},
				}},
				use("after", "data.set", map[string]any{"v": "{{ steps.big.output?.v ?? steps.small.output?.v }}"}),
			)
		}},
		{"step in branch reads earlier", func(f *Flow) {
			f.Steps = append(f.Steps, Step{ID: "route", Switch: []Case{{When: "true", Steps: []Step{
				use("one", "data.set", map[string]any{"v": 1.0}),
				use("two", "data.set", map[string]any{"v": "{{ steps.one.output.v + steps.second.output.status }}"}),
			}}}})
		}},
		{"map literal template", func(f *Flow) { f.Steps[0].With["m"] = `{{ {"a": {"b": trigger.body.x}} }}` }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFlow(t)
			tt.mutate(f)
			if _, err := Compile(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCompileReportsEverything checks that problems anywhere in the flow
// come back together, in one error.
func TestCompileReportsEverything(t *testing.T) {
	f := baseFlow(t)
	f.ID = ""
	f.Trigger.Respond = "never"
	f.Steps[0].If = "nope"
	f.Steps[1].With["url"] = "{{"
	_, err := Compile(f)
	checkDetails(t, err, []wantErr{
		{"id", "required"},
		{"trigger.respond", "must be"},
		{"steps[0].if", "unknown name nope"},
		{"steps[1].with.url", "unclosed {{ at offset 0"},
	}, true)
}

func TestCompileNil(t *testing.T) {
	var ve *ValidationError
	if _, err := Compile(nil); !errors.As(err, &ve) {
		t.Errorf("Compile(nil) = %v, want *ValidationError", err)
	}
}

func TestCompiledShape(t *testing.T) {
	data, err := readFile("testdata/golden/nested-switch.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	if c.Flow != f || c.Dedupe == nil || c.Dedupe.Field != "trigger.dedupe" || c.Items != nil {
		t.Errorf("compiled trigger: flow %p dedupe %+v items %+v", c.Flow, c.Dedupe, c.Items)
	}
	if len(c.Steps) != 3 {
		t.Fatalf("got %d top-level steps, want 3", len(c.Steps))
	}
	input, outer := c.Steps[0], c.Steps[1]
	if input.Spec.ID != "data.set" || input.With == nil || input.If != nil || input.Path != "steps[0]" {
		t.Errorf("input step: %+v", input)
	}
	if outer.Spec.ID != "" || outer.With != nil || len(outer.Cases) != 3 {
		t.Fatalf("switch step: %+v", outer)
	}
	if outer.Cases[0].When == nil || outer.Cases[0].When.Field != "steps[1].switch[0].when" || outer.Cases[2].When != nil || !outer.Cases[2].Default {
		t.Errorf("cases: %+v %+v", outer.Cases[0], outer.Cases[2])
	}
	inner := c.Step("inner")
	if inner == nil || inner.Path != "steps[1].switch[0].steps[0]" || inner != outer.Cases[0].Steps[0] {
		t.Fatalf("Step(inner) = %+v", inner)
	}
	if s := c.Step("small_a"); s == nil || s.Path != "steps[1].switch[0].steps[0].switch[1].steps[0]" || s.Step.ID != "small_a" {
		t.Errorf("Step(small_a) = %+v", s)
	}
	if c.Step("missing") != nil || (*Compiled)(nil).Step("inner") != nil {
		t.Error("Step found a step that does not exist")
	}
}

func TestCompilePoll(t *testing.T) {
	data, err := readFile("examples/urgent-tickets.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	env := NewEnv(EnvInput{Flow: f})
	items, err := c.Items.Eval(env.With(VarResponse, map[string]any{"status": 200, "body": map[string]any{"tickets": []any{map[string]any{"id": 7.0}}}}))
	if err != nil {
		t.Fatal(err)
	}
	list, ok := items.([]any)
	if !ok || len(list) != 1 {
		t.Fatalf("items = %#v", items)
	}
	key, err := c.Key.Eval(env.With(VarItem, list[0]))
	if err != nil || key != 7.0 {
		t.Errorf("key = %#v, %v", key, err)
	}
	if !c.Step("page").With.UsesSecrets || c.Step("ack").With.UsesSecrets {
		t.Error("UsesSecrets is wrong for the poll example's steps")
	}
}
