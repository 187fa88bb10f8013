package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// cmdFlowsValidate checks flow files and prints `file:field: message` for
// every problem; exit 1 when any file is invalid. With --data it also
// checks that the connections the flows name exist in that data dir.
func cmdFlowsValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flows validate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o options
	fs.StringVar(&o.data, "data", "", "data directory whose connections the flows must name")
	files, err := parse(fs, args)
	if err != nil {
		fmt.Fprintf(stderr, "switchyard: %v\n", err)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "switchyard: flows validate: name at least one file")
		return 2
	}
	var known map[string]string
	if o.data != "" {
		if known, err = storedConnections(&o); err != nil {
			fmt.Fprintf(stderr, "switchyard: flows validate: %v\n", err)
			return 1
		}
	}
	bad := 0
	for _, path := range files {
		problems := validateFile(path, known)
		for _, p := range problems {
			fmt.Fprintln(stdout, p)
		}
		if len(problems) > 0 {
			bad++
		}
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "%d of %d files invalid\n", bad, len(files))
		return 1
	}
	fmt.Fprintf(stderr, "%d files valid\n", len(files))
	return 0
}

// storedConnections reads the names and types of a data dir's
// connections (never their values).
func storedConnections(o *options) (map[string]string, error) {
	store, err := openStore(o, newLogger("warn", io.Discard))
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return engine.ConnectionTypesOf(context.Background(), store)
}

// validateFile lists the problems of one flow file; known, when not nil,
// holds the connections the flow may name.
func validateFile(path string, known map[string]string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", path, err)}
	}
	var details []flows.FieldError
	f, err := flows.Decode(data)
	if err == nil {
		_, err = engine.CompileFlow(f)
		if known != nil {
			details = engine.CheckConnections(f, known)
		}
	}
	var ve *flows.ValidationError
	if err != nil && !errors.As(err, &ve) {
		return []string{fmt.Sprintf("%s: %v", path, err)}
	}
	if ve != nil {
		details = append(ve.Details, details...)
	}
	out := make([]string, 0, len(details))
	for _, d := range details {
		out = append(out, fmt.Sprintf("%s:%s: %s", path, d.Field, d.Message))
	}
	return out
}

func compile(data []byte) (*flows.Compiled, error) {
	f, err := flows.Decode(data)
	if err != nil {
		return nil, err
	}
	return engine.CompileFlow(f)
}

// flowFiles expands a file or a directory into JSON files, sorted.
func flowFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	files, err := filepath.Glob(filepath.Join(path, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

func cmdFlowsImport(args []string, stdout io.Writer) error {
	var o options
	fs := newFlagSet("flows import", &o, false)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{"flows import: name a file or a directory"}
	}
	var files []string
	for _, p := range pos {
		fl, err := flowFiles(p)
		if err != nil {
			return err
		}
		files = append(files, fl...)
	}
	ctx := engine.WithActor(context.Background(), engine.Actor{Kind: "cli", Name: "flows import"})
	eng, store, err := openEngine(ctx, &o, newLogger("warn", io.Discard))
	if err != nil {
		return err
	}
	defer store.Close()
	failed := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var before int64
		if f, err := flows.Decode(data); err == nil {
			if cur, err := eng.Flow(f.ID); err == nil {
				before = cur.Record.Version
			}
		}
		a, warnings, err := eng.ImportFlow(ctx, data)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "%s: %v\n", file, err)
			continue
		}
		for _, w := range warnings {
			fmt.Fprintf(stdout, "%s:%s: warning: %s; its runs fail until it is added\n", file, w.Field, w.Message)
		}
		if a.Record.Version == before {
			fmt.Fprintf(stdout, "%s: flow %q: content unchanged (version %d)\n", file, a.Flow().ID, a.Record.Version)
			continue
		}
		fmt.Fprintf(stdout, "%s: imported flow %q (version %d)\n", file, a.Flow().ID, a.Record.Version)
	}
	if failed > 0 {
		return fmt.Errorf("flows import: %d of %d files failed", failed, len(files))
	}
	return nil
}

func cmdFlowsExport(args []string, stdout io.Writer) error {
	var o options
	fs := newFlagSet("flows export", &o, false)
	var out string
	fs.StringVar(&out, "out", "", "directory to write one <id>.json file per flow (default: print)")
	ids, err := parse(fs, args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	eng, store, err := openEngine(ctx, &o, newLogger("warn", io.Discard))
	if err != nil {
		return err
	}
	defer store.Close()
	var list []*flows.Flow
	if len(ids) == 0 {
		for _, a := range eng.Flows() {
			list = append(list, a.Flow())
		}
	}
	for _, id := range ids {
		a, err := eng.Flow(id)
		if err != nil {
			return err
		}
		list = append(list, a.Flow())
	}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		for _, f := range list {
			data, err := flows.Encode(f)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(out, f.ID+".json"), append(data, '\n'), 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "exported %d flows to %s\n", len(list), out)
		return nil
	}
	if len(list) == 1 {
		data, err := flows.Encode(list[0])
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", data)
		return err
	}
	raws := make([]json.RawMessage, 0, len(list))
	for _, f := range list {
		data, err := flows.Encode(f)
		if err != nil {
			return err
		}
		raws = append(raws, data)
	}
	data, err := json.MarshalIndent(raws, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", strings.TrimSpace(string(data)))
	return err
}
