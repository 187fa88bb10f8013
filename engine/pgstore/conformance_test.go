package pgstore_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/pgstore"
	"github.com/switchyard/switchyard/engine/pgstore/pgtest"
	"github.com/switchyard/switchyard/engine/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		url := pgtest.Database(t)
		return func() (engine.Store, error) {
			s, err := pgstore.Open(context.Background(), url, pgstore.Options{PoolSize: 8, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return nil, err
			}
			return s, nil
		}
	})
}
