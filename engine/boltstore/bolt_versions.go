package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// The bbolt side of flow versions (versions.go): the content of each
// version stays in flow_versions; flow_version_meta holds who saved it,
// when and what changed, flow_states the flow turned on and off.

// PutFlowVersion implements engine.VersionStore.
func (s *Store) PutFlowVersion(ctx context.Context, id string, raw []byte, meta engine.VersionMeta) (engine.FlowRecord, error) {
	var rec engine.FlowRecord
	raw = bytes.Clone(raw)
	err := s.write(ctx, func(tx *bolt.Tx) (err error) {
		if rec, err = putFlowTx(tx, id, raw, meta.SavedAt); err != nil {
			return err
		}
		meta.Version = rec.Version
		return putJSON(tx.Bucket(bucketVersionMeta), versionKey(id, rec.Version), meta)
	})
	if err != nil {
		return engine.FlowRecord{}, fmt.Errorf("store: put flow %q: %w", id, err)
	}
	return rec, nil
}

// SetFlowState implements engine.VersionStore. The current version's content is
// rewritten in both places it is kept, so that reading the version by
// number gives what the flow is.
func (s *Store) SetFlowState(ctx context.Context, id string, raw []byte, change engine.StateChange) (engine.FlowRecord, error) {
	var rec engine.FlowRecord
	raw = bytes.Clone(raw)
	err := s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFlows)
		if err := getJSON(b, []byte(id), &rec); err != nil {
			return err
		}
		rec.Flow, rec.UpdatedAt = raw, change.At
		change.Version = rec.Version
		if err := tx.Bucket(bucketFlowVersions).Put(versionKey(id, rec.Version), raw); err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(bucketFlowStates), keyAt(id, uint64(change.At.UnixNano())), change); err != nil {
			return err
		}
		return putJSON(b, []byte(id), rec)
	})
	if err != nil {
		return engine.FlowRecord{}, fmt.Errorf("store: set state of flow %q: %w", id, err)
	}
	return rec, nil
}

// FlowVersions implements engine.VersionStore.
func (s *Store) FlowVersions(ctx context.Context, id string) ([]int64, map[int64]engine.VersionMeta, error) {
	var nums []int64
	metas := map[int64]engine.VersionMeta{}
	prefix := compositeKey(id, nil)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketFlowVersions).Cursor()
		for k, _ := lastUnder(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			if len(k) == len(prefix)+8 {
				nums = append(nums, int64(binary.BigEndian.Uint64(k[len(prefix):])))
			}
		}
		mb := tx.Bucket(bucketVersionMeta)
		for _, n := range nums {
			var m engine.VersionMeta
			if v := mb.Get(versionKey(id, n)); v != nil && json.Unmarshal(v, &m) == nil {
				metas[n] = m
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store: versions of flow %q: %w", id, err)
	}
	return nums, metas, nil
}

// FlowStates implements engine.VersionStore.
func (s *Store) FlowStates(ctx context.Context, id string, limit int) ([]engine.StateChange, error) {
	out := []engine.StateChange{}
	prefix := compositeKey(id, nil)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketFlowStates).Cursor()
		for k, v := lastUnder(c, prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Prev() {
			var sc engine.StateChange
			if json.Unmarshal(v, &sc) == nil {
				out = append(out, sc)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: state changes of flow %q: %w", id, err)
	}
	return out, nil
}

// enabledNow reports whether the stored flow may fire: false only when its
// definition says "enabled": false (the engine always writes the key; a
// definition without it is not known to be off).
func enabledNow(tx *bolt.Tx, flowID string) bool {
	var rec struct {
		Flow struct {
			Enabled *bool `json:"enabled"`
		} `json:"flow"`
	}
	if getJSON(tx.Bucket(bucketFlows), []byte(flowID), &rec) != nil {
		return true // no flow: the version check refuses it
	}
	return rec.Flow.Enabled == nil || *rec.Flow.Enabled
}

var _ engine.VersionStore = (*Store)(nil)
