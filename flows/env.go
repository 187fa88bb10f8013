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
	return NewEnvBase(in.Flow, in.Trigger).Env(in.RunID, in.Attempt, in.Steps, in.Secrets)
}

// EnvBase is the part of a run's expression environment that stays the
// same from step to step: the trigger, the flow, and the entries of steps
// not run yet. A run builds it once and each step's Env from it (building
// the whole environment per step was 7 % of a W1 request's CPU; issue 16).
// Nothing writes to it once built, so the Envs made from it may be read
// from several goroutines at once.
type EnvBase struct {
	trigger, flow map[string]any
	notRun        map[string]any // step id → {output: nil, status: ""}
}

// NewEnvBase builds the parts of NewEnv's environment that do not change
// while a run of flow (nil: none) goes on.
func NewEnvBase(flow *Flow, trig TriggerData) *EnvBase {
	headers := make(map[string]any, len(trig.Headers))
	for k, v := range trig.Headers {
		// Callers already lower-case names; a stray upper-case one must
		// still be reachable as trigger.headers['x-name'].
		headers[strings.ToLower(k)] = v
	}
	query := make(map[string]any, len(trig.Query))
	for k, v := range trig.Query {
		query[k] = v
	}
	receivedAt := ""
	if !trig.ReceivedAt.IsZero() {
		receivedAt = trig.ReceivedAt.UTC().Format(time.RFC3339Nano)
	}
	b := &EnvBase{
		trigger: map[string]any{
			"body":        trig.Body,
			"headers":     headers,
			"query":       query,
			"method":      trig.Method,
			"path":        trig.Path,
			"received_at": receivedAt,
		},
		flow:   map[string]any{"id": "", "name": ""},
		notRun: map[string]any{},
	}
	if flow != nil {
		b.flow["id"], b.flow["name"] = flow.ID, flow.Name
		// One entry serves every step not run yet: nothing writes to it.
		notRun := map[string]any{"output": nil, "status": ""}
		Walk(flow.Steps, func(_ string, s *Step) {
			if s.ID != "" {
				b.notRun[s.ID] = notRun
			}
		})
	}
	return b
}

// Env is the environment of one evaluation: b with the run, the attempt,
// the steps run so far and the secrets (nil outside a step's `with`).
func (b *EnvBase) Env(runID string, attempt int, done map[string]StepState, secretValues map[string]map[string]string) Env {
	steps := make(map[string]any, len(b.notRun)+len(done))
	for id, v := range b.notRun {
		if _, ok := done[id]; !ok {
			steps[id] = v
		}
	}
	for id, st := range done {
		steps[id] = map[string]any{"output": st.Output, "status": st.Status}
	}
	secrets := make(map[string]any, len(secretValues))
	for conn, fields := range secretValues {
		m := make(map[string]any, len(fields))
		for k, v := range fields {
			m[k] = v
		}
		secrets[conn] = m
	}
	return Env{
		VarTrigger: b.trigger,
		VarSteps:   steps,
		VarRun:     map[string]any{"id": runID, "attempt": attempt},
		VarFlow:    b.flow,
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
