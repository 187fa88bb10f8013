package boltstore

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine/boltstore/wal"
)

// PlainText writes to w everything the closed data dir dir stores — each
// bbolt key and value, each write-ahead log record — and after each packed
// history record its unpacked JSON (recordpack.go). A search of the output
// for a string finds it wherever the store holds it, packed or not: the
// tests that prove a secret is stored nowhere search it, since packed
// records hide text from a search of the raw files.
func PlainText(dir string, w io.Writer) error {
	db, err := bolt.Open(filepath.Join(dir, DBFileName), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("plain text of %s: %w", dir, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return plainBucket(w, b) })
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("plain text of %s: %w", dir, err)
	}
	logDir := filepath.Join(dir, wal.DirName)
	segs, err := wal.Segments(logDir)
	if err != nil {
		return fmt.Errorf("plain text of %s: %w", dir, err)
	}
	for _, no := range segs {
		data, err := os.ReadFile(filepath.Join(logDir, wal.SegmentName(no)))
		if err != nil {
			return fmt.Errorf("plain text of %s: %w", dir, err)
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		_, err = wal.ReadFrames(data, no, func(_ uint64, rec []byte) error {
			r, err := decodeWALRecord(rec)
			if err != nil {
				return nil // written raw above
			}
			switch r := r.(type) {
			case *acceptRecord:
				return plainValues(w, r.index, r.event)
			case *saveRecord:
				return plainValues(w, r.index, r.record)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func plainBucket(w io.Writer, b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if _, err := w.Write(k); err != nil {
			return err
		}
		if v == nil {
			return plainBucket(w, b.Bucket(k))
		}
		if _, err := w.Write(v); err != nil {
			return err
		}
		return plainValues(w, v)
	})
}

// plainValues writes the unpacked JSON of each value that holds a packed
// record, whole or after a run index header.
func plainValues(w io.Writer, values ...[]byte) error {
	for _, v := range values {
		for _, at := range []int{0, indexHeaderV2Len} {
			if len(v) <= at || v[at] != packV1 {
				continue
			}
			if js, err := unpackRecord(v[at:]); err == nil {
				if _, err := w.Write(js); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
