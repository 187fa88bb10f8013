package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Opening the bbolt file safely.
//
// bbolt maps the file into memory and trusts what it finds: a file cut
// short faults (SIGBUS) on the first page past its end, and a page of
// garbage either panics, or, at open, makes bbolt panic on a goroutine of
// its own that nothing can recover (the walk that rebuilds the free list
// reports what it finds wrong that way). So before bbolt sees the file,
// checkBoltFile walks it the way bbolt's open does, through read calls
// rather than the mapping: the meta pages, the file's length against the
// last page they name, and every page reachable from the root, with the
// same checks bbolt's walk makes (each page reached once, of the right
// kind, inside the file, keys in order) plus the bounds of every element.
// A file that passes cannot make bbolt fault or panic at open.
//
// The walk reads the pages bbolt's own walk reads right after (into the
// page cache, where bbolt then finds them): BenchmarkCheckBoltFile
// measures it.

// ErrDatabaseDamaged is matched (errors.Is) by a DatabaseDamageError.
var ErrDatabaseDamaged = errors.New("database file is damaged")

// DatabaseDamageError says the database file cannot be opened because it is
// damaged. Its message is meant for the person who runs the server.
type DatabaseDamageError struct {
	Path   string
	Reason string
}

func (e *DatabaseDamageError) Error() string {
	return fmt.Sprintf("the database file %s is damaged (%s), so it cannot be opened; nothing in it was changed. "+
		"Restore your last backup of it as docs/operations.md describes (\"Restoring from a backup\"), "+
		"or move the file aside to start with an empty database, and keep the damaged copy if you want to look into it",
		e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrDatabaseDamaged) hold.
func (e *DatabaseDamageError) Is(target error) bool { return target == ErrDatabaseDamaged }

// initialMapSize is the address range bbolt maps at open. bbolt never
// maps less afterwards (it remaps only to grow), which trimMap relies on.
const initialMapSize = 1 << 30

// openBoltFile opens the bbolt file at path after checking it (see above),
// holding its lock from before the check until bbolt takes it over.
func openBoltFile(path string, lockWait time.Duration) (db *bolt.DB, err error) {
	// Should the check have missed something, a fault or panic in bbolt's
	// open (on this goroutine) still ends as an error, not a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, &DatabaseDamageError{Path: path, Reason: fmt.Sprintf("reading it failed: %v", r)}
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout: lockWait,
		// The freelist is rebuilt on open instead of written on every
		// commit: fewer pages per fsync.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Map a large address range up front: remapping blocks every
		// reader and writer while the file grows.
		InitialMmapSize: initialMapSize,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, mode)
			if err != nil {
				return nil, err
			}
			// bbolt locks the same open file again, which then holds.
			if err := lockFile(f, lockWait); err != nil {
				f.Close()
				return nil, err
			}
			if err := checkBoltFile(f); err != nil {
				f.Close()
				return nil, &DatabaseDamageError{Path: name, Reason: err.Error()}
			}
			return f, nil
		},
	})
	var de *DatabaseDamageError
	switch {
	case err == nil, errors.As(err, &de), errors.Is(err, berrors.ErrTimeout):
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		err = &DatabaseDamageError{Path: path, Reason: err.Error()}
	}
	return db, err
}

// The bbolt file format, as far as the check needs it (bbolt's
// internal/common): every page starts with a header; meta pages 0 and 1
// hold the root; branch and leaf pages hold 16-byte elements after the
// header, each pointing at its key (and value) relative to itself.
const (
	boltPageHeader   = 16
	boltElementSize  = 16
	boltBranchPage   = 0x01
	boltLeafPage     = 0x02
	boltFreelistPage = 0x10
	boltBucketLeaf   = 0x01
	boltBucketHeader = 16 // root page id, sequence
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltNoFreelist   = ^uint64(0)
	boltMetaSumLen   = 56 // the meta fields the checksum covers
	// boltMaxDepth bounds how deep trees and buckets may nest: far beyond
	// any real file, and a cap on what a damaged one can make the walk do.
	boltMaxDepth = 64
)

// bbolt writes its structures in the machine's byte order.
var boltOrder = binary.NativeEndian

type boltMeta struct {
	pageSize             uint32
	root, freelist, pgid uint64
	txid                 uint64
}

// readBoltMeta decodes the meta page in b, which starts at its header.
func readBoltMeta(b []byte) (boltMeta, bool) {
	if len(b) < boltPageHeader+boltMetaSumLen+8 {
		return boltMeta{}, false
	}
	m := b[boltPageHeader:]
	h := fnv.New64a()
	h.Write(m[:boltMetaSumLen])
	if boltOrder.Uint32(m[0:]) != boltMagic || boltOrder.Uint32(m[4:]) != boltVersion || boltOrder.Uint64(m[boltMetaSumLen:]) != h.Sum64() {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: boltOrder.Uint32(m[8:]), root: boltOrder.Uint64(m[16:]),
		freelist: boltOrder.Uint64(m[32:]), pgid: boltOrder.Uint64(m[40:]), txid: boltOrder.Uint64(m[48:])}, true
}

// checkBoltFile checks the bbolt file f (see the top of this file). An
// empty file is fine: bbolt writes a new database into it.
func checkBoltFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return nil
	}
	return checkBoltData(f, fi.Size())
}

func checkBoltData(r io.ReaderAt, size int64) error {
	// Like bbolt: meta page 0 at the start gives the page size, else meta
	// page 1 at the machine's page size; the valid one with the newer
	// transaction wins.
	buf := make([]byte, 4096)
	m0, ok0 := readBoltMeta(readUpTo(r, buf, 0))
	pageSize := int64(os.Getpagesize())
	if ok0 {
		pageSize = int64(m0.pageSize)
	}
	if pageSize < 1024 || pageSize > 1<<20 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("meta page 0 gives an impossible page size of %d bytes", pageSize)
	}
	m1, ok1 := readBoltMeta(readUpTo(r, buf, pageSize))
	var m boltMeta
	switch {
	case ok0 && (!ok1 || m0.txid >= m1.txid):
		m = m0
	case ok1:
		m = m1
	default:
		return errors.New("both of its meta pages are invalid")
	}
	if int64(m.pageSize) != pageSize {
		return fmt.Errorf("its meta pages disagree on the page size (%d and %d bytes)", pageSize, m.pageSize)
	}
	if m.pgid < 3 || m.pgid > uint64(1<<62)/uint64(pageSize) {
		return fmt.Errorf("its meta page names an impossible last page %d", m.pgid)
	}
	if end := int64(m.pgid) * pageSize; size < end {
		return fmt.Errorf("it is cut short: it ends at byte %d, but its pages run to byte %d", size, end)
	}
	c := &boltCheck{r: r, pageSize: pageSize, hwm: m.pgid, seen: make([]uint64, (m.pgid+63)/64)}
	if m.freelist != boltNoFreelist {
		if err := c.freelist(m.freelist); err != nil {
			return err
		}
	}
	return c.bucket(m.root, 0)
}

// readUpTo reads len(buf) bytes at off, or what there is; a short file
// gives a short (and therefore invalid) meta page.
func readUpTo(r io.ReaderAt, buf []byte, off int64) []byte {
	n, _ := r.ReadAt(buf, off)
	return buf[:n]
}

// boltCheck walks the pages of one file.
type boltCheck struct {
	r        io.ReaderAt
	pageSize int64
	hwm      uint64   // the first page id past the file's pages
	seen     []uint64 // a bit per page reached
	bufs     [][]byte // one buffer per depth: a page stays read while its children are
}

// page reads page id into the buffer of depth and checks its header:
// inside the file, reached for the first time (with its overflow pages),
// of kind want (a mask of page flags). Of a page that overflows it reads
// only as far as its elements, keys and bucket headers go, not the values
// bbolt never looks into. span is the page's length with its overflow.
func (c *boltCheck) page(id uint64, depth int, want uint16) (b []byte, span int, flags uint16, count int, err error) {
	if depth > boltMaxDepth {
		return nil, 0, 0, 0, fmt.Errorf("page %d: trees nest more than %d deep", id, boltMaxDepth)
	}
	if id < 2 || id >= c.hwm {
		return nil, 0, 0, 0, fmt.Errorf("a page points at page %d, outside pages 2–%d", id, c.hwm-1)
	}
	for len(c.bufs) <= depth {
		c.bufs = append(c.bufs, nil)
	}
	if b, err = c.read(id, depth, int(c.pageSize)); err != nil {
		return nil, 0, 0, 0, err
	}
	flags, count = boltOrder.Uint16(b[8:]), int(boltOrder.Uint16(b[10:]))
	overflow := uint64(boltOrder.Uint32(b[12:]))
	if got := boltOrder.Uint64(b[0:]); got != id {
		return nil, 0, 0, 0, fmt.Errorf("page %d: its header says it is page %d", id, got)
	}
	if flags&want == 0 || flags&^want != 0 {
		return nil, 0, 0, 0, fmt.Errorf("page %d: unexpected page type (flags %#x)", id, flags)
	}
	if overflow >= c.hwm-id {
		return nil, 0, 0, 0, fmt.Errorf("page %d: its %d overflow pages run past the last page %d", id, overflow, c.hwm-1)
	}
	for p := id; p <= id+overflow; p++ {
		if c.seen[p/64]&(1<<(p%64)) != 0 {
			return nil, 0, 0, 0, fmt.Errorf("page %d: reached twice", p)
		}
		c.seen[p/64] |= 1 << (p % 64)
	}
	span = int(overflow+1) * int(c.pageSize)
	if flags == boltFreelistPage {
		if overflow > 0 {
			b, err = c.read(id, depth, span)
		}
		return b, span, flags, count, err
	}
	elems := boltPageHeader + count*boltElementSize
	if elems > span {
		return nil, 0, 0, 0, fmt.Errorf("page %d: %d elements do not fit in it", id, count)
	}
	if overflow == 0 {
		return b, span, flags, count, nil
	}
	if elems > len(b) {
		if b, err = c.read(id, depth, elems); err != nil {
			return nil, 0, 0, 0, err
		}
	}
	end := len(b)
	for i := 0; i < count; i++ {
		end = max(end, min(boltElementEnd(b, i, flags == boltLeafPage), span))
	}
	if end > len(b) {
		b, err = c.read(id, depth, end)
	}
	return b, span, flags, count, err
}

// read reads the first n bytes of page id into the buffer of depth.
func (c *boltCheck) read(id uint64, depth, n int) ([]byte, error) {
	if cap(c.bufs[depth]) < n {
		c.bufs[depth] = make([]byte, max(n, int(c.pageSize)))
	}
	b := c.bufs[depth][:n]
	if _, err := c.r.ReadAt(b, int64(id)*c.pageSize); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	return b, nil
}

// boltElementEnd is where the key of element i of a page ends, or for a
// bucket, its value, which the walk reads too.
func boltElementEnd(b []byte, i int, leaf bool) int {
	at := boltPageHeader + i*boltElementSize
	e := b[at : at+boltElementSize]
	if !leaf {
		return at + int(boltOrder.Uint32(e[0:])) + int(boltOrder.Uint32(e[4:]))
	}
	end := at + int(boltOrder.Uint32(e[4:])) + int(boltOrder.Uint32(e[8:]))
	if boltOrder.Uint32(e[0:])&boltBucketLeaf != 0 {
		end += int(boltOrder.Uint32(e[12:]))
	}
	return end
}

// boltElement returns the key (and, on a leaf, the flags and the value as
// far as b holds it) of element i of a page whose first bytes are b and
// whose length is span, checking that they lie inside the page.
func boltElement(b []byte, span, i int, leaf bool) (key, value []byte, flags uint32, child uint64, ok bool) {
	at := boltPageHeader + i*boltElementSize
	e := b[at : at+boltElementSize]
	var pos, ksize, vsize uint64
	if leaf {
		flags, pos, ksize, vsize = boltOrder.Uint32(e[0:]), uint64(boltOrder.Uint32(e[4:])), uint64(boltOrder.Uint32(e[8:])), uint64(boltOrder.Uint32(e[12:]))
	} else {
		pos, ksize, child = uint64(boltOrder.Uint32(e[0:])), uint64(boltOrder.Uint32(e[4:])), boltOrder.Uint64(e[8:])
	}
	start := uint64(at) + pos
	if start+ksize+vsize > uint64(span) || start+ksize > uint64(len(b)) {
		return nil, nil, 0, 0, false
	}
	key = b[start : start+ksize]
	if end := start + ksize + vsize; end <= uint64(len(b)) {
		value = b[start+ksize : end]
	}
	return key, value, flags, child, true
}

// bucket walks the tree of a bucket whose root page is root.
func (c *boltCheck) bucket(root uint64, depth int) error {
	_, err := c.tree(root, nil, nil, depth)
	return err
}

// tree walks the subtree at page id, whose keys must lie in [lo, hi) (nil:
// unbounded), and returns its greatest key; that is bbolt's key order
// check (tx_check.go).
func (c *boltCheck) tree(id uint64, lo, hi []byte, depth int) ([]byte, error) {
	b, span, flags, count, err := c.page(id, depth, boltBranchPage|boltLeafPage)
	if err != nil {
		return nil, err
	}
	if flags == boltLeafPage {
		return c.leaf(b, span, id, count, lo, hi, depth)
	}
	var greatest []byte
	prev := lo
	for i := 0; i < count; i++ {
		key, _, _, child, ok := boltElement(b, span, i, false)
		if !ok {
			return nil, fmt.Errorf("page %d: element %d lies outside the page", id, i)
		}
		if err := checkKeyOrder(id, i, key, prev, hi); err != nil {
			return nil, err
		}
		next := hi
		if i+1 < count {
			if next, _, _, _, ok = boltElement(b, span, i+1, false); !ok {
				return nil, fmt.Errorf("page %d: element %d lies outside the page", id, i+1)
			}
		}
		// The child's pages overwrite deeper buffers, never this one;
		// what it returns is its own copy.
		if greatest, err = c.tree(child, key, next, depth+1); err != nil {
			return nil, err
		}
		prev = greatest
	}
	return greatest, nil
}

// leaf checks the elements of a leaf page (the first bytes of it in b, of
// span in all, read from page id; or an inline bucket's page) and walks the
// buckets they hold.
func (c *boltCheck) leaf(b []byte, span int, id uint64, count int, lo, hi []byte, depth int) ([]byte, error) {
	prev := lo
	for i := 0; i < count; i++ {
		key, value, flags, _, ok := boltElement(b, span, i, true)
		if !ok {
			return nil, fmt.Errorf("page %d: element %d lies outside the page", id, i)
		}
		if err := checkKeyOrder(id, i, key, prev, hi); err != nil {
			return nil, err
		}
		prev = key
		if flags&boltBucketLeaf == 0 {
			continue
		}
		if len(value) < boltBucketHeader {
			return nil, fmt.Errorf("page %d: bucket %q has a value of %d bytes", id, key, len(value))
		}
		if root := boltOrder.Uint64(value); root != 0 {
			if err := c.bucket(root, depth+1); err != nil {
				return nil, err
			}
			continue
		}
		// An inline bucket: its page is the rest of the value.
		inline := value[boltBucketHeader:]
		if len(inline) < boltPageHeader || boltOrder.Uint16(inline[8:]) != boltLeafPage {
			return nil, fmt.Errorf("page %d: inline bucket %q holds no leaf page", id, key)
		}
		n := int(boltOrder.Uint16(inline[10:]))
		if boltPageHeader+n*boltElementSize > len(inline) {
			return nil, fmt.Errorf("page %d: inline bucket %q: %d elements do not fit", id, key, n)
		}
		if depth+1 > boltMaxDepth {
			return nil, fmt.Errorf("page %d: buckets nest more than %d deep", id, boltMaxDepth)
		}
		if _, err := c.leaf(inline, len(inline), id, n, nil, nil, depth+1); err != nil {
			return nil, err
		}
	}
	if prev == nil {
		return nil, nil
	}
	return bytes.Clone(prev), nil
}

func checkKeyOrder(id uint64, i int, key, prev, hi []byte) error {
	if prev != nil && (bytes.Compare(prev, key) > 0 || (i > 0 && bytes.Equal(prev, key))) {
		return fmt.Errorf("page %d: key %d is out of order", id, i)
	}
	if hi != nil && bytes.Compare(key, hi) >= 0 {
		return fmt.Errorf("page %d: key %d is beyond its parent's next key", id, i)
	}
	return nil
}

// freelist checks a free-list page, which files written with a synced free
// list name in their meta page.
func (c *boltCheck) freelist(id uint64) error {
	b, _, _, count, err := c.page(id, 0, boltFreelistPage)
	if err != nil {
		return err
	}
	ids := b[boltPageHeader:]
	if count == 0xFFFF && len(ids) >= 8 {
		// The count overflowed into the first slot.
		count, ids = int(boltOrder.Uint64(ids)), ids[8:]
	}
	if count < 0 || count > len(ids)/8 {
		return fmt.Errorf("page %d: free list of %d pages does not fit", id, count)
	}
	for i := 0; i < count; i++ {
		if p := boltOrder.Uint64(ids[i*8:]); p < 2 || p >= c.hwm {
			return fmt.Errorf("page %d: free list names page %d, outside the file", id, p)
		}
	}
	return nil
}
