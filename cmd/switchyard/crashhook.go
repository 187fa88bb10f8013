//go:build switchyard_crashtest

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// crashConnector takes the whole process down from inside a step, the way
// a connector's goroutine that panics or a fatal runtime error would. It
// exists only in binaries built with -tags switchyard_crashtest, for
// TestCrashLoopStops; a release never has it.
type crashConnector struct{}

func (crashConnector) Spec() connectors.Spec {
	return connectors.Spec{ID: "test.crash", Label: "Crash the process (tests only)", SideEffects: true,
		Fields: []connectors.Field{{Name: "after", Label: "After", Type: connectors.TypeString,
			Help: "How long to wait first, e.g. 1s."}}}
}

func (crashConnector) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	after, _ := time.ParseDuration(fmt.Sprint(in.Config["after"]))
	select {
	case <-time.After(after):
	case <-ctx.Done():
		return connectors.Result{}, ctx.Err()
	}
	// A panic on another goroutine is beyond any recover: the runtime ends
	// the process.
	go func() { panic("test.crash: taking the process down in run " + in.RunID) }()
	<-ctx.Done()
	return connectors.Result{}, ctx.Err()
}

func init() { connectors.Register(crashConnector{}) }
