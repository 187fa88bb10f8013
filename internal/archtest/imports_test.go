package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/switchyard/switchyard"

// Import paths the rules name.
const (
	engine        = mod + "/engine"
	web           = mod + "/web"
	auth          = mod + "/auth"
	flows         = mod + "/flows"
	connectors    = mod + "/connectors"
	connectorsAll = mod + "/connectors/all"
	storetest     = mod + "/engine/storetest"
	fiber         = "github.com/gofiber/fiber"
	fasthttp      = "github.com/valyala/fasthttp"
	templ         = "github.com/a-h/templ"
	bbolt         = "go.etcd.io/bbolt"
)

// storePackages are the packages that implement the engine's store; only
// cmd picks one.
var storePackages = []string{mod + "/engine/boltstore", mod + "/engine/pgstore"}

// listed is one package (or test variant) as `go list -json` reports it.
type listed struct {
	ImportPath string
	ForTest    string
	Deps       []string
	Imports    []string
}

// goList runs go list -deps -json over the module, with -test when tests
// is set, and returns every package and test variant it reports.
func goList(t *testing.T, tests bool) []listed {
	t.Helper()
	args := []string{"list", "-deps", "-json=ImportPath,ForTest,Deps,Imports"}
	if tests {
		args = append(args, "-test")
	}
	args = append(args, mod+"/...")
	cmd := exec.Command("go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// base is the package a test variant belongs to: "engine" for both
// "engine [engine.test]" and the external "engine_test [engine.test]".
func base(importPath string) (pkg string, external bool) {
	path, _, _ := strings.Cut(importPath, " ")
	if p, ok := strings.CutSuffix(path, "_test"); ok {
		return p, true
	}
	return strings.TrimSuffix(path, ".test"), false
}

// under reports whether path is pkg or a package below it.
func under(path, pkg string) bool { return path == pkg || strings.HasPrefix(path, pkg+"/") }

func isStore(path string) bool {
	for _, s := range storePackages {
		if under(path, s) {
			return true
		}
	}
	return false
}

// rule is one import rule: the packages From (matched by the predicate)
// must not depend on any package Forbidden matches.
type rule struct {
	name      string
	from      func(pkg string, external bool) bool
	forbidden func(dep string) bool
}

func exactly(p string) func(string, bool) bool {
	return func(pkg string, _ bool) bool { return pkg == p }
}

func below(p string) func(string, bool) bool {
	return func(pkg string, _ bool) bool { return under(pkg, p) }
}

func anyOf(prefixes ...string) func(string) bool {
	return func(dep string) bool {
		for _, p := range prefixes {
			if under(dep, p) {
				return true
			}
		}
		return false
	}
}

// The rules hold for the packages as built and for their tests, with two
// exceptions the tests need and that ship in no binary: the engine's
// external test package (engine_test) installs the bbolt store its tests
// run over (package engine itself cannot import a store: a store imports
// engine), and tests of web, auth and flows/examples may open a real store
// or register every connector.
var rules = []struct {
	rule
	testsToo bool
}{
	{rule{"engine never imports web, Fiber, templ or connectors/all",
		below(engine), anyOf(web, fiber, templ, connectorsAll)}, true},
	{rule{"engine never imports a store package or bbolt",
		func(pkg string, external bool) bool { return pkg == engine && !external },
		func(dep string) bool { return isStore(dep) || under(dep, bbolt) }}, true},
	{rule{"the write-ahead log knows neither the engine nor bbolt",
		exactly(mod + "/engine/boltstore/wal"),
		func(dep string) bool { return dep == engine || dep == mod+"/engine/boltstore" || under(dep, bbolt) }}, true},
	{rule{"the conformance suite imports no store",
		exactly(storetest), isStore}, true},
	{rule{"auth imports neither the engine nor HTTP",
		func(pkg string, external bool) bool { return pkg == auth && !external }, anyOf(engine, web, fiber, fasthttp, templ, bbolt)}, true},
	{rule{"flows imports neither the engine, web, bbolt nor Fiber",
		below(flows), anyOf(engine, web, auth, bbolt, fiber)}, true},
	{rule{"connectors import neither the engine, flows nor web",
		below(connectors), anyOf(engine, flows, web, auth)}, true},
	{rule{"nothing imports cmd",
		func(pkg string, _ bool) bool { return !under(pkg, mod+"/cmd") }, anyOf(mod + "/cmd")}, true},
	{rule{"only cmd imports connectors/all and the store packages",
		func(pkg string, _ bool) bool {
			return !under(pkg, mod+"/cmd") && !isStore(pkg) && !under(pkg, connectorsAll)
		},
		func(dep string) bool { return isStore(dep) || under(dep, connectorsAll) }}, false},
}

func TestImportRules(t *testing.T) {
	for _, tests := range []bool{false, true} {
		pkgs := goList(t, tests)
		seen := 0
		for _, p := range pkgs {
			if !strings.HasPrefix(p.ImportPath, mod) || strings.HasSuffix(p.ImportPath, ".test") {
				continue
			}
			pkg, external := base(p.ImportPath)
			if p.ForTest == "" && strings.Contains(p.ImportPath, " ") {
				continue
			}
			for _, r := range rules {
				if tests && !r.testsToo || !r.from(pkg, external) {
					continue
				}
				seen++
				for _, d := range p.Deps {
					// A test variant's deps carry " [x.test]".
					d, _, _ = strings.Cut(d, " ")
					if r.forbidden(d) {
						t.Errorf("%s (tests %v): %s imports %s", r.name, tests, p.ImportPath, d)
					}
				}
			}
		}
		if seen == 0 {
			t.Fatal("no package matched any rule: the module path changed?")
		}
	}
}

// fasthttpImporters may import fasthttp themselves: web serves HTTP with it
// (through Fiber), and connectors/egress sends plain-HTTP requests with it
// (direct.go). Everything else reaches it only through them, so the engine
// and flows depend on it only as egress's client.
var fasthttpImporters = []string{web, mod + "/connectors/egress"}

func TestFasthttpImportedOnlyByItsOwners(t *testing.T) {
	for _, tests := range []bool{false, true} {
		for _, p := range goList(t, tests) {
			if !strings.HasPrefix(p.ImportPath, mod) {
				continue
			}
			pkg, _ := base(p.ImportPath)
			if slices.Contains(fasthttpImporters, pkg) || under(pkg, mod+"/cmd") {
				continue
			}
			for _, imp := range p.Imports {
				if imp, _, _ = strings.Cut(imp, " "); under(imp, fasthttp) {
					t.Errorf("%s imports %s; only %v may", p.ImportPath, imp, fasthttpImporters)
				}
			}
		}
	}
}

// The rules catch what they should: a made-up engine that imports Fiber
// and a store, and a web that imports the store.
func TestImportRulesBite(t *testing.T) {
	bad := []struct {
		pkg      string
		external bool
		dep      string
	}{
		{engine, false, fiber + "/v2"},
		{engine, false, mod + "/engine/boltstore"},
		{engine, false, bbolt},
		{web, false, mod + "/engine/boltstore"},
		{mod + "/flows/examples", false, connectorsAll},
		{auth, false, engine},
		{mod + "/flows/examples", false, engine},
		{web, false, mod + "/cmd/switchyard"},
		{mod + "/engine/boltstore", false, connectorsAll},
		{mod + "/engine/boltstore/wal", false, engine},
	}
	for _, b := range bad {
		caught := false
		for _, r := range rules {
			if r.from(b.pkg, b.external) && r.forbidden(b.dep) {
				caught = true
			}
		}
		if !caught {
			t.Errorf("%s importing %s breaks no rule", b.pkg, b.dep)
		}
	}
}
