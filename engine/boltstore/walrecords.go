package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/engine/boltstore/wal"
)

// Record bodies. A record's first byte is its kind; fields are
// length-prefixed (uvarint) byte strings or fixed-size integers.
const (
	walAccept byte = 1            // a webhook event with its queued run (acceptRecord)
	walSave   byte = 2            // a run checkpoint (saveRecord)
	walVoid        = wal.KindVoid // LSNs of a group whose write failed (voidRecord)
)

// errWALRecord is a record that does not decode: with an intact checksum
// it can only come from a newer or broken binary, so opening fails rather
// than dropping it.
var errWALRecord = errors.New("store: write-ahead log record does not decode")

func appendField(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// walReader takes a record apart field by field; the first failure sticks.
type walReader struct {
	b   []byte
	bad bool
}

func (r *walReader) fixed(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *walReader) u64() uint64 {
	if v := r.fixed(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *walReader) field() []byte {
	n, k := binary.Uvarint(r.b)
	if r.bad || k <= 0 || n > uint64(len(r.b)-k) {
		r.bad = true
		return nil
	}
	v := r.b[k : k+int(n)]
	r.b = r.b[k+int(n):]
	return v
}

// acceptRecord is a webhook event stored with its queued run: the run's
// index value and the event share the run's key.
type acceptRecord struct {
	key    []byte // 8 bytes
	due    int64  // unix nano, 0 = now
	flowID []byte
	index  []byte
	event  []byte
}

func (a *acceptRecord) encode() []byte {
	b := make([]byte, 0, 1+8+8+len(a.flowID)+len(a.index)+len(a.event)+15)
	b = append(b, walAccept)
	b = append(b, a.key...)
	b = binary.LittleEndian.AppendUint64(b, uint64(a.due))
	b = appendField(b, a.flowID)
	b = appendField(b, a.index)
	return appendField(b, a.event)
}

// saveRecord is a run checkpoint: its full record and index value.
type saveRecord struct {
	key    []byte
	due    int64
	index  []byte
	record []byte
}

func (s *saveRecord) encode() []byte {
	b := make([]byte, 0, 1+8+8+len(s.index)+len(s.record)+10)
	b = append(b, walSave)
	b = append(b, s.key...)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.due))
	b = appendField(b, s.index)
	return appendField(b, s.record)
}

// decodeWALRecord decodes a record body. The result aliases rec.
func decodeWALRecord(rec []byte) (walRecord, error) {
	if len(rec) == 0 {
		return nil, errWALRecord
	}
	r := walReader{b: rec[1:]}
	var out walRecord
	switch rec[0] {
	case walAccept:
		a := &acceptRecord{key: r.fixed(8)}
		a.due = int64(r.u64())
		a.flowID, a.index, a.event = r.field(), r.field(), r.field()
		out = a
	case walSave:
		s := &saveRecord{key: r.fixed(8)}
		s.due = int64(r.u64())
		s.index, s.record = r.field(), r.field()
		out = s
	case walVoid:
		v := &voidRecord{}
		v.First = r.u64()
		v.Last = r.u64()
		out = v
	default:
		return nil, fmt.Errorf("%w: kind %d", errWALRecord, rec[0])
	}
	if r.bad || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: kind %d, %d bytes", errWALRecord, rec[0], len(rec))
	}
	return out, nil
}

// voidRecord is the log's void record among the store's records: it
// applies nothing.
type voidRecord struct{ wal.Void }

func (v *voidRecord) encode() []byte { return v.Void.Encode() }
