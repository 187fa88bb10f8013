package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/flows"
)

// ConnectionStore keeps connections, with their credentials sealed
// (encrypted) by the engine; Reseal re-encrypts them all when the key
// rotates, without the engine knowing how they are kept.
type ConnectionStore interface {
	PutConnection(ctx context.Context, c ConnectionRecord) error
	Connection(ctx context.Context, name string) (ConnectionRecord, error)
	Connections(ctx context.Context) ([]ConnectionRecord, error)
	DeleteConnection(ctx context.Context, name string) error
	Resealer
}

// keyCheckMeta holds a value sealed under the secret key, so that starting
// with another key fails with a clear error instead of producing garbage.
const keyCheckMeta = "key_check"

var keyCheckPlain = []byte("switchyard key check v1")

func checkKey(ctx context.Context, s Store, k *Keyring) error {
	sealed, err := s.Meta(ctx, keyCheckMeta)
	if errors.Is(err, ErrNotFound) {
		return s.PutMeta(ctx, keyCheckMeta, k.Seal(keyCheckPlain, []byte(keyCheckMeta)))
	}
	if err != nil {
		return fmt.Errorf("engine: check secret key: %w", err)
	}
	if _, err := k.Open(sealed, []byte(keyCheckMeta)); err != nil {
		return fmt.Errorf("engine: check secret key: %w (was the key file replaced, SWITCHYARD_SECRET_KEY changed, or a `switchyard keys rotate` interrupted?)", ErrWrongKey)
	}
	return nil
}

// ConnectionInfo is what anyone may see of a connection: never its values.
type ConnectionInfo struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Fields []string `json:"fields"` // the names of the values it holds
	// Rate is the connection's rate limit, shared by every step using it.
	Rate      *flows.RateLimit `json:"rate,omitempty"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
}

var connNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

// PutConnection validates and stores a connection, its values sealed
// under the secret key. A *flows.ValidationError reports bad input.
func (e *Engine) PutConnection(ctx context.Context, name, typ string, values map[string]string) (ConnectionInfo, error) {
	return e.PutConnectionRate(ctx, name, typ, values, nil)
}

// PutConnectionRate is PutConnection with a rate limit (nil: none) that
// every step using the connection shares, in whichever flow.
func (e *Engine) PutConnectionRate(ctx context.Context, name, typ string, values map[string]string, rate *flows.RateLimit) (ConnectionInfo, error) {
	if e.keys == nil {
		return ConnectionInfo{}, errors.New("engine: put connection: no secret key configured")
	}
	var problems []flows.FieldError
	if !connNameRE.MatchString(name) {
		problems = append(problems, flows.FieldError{Field: "name", Message: "must start with a letter or _ and hold only letters, digits, _ and - (at most 64)"})
	}
	ct, err := connectors.LookupConnectionType(typ)
	if err != nil {
		problems = append(problems, flows.FieldError{Field: "type", Message: fmt.Sprintf("unknown connection type %q", typ)})
	} else {
		for _, f := range ct.Fields {
			if f.Required && values[f.Name] == "" {
				problems = append(problems, flows.FieldError{Field: "values." + f.Name, Message: "required"})
			}
		}
		for k := range values {
			if _, ok := fieldOf(ct.Fields, k); !ok {
				problems = append(problems, flows.FieldError{Field: "values." + k, Message: fmt.Sprintf("unknown field for connection type %q", typ)})
			}
		}
	}
	if rate != nil {
		problems = append(problems, rate.Check("rate")...)
	}
	if len(problems) > 0 {
		sort.Slice(problems, func(i, j int) bool { return problems[i].Field < problems[j].Field })
		return ConnectionInfo{}, &flows.ValidationError{Details: problems}
	}
	plain, err := json.Marshal(values)
	if err != nil {
		return ConnectionInfo{}, err
	}
	now := time.Now().UTC()
	rec := ConnectionRecord{Name: name, Type: typ, Sealed: e.keys.Seal(plain, []byte(name)), Rate: rate, CreatedAt: now, UpdatedAt: now}
	if old, err := e.store.Connection(ctx, name); err == nil {
		rec.CreatedAt = old.CreatedAt
	}
	if err := e.store.PutConnection(ctx, rec); err != nil {
		return ConnectionInfo{}, err
	}
	e.Audit(ctx, AuditEntry{Action: AuditConnectionSave, Target: name, Detail: typ})
	return connInfo(rec, values), nil
}

func fieldOf(fs []connectors.Field, name string) (connectors.Field, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return connectors.Field{}, false
}

func connInfo(rec ConnectionRecord, values map[string]string) ConnectionInfo {
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	return ConnectionInfo{Name: rec.Name, Type: rec.Type, Fields: names, Rate: rec.Rate, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt}
}

// Connections lists connections without their values.
func (e *Engine) Connections(ctx context.Context) ([]ConnectionInfo, error) {
	recs, err := e.store.Connections(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ConnectionInfo, 0, len(recs))
	for _, rec := range recs {
		vals, err := e.open(rec)
		if err != nil {
			vals = nil // still list it; using it will report the error
		}
		out = append(out, connInfo(rec, vals))
	}
	return out, nil
}

func (e *Engine) open(rec ConnectionRecord) (map[string]string, error) {
	if e.keys == nil {
		return nil, errors.New("no secret key configured")
	}
	plain, err := e.keys.Open(rec.Sealed, []byte(rec.Name))
	if err != nil {
		return nil, err
	}
	var vals map[string]string
	if err := json.Unmarshal(plain, &vals); err != nil {
		return nil, fmt.Errorf("decode connection %q: %w", rec.Name, err)
	}
	return vals, nil
}

// ConnectionValues are a connection's decrypted values and its type.
type ConnectionValues struct {
	Type   string
	Values map[string]string
	// Rate is the connection's rate limit (nil: none).
	Rate *flows.RateLimit
}

// Secret returns the values to hide from run history: those its type
// declares secret, and any the type does not know. A base URL or a user
// name stays readable; a token never shows.
func (c ConnectionValues) Secret() map[string]string {
	ct, err := connectors.LookupConnectionType(c.Type)
	out := make(map[string]string, len(c.Values))
	for k, v := range c.Values {
		if err == nil {
			if f, ok := fieldOf(ct.Fields, k); ok && f.Type != connectors.TypeSecret {
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Connection implements SecretSource.
func (e *Engine) Connection(ctx context.Context, name string) (ConnectionValues, error) {
	rec, err := e.store.Connection(ctx, name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return ConnectionValues{}, fmt.Errorf("connection %q does not exist", name)
		}
		return ConnectionValues{}, err
	}
	vals, err := e.open(rec)
	if err != nil {
		return ConnectionValues{}, err
	}
	return ConnectionValues{Type: rec.Type, Values: vals, Rate: rec.Rate}, nil
}

// AllConnections implements SecretSource.
func (e *Engine) AllConnections(ctx context.Context) (map[string]ConnectionValues, error) {
	recs, err := e.store.Connections(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]ConnectionValues, len(recs))
	for _, rec := range recs {
		vals, err := e.open(rec)
		if err != nil {
			return nil, fmt.Errorf("connection %q: %w", rec.Name, err)
		}
		out[rec.Name] = ConnectionValues{Type: rec.Type, Values: vals, Rate: rec.Rate}
	}
	return out, nil
}

var _ SecretSource = (*Engine)(nil)

// KeyCheckMeta is the meta key of the value sealed under the secret key
// (a copy of a store's connections takes it along).
const KeyCheckMeta = keyCheckMeta

// VerifyKey reports ErrWrongKey unless k opens the store's key check; a
// store without one passes. Unlike New it writes nothing.
func VerifyKey(ctx context.Context, s MetaStore, k *Keyring) error {
	sealed, err := s.Meta(ctx, keyCheckMeta)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("engine: check secret key: %w", err)
	}
	if _, err := k.Open(sealed, []byte(keyCheckMeta)); err != nil {
		return fmt.Errorf("engine: check secret key: %w", ErrWrongKey)
	}
	return nil
}
