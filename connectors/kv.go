package connectors

import (
	"context"
	"time"
)

// KV is the data store as the store.* steps reach it (Input.KV): JSON
// values under keys, grouped in namespaces, kept across runs. The empty
// namespace is the running flow's own (its id). Each write takes a name,
// once: a write whose name the store already holds (the step run again
// after a crash, with the same idempotency key and attempt) is not done
// again, and answers as it did the first time. Refusals (a bad key, a
// limit) are errors wrapping ErrBadConfig with the field at fault.
type KV interface {
	// Get returns a live value's JSON, found false when there is none.
	Get(ctx context.Context, namespace, key string) (value []byte, found bool, err error)
	// Set stores value (JSON); a ttl above zero makes it expire.
	Set(ctx context.Context, namespace, key string, value []byte, ttl time.Duration, once string) error
	// Delete removes a value and reports whether there was one.
	Delete(ctx context.Context, namespace, key, once string) (existed bool, err error)
	// Increment adds by to a number (absent: 0) atomically and returns
	// the sum as JSON.
	Increment(ctx context.Context, namespace, key string, by float64, once string) (value []byte, err error)
}
