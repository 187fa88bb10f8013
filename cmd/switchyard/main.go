// Command switchyard is the single binary: it serves webhooks, the engine,
// the API and the UI, and offers the CLI around them (flows, run, token, keys, recover, backup, restore, docs).
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	_ "time/tzdata" // flows may name any IANA time zone, machines may lack the database

	_ "github.com/switchyard/switchyard/connectors/all"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `switchyard: a single-binary automation engine

Usage:
  switchyard serve [--addr ADDR] [--data DIR] [--egress-allow LIST]
  switchyard flows validate FILE... [--data DIR]
  switchyard flows import FILE|DIR [--data DIR]
  switchyard flows export [ID...] [--data DIR] [--out DIR]
  switchyard run FILE --payload FILE [--dry] [--data DIR]
  switchyard token create --name NAME [--data DIR]
  switchyard keys rotate [--data DIR]
  switchyard recover [--data DIR]
  switchyard backup --out FILE [--data DIR | --server URL --token TOKEN]
  switchyard restore FILE [--data DIR] [--force]
  switchyard docs connectors
  switchyard version

Environment: SWITCHYARD_ADDR, SWITCHYARD_DATA, SWITCHYARD_EGRESS_ALLOW,
SWITCHYARD_SECRET_KEY, SWITCHYARD_PUBLIC_URL, SWITCHYARD_LOG_LEVEL,
SWITCHYARD_SERVER, SWITCHYARD_TOKEN.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(args[1:], stderr)
	case "flows":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		switch args[1] {
		case "validate":
			return cmdFlowsValidate(args[2:], stdout, stderr)
		case "import":
			err = cmdFlowsImport(args[2:], stdout)
		case "export":
			err = cmdFlowsExport(args[2:], stdout)
		default:
			fmt.Fprintf(stderr, "switchyard: unknown flows command %q\n\n%s", args[1], usage)
			return 2
		}
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "token":
		if len(args) < 2 || args[1] != "create" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = cmdTokenCreate(args[2:], stdout)
	case "keys":
		err = cmdKeys(args[1:], stdout, stderr)
	case "recover":
		err = cmdRecover(args[1:], stdout)
	case "backup":
		err = cmdBackup(args[1:], stdout)
	case "restore":
		err = cmdRestore(args[1:], stdout)
	case "docs":
		err = cmdDocs(args[1:], stdout)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "switchyard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "switchyard: %v\n", err)
		if _, ok := err.(usageError); ok {
			return 2
		}
		return 1
	}
	return 0
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func versionString() string {
	s := "switchyard " + version
	if bi, ok := debug.ReadBuildInfo(); ok {
		s += " (" + bi.GoVersion
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" {
				s += ", " + kv.Value
			}
		}
		s += ")"
	}
	return s
}
