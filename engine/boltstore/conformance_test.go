package boltstore_test

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore"
	"github.com/switchyard/switchyard/engine/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		dir := t.TempDir()
		return func() (engine.Store, error) {
			s, err := boltstore.Open(dir, time.Second)
			if err != nil {
				return nil, err
			}
			return s, nil
		}
	})
}
