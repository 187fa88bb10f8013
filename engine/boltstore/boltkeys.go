package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// Bucket names and key encoders: the one place that knows the bbolt layout.
// Sequence keys are big-endian so that cursor order is time order.
var (
	bucketFlows         = []byte("flows")             // id → FlowRecord
	bucketFlowVersions  = []byte("flow_versions")     // id 0x00 BE(version) → flow JSON
	bucketEvents        = []byte("events")            // BE(seq of the run it started) → Event
	bucketRuns          = []byte("runs")              // BE(seq) → Run
	bucketRunIndex      = []byte("run_index")         // BE(seq) → index value (see encodeIndex)
	bucketRunsByFlow    = []byte("runs_by_flow")      // flow 0x00 BE(seq) → nil
	bucketFailedByFlow  = []byte("failed_by_flow")    // flow 0x00 BE(seq of a failed run) → nil (bolt_resolution.go)
	bucketEventRuns     = []byte("event_runs")        // BE(event) BE(retry or replay run) → nil
	bucketQueue         = []byte("queue")             // BE(due unix nano) BE(seq) → nil
	bucketDedupe        = []byte("dedupe")            // flow 0x00 key → dedupeEntry
	bucketConnections   = []byte("connections")       // name → ConnectionRecord
	bucketTokens        = []byte("tokens")            // hash → TokenRecord
	bucketMeta          = []byte("meta")              // key → value
	bucketUsers         = []byte("users")             // name → UserRecord
	bucketSessions      = []byte("sessions")          // SHA-256(token) → SessionRecord
	bucketTicks         = []byte("ticks")             // flow 0x00 BE(tick unix nano) → run id
	bucketSeen          = []byte("seen")              // flow 0x00 item key → BE(seq)
	bucketSeenOrder     = []byte("seen_order")        // flow 0x00 BE(seq) → item key
	bucketPollState     = []byte("poll_state")        // flow → PollState
	bucketRefusalLog    = []byte("refusal_log")       // BE(seq) → Refusal (bolt_refusals.go)
	bucketRefusalFlows  = []byte("refusal_flows")     // flow 0x00 BE(seq) → BE(at unix nano)
	bucketAudit         = []byte("audit")             // BE(seq) → AuditEntry (bolt_audit.go)
	bucketVersionMeta   = []byte("flow_version_meta") // id 0x00 BE(version) → VersionMeta (bolt_versions.go)
	bucketFlowStates    = []byte("flow_states")       // id 0x00 BE(at unix nano) → StateChange
	bucketUnresolved    = []byte("unresolved")        // BE(seq of a failed run) → nil (bolt_resolution.go)
	bucketResolved      = []byte("resolved")          // BE(seq of a failed run) → BE(seq of the run that resolved it)
	bucketSearch        = []byte("search_postings")   // term 0x00 BE(start) → seq deltas (search_postings.go)
	bucketSearchDocs    = []byte("search_docs")       // BE(seq) → the run's terms, 0x00-separated
	bucketSearchPending = []byte("search_pending")    // BE(seq) → 0 open / 1 final: runs to index
	// The data store (bolt_kv.go).
	bucketKV       = []byte("kv")         // namespace 0x00 key → kvValue
	bucketKVUsage  = []byte("kv_usage")   // namespace → BE(keys) BE(bytes)
	bucketKVExpiry = []byte("kv_expiry")  // BE(expires unix nano) namespace 0x00 key → nil
	bucketKVOnce   = []byte("kv_once")    // write name → BE(at unix nano) KVResult JSON
	bucketKVOnceAt = []byte("kv_once_at") // BE(at unix nano) write name → nil

	allBuckets = [][]byte{bucketFlows, bucketFlowVersions, bucketEvents, bucketRuns,
		bucketRunIndex, bucketRunsByFlow, bucketFailedByFlow, bucketEventRuns, bucketQueue, bucketDedupe, bucketConnections,
		bucketTokens, bucketMeta, bucketUsers, bucketSessions, bucketTicks, bucketSeen,
		bucketSeenOrder, bucketPollState, bucketRefusalLog, bucketRefusalFlows, bucketAudit, bucketUnresolved, bucketResolved,
		bucketVersionMeta, bucketFlowStates, bucketSearch, bucketSearchDocs, bucketSearchPending,
		bucketKV, bucketKVUsage, bucketKVExpiry, bucketKVOnce, bucketKVOnceAt}
)

const (
	runIDPrefix   = "run_"
	eventIDPrefix = "evt_"
)

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// formatID is prefix and seq as 16 hex digits ("run_000000000000002a").
func formatID(prefix string, seq uint64) string {
	b := make([]byte, len(prefix)+16)
	copy(b, prefix)
	for i := len(b) - 1; i >= len(prefix); i-- {
		b[i] = "0123456789abcdef"[seq&0xf]
		seq >>= 4
	}
	return string(b)
}

// parseID turns "run_000000000000002a" into its sequence key.
func parseID(prefix, id string) ([]byte, error) {
	hex, ok := strings.CutPrefix(id, prefix)
	if !ok || len(hex) != 16 {
		return nil, fmt.Errorf("%w: %q", engine.ErrBadID, id)
	}
	seq, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", engine.ErrBadID, id)
	}
	return seqKey(seq), nil
}

// queueKey orders the queue by due time, then by run sequence. A zero due
// time sorts first: "now".
func queueKey(due time.Time, runKey []byte) []byte {
	k := make([]byte, 16)
	var n uint64
	if !due.IsZero() {
		n = uint64(due.UnixNano())
	}
	binary.BigEndian.PutUint64(k, n)
	copy(k[8:], runKey)
	return k
}

func decodeQueueKey(k []byte) (time.Time, uint64) {
	if len(k) != 16 {
		return time.Time{}, 0 // damaged: names no run
	}
	n := binary.BigEndian.Uint64(k[:8])
	seq := binary.BigEndian.Uint64(k[8:16])
	if n == 0 {
		return time.Time{}, seq
	}
	return time.Unix(0, int64(n)), seq
}

func compositeKey(a string, b []byte) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

// dedupeEntry remembers which run a delivery key started, until Expires.
type dedupeEntry struct {
	RunID   string    `json:"run_id"`
	Expires time.Time `json:"expires"`
}

// A run_index value is a flag byte, the due time (8 bytes, 0: now), and —
// when the flag has indexHeaderV2 — the creation time (8 bytes, Unix nano)
// and a status code (1 byte), then the summary as JSON. A checkpoint learns
// the old queue position and finality, and a listing filters by status and
// time, without decoding JSON. Values written before the longer header
// (flag 0 or 1, JSON at byte 9) still decode.
const (
	indexFinalFlag = 1 << 0
	indexHeaderV2  = 1 << 1
	// indexOriginFlag marks a retry or replay (the summary has retry_of or
	// replay_of), so that finishing a run need not unpack its summary to
	// learn whether it resolves another.
	indexOriginFlag = 1 << 2

	indexHeaderV1Len = 9
	indexHeaderV2Len = 18
)

// runStatusCodes number the statuses in the index header; 0 means "read
// the JSON" (a status this code does not know).
var runStatusCodes = map[engine.RunStatus]byte{engine.RunQueued: 1, engine.RunRunning: 2, engine.RunWaiting: 3, engine.RunSucceeded: 4, engine.RunFailed: 5}

func encodeIndex(sum *engine.RunSummary) ([]byte, error) {
	v := make([]byte, indexHeaderV2Len, indexHeaderV2Len+256)
	v[0] = indexHeaderV2
	if sum.Status.Final() {
		v[0] |= indexFinalFlag
	}
	if sum.DueAt != nil && !sum.DueAt.IsZero() {
		binary.BigEndian.PutUint64(v[1:9], uint64(sum.DueAt.UnixNano()))
	}
	if !sum.CreatedAt.IsZero() {
		binary.BigEndian.PutUint64(v[9:17], uint64(sum.CreatedAt.UnixNano()))
	}
	if sum.RetryOf != "" || sum.ReplayOf != "" {
		v[0] |= indexOriginFlag
	}
	v[17] = runStatusCodes[sum.Status]
	return packJSON(v, func(b []byte) ([]byte, error) { return appendSummaryJSON(b, sum), nil })
}

func indexFinal(v []byte) bool { return len(v) > 0 && v[0]&indexFinalFlag != 0 }

// indexMayHaveOrigin reports whether the run may be a retry or replay.
// Values written before the flag existed are plain JSON, which shows the
// field itself; a false positive only costs a decode.
func indexMayHaveOrigin(v []byte) bool {
	if len(v) > 0 && v[0]&indexOriginFlag != 0 {
		return true
	}
	return bytes.Contains(v, []byte(`"retry_of"`)) || bytes.Contains(v, []byte(`"replay_of"`))
}

func indexDue(v []byte) time.Time {
	if len(v) < indexHeaderV1Len {
		return time.Time{}
	}
	n := binary.BigEndian.Uint64(v[1:9])
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n))
}

// indexHeader reads the creation time and status code of a value with the
// longer header; ok is false for older values (decode the JSON instead).
func indexHeader(v []byte) (created int64, status byte, ok bool) {
	if len(v) < indexHeaderV2Len || v[0]&indexHeaderV2 == 0 {
		return 0, 0, false
	}
	return int64(binary.BigEndian.Uint64(v[9:17])), v[17], true
}

func decodeIndex(v []byte, sum *engine.RunSummary) error {
	if len(v) < indexHeaderV1Len {
		return engine.ErrNotFound
	}
	if v[0]&indexHeaderV2 != 0 {
		if len(v) < indexHeaderV2Len {
			return engine.ErrNotFound
		}
		return unmarshalRecord(v[indexHeaderV2Len:], sum)
	}
	return json.Unmarshal(v[indexHeaderV1Len:], sum)
}

// keyAt is prefix 0x00 BE(n): the keys of per-flow, time- or
// version-ordered records.
func keyAt(prefix string, n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return compositeKey(prefix, b[:])
}

func tickKey(flowID string, tick time.Time) []byte { return keyAt(flowID, uint64(tick.UnixNano())) }

// oldRefusals is the bucket refusals were kept in before the global log
// (flow 0x00 BE(at) → Refusal); openings move what it holds.
var oldRefusals = []byte("refusals")

func versionKey(id string, v int64) []byte { return keyAt(id, uint64(v)) }

// lastUnder positions c on the newest (greatest) key that starts with
// prefix and returns it, or nil keys when there is none. Walk on with
// c.Prev() and stop when the prefix no longer matches.
func lastUnder(c *bolt.Cursor, prefix []byte) ([]byte, []byte) {
	// Seek just past every key with the prefix, then step back one.
	end := append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	var v []byte
	k, _ := c.Seek(end)
	if k == nil {
		k, v = lastOf(c)
	} else {
		k, v = c.Prev()
	}
	if k == nil && c.Bucket().Tx().Writable() {
		// bbolt's Prev stops at a page this transaction's deletes
		// emptied, as if the bucket began there
		// (TestLastUnderAcrossEmptiedPages); Next steps over such pages.
		return lastUnderForward(c, prefix)
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil, nil
	}
	return k, v
}

// lastUnderForward is lastUnder walking every key under prefix forward.
func lastUnderForward(c *bolt.Cursor, prefix []byte) (last, value []byte) {
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		last, value = k, v
	}
	if last != nil {
		c.Seek(last) // leave c on it, as lastUnder does
	}
	return last, value
}

// A kv value is BE(updated unix nano) BE(expires unix nano, 0: never)
// then the JSON value as written.
const kvHeaderLen = 16

func encodeKV(v *engine.KVStored) []byte {
	b := make([]byte, kvHeaderLen, kvHeaderLen+len(v.Value))
	binary.BigEndian.PutUint64(b[0:8], uint64(v.Updated))
	binary.BigEndian.PutUint64(b[8:16], uint64(v.Expires))
	return append(b, v.Value...)
}

// decodeKV copies what it reads: bolt's slices die with the transaction.
func decodeKV(b []byte) *engine.KVStored {
	if len(b) < kvHeaderLen {
		return nil
	}
	return &engine.KVStored{
		Updated: int64(binary.BigEndian.Uint64(b[0:8])),
		Expires: int64(binary.BigEndian.Uint64(b[8:16])),
		Value:   bytes.Clone(b[kvHeaderLen:]),
	}
}

func kvKey(namespace, key string) []byte { return compositeKey(namespace, []byte(key)) }

// kvExpiryKey is BE(expires) then the value's key: the expiry index in
// time order.
func kvExpiryKey(expires int64, valueKey []byte) []byte {
	return append(kvTime(expires), valueKey...)
}

// kvTime is BE(unix nano), the prefix of the time-ordered kv keys.
func kvTime(n int64) []byte {
	b := make([]byte, 8, 64)
	binary.BigEndian.PutUint64(b, uint64(n))
	return b
}

func encodeKVUsage(u engine.KVUsage) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b[0:8], uint64(u.Keys))
	binary.BigEndian.PutUint64(b[8:16], uint64(u.Bytes))
	return b
}

func decodeKVUsage(b []byte) engine.KVUsage {
	if len(b) != 16 {
		return engine.KVUsage{}
	}
	return engine.KVUsage{Keys: int(binary.BigEndian.Uint64(b[0:8])), Bytes: int64(binary.BigEndian.Uint64(b[8:16]))}
}

// kvOnceAtKey is BE(at) name: the write names in the order they age.
func kvOnceAtKey(at int64, name string) []byte { return append(kvTime(at), name...) }

// lastOf is c.Last(), safe in a write transaction that has deleted every
// key of the bucket: the pages those deletes left empty stay until the
// commit, and bbolt's Last steps back over empty pages and, finding no
// key, starts again from the end for ever. First skips empty pages and
// stops; with no key there is nothing to find.
func lastOf(c *bolt.Cursor) ([]byte, []byte) {
	if k, _ := c.First(); k == nil {
		return nil, nil
	}
	return c.Last()
}
