package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// cmdFlowsValidate checks flow files, the JSON files of directories, or
// standard input ("-"), and prints `file:field: message` for every
// problem; exit 1 when any is invalid. With --data, --database or
// --server it also checks the connections the flows name, and the flows
// they call, against what is stored there.
func cmdFlowsValidate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := bareFlagSet("flows validate")
	var o options
	var rf remoteFlags
	// Not bound to SWITCHYARD_DATA, _DATABASE or _SERVER: checking
	// against stored flows and connections is asked for.
	fs.StringVar(&o.data, "data", "", "data directory whose flows and connections the files may name")
	fs.StringVar(&o.database, "database", "", "PostgreSQL URL whose flows and connections the files may name")
	fs.StringVar(&rf.server, "server", "", "base URL of a running server whose flows and connections the files may name")
	fs.StringVar(&rf.token, "token", "", "API token for --server")
	bindEnv(fs, "token", "SWITCHYARD_TOKEN")
	args, err := parse(fs, args)
	if err != nil {
		return exitCode(err, stdout, stderr)
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "switchyard: flows validate: name at least one file, directory, or - for standard input")
		return 2
	}
	var stored *storedRefs
	if sources := slices.DeleteFunc([]string{o.data, o.database, rf.server}, func(s string) bool { return s == "" }); len(sources) > 0 {
		if len(sources) > 1 {
			fmt.Fprintln(stderr, "switchyard: flows validate: give one of --data, --database or --server, not several")
			return 2
		}
		srv, err := rf.pick("flows validate", nil)
		if err != nil {
			return exitCode(err, stdout, stderr)
		}
		if stored, err = loadStoredRefs(context.Background(), &o, srv); err != nil {
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
	var known map[string]string
	if stored != nil {
		known = stored.conns
	}
	refs := crossFlowRefs(files, datas, stored)
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
// names as on_failure against the flows of all the files and, when not
// nil, the stored ones (a file replaces the stored flow of its id):
// unknown ones and call cycles, as `name:field: message` lines by file.
func crossFlowRefs(files []string, datas [][]byte, stored *storedRefs) map[string][]string {
	byID := map[string]*flows.Flow{}
	if stored != nil {
		maps.Copy(byID, stored.flows)
	}
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

// cmdFlowsImport saves flow files: through a running server's API
// (--server) or into the data dir. A file whose flow is current as given
// makes no new version.
func cmdFlowsImport(args []string, stdout io.Writer) error {
	var o options
	fs := newFlagSet("flows import", &o, false)
	var rf remoteFlags
	addRemoteFlags(fs, &rf)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{"flows import: name a file or a directory"}
	}
	srv, err := rf.pick("flows import", args)
	if err != nil {
		return err
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
	// importOne saves one file's flow; a refusal of the file itself is
	// refused true (the next file is tried), anything else stops.
	var importOne func(data []byte) (res importResult, refused bool, err error)
	if srv != nil {
		importOne = func(data []byte) (importResult, bool, error) {
			var ans struct {
				Flow struct {
					ID      string `json:"id"`
					Version int64  `json:"version"`
				} `json:"flow"`
				Changed  bool               `json:"changed"`
				Warnings []flows.FieldError `json:"warnings"`
			}
			_, err := srv.call(ctx, "POST", "/api/flows/import", data, &ans)
			var re *remoteError
			if errors.As(err, &re) && re.status/100 == 4 && re.status != 401 && re.status != 403 {
				return importResult{}, true, err
			}
			return importResult{ans.Flow.ID, ans.Flow.Version, ans.Changed, ans.Warnings}, false, err
		}
	} else {
		eng, store, err := openEngine(ctx, &o, newLogger("warn", io.Discard))
		if err != nil {
			return err
		}
		defer store.Close()
		importOne = func(data []byte) (importResult, bool, error) {
			r, err := eng.ImportFlow(ctx, data)
			if err != nil {
				return importResult{}, true, err
			}
			return importResult{r.Flow.Flow().ID, r.Flow.Record.Version, r.Changed, r.Warnings}, false, nil
		}
	}
	failed := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		r, refused, err := importOne(data)
		if refused {
			failed++
			fmt.Fprintf(stdout, "%s: %v\n", file, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("flows import: %s: %w", file, err)
		}
		for _, w := range r.warnings {
			fmt.Fprintf(stdout, "%s:%s: warning: %s; its runs fail until it is added\n", file, w.Field, w.Message)
		}
		if !r.changed {
			fmt.Fprintf(stdout, "%s: flow %q: content unchanged (version %d)\n", file, r.id, r.version)
			continue
		}
		fmt.Fprintf(stdout, "%s: imported flow %q (version %d)\n", file, r.id, r.version)
	}
	if failed > 0 {
		return fmt.Errorf("flows import: %d of %d files failed", failed, len(files))
	}
	return nil
}

// importResult is what importing one flow file did.
type importResult struct {
	id       string
	version  int64
	changed  bool
	warnings []flows.FieldError
}

// cmdFlowsExport prints flows (or writes one file per flow): from a
// running server's API (--server) or from the data dir.
func cmdFlowsExport(args []string, stdout io.Writer) error {
	var o options
	fs := newFlagSet("flows export", &o, false)
	var out string
	fs.StringVar(&out, "out", "", "directory to write one <id>.json file per flow (default: print)")
	var rf remoteFlags
	addRemoteFlags(fs, &rf)
	ids, err := parse(fs, args)
	if err != nil {
		return err
	}
	srv, err := rf.pick("flows export", args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var list []*flows.Flow
	if srv != nil {
		list, err = remoteFlows(ctx, srv, ids)
		if err != nil {
			return fmt.Errorf("flows export: %w", err)
		}
	} else {
		eng, store, err := openEngine(ctx, &o, newLogger("warn", io.Discard))
		if err != nil {
			return err
		}
		defer store.Close()
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

// remoteFlows reads the flows ids names (every flow when none) from a
// server, decoded as the data dir's would be, so an export reads the same
// from either.
func remoteFlows(ctx context.Context, srv *remote, ids []string) ([]*flows.Flow, error) {
	type view struct {
		Flow json.RawMessage `json:"flow"`
	}
	var views []view
	if len(ids) == 0 {
		var all struct {
			Flows []view `json:"flows"`
		}
		if _, err := srv.call(ctx, "GET", "/api/flows", nil, &all); err != nil {
			return nil, err
		}
		views = all.Flows
	}
	for _, id := range ids {
		var v view
		if _, err := srv.call(ctx, "GET", "/api/flows/"+url.PathEscape(id), nil, &v); err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	list := make([]*flows.Flow, 0, len(views))
	for _, v := range views {
		f, err := flows.Decode(v.Flow)
		if err != nil {
			return nil, fmt.Errorf("a flow the server sent: %w", err)
		}
		list = append(list, f)
	}
	return list, nil
}
