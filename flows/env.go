package flows

import (
	"strings"
	"time"
)

// NewEnv builds the expression environment:
//
//	trigger  {body, headers, query, method, path, received_at}
//	steps    {<id>: {output, status}}
//	run      {id, attempt}
//	flow     {id, name}
//	secrets  {<connection>: {<field>: value}}
//
// Every step of in.Flow has an entry under steps, with a nil output and an
// empty status until it has run, so `steps.later.output` reads as nil
// instead of failing. received_at is an RFC 3339 string in UTC with
// nanoseconds (empty when unknown). The returned Env is built from fresh
// maps; it is safe to share between goroutines as long as nobody writes to
// it.
func NewEnv(in EnvInput) Env {
	headers := make(map[string]any, len(in.Trigger.Headers))
	for k, v := range in.Trigger.Headers {
		// Callers already lower-case names; a stray upper-case one must
		// still be reachable as trigger.headers['x-name'].
		headers[strings.ToLower(k)] = v
	}
	query := make(map[string]any, len(in.Trigger.Query))
	for k, v := range in.Trigger.Query {
		query[k] = v
	}
	receivedAt := ""
	if !in.Trigger.ReceivedAt.IsZero() {
		receivedAt = in.Trigger.ReceivedAt.UTC().Format(time.RFC3339Nano)
	}
	trigger := map[string]any{
		"body":        in.Trigger.Body,
		"headers":     headers,
		"query":       query,
		"method":      in.Trigger.Method,
		"path":        in.Trigger.Path,
		"received_at": receivedAt,
	}

	steps := make(map[string]any, len(in.Steps))
	flow := map[string]any{"id": "", "name": ""}
	if in.Flow != nil {
		flow["id"], flow["name"] = in.Flow.ID, in.Flow.Name
		Walk(in.Flow.Steps, func(_ string, s *Step) {
			if s.ID != "" {
				steps[s.ID] = map[string]any{"output": nil, "status": ""}
			}
		})
	}
	for id, st := range in.Steps {
		steps[id] = map[string]any{"output": st.Output, "status": st.Status}
	}

	secrets := make(map[string]any, len(in.Secrets))
	for conn, fields := range in.Secrets {
		m := make(map[string]any, len(fields))
		for k, v := range fields {
			m[k] = v
		}
		secrets[conn] = m
	}

	return Env{
		VarTrigger: trigger,
		VarSteps:   steps,
		VarRun:     map[string]any{"id": in.RunID, "attempt": in.Attempt},
		VarFlow:    flow,
		VarSecrets: secrets,
	}
}

// With returns a copy of env with one more variable, such as `response`
// for a poll's items expression or `item` for its key expression. env
// itself is not changed, so a shared Env stays safe to read concurrently.
func (env Env) With(name string, value any) Env {
	out := make(Env, len(env)+1)
	for k, v := range env {
		out[k] = v
	}
	out[name] = value
	return out
}
