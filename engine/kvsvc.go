package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// The data store as the engine serves it: to the store.* steps through
// connectors.KV (kvBinding), to the API and the UI through the methods
// below.

// kvBinding is the data store as one run's steps see it: the empty
// namespace is the run's flow's.
type kvBinding struct {
	store  KVStore
	flowID string
	// named passes the steps' write names on; in-process test runs all
	// share one run id, so theirs would collide.
	named bool
	now   func() time.Time
	// secret reports whether text holds a secret the run met, or a value
	// a template computed from one.
	secret func(string) bool
}

func (x *executor) kvFor(st *runState) connectors.KV {
	if x.kv == nil {
		return nil
	}
	red := st.red
	return &kvBinding{store: x.kv, flowID: st.run.FlowID, named: st.save != nil, now: x.now,
		secret: func(s string) bool { return red.string(s) != s }}
}

func (b *kvBinding) ns(ns string) string {
	if ns == "" {
		return b.flowID
	}
	return ns
}

func (b *kvBinding) write(ctx context.Context, w KVWrite, once string) (KVResult, error) {
	// The data store is shown on its page and by the API: a secret there
	// would be shown too.
	if b.secret != nil {
		for field, text := range map[string]string{"namespace": w.Namespace, "key": w.Key, "value": string(w.Value)} {
			if b.secret(text) {
				return KVResult{}, &connectors.ConfigError{Field: field, Msg: "holds a secret (or a value computed from one); the data store does not keep secrets, since its page and API show what it holds"}
			}
		}
	}
	w.Namespace = b.ns(w.Namespace)
	w.Now = b.now()
	if b.named {
		w.Once = once
	}
	res, err := b.store.KVWrite(ctx, w)
	return res, stepKVError(err)
}

// stepKVError makes a refusal a connectors.ConfigError (a permanent
// failure naming its field); other errors (the store unavailable) stay
// as they are, worth another attempt.
func stepKVError(err error) error {
	var ke *KVError
	if errors.As(err, &ke) {
		return &connectors.ConfigError{Field: ke.Field, Msg: ke.Msg}
	}
	return err
}

// Get implements connectors.KV.
func (b *kvBinding) Get(ctx context.Context, namespace, key string) ([]byte, bool, error) {
	namespace = b.ns(namespace)
	if err := CheckKVNamespace(namespace); err != nil {
		return nil, false, stepKVError(err)
	}
	if err := CheckKVKey(key); err != nil {
		return nil, false, stepKVError(err)
	}
	e, err := b.store.KVGet(ctx, namespace, key, b.now())
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return e.Value, true, nil
}

// Set implements connectors.KV.
func (b *kvBinding) Set(ctx context.Context, namespace, key string, value []byte, ttl time.Duration, once string) error {
	_, err := b.write(ctx, KVWrite{Op: KVSet, Namespace: namespace, Key: key, Value: value, TTL: ttl}, once)
	return err
}

// Delete implements connectors.KV.
func (b *kvBinding) Delete(ctx context.Context, namespace, key, once string) (bool, error) {
	res, err := b.write(ctx, KVWrite{Op: KVDelete, Namespace: namespace, Key: key}, once)
	return res.Existed, err
}

// Increment implements connectors.KV.
func (b *kvBinding) Increment(ctx context.Context, namespace, key string, by float64, once string) ([]byte, error) {
	res, err := b.write(ctx, KVWrite{Op: KVIncrement, Namespace: namespace, Key: key, By: by}, once)
	return res.Value, err
}

// Audit actions of values changed by hand (API, UI); the steps' writes
// are in their runs' history.
const (
	AuditStoreSet    = "store.set"
	AuditStoreDelete = "store.delete"
)

// Page sizes of KVList.
const (
	DefaultKVPage = 100
	MaxKVPage     = 1000
)

func (e *Engine) kvStore() (KVStore, error) {
	kv, ok := e.store.(KVStore)
	if !ok {
		return nil, ErrKVUnavailable
	}
	return kv, nil
}

// KVNamespaces lists the data store's namespaces that hold keys.
func (e *Engine) KVNamespaces(ctx context.Context) ([]KVNamespace, error) {
	kv, err := e.kvStore()
	if err != nil {
		return nil, err
	}
	return kv.KVNamespaces(ctx)
}

// KVList lists a namespace's values in key order, a page at a time
// (limit 0: DefaultKVPage; at most MaxKVPage).
func (e *Engine) KVList(ctx context.Context, namespace, after string, limit int) (KVPage, error) {
	kv, err := e.kvStore()
	if err != nil {
		return KVPage{}, err
	}
	if err := CheckKVNamespace(namespace); err != nil {
		return KVPage{}, err
	}
	if limit <= 0 {
		limit = DefaultKVPage
	}
	return kv.KVList(ctx, namespace, after, min(limit, MaxKVPage), time.Now())
}

// KVGet returns one value, or an error matching ErrNotFound.
func (e *Engine) KVGet(ctx context.Context, namespace, key string) (KVEntry, error) {
	kv, err := e.kvStore()
	if err != nil {
		return KVEntry{}, err
	}
	if err := CheckKVNamespace(namespace); err != nil {
		return KVEntry{}, err
	}
	if err := CheckKVKey(key); err != nil {
		return KVEntry{}, err
	}
	return kv.KVGet(ctx, namespace, key, time.Now())
}

// KVPut stores a value (JSON) and returns it as stored.
func (e *Engine) KVPut(ctx context.Context, namespace, key string, value KVValue, ttl time.Duration) (KVEntry, error) {
	kv, err := e.kvStore()
	if err != nil {
		return KVEntry{}, err
	}
	now := time.Now()
	if _, err := kv.KVWrite(ctx, KVWrite{Op: KVSet, Namespace: namespace, Key: key, Value: value, TTL: ttl, Now: now}); err != nil {
		return KVEntry{}, err
	}
	e.Audit(ctx, AuditEntry{Action: AuditStoreSet, Target: namespace + "/" + key, Detail: fmt.Sprintf("%d bytes", len(value))})
	entry := (&KVStored{Value: value, Updated: now.UnixNano()}).Entry(namespace, key)
	if ttl > 0 {
		t := now.Add(ttl).UTC()
		entry.ExpiresAt = &t
	}
	return entry, nil
}

// KVDelete deletes a value, or answers an error matching ErrNotFound when
// there was none.
func (e *Engine) KVDelete(ctx context.Context, namespace, key string) error {
	kv, err := e.kvStore()
	if err != nil {
		return err
	}
	res, err := kv.KVWrite(ctx, KVWrite{Op: KVDelete, Namespace: namespace, Key: key})
	if err != nil {
		return err
	}
	if !res.Existed {
		return fmt.Errorf("data store: %s/%s: %w", namespace, key, ErrNotFound)
	}
	e.Audit(ctx, AuditEntry{Action: AuditStoreDelete, Target: namespace + "/" + key})
	return nil
}

// purgeKV forgets expired values and old write names (retention).
func (e *Engine) purgeKV(ctx context.Context) {
	kv, err := e.kvStore()
	if err != nil {
		return
	}
	if n, err := kv.KVPurge(ctx, time.Now()); err != nil {
		e.log.Error("purge the data store", "err", err)
	} else if n > 0 {
		e.log.Info("purged expired data store records", "count", n)
	}
}
