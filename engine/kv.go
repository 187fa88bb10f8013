package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// The data store: values that last across runs, written and read by the
// store.* steps (connectors/store) and by the API and the Data store page.
// Values are JSON, kept byte for byte as written, grouped in namespaces
// (a flow's own namespace is its id; any other name is shared).
//
// The rules every store shares (what a key may be, the limits, what an
// increment does to a value) are computed here, by KVApply; a store only
// reads the current entry and the namespace's usage, and writes what
// KVApply returns, in one transaction.

// Limits of the data store (docs/flows.md, "Data store"); flow
// validation reads them from connectors too.
const (
	MaxKVValue          = connectors.KVMaxValue
	MaxKVNamespaceBytes = connectors.KVMaxNamespaceBytes
	MaxKVKeys           = connectors.KVMaxKeys
	MaxKVKey            = connectors.KVMaxKey
	MaxKVTTL            = connectors.KVMaxTTL
	// KVOnceKeep is how long a step's write is remembered, so that the
	// step run again after a crash (same idempotency key and attempt)
	// does not write twice.
	KVOnceKeep = 7 * 24 * time.Hour
)

// Sentinel errors of the data store, matched by every *KVError.
var (
	// ErrKVInvalid: a namespace, key or value the store does not take.
	ErrKVInvalid = errors.New("invalid data store request")
	// ErrKVLimit: the write would pass a size limit.
	ErrKVLimit = errors.New("data store limit reached")
	// ErrKVNotNumber: an increment of a value that is not a number.
	ErrKVNotNumber = errors.New("value is not a number")
	// ErrKVUnavailable: the engine's store keeps no data store.
	ErrKVUnavailable = errors.New("this store has no data store")
)

// KVError is a data store request refused, naming the field at fault
// ("namespace", "key", "value", "ttl", "by").
type KVError struct {
	Field string
	Msg   string
	// Kind is ErrKVInvalid, ErrKVLimit or ErrKVNotNumber.
	Kind error
}

// Error implements error: `data store: value: larger than 64 KiB (70000 bytes)`.
func (e *KVError) Error() string { return "data store: " + e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrKVLimit) and the like hold.
func (e *KVError) Unwrap() error { return e.Kind }

func kvInvalid(field, format string, args ...any) *KVError {
	return &KVError{Field: field, Msg: fmt.Sprintf(format, args...), Kind: ErrKVInvalid}
}

// KVValue is a value's JSON, kept and sent as written.
type KVValue []byte

// MarshalJSON implements json.Marshaler: the value as is (null when empty).
func (v KVValue) MarshalJSON() ([]byte, error) {
	if len(v) == 0 {
		return []byte("null"), nil
	}
	return v, nil
}

// UnmarshalJSON implements json.Unmarshaler: the value as sent.
func (v *KVValue) UnmarshalJSON(b []byte) error {
	*v = append((*v)[:0], b...)
	return nil
}

// KVOp is what a write does.
type KVOp string

// The writes of the data store.
const (
	KVSet       KVOp = "set"
	KVDelete    KVOp = "delete"
	KVIncrement KVOp = "increment"
)

// KVWrite is one write.
type KVWrite struct {
	Op        KVOp
	Namespace string
	Key       string
	// Value is the JSON value of a set.
	Value KVValue
	// TTL, when above zero, makes a set's value expire after it.
	TTL time.Duration
	// By is what an increment adds (may be negative or fractional).
	By float64
	// Once, when set, names the write (a step's "<idempotency key>#<attempt>"):
	// a write whose name the store already holds is not done again, and
	// its first result is returned (KVResult.Replayed). Names are kept
	// KVOnceKeep.
	Once string
	// Now is the write's time; zero means time.Now().
	Now time.Time
}

// KVResult is what a write did.
type KVResult struct {
	// Value is the value after an increment.
	Value KVValue `json:"value,omitempty"`
	// Existed is whether a delete found a live value.
	Existed bool `json:"existed,omitempty"`
	// Replayed is true when the write's Once name was known: nothing was
	// written this time.
	Replayed bool `json:"-"`
}

// KVEntry is one stored value.
type KVEntry struct {
	Namespace string     `json:"namespace"`
	Key       string     `json:"key"`
	Value     KVValue    `json:"value"`
	UpdatedAt time.Time  `json:"updated_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// KVNamespace is one namespace and what it holds (keys and bytes count
// expired values until the next purge).
type KVNamespace struct {
	Name  string `json:"name"`
	Keys  int    `json:"keys"`
	Bytes int64  `json:"bytes"`
}

// KVPage is a page of a namespace's entries, in key order.
type KVPage struct {
	Entries []KVEntry `json:"entries"`
	// NextCursor is the key to pass as after for the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// KVStore is a store that keeps the data store. Writes are durable when
// they return; one write is atomic (an increment never loses another).
// Reads leave out expired values.
type KVStore interface {
	// KVWrite does one write (see KVApply for its rules).
	KVWrite(ctx context.Context, w KVWrite) (KVResult, error)
	// KVGet returns a live value, or ErrNotFound.
	KVGet(ctx context.Context, namespace, key string, now time.Time) (KVEntry, error)
	// KVList returns up to limit live entries of a namespace whose keys
	// sort after after.
	KVList(ctx context.Context, namespace, after string, limit int, now time.Time) (KVPage, error)
	// KVNamespaces lists the namespaces that hold keys, by name.
	KVNamespaces(ctx context.Context) ([]KVNamespace, error)
	// KVPurge deletes values expired at now and write names older than
	// KVOnceKeep, reporting how many records went.
	KVPurge(ctx context.Context, now time.Time) (int, error)
}

// KVStored is an entry as a store keeps it.
type KVStored struct {
	Value []byte
	// Updated and Expires are Unix nanoseconds; Expires 0 never expires.
	Updated, Expires int64
}

// Live reports whether the entry has not expired at now.
func (s *KVStored) Live(now time.Time) bool {
	return s != nil && (s.Expires == 0 || s.Expires > now.UnixNano())
}

// Entry turns a stored value into an entry.
func (s *KVStored) Entry(namespace, key string) KVEntry {
	e := KVEntry{Namespace: namespace, Key: key, Value: KVValue(bytes.Clone(s.Value)), UpdatedAt: time.Unix(0, s.Updated).UTC()}
	if s.Expires != 0 {
		t := time.Unix(0, s.Expires).UTC()
		e.ExpiresAt = &t
	}
	return e
}

// KVUsage is what a namespace holds: its keys, and the bytes of its keys
// and values together.
type KVUsage struct {
	Keys  int
	Bytes int64
}

func kvSize(key string, s *KVStored) int64 {
	if s == nil {
		return 0
	}
	return int64(len(key) + len(s.Value))
}

// CheckKVNamespace checks a namespace name.
func CheckKVNamespace(ns string) error {
	if msg := connectors.KVNamespaceProblem(ns); msg != "" {
		return &KVError{Field: "namespace", Msg: msg, Kind: ErrKVInvalid}
	}
	return nil
}

// CheckKVKey checks a key: 1 to MaxKVKey bytes of UTF-8 text without
// control characters.
func CheckKVKey(key string) error {
	msg, tooLong := connectors.KVKeyProblem(key)
	switch {
	case tooLong:
		return &KVError{Field: "key", Msg: msg, Kind: ErrKVLimit}
	case msg != "":
		return &KVError{Field: "key", Msg: msg, Kind: ErrKVInvalid}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// CheckKVWrite checks everything of a write that does not depend on what
// is stored.
func CheckKVWrite(w KVWrite) error {
	if err := CheckKVNamespace(w.Namespace); err != nil {
		return err
	}
	if err := CheckKVKey(w.Key); err != nil {
		return err
	}
	switch w.Op {
	case KVSet:
		if len(w.Value) > MaxKVValue {
			return &KVError{Field: "value", Msg: fmt.Sprintf("larger than %d KiB (%d bytes of JSON)", MaxKVValue>>10, len(w.Value)), Kind: ErrKVLimit}
		}
		if len(w.Value) == 0 || !json.Valid(w.Value) {
			return kvInvalid("value", "not a JSON value")
		}
		if w.TTL < 0 || w.TTL > MaxKVTTL {
			return kvInvalid("ttl", "must be between 0 (never expires) and %s", MaxKVTTL)
		}
	case KVIncrement:
		if math.IsNaN(w.By) || math.IsInf(w.By, 0) {
			return kvInvalid("by", "not a finite number")
		}
	case KVDelete:
	default:
		return kvInvalid("op", "unknown write %q", w.Op)
	}
	return nil
}

// KVApply computes a write's effect. cur is the key's stored entry (nil
// when there is none; an expired one still counts in use until it is
// replaced or purged), use what the namespace holds. It returns the entry
// to store in cur's place (nil: delete the key), the result and what the
// namespace holds after. An error means nothing may be written.
func KVApply(w KVWrite, cur *KVStored, use KVUsage) (next *KVStored, res KVResult, after KVUsage, err error) {
	if err := CheckKVWrite(w); err != nil {
		return nil, res, use, err
	}
	now := w.Now
	if now.IsZero() {
		now = time.Now()
	}
	live := cur.Live(now)
	switch w.Op {
	case KVDelete:
		res.Existed = live
		if cur == nil {
			return nil, res, use, nil
		}
		use.Keys--
		use.Bytes -= kvSize(w.Key, cur)
		return nil, res, use, nil
	case KVSet:
		next = &KVStored{Value: bytes.Clone(w.Value), Updated: now.UnixNano()}
		if w.TTL > 0 {
			next.Expires = now.Add(w.TTL).UnixNano()
		}
	case KVIncrement:
		var base []byte
		if live {
			base = cur.Value
		}
		sum, err := kvAdd(w.Key, base, w.By)
		if err != nil {
			return nil, res, use, err
		}
		next = &KVStored{Value: sum, Updated: now.UnixNano()}
		if live {
			// A counter keeps the time to live its value was set with.
			next.Expires = cur.Expires
		}
		res.Value = KVValue(bytes.Clone(sum))
	}
	if cur == nil {
		use.Keys++
	}
	use.Bytes += kvSize(w.Key, next) - kvSize(w.Key, cur)
	if use.Keys > MaxKVKeys {
		return nil, KVResult{}, use, &KVError{Field: "key", Msg: fmt.Sprintf("namespace %q holds %d keys already, the most it may", w.Namespace, MaxKVKeys), Kind: ErrKVLimit}
	}
	if use.Bytes > MaxKVNamespaceBytes {
		return nil, KVResult{}, use, &KVError{Field: "value", Msg: fmt.Sprintf("namespace %q would hold more than %d MiB", w.Namespace, MaxKVNamespaceBytes>>20), Kind: ErrKVLimit}
	}
	return next, res, use, nil
}

// kvAdd adds by to the JSON number in base (absent: 0). Whole numbers
// stay whole, exactly, while they fit in 64 bits.
func kvAdd(key string, base []byte, by float64) ([]byte, error) {
	text := strings.TrimSpace(string(base))
	if text == "" {
		text = "0"
	}
	notNumber := &KVError{Field: "key", Msg: fmt.Sprintf("the value of %q is %s, not a number", clip(key), clipJSON(base)), Kind: ErrKVNotNumber}
	if by == math.Trunc(by) && math.Abs(by) < 1<<53 {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			b := int64(by)
			if s := n + b; (b >= 0) == (s >= n) {
				return strconv.AppendInt(nil, s, 10), nil
			}
			return nil, &KVError{Field: "by", Msg: "the sum does not fit in 64 bits", Kind: ErrKVLimit}
		}
	}
	// A JSON number starts with '-' or a digit; "5" (a string) is text.
	if c := text[0]; c != '-' && (c < '0' || c > '9') || !json.Valid([]byte(text)) {
		return nil, notNumber
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, notNumber
	}
	s := f + by
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return nil, &KVError{Field: "by", Msg: "the sum is out of range", Kind: ErrKVLimit}
	}
	return strconv.AppendFloat(nil, s, 'g', -1, 64), nil
}

func clipJSON(v []byte) string {
	if len(v) > 40 {
		return string(v[:40]) + "…"
	}
	return string(v)
}
