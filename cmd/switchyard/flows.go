package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// cmdFlowsValidate checks flow files, the JSON files of directories, or
// standard input ("-"), and prints `file:field: message` for every
// problem; exit 1 when any is invalid. With --data it also checks that the
// connections the flows name exist in that data dir.
func cmdFlowsValidate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := bareFlagSet("flows validate")
	var o options
	// Not bound to SWITCHYARD_DATA: checking connections is asked for.
	fs.StringVar(&o.data, "data", "", "data directory whose connections the flows must name")
	args, err := parse(fs, args)
	if err != nil {
		return exitCode(err, stdout, stderr)
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "switchyard: flows validate: name at least one file, directory, or - for standard input")
		return 2
	}
	var known map[string]string
	if o.data != "" {
		if known, err = storedConnections(&o); err != nil {
			fmt.Fprintf(stderr, "switchyard: flows validate: %v\n", err)
			return 1
		}
	}
	var files []string
	for _, arg := range args {
		if arg == "-" {
			files = append(files, arg)
			continue
		}
		fl, err := flowFiles(arg)
		if err != nil {
			fmt.Fprintf(stdout, "%s: %v\n", arg, err)
			files = append(files, arg)
			continue
		}
		if len(fl) == 0 {
			fmt.Fprintf(stderr, "switchyard: flows validate: no .json files in %s\n", arg)
			return 1
		}
		files = append(files, fl...)
	}
	bad := 0
	datas := make([][]byte, len(files))
	var errs []error
	for i, path := range files {
		var err error
		if path == "-" {
			datas[i], err = io.ReadAll(stdin)
		} else {
			datas[i], err = os.ReadFile(path)
		}
		errs = append(errs, err)
	}
	// Calls and error flows may name any flow among the files given.
	refs := crossFlowRefs(files, datas)
	for i, path := range files {
		problems := append(validateFlow(path, datas[i], errs[i], known), refs[path]...)
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

// crossFlowRefs checks, for each file that decodes, the flows it calls or
// names as on_failure against the flows of all the files: unknown ones and
// call cycles, as `name:field: message` lines by file.
func crossFlowRefs(files []string, datas [][]byte) map[string][]string {
	byID := map[string]*flows.Flow{}
	parsed := make([]*flows.Flow, len(files))
	for i := range files {
		if f, err := flows.Decode(datas[i]); err == nil && f.ID != "" {
			parsed[i] = f
			byID[f.ID] = f
		}
	}
	out := map[string][]string{}
	for i, f := range parsed {
		if f == nil {
			continue
		}
		unknown, cycles := flows.CheckFlowRefs(f, func(id string) *flows.Flow { return byID[id] })
		for _, d := range append(unknown, cycles...) {
			out[files[i]] = append(out[files[i]], fmt.Sprintf("%s:%s: %s", files[i], d.Field, d.Message))
		}
	}
	return out
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

// validateFlow lists the problems of one flow file read as data (or that
// could not be read: readErr), each as `name:field: message`; known, when
// not nil, holds the connections the flow may name.
func validateFlow(name string, data []byte, readErr error, known map[string]string) []string {
	if readErr != nil {
		return []string{fmt.Sprintf("%s: %v", name, readErr)}
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
		return []string{fmt.Sprintf("%s: %v", name, err)}
	}
	if ve != nil {
		details = append(ve.Details, details...)
	}
	out := make([]string, 0, len(details))
	for _, d := range details {
		out = append(out, fmt.Sprintf("%s:%s: %s", name, d.Field, d.Message))
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

// cmdFlowsSchema prints the flow JSON Schema.
func cmdFlowsSchema(args []string, stdout io.Writer) error {
	fs := bareFlagSet("flows schema")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"flows schema takes no arguments"}
	}
	_, err := stdout.Write(flows.JSONSchema())
	return err
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
