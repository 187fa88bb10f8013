package connectors

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
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

// Limits of the data store, shared by the engine (which enforces them) and
// flow validation (which refuses a literal value past them at save).
const (
	// KVMaxValue is the largest value, in bytes of JSON.
	KVMaxValue = 64 << 10
	// KVMaxNamespaceBytes caps a namespace's keys and values together.
	KVMaxNamespaceBytes = 8 << 20
	// KVMaxKeys caps how many keys a namespace holds.
	KVMaxKeys = 10000
	// KVMaxKey is the longest key, in bytes.
	KVMaxKey = 512
	// KVMaxTTL is the longest time to live a write may ask for.
	KVMaxTTL = 10 * 365 * 24 * time.Hour
)

// kvNamespacePattern is what a namespace may be: a flow id's characters,
// upper case and dots too, so it can be written in a URL path unescaped.
var kvNamespacePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// KVNamespaceProblem says what is wrong with a namespace name, "" if
// nothing.
func KVNamespaceProblem(ns string) string {
	if kvNamespacePattern.MatchString(ns) {
		return ""
	}
	if len(ns) > 64 {
		ns = ns[:64] + "…"
	}
	return fmt.Sprintf("%q is not a namespace name: use 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit", ns)
}

// KVKeyProblem says what is wrong with a key, "" if nothing; tooLong
// marks a key past KVMaxKey (a limit rather than a mistake).
func KVKeyProblem(key string) (msg string, tooLong bool) {
	switch {
	case key == "":
		return "required", false
	case len(key) > KVMaxKey:
		return fmt.Sprintf("longer than %d bytes (%d)", KVMaxKey, len(key)), true
	case !utf8.ValidString(key):
		return "not valid UTF-8 text", false
	case strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "contains a control character", false
	}
	return "", false
}

// ConfigChecker is a connector that checks, when a flow is saved, the
// values of its `with` that are not templates, beyond what its fields'
// types say (a data store key too long, say). Errors name the field.
type ConfigChecker interface {
	CheckConfig(with map[string]any) []*ConfigError
}
