package boltstore

import (
	"encoding/binary"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/s2"
)

// The encoder of small records. The S2 library's dictionary encoder clears
// a 64 KiB hash table on the stack for every block it encodes, whatever
// the block's size: for the records a webhook writes (a few hundred bytes
// each, four per event) that clearing was most of packing's cost, 2.07 s
// of the 2.98 s the encoder took in a 21 s profile at c=64, about a tenth
// of the server's CPU per event (docs/benchmarks.md, issue 16). This
// encoder writes the same S2 block format, so the library decodes it and
// records packed by either read alike, but its tables fit the record: one
// for the dictionary, built once, and one for the record, sized to it.
// Records above smallRecordMax go to the library, whose fixed cost is
// small beside theirs.
//
// The block is S2's (a superset of Snappy's): the decoded length as a
// uvarint, then literals and copies. A copy whose offset reaches past the
// bytes decoded so far reads from the end of the dictionary, as if the
// dictionary preceded the record; such a copy must end within the
// dictionary, and may only start while at most maxDictSrcOffset bytes are
// decoded. Copies use the one- and two-byte offset forms and S2's repeat
// of the last offset.

const (
	// smallRecordMax is the largest record packed by encodeSmallRecord:
	// with the dictionary, every offset fits the two-byte form.
	smallRecordMax = 16 << 10
	// maxDictSrcOffset is the last decoded position at which S2's decoder
	// accepts a copy from the dictionary.
	maxDictSrcOffset = s2.MaxDictSrcOffset
	// minMatch is the shortest copy worth writing: a two-byte offset copy
	// of 4 bytes costs 3.
	minMatch = 4
	// dictTableBits sizes the dictionary's hash table (4,096 entries for
	// a dictionary of about 4,600 bytes).
	dictTableBits = 12
	// maxRecordTableBits bounds the record's own table.
	maxRecordTableBits = 13
)

// dictTable maps the hash of four bytes at a position of the dictionary to
// the position plus one (zero is empty). Built once; read-only afterwards.
var dictTable = buildDictTable(recordDictV1Text)

func buildDictTable(dict []byte) *[1 << dictTableBits]uint16 {
	var t [1 << dictTableBits]uint16
	for i := 0; i+minMatch <= len(dict); i++ {
		t[hash4(load32(dict, i), dictTableBits)] = uint16(i + 1)
	}
	return &t
}

// recordTables holds the records' hash tables between uses: declared on
// the stack, a table would be cleared whole on every call, the cost this
// encoder exists to avoid.
var recordTables = sync.Pool{New: func() any { return new([1 << maxRecordTableBits]uint16) }}

func load32(b []byte, i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }

// hash4 spreads four bytes over a table of 1<<tableBits entries
// (multiplicative hashing).
func hash4(u uint32, tableBits uint) uint32 { return (u * 0x9E3779B1) >> (32 - tableBits) }

// matchLen is how many bytes a and b share from their starts.
func matchLen(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)>>3
		}
	}
	for ; i < n && a[i] == b[i]; i++ {
	}
	return i
}

// encodeSmallRecord appends to dst the S2 block of src (at most
// smallRecordMax bytes) against the records' dictionary (recordDictV1).
func encodeSmallRecord(dst, src []byte) []byte {
	dict := recordDictV1Text
	dst = binary.AppendUvarint(dst, uint64(len(src)))
	if len(src) < minMatch+1 {
		return appendLiteral(dst, src)
	}
	tableBits := uint(max(8, min(maxRecordTableBits, bits.Len(uint(len(src))))))
	tables := recordTables.Get().(*[1 << maxRecordTableBits]uint16)
	defer recordTables.Put(tables)
	table := tables[:1<<tableBits] // only this much is cleared and used
	clear(table)
	nextEmit, p := 0, 0
	last := len(src) - minMatch // the last position four bytes can be read at
	// lastOff is the offset of the last copy written, which a repeat
	// reuses in two bytes; none before the first copy.
	lastOff := 0
	for p <= last {
		cv := load32(src, p)
		h := hash4(cv, tableBits)
		cand := int(table[h]) - 1
		table[h] = uint16(p + 1)
		bestLen, bestOff := 0, 0
		if lastOff > 0 {
			bestLen, bestOff = copyLen(dict, src, p, lastOff), lastOff
		}
		if cand >= 0 && load32(src, cand) == cv {
			// A repeat of the last offset as long costs a byte less.
			if n := minMatch + matchLen(src[p+minMatch:], src[cand+minMatch:]); n > bestLen {
				bestLen, bestOff = n, p-cand
			}
		}
		if p <= maxDictSrcOffset {
			if dc := int(dictTable[hash4(cv, dictTableBits)]) - 1; dc >= 0 && load32(dict, dc) == cv {
				// A copy from the dictionary ends within it.
				if n := minMatch + matchLen(src[p+minMatch:], dict[dc+minMatch:]); n > bestLen {
					bestLen, bestOff = n, len(dict)-dc+p
				}
			}
		}
		if bestLen < minMatch {
			// No skipping ahead through stretches that find nothing, as
			// general-purpose encoders do: records are small, and the
			// few bytes it lost per event (7 of 258) count on disk.
			p++
			continue
		}
		// Extend the copy backwards over bytes not yet written. In the
		// dictionary followed by the record, the copy's source starts at m;
		// one from the record must not reach into the dictionary (the
		// decoder takes a copy as wholly from one or the other).
		m, floor := len(dict)+p-bestOff, 0
		if m >= len(dict) {
			floor = len(dict)
		}
		for p > nextEmit && m > floor && virtualAt(dict, src, m-1) == src[p-1] {
			p, m, bestLen = p-1, m-1, bestLen+1
		}
		dst = appendLiteral(dst, src[nextEmit:p])
		dst = appendCopy(dst, bestOff, bestLen, lastOff)
		lastOff = bestOff
		// Remember a position inside the copy too, so that what repeats
		// it can find it.
		if q := p + bestLen - 2; q <= last && q > p {
			table[hash4(load32(src, q), tableBits)] = uint16(q + 1)
		}
		p += bestLen
		nextEmit = p
	}
	return appendLiteral(dst, src[nextEmit:])
}

// copyLen is how long a copy from offset back can be at p of src: from
// the record, or from the dictionary (ending within it, and only while p
// allows a copy from the dictionary); zero under minMatch.
func copyLen(dict, src []byte, p, offset int) int {
	var n int
	if m := p - offset; m >= 0 {
		n = matchLen(src[p:], src[m:])
	} else if m += len(dict); m >= 0 && p <= maxDictSrcOffset {
		n = matchLen(src[p:], dict[m:])
	}
	if n < minMatch {
		return 0
	}
	return n
}

// virtualAt is the byte at i of the dictionary followed by the record.
func virtualAt(dict, src []byte, i int) byte {
	if i < len(dict) {
		return dict[i]
	}
	return src[i-len(dict)]
}

// appendLiteral appends lit as literal elements.
func appendLiteral(dst, lit []byte) []byte {
	for len(lit) > 0 {
		n := min(len(lit), 1<<16)
		switch m := n - 1; {
		case m < 60:
			dst = append(dst, byte(m)<<2)
		case m < 1<<8:
			dst = append(dst, 60<<2, byte(m))
		default:
			dst = append(dst, 61<<2, byte(m), byte(m>>8))
		}
		dst = append(dst, lit[:n]...)
		lit = lit[n:]
	}
	return dst
}

// appendCopy appends a copy of length bytes (at least minMatch) from
// offset back (offset < 65536): a repeat when the offset is lastOff's,
// else the one-byte-offset form where it fits, else a two-byte-offset
// copy of at most 64 bytes with the rest as a repeat.
func appendCopy(dst []byte, offset, length, lastOff int) []byte {
	if offset == lastOff {
		return appendRepeat(dst, length)
	}
	if offset < 1<<11 && length <= 11 {
		return append(dst, byte(1|(length-4)<<2|(offset>>8)<<5), byte(offset))
	}
	n := min(length, 64)
	if rest := length - n; rest > 0 && rest < minMatch {
		n = length - minMatch // a repeat takes at least minMatch bytes
	}
	dst = append(dst, byte(2|(n-1)<<2), byte(offset), byte(offset>>8))
	if length > n {
		dst = appendRepeat(dst, length-n)
	}
	return dst
}

// appendRepeat appends S2's repeat of the last offset for length bytes
// (minMatch up to 65,795): a one-byte-offset copy tag whose offset is zero,
// its length code saying how many bytes of length follow.
func appendRepeat(dst []byte, length int) []byte {
	switch {
	case length <= 8:
		return append(dst, byte(1|(length-4)<<2), 0)
	case length <= 263:
		return append(dst, 1|5<<2, 0, byte(length-8))
	default:
		l := length - 260
		return append(dst, 1|6<<2, 0, byte(l), byte(l>>8))
	}
}
