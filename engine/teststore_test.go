package engine_test

import (
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore"
)

// The engine's tests run over the real bbolt store, in t.TempDir().
func init() {
	engine.SetTestStore(func(dir string) (engine.Store, error) {
		s, err := boltstore.Open(dir, time.Second)
		if err != nil {
			return nil, err
		}
		return s, nil
	})
}
