package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Posting lists of the search index, in blocks:
//
//	search_postings: term 0x00 BE(bound) → the seqs of runs holding term
//
// A block holds the ascending seqs of runs holding term above the bound of
// the block before it, up to its own bound; the last block's bound is
// openBound, so a new run's seq always has a block. Its value is the first
// seq, then each seq minus the one before, as uvarints. Runs are numbered
// in order, so the runs of a common term lie close together and most
// postings take one byte. One bbolt key per posting took 45 bytes each
// (its 16-byte element header, the term and the seq, on pages split
// full): eight terms per W0 run were 363 of its 852 bytes on disk
// (issue 16).
//
// Blocks are keyed by their upper bound so that finding the one for a
// seq is a Seek forward. Inside a write transaction that has deleted keys,
// bbolt's cursor can meet pages left empty until the commit: Next skips
// them, but Prev stops at one as if the bucket began there and Last loops
// on one for ever. Adding and removing postings (the indexer, retention)
// therefore never step back; only searches, in read-only transactions,
// walk backwards.
//
// A block holds at most postingBlockBytes: full blocks keep the index
// small, and a lookup decodes at most that much. A batch adds each term's
// postings at once, ascending (appending to the open block in the common
// case; a block that outgrows the bound is cut, each part but the last
// keyed by its last seq), and removes them at once; an emptied block is
// deleted.

// postingBlockBytes bounds one block's value: a few blocks share a page.
const postingBlockBytes = 1024

// openBound is the bound of a term's last block.
const openBound uint64 = math.MaxUint64

// errPostingBlock is a block value that does not decode (a damaged file):
// searches read what decodes of it, and writes replace it.
var errPostingBlock = errors.New("search index: damaged posting block")

// postingKey is the key of term's block with the given bound.
func postingKey(term string, bound uint64) []byte {
	return binary.BigEndian.AppendUint64(compositeKey(term, nil), bound)
}

// postingBound returns the bound of k when k is a block key of the term
// whose compositeKey(term, nil) is prefix.
func postingBound(k, prefix []byte) (uint64, bool) {
	if len(k) != len(prefix)+8 || !bytes.HasPrefix(k, prefix) {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefix):]), true
}

// decodePostings appends the seqs of block value v, whose bound is bound,
// to dst. A value that is truncated, does not ascend or passes its bound
// is errPostingBlock; what decoded before the damage is returned.
func decodePostings(dst []uint64, bound uint64, v []byte) ([]uint64, error) {
	var prev uint64
	for i := 0; len(v) > 0; i++ {
		d, n := binary.Uvarint(v)
		if n <= 0 || (i > 0 && (d == 0 || d > math.MaxUint64-prev)) || prev+d > bound {
			return dst, errPostingBlock
		}
		prev += d
		dst = append(dst, prev)
		v = v[n:]
	}
	return dst, nil
}

// encodePostings writes seqs (ascending) as a block value.
func encodePostings(seqs []uint64) []byte {
	out := make([]byte, 0, len(seqs)+8)
	var prev uint64
	for _, s := range seqs {
		out = binary.AppendUvarint(out, s-prev)
		prev = s
	}
	return out
}

// uvarintLen is how many bytes binary.AppendUvarint writes for x.
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// postingBlock is one block as read.
type postingBlock struct {
	found   bool   // the term has a block for the seq asked
	atEnd   bool   // no key at all sorts after the seq asked
	bound   uint64 // its bound
	seqs    []uint64
	damaged bool
}

// findPostingBlock reads the block of the term (prefix) that holds seq:
// the one with the least bound ≥ seq, leaving c on it. It only seeks
// forward (see above).
func findPostingBlock(c *bolt.Cursor, prefix []byte, seq uint64, into []uint64) postingBlock {
	blk := postingBlock{seqs: into[:0]}
	k, v := c.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), seq))
	bound, ok := postingBound(k, prefix)
	if !ok {
		blk.atEnd = k == nil
		return blk
	}
	var err error
	blk.found, blk.bound = true, bound
	blk.seqs, err = decodePostings(blk.seqs, bound, v)
	blk.damaged = err != nil
	return blk
}

// putPostingBlocks writes seqs (ascending, all ≤ bound) as term's block
// with the given bound, cut into several when they exceed
// postingBlockBytes: each part but the last is keyed by its last seq.
func putPostingBlocks(b *bolt.Bucket, term string, bound uint64, seqs []uint64) error {
	for len(seqs) > 0 {
		size, n := uvarintLen(seqs[0]), 1
		for n < len(seqs) {
			w := uvarintLen(seqs[n] - seqs[n-1])
			if size+w > postingBlockBytes {
				break
			}
			size += w
			n++
		}
		key := bound
		if n < len(seqs) {
			key = seqs[n-1]
		}
		if err := b.Put(postingKey(term, key), encodePostings(seqs[:n])); err != nil {
			return err
		}
		seqs = seqs[n:]
	}
	return nil
}

// addPostings adds seqs (ascending, distinct) to term's posting list.
func addPostings(b *bolt.Bucket, term string, seqs []uint64) error {
	prefix := compositeKey(term, nil)
	var buf []uint64
	for len(seqs) > 0 {
		blk := findPostingBlock(b.Cursor(), prefix, seqs[0], buf)
		if !blk.found {
			blk.bound = openBound // above every block: a new last one
		}
		n := 1
		for n < len(seqs) && seqs[n] <= blk.bound {
			n++
		}
		merged := mergeSeqs(blk.seqs, seqs[:n])
		if err := putPostingBlocks(b, term, blk.bound, merged); err != nil {
			return err
		}
		buf, seqs = merged[:0], seqs[n:]
	}
	return nil
}

// removePostings removes seqs (ascending, distinct) from term's posting
// list; seqs it does not hold are no error.
func removePostings(b *bolt.Bucket, term string, seqs []uint64) error {
	prefix := compositeKey(term, nil)
	var buf []uint64
	for len(seqs) > 0 {
		blk := findPostingBlock(b.Cursor(), prefix, seqs[0], buf)
		if !blk.found {
			return nil // no block at or above: none of seqs is held
		}
		n := 1
		for n < len(seqs) && seqs[n] <= blk.bound {
			n++
		}
		kept := blk.seqs[:0]
		for _, s := range blk.seqs {
			if _, drop := slices.BinarySearch(seqs[:n], s); !drop {
				kept = append(kept, s)
			}
		}
		var err error
		switch {
		case len(kept) == 0:
			err = b.Delete(postingKey(term, blk.bound))
		case len(kept) < len(blk.seqs) || blk.damaged:
			// A damaged block is written again with what of it read.
			err = b.Put(postingKey(term, blk.bound), encodePostings(kept))
		}
		if err != nil {
			return err
		}
		buf, seqs = kept[:0], seqs[n:]
	}
	return nil
}

// mergeSeqs merges two ascending lists into a (reusing its array when it
// can), dropping duplicates.
func mergeSeqs(a, b []uint64) []uint64 {
	if len(a) == 0 || a[len(a)-1] < b[0] {
		return append(a, b...) // appending: the indexer's common case
	}
	out := make([]uint64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

// postingProbe answers whether a term holds a run, for seqs asked in
// descending order (a search's walk, in a read-only transaction): it
// keeps the block it read last and the range of seqs that block covers.
type postingProbe struct {
	b      *bolt.Bucket
	prefix []byte
	lo, hi uint64 // the cached block covers lo..hi
	seqs   []uint64
	valid  bool
}

func newPostingProbe(b *bolt.Bucket, term string) *postingProbe {
	return &postingProbe{b: b, prefix: compositeKey(term, nil)}
}

// holds reports whether the term's postings hold seq.
func (p *postingProbe) holds(seq uint64) bool {
	if !p.valid || seq < p.lo || seq > p.hi {
		c := p.b.Cursor()
		blk := findPostingBlock(c, p.prefix, seq, p.seqs)
		p.valid, p.seqs, p.lo, p.hi = true, blk.seqs, 0, blk.bound
		if !blk.found {
			p.hi = openBound // above the term's last block: nothing
		}
		// The block below, whose bound ends this one's range.
		var k []byte
		if blk.atEnd {
			k, _ = lastOf(c)
		} else {
			k, _ = c.Prev()
		}
		if below, ok := postingBound(k, p.prefix); ok {
			p.lo = below + 1
		}
	}
	_, ok := slices.BinarySearch(p.seqs, seq)
	return ok
}

// walkPostingsDesc calls fn with term's seqs below before (all when
// before is 0), newest first, until fn returns false. It steps backwards:
// only in a read-only transaction (see above).
func walkPostingsDesc(b *bolt.Bucket, term string, before uint64, fn func(seq uint64) bool) {
	prefix := compositeKey(term, nil)
	from := openBound
	if before > 0 {
		from = before - 1
	}
	c := b.Cursor()
	k, v := c.Seek(postingKey(term, from))
	if _, ok := postingBound(k, prefix); !ok {
		// Past the term's blocks: its last one is just before.
		if k == nil {
			k, v = lastOf(c)
		} else {
			k, v = c.Prev()
		}
	}
	var seqs []uint64
	for ; k != nil; k, v = c.Prev() {
		bound, ok := postingBound(k, prefix)
		if !ok {
			return
		}
		seqs, _ = decodePostings(seqs[:0], bound, v) // a damaged block's readable part
		for i := len(seqs) - 1; i >= 0; i-- {
			if before != 0 && seqs[i] >= before {
				continue
			}
			if !fn(seqs[i]) {
				return
			}
		}
	}
}

// countPostings counts term's postings, up to a little past most.
func countPostings(b *bolt.Bucket, term string, most int) int {
	prefix := compositeKey(term, nil)
	c := b.Cursor()
	n := 0
	var seqs []uint64
	for k, v := c.Seek(prefix); n <= most; k, v = c.Next() {
		bound, ok := postingBound(k, prefix)
		if !ok {
			break
		}
		seqs, _ = decodePostings(seqs[:0], bound, v)
		n += len(seqs)
	}
	return n
}
