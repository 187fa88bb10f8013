package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// The data store (engine.KVStore). Its writes are bbolt writes (not
// logged): a step's write is durable, with bbolt's commit, before the step
// completes, and the write's name (KVWrite.Once) is stored in the same
// transaction, so the step run again after a crash finds it and does not
// write twice.

// kvPurgeChunk bounds the records one purge transaction deletes.
const kvPurgeChunk = 1000

// KVWrite implements engine.KVStore.
func (s *Store) KVWrite(ctx context.Context, w engine.KVWrite) (engine.KVResult, error) {
	if w.Now.IsZero() {
		w.Now = time.Now()
	}
	if err := engine.CheckKVWrite(w); err != nil {
		return engine.KVResult{}, err
	}
	var res engine.KVResult
	err := s.write(ctx, func(tx *bolt.Tx) error {
		res = engine.KVResult{}
		if w.Once != "" {
			if v := tx.Bucket(bucketKVOnce).Get([]byte(w.Once)); len(v) >= 8 {
				if err := json.Unmarshal(v[8:], &res); err != nil {
					return fmt.Errorf("write name %q: %w", w.Once, err)
				}
				res.Replayed = true
				return nil
			}
		}
		r, err := kvApply(tx, w)
		if err != nil {
			return err
		}
		if w.Once != "" {
			at := w.Now.UnixNano()
			rec, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketKVOnce).Put([]byte(w.Once), append(kvTime(at), rec...)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketKVOnceAt).Put(kvOnceAtKey(at, w.Once), nil); err != nil {
				return err
			}
		}
		res = r
		return nil
	})
	if err != nil {
		var ke *engine.KVError
		if errors.As(err, &ke) {
			return engine.KVResult{}, err
		}
		return engine.KVResult{}, fmt.Errorf("store: data store %s %s/%s: %w", w.Op, w.Namespace, w.Key, err)
	}
	if s.afterKVWrite != nil && w.Once != "" && !res.Replayed {
		s.afterKVWrite()
	}
	return res, nil
}

// kvApply does one write inside tx. It reads everything before it writes
// anything, so a refused write leaves the transaction as it found it.
func kvApply(tx *bolt.Tx, w engine.KVWrite) (engine.KVResult, error) {
	vals, usage := tx.Bucket(bucketKV), tx.Bucket(bucketKVUsage)
	k := kvKey(w.Namespace, w.Key)
	cur := decodeKV(vals.Get(k))
	use := decodeKVUsage(usage.Get([]byte(w.Namespace)))
	next, res, after, err := engine.KVApply(w, cur, use)
	var stale [][]byte
	if errors.Is(err, engine.ErrKVLimit) {
		// Expired values count until they are purged: purge this
		// namespace's, and ask again.
		var keys int
		var freed int64
		stale, keys, freed = kvExpiredIn(vals, w.Namespace, k, w.Now)
		if len(stale) > 0 {
			use.Keys -= keys
			use.Bytes -= freed
			next, res, after, err = engine.KVApply(w, cur, use)
		}
	}
	if err != nil {
		return engine.KVResult{}, err
	}
	exp := tx.Bucket(bucketKVExpiry)
	for _, sk := range stale {
		if old := decodeKV(vals.Get(sk)); old != nil && old.Expires != 0 {
			if err := exp.Delete(kvExpiryKey(old.Expires, sk)); err != nil {
				return engine.KVResult{}, err
			}
		}
		if err := vals.Delete(sk); err != nil {
			return engine.KVResult{}, err
		}
	}
	if cur != nil && cur.Expires != 0 {
		if err := exp.Delete(kvExpiryKey(cur.Expires, k)); err != nil {
			return engine.KVResult{}, err
		}
	}
	if next == nil {
		if err := vals.Delete(k); err != nil {
			return engine.KVResult{}, err
		}
	} else {
		if err := vals.Put(k, encodeKV(next)); err != nil {
			return engine.KVResult{}, err
		}
		if next.Expires != 0 {
			if err := exp.Put(kvExpiryKey(next.Expires, k), nil); err != nil {
				return engine.KVResult{}, err
			}
		}
	}
	return res, putKVUsage(usage, w.Namespace, after)
}

func putKVUsage(b *bolt.Bucket, namespace string, u engine.KVUsage) error {
	if u.Keys <= 0 {
		return b.Delete([]byte(namespace))
	}
	return b.Put([]byte(namespace), encodeKVUsage(u))
}

// kvExpiredIn lists the keys of a namespace expired at now, but for skip,
// with how many bytes they hold.
func kvExpiredIn(vals *bolt.Bucket, namespace string, skip []byte, now time.Time) (stale [][]byte, keys int, freed int64) {
	prefix := compositeKey(namespace, nil)
	c := vals.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if bytes.Equal(k, skip) {
			continue
		}
		if e := decodeKV(v); e != nil && !e.Live(now) {
			stale = append(stale, bytes.Clone(k))
			keys++
			freed += int64(len(k) - len(prefix) + len(e.Value))
		}
	}
	return stale, keys, freed
}

// KVGet implements engine.KVStore.
func (s *Store) KVGet(ctx context.Context, namespace, key string, now time.Time) (engine.KVEntry, error) {
	var e engine.KVEntry
	err := s.view(func(tx *bolt.Tx) error {
		v := decodeKV(tx.Bucket(bucketKV).Get(kvKey(namespace, key)))
		if !v.Live(now) {
			return fmt.Errorf("data store: %s/%s: %w", namespace, key, engine.ErrNotFound)
		}
		e = v.Entry(namespace, key)
		return nil
	})
	return e, err
}

// KVList implements engine.KVStore.
func (s *Store) KVList(ctx context.Context, namespace, after string, limit int, now time.Time) (engine.KVPage, error) {
	page := engine.KVPage{Entries: []engine.KVEntry{}}
	err := s.view(func(tx *bolt.Tx) error {
		prefix := compositeKey(namespace, nil)
		c := tx.Bucket(bucketKV).Cursor()
		k, v := c.Seek(kvKey(namespace, after))
		if after != "" && k != nil && bytes.Equal(k, kvKey(namespace, after)) {
			k, v = c.Next()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			e := decodeKV(v)
			if !e.Live(now) {
				continue
			}
			if len(page.Entries) == limit {
				page.NextCursor = page.Entries[limit-1].Key
				return nil
			}
			page.Entries = append(page.Entries, e.Entry(namespace, string(k[len(prefix):])))
		}
		return nil
	})
	return page, err
}

// KVNamespaces implements engine.KVStore.
func (s *Store) KVNamespaces(ctx context.Context) ([]engine.KVNamespace, error) {
	out := []engine.KVNamespace{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKVUsage).ForEach(func(k, v []byte) error {
			u := decodeKVUsage(v)
			out = append(out, engine.KVNamespace{Name: string(k), Keys: u.Keys, Bytes: u.Bytes})
			return nil
		})
	})
	return out, err
}

// KVPurge implements engine.KVStore, a chunk per transaction.
func (s *Store) KVPurge(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := s.kvPurgeChunk(ctx, now)
		total += n
		if err != nil {
			return total, fmt.Errorf("store: purge the data store: %w", err)
		}
		if n < kvPurgeChunk {
			break
		}
	}
	return total, nil
}

func (s *Store) kvPurgeChunk(ctx context.Context, now time.Time) (int, error) {
	cutoff := kvTime(now.UnixNano())
	onceCutoff := kvTime(now.Add(-engine.KVOnceKeep).UnixNano())
	due := false
	// Look first: a purge with nothing to do writes nothing.
	if err := s.view(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketKVExpiry).Cursor().First()
		o, _ := tx.Bucket(bucketKVOnceAt).Cursor().First()
		due = k != nil && bytes.Compare(k[:8], cutoff) <= 0 || o != nil && bytes.Compare(o[:8], onceCutoff) < 0
		return nil
	}); err != nil || !due {
		return 0, err
	}
	n := 0
	err := s.write(ctx, func(tx *bolt.Tx) error {
		n = 0
		vals, usage, exp := tx.Bucket(bucketKV), tx.Bucket(bucketKVUsage), tx.Bucket(bucketKVExpiry)
		var expKeys [][]byte
		c := exp.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], cutoff) <= 0 && len(expKeys) < kvPurgeChunk; k, _ = c.Next() {
			expKeys = append(expKeys, bytes.Clone(k))
		}
		uses := map[string]engine.KVUsage{}
		for _, ek := range expKeys {
			vk := ek[8:]
			ns, key, ok := bytes.Cut(vk, []byte{0})
			if !ok {
				continue
			}
			if e := decodeKV(vals.Get(vk)); e != nil && !e.Live(now) {
				u, seen := uses[string(ns)]
				if !seen {
					u = decodeKVUsage(usage.Get(ns))
				}
				u.Keys--
				u.Bytes -= int64(len(key) + len(e.Value))
				uses[string(ns)] = u
				if err := vals.Delete(vk); err != nil {
					return err
				}
			}
			if err := exp.Delete(ek); err != nil {
				return err
			}
			n++
		}
		for ns, u := range uses {
			if err := putKVUsage(usage, ns, u); err != nil {
				return err
			}
		}
		once, onceAt := tx.Bucket(bucketKVOnce), tx.Bucket(bucketKVOnceAt)
		var onceKeys [][]byte
		oc := onceAt.Cursor()
		for k, _ := oc.First(); k != nil && bytes.Compare(k[:8], onceCutoff) < 0 && n+len(onceKeys) < kvPurgeChunk; k, _ = oc.Next() {
			onceKeys = append(onceKeys, bytes.Clone(k))
		}
		for _, ok := range onceKeys {
			if err := once.Delete(ok[8:]); err != nil {
				return err
			}
			if err := onceAt.Delete(ok); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

var _ engine.KVStore = (*Store)(nil)
