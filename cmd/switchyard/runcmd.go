package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/connectors/egress"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// cmdRun executes a flow once against a payload and prints each step's
// input and output: in-process, with connections from the data dir when it
// is there and free, or on a running server with its connections
// (--server: POST /api/flows/test). Nothing is stored either way; with
// --dry nothing is sent out.
func cmdRun(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet("run", &o, false)
	var payloadFile string
	var dry bool
	fs.StringVar(&payloadFile, "payload", "", "JSON file with the trigger body")
	fs.BoolVar(&dry, "dry", false, "send nothing out")
	var rf remoteFlags
	addRemoteFlags(fs, &rf)
	pos, err := parse(fs, args)
	if err != nil {
		return exitCode(err, stdout, stderr)
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "switchyard: usage: switchyard run FILE --payload FILE [--dry] (switchyard run --help)")
		return 2
	}
	srv, err := rf.pick("run", args)
	if err != nil {
		return exitCode(err, stdout, stderr)
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "switchyard: %v\n", err)
		return 1
	}
	cf, err := compile(data)
	if err != nil {
		var ve *flows.ValidationError
		if errors.As(err, &ve) {
			for _, d := range ve.Details {
				fmt.Fprintf(stderr, "%s:%s: %s\n", pos[0], d.Field, d.Message)
			}
		} else {
			fmt.Fprintf(stderr, "switchyard: %s: %v\n", pos[0], err)
		}
		return 1
	}
	ev := &engine.Event{Source: flows.TriggerManual, Method: "POST", Path: cf.Flow.Trigger.Path, Headers: map[string]string{}, ReceivedAt: time.Now().UTC()}
	if payloadFile != "" {
		body, err := os.ReadFile(payloadFile)
		if err != nil {
			fmt.Fprintf(stderr, "switchyard: %v\n", err)
			return 1
		}
		if !json.Valid(body) {
			fmt.Fprintf(stderr, "switchyard: %s: not valid JSON\n", payloadFile)
			return 1
		}
		ev.Body, ev.ContentType = body, "application/json"
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	var run *engine.Run
	if srv != nil {
		req := map[string]any{"flow": json.RawMessage(data), "dry": dry}
		if ev.Body != nil {
			req["payload"] = json.RawMessage(ev.Body)
		}
		run = &engine.Run{}
		if _, err := srv.call(ctx, "POST", "/api/flows/test", req, run); err != nil {
			fmt.Fprintf(stderr, "switchyard: run: %v\n", err)
			return 1
		}
		for i := range run.Steps {
			printStep(stdout, enc, &run.Steps[i])
		}
	} else {
		pol, err := egress.ParseAllow(o.egressAllow)
		if err != nil {
			fmt.Fprintf(stderr, "switchyard: --egress-allow: %v\n", err)
			return 2
		}
		opts := engine.RunOnceOptions{Dry: dry, HTTP: egress.NewClient(pol), Dial: pol.Dialer().DialContext}
		// Connections are optional here: a flow without any runs even when no
		// data dir exists or a server holds it.
		if _, statErr := os.Stat(o.data); statErr == nil || o.database != "" {
			if eng, store, err := openEngine(ctx, &o, newLogger("error", stderr)); err == nil {
				defer store.Close()
				opts.Secrets = eng
			} else {
				fmt.Fprintf(stderr, "switchyard: note: connections unavailable: %v\n", err)
			}
		}
		opts.OnStep = func(_ *engine.Run, s *engine.StepResult) { printStep(stdout, enc, s) }
		if run, err = engine.RunOnce(ctx, cf, ev, opts); err != nil {
			fmt.Fprintf(stderr, "switchyard: run: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "== run %s\n", run.Status)
	if run.Status != engine.RunSucceeded {
		fmt.Fprintf(stdout, "%s\n", run.Error)
		return 1
	}
	return 0
}

// printStep prints a step's outcome, conditions, input, output and error
// (a step still in flight prints nothing).
func printStep(stdout io.Writer, enc *json.Encoder, s *engine.StepResult) {
	if s == nil || (s.Status != engine.StepSucceeded && s.Status != engine.StepFailed && s.Status != engine.StepSkipped && s.Status != engine.StepRetrying) {
		return
	}
	fmt.Fprintf(stdout, "== step %s (%s): %s, attempt %d, %.1f ms\n", s.ID, s.Use, s.Status, s.Attempts, s.DurationMS)
	for _, c := range s.Conditions {
		fmt.Fprintf(stdout, "   %s: %s → %v %s\n", c.Field, c.Expr, c.Result, c.Error)
		for _, w := range c.Why {
			fmt.Fprintf(stdout, "     (%s)\n", w)
		}
	}
	if s.Input != nil {
		fmt.Fprintln(stdout, "-- input:")
		enc.Encode(s.Input)
	}
	if s.Output != nil {
		fmt.Fprintln(stdout, "-- output:")
		enc.Encode(s.Output)
	}
	if s.Error != "" {
		fmt.Fprintf(stdout, "-- error: %s\n", s.Error)
	}
}
