// Package store is the data store steps: store.set, store.get,
// store.delete and store.increment keep JSON values across runs, under
// keys grouped in namespaces (a flow's own by default; any other name is
// shared between the flows that use it). They reach the store through
// connectors.Input.KV; the engine keeps it (engine.KVStore).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// Connector ids.
const (
	SetID       = "store.set"
	GetID       = "store.get"
	DeleteID    = "store.delete"
	IncrementID = "store.increment"
)

// Config keys, shared by the four steps.
const (
	fieldNamespace = "namespace"
	fieldKey       = "key"
	fieldValue     = "value"
	fieldTTL       = "ttl"
	fieldDefault   = "default"
	fieldBy        = "by"
)

const category = "Data store"

func init() {
	connectors.Register(&Set{})
	connectors.Register(&Get{})
	connectors.Register(&Delete{})
	connectors.Register(&Increment{})
}

var (
	namespaceField = connectors.Field{Name: fieldNamespace, Label: "Namespace", Type: connectors.TypeString, Advanced: true,
		Help: "Leave empty for this flow's own values. Any other name (letters, digits, '_', '.', '-') is shared by every flow that names it."}
	keyField = connectors.Field{Name: fieldKey, Label: "Key", Type: connectors.TypeString, Required: true,
		Help: "The value's name, e.g. conversation:{{ trigger.body.conversation_id }}. Up to 512 bytes."}
)

// target reads the namespace and key of a step.
func target(cfg map[string]any) (namespace, key string, err error) {
	if namespace, err = connectors.ConfigString(cfg, fieldNamespace); err != nil {
		return "", "", err
	}
	// A key is kept as written: "a " and "a" are two keys.
	if key, err = connectors.ConfigString(cfg, fieldKey); err != nil {
		return "", "", err
	}
	if key == "" {
		return "", "", &connectors.ConfigError{Field: fieldKey, Msg: "required"}
	}
	return namespace, key, nil
}

// once names a step's write: the same attempt of the same step, run again
// after a crash, writes nothing twice.
func once(in connectors.Input) string {
	if in.IdempotencyKey == "" {
		return ""
	}
	return in.IdempotencyKey + "#" + strconv.Itoa(in.Attempt)
}

// prepare checks what every store step needs.
func prepare(id string, in connectors.Input) (namespace, key string, err error) {
	namespace, key, err = target(in.Config)
	if err != nil {
		return "", "", connectors.Permanent(fmt.Errorf("%s: %w", id, err))
	}
	if in.KV == nil {
		return "", "", connectors.Permanentf("%s: no data store here (`switchyard run` keeps none; run the flow in the server)", id)
	}
	return namespace, key, nil
}

// failed marks a store error: a refusal (bad key, a limit, a value that
// is not a number) is permanent, anything else (the store unavailable) is
// worth another attempt.
func failed(id string, err error) error {
	err = fmt.Errorf("%s: %w", id, err)
	if errors.Is(err, connectors.ErrBadConfig) {
		return connectors.Permanent(err)
	}
	return connectors.Retryable(err, 0)
}

func decode(raw []byte) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("stored value is not JSON: %w", err)
	}
	return v, nil
}

// Set is the store.set connector.
type Set struct{}

// Spec describes store.set.
func (*Set) Spec() connectors.Spec {
	return connectors.Spec{
		ID: SetID, Category: category, Label: "Data store: save a value",
		Help: "Saves a value under a key, kept across runs (and restarts) until it is replaced, deleted or expires. " +
			"Later runs read it with store.get. The value is stored before the step completes. Limits: 64 KiB a value; 8 MiB and 10,000 keys a namespace.",
		SideEffects: true,
		Fields: []connectors.Field{
			keyField,
			{Name: fieldValue, Label: "Value", Type: connectors.TypeJSON, Shape: connectors.ShapeObject, Required: true,
				Help: "Text, a number, an object or a list, e.g. {{ trigger.body.message_id }} (a lone {{ }} keeps its type)."},
			{Name: fieldTTL, Label: "Expires after", Type: connectors.TypeDuration,
				Help: "Forget the value after this long. Empty: keep it until it is replaced or deleted."},
			namespaceField,
		},
	}
}

// Execute saves the value.
func (*Set) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	ns, key, err := prepare(SetID, in)
	if err != nil {
		return connectors.Result{}, err
	}
	v, ok := in.Config[fieldValue]
	if !ok || v == nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", SetID, &connectors.ConfigError{Field: fieldValue, Msg: "required"}))
	}
	raw, err := connectors.EncodeJSON(v)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", SetID, &connectors.ConfigError{Field: fieldValue, Msg: "not a JSON value", Err: err}))
	}
	ttl, err := connectors.ConfigDuration(in.Config, fieldTTL, 0)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", SetID, err))
	}
	out := map[string]any{"key": key, "value": v}
	if ttl > 0 {
		out["ttl"] = ttl.String()
	}
	if in.DryRun {
		out["dry_run"] = true
		return connectors.Result{Output: out}, nil
	}
	if err := in.KV.Set(ctx, ns, key, raw, ttl, once(in)); err != nil {
		return connectors.Result{}, failed(SetID, err)
	}
	return connectors.Result{Output: out}, nil
}

// Get is the store.get connector.
type Get struct{}

// Spec describes store.get.
func (*Get) Spec() connectors.Spec {
	return connectors.Spec{
		ID: GetID, Category: category, Label: "Data store: read a value",
		Help: "Reads the value saved under a key. The output is {\"found\": true or false, \"value\": …}: " +
			"steps.<id>.output.value is the value, or the default when there is none.",
		Fields: []connectors.Field{
			keyField,
			{Name: fieldDefault, Label: "Default", Type: connectors.TypeJSON, Shape: connectors.ShapeObject,
				Help: "The value to give when the key holds none, e.g. 0. Empty: null."},
			namespaceField,
		},
	}
}

// Execute reads the value (in dry runs too: reading changes nothing).
func (*Get) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	ns, key, err := prepare(GetID, in)
	if err != nil {
		return connectors.Result{}, err
	}
	raw, found, err := in.KV.Get(ctx, ns, key)
	if err != nil {
		return connectors.Result{}, failed(GetID, err)
	}
	if !found {
		return connectors.Result{Output: map[string]any{"found": false, "value": in.Config[fieldDefault]}}, nil
	}
	v, err := decode(raw)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", GetID, err))
	}
	return connectors.Result{Output: map[string]any{"found": true, "value": v}}, nil
}

// Delete is the store.delete connector.
type Delete struct{}

// Spec describes store.delete.
func (*Delete) Spec() connectors.Spec {
	return connectors.Spec{
		ID: DeleteID, Category: category, Label: "Data store: delete a value",
		Help:        "Deletes the value saved under a key. The output's deleted says whether there was one; deleting nothing is not an error.",
		SideEffects: true,
		Fields:      []connectors.Field{keyField, namespaceField},
	}
}

// Execute deletes the value.
func (*Delete) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	ns, key, err := prepare(DeleteID, in)
	if err != nil {
		return connectors.Result{}, err
	}
	if in.DryRun {
		_, found, err := in.KV.Get(ctx, ns, key)
		if err != nil {
			return connectors.Result{}, failed(DeleteID, err)
		}
		return connectors.Result{Output: map[string]any{"key": key, "deleted": found, "dry_run": true}}, nil
	}
	existed, err := in.KV.Delete(ctx, ns, key, once(in))
	if err != nil {
		return connectors.Result{}, failed(DeleteID, err)
	}
	return connectors.Result{Output: map[string]any{"key": key, "deleted": existed}}, nil
}

// Increment is the store.increment connector.
type Increment struct{}

// Spec describes store.increment.
func (*Increment) Spec() connectors.Spec {
	return connectors.Spec{
		ID: IncrementID, Category: category, Label: "Data store: add to a counter",
		Help: "Adds to the number saved under a key (none yet counts as 0), atomically: runs at the same time never lose a count, " +
			"and a run resumed after a crash does not count twice. The output is {\"value\": the new number}.",
		SideEffects: true,
		Fields: []connectors.Field{
			keyField,
			{Name: fieldBy, Label: "Add", Type: connectors.TypeNumber, Default: 1,
				Help: "How much to add; negative to subtract. Default 1."},
			namespaceField,
		},
	}
}

// Execute adds to the counter; a dry run reads it and says what it
// would become.
func (*Increment) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	ns, key, err := prepare(IncrementID, in)
	if err != nil {
		return connectors.Result{}, err
	}
	by, ok, err := connectors.ConfigNumber(in.Config, fieldBy)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", IncrementID, err))
	}
	if !ok {
		by = 1
	}
	if in.DryRun {
		raw, found, err := in.KV.Get(ctx, ns, key)
		if err != nil {
			return connectors.Result{}, failed(IncrementID, err)
		}
		cur := 0.0
		if found {
			if cur, err = strconv.ParseFloat(string(raw), 64); err != nil {
				return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", IncrementID, &connectors.ConfigError{Field: fieldKey, Msg: fmt.Sprintf("the value of %q is not a number", key)}))
			}
		}
		return connectors.Result{Output: map[string]any{"value": cur + by, "dry_run": true}}, nil
	}
	raw, err := in.KV.Increment(ctx, ns, key, by, once(in))
	if err != nil {
		return connectors.Result{}, failed(IncrementID, err)
	}
	n, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: the store answered %q, not a number", IncrementID, raw))
	}
	return connectors.Result{Output: map[string]any{"value": n}}, nil
}

// isTemplate reports whether a config value holds {{ }} anywhere: it is
// known only when the step runs.
func isTemplate(v any) bool {
	raw, err := connectors.EncodeJSON(v)
	return err != nil || strings.Contains(string(raw), "{{")
}

// checkLiterals refuses, at save, the values that no run could store: a
// bad namespace or key, a value over the limit, a ttl too long.
func checkLiterals(with map[string]any) []*connectors.ConfigError {
	var errs []*connectors.ConfigError
	add := func(field, msg string) { errs = append(errs, &connectors.ConfigError{Field: field, Msg: msg}) }
	if ns, ok := with[fieldNamespace].(string); ok && ns != "" && !isTemplate(ns) {
		if msg := connectors.KVNamespaceProblem(ns); msg != "" {
			add(fieldNamespace, msg)
		}
	}
	if key, ok := with[fieldKey].(string); ok && key != "" && !isTemplate(key) {
		if msg, _ := connectors.KVKeyProblem(key); msg != "" {
			add(fieldKey, msg)
		}
	}
	if v, ok := with[fieldValue]; ok && v != nil && !isTemplate(v) {
		if raw, _ := connectors.EncodeJSON(v); len(raw) > connectors.KVMaxValue {
			add(fieldValue, fmt.Sprintf("larger than %d KiB (%d bytes of JSON)", connectors.KVMaxValue>>10, len(raw)))
		}
	}
	if ttl, ok := with[fieldTTL].(string); ok && !isTemplate(ttl) {
		if d, err := time.ParseDuration(strings.TrimSpace(ttl)); err == nil && d > connectors.KVMaxTTL {
			add(fieldTTL, fmt.Sprintf("longer than %s (10 years)", connectors.KVMaxTTL))
		}
	}
	return errs
}

// CheckConfig implements connectors.ConfigChecker.
func (*Set) CheckConfig(with map[string]any) []*connectors.ConfigError { return checkLiterals(with) }

// CheckConfig implements connectors.ConfigChecker.
func (*Get) CheckConfig(with map[string]any) []*connectors.ConfigError { return checkLiterals(with) }

// CheckConfig implements connectors.ConfigChecker.
func (*Delete) CheckConfig(with map[string]any) []*connectors.ConfigError { return checkLiterals(with) }

// CheckConfig implements connectors.ConfigChecker.
func (*Increment) CheckConfig(with map[string]any) []*connectors.ConfigError {
	return checkLiterals(with)
}

var (
	_ connectors.ConfigChecker = (*Set)(nil)
	_ connectors.ConfigChecker = (*Get)(nil)
	_ connectors.ConfigChecker = (*Delete)(nil)
	_ connectors.ConfigChecker = (*Increment)(nil)
	_ connectors.Connector     = (*Set)(nil)
	_ connectors.Connector     = (*Get)(nil)
	_ connectors.Connector     = (*Delete)(nil)
	_ connectors.Connector     = (*Increment)(nil)
)
