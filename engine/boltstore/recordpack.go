package boltstore

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
)

// History records (events, runs and the JSON part of run_index values) are
// stored packed: their JSON compressed with S2 against a fixed dictionary of
// what such records share — field names in the order the encoders write
// them, statuses, connector names, header names, the shape of a timestamp.
// A two-field webhook's event, run and index entry shrink from about 1,100
// bytes of JSON to under 200 (docs/benchmarks.md, "Disk per event"), which
// also shrinks the write-ahead log and the part of the map reads touch.
// S2 rather than zstd: with a dictionary it packs these small records as
// tightly and encodes them several times faster, and ingest pays for it on
// every event.
//
// A packed record starts with packV1, a byte no JSON document starts with,
// so records written before packing (plain JSON, starting with '{') read
// as they are: there is no migration, and old and new records mix freely.
//
// The dictionary is part of the on-disk format: recorddict_v1.txt must
// never change once a release wrote records with it (a test pins its
// digest). A better dictionary is a new file with a new leading byte.
const packV1 = 0x01

// minPackLen is the size below which packing is not tried: such records
// gain a few bytes at most.
const minPackLen = 48

// maxUnpackedLen bounds what a packed record may claim as its unpacked
// size, so that a damaged length prefix is an error, not an allocation
// that brings the process down.
const maxUnpackedLen = 256 << 20

//go:embed recorddict_v1.txt
var recordDictV1Text []byte

// recordDictV1 is built once; S2 dictionaries are safe for concurrent use.
var recordDictV1 = s2.MakeDict(recordDictV1Text, []byte(`{"id":"`))

// errPackedRecord wraps every failure to unpack a stored record.
var errPackedRecord = errors.New("packed record")

// packRecord appends to dst the stored form of the JSON record js: packed,
// or js as it is when packing would not make it smaller (tiny or
// incompressible records).
func packRecord(dst, js []byte) []byte {
	if len(js) >= minPackLen {
		start := len(dst)
		dst = slices.Grow(dst, 1+s2.MaxEncodedLen(len(js)))
		dst = append(dst, packV1)
		if len(js) <= smallRecordMax {
			dst = encodeSmallRecord(dst, js)
		} else {
			dst = dst[:len(dst)+len(recordDictV1.Encode(dst[len(dst):cap(dst)], js))]
		}
		if len(dst)-start < len(js) {
			return dst
		}
		dst = dst[:start]
	}
	return append(dst, js...)
}

// jsonScratch holds buffers that records are encoded into before they are
// packed: the JSON is garbage once packed, and growing a new buffer for
// every record was a tenth of what a W1 request allocated (issue 16).
var jsonScratch = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledJSON is the largest buffer put back: a rare huge record should
// not stay in memory for the pool's lifetime.
const maxPooledJSON = 64 << 10

// packJSON appends to dst the stored form (packRecord) of the JSON that
// encode appends to the empty buffer it is given, which is pooled.
func packJSON(dst []byte, encode func([]byte) ([]byte, error)) ([]byte, error) {
	bp := jsonScratch.Get().(*[]byte)
	js, err := encode((*bp)[:0])
	if err == nil {
		dst = packRecord(dst, js) // copies: never aliases js
	}
	if cap(js) <= maxPooledJSON {
		*bp = js[:0]
		jsonScratch.Put(bp)
	}
	return dst, err
}

// unpackRecord returns the JSON of a stored record: v itself when it was
// stored unpacked, else a new slice (never aliasing bbolt's memory).
func unpackRecord(v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != packV1 {
		return v, nil
	}
	n, err := s2.DecodedLen(v[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errPackedRecord, err)
	}
	if n > maxUnpackedLen {
		return nil, fmt.Errorf("%w: claims %d bytes unpacked, more than %d", errPackedRecord, n, maxUnpackedLen)
	}
	js, err := recordDictV1.Decode(make([]byte, n), v[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errPackedRecord, err)
	}
	return js, nil
}

// unmarshalRecord decodes a stored record, packed or not, into v.
func unmarshalRecord(stored []byte, v any) error {
	js, err := unpackRecord(stored)
	if err != nil {
		return err
	}
	return json.Unmarshal(js, v)
}
