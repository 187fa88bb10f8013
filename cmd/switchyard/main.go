// Command switchyard is the single binary: it serves webhooks, the engine,
// the API and the UI, and offers the CLI around them (flows, run, token, keys, recover, backup, restore, compact, docs).
package main

import (
	"errors"
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
  switchyard serve [--addr ADDR] [--data DIR | --database URL] [--egress-allow LIST]
  switchyard flows validate FILE|DIR|-... [--data DIR]
  switchyard flows schema
  switchyard flows import FILE|DIR [--data DIR | --server URL --token TOKEN]
  switchyard flows export [ID...] [--out DIR] [--data DIR | --server URL --token TOKEN]
  switchyard run FILE --payload FILE [--dry] [--data DIR | --server URL --token TOKEN]
  switchyard token create --name NAME [--data DIR | --server URL --token TOKEN]
  switchyard keys rotate [--data DIR]
  switchyard recover [--data DIR]
  switchyard migrate --data DIR --database URL [--runs]
  switchyard backup --out FILE [--data DIR | --server URL --token TOKEN]
  switchyard restore FILE [--data DIR] [--force]
  switchyard compact [--data DIR]
  switchyard docs connectors|openapi
  switchyard healthcheck [--addr ADDR] [--path /readyz]
  switchyard completion bash|zsh|fish
  switchyard version

switchyard COMMAND --help (or switchyard help COMMAND) lists a command's
flags, the environment variable of each and its default.
SWITCHYARD_SECRET_KEY holds the credentials key instead of the key file.
--server URL and --token (SWITCHYARD_SERVER, SWITCHYARD_TOKEN) make flows
import/export, run, token create and backup work through a running
server's API; with --data (or neither) they work on the data dir, offline.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code: 0, 1
// when the command failed, 2 for a mistake in the command line.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(args[1:], stderr)
	case "flows", "token", "keys":
		group := args[0]
		if len(args) < 2 {
			fmt.Fprint(stderr, groupUsage(group))
			return 2
		}
		if isHelp(args[1:]) {
			fmt.Fprint(stdout, groupUsage(group))
			return 0
		}
		switch group + " " + args[1] {
		case "flows validate":
			return cmdFlowsValidate(args[2:], os.Stdin, stdout, stderr)
		case "flows schema":
			err = cmdFlowsSchema(args[2:], stdout)
		case "flows import":
			err = cmdFlowsImport(args[2:], stdout)
		case "flows export":
			err = cmdFlowsExport(args[2:], stdout)
		case "token create":
			err = cmdTokenCreate(args[2:], stdout)
		case "keys rotate":
			err = cmdKeysRotate(args[2:], stdout, stderr)
		default:
			fmt.Fprintf(stderr, "switchyard: unknown %s command %q\n\n%s", group, args[1], groupUsage(group))
			return 2
		}
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "recover":
		err = cmdRecover(args[1:], stdout)
	case "migrate":
		err = cmdMigrate(args[1:], stdout)
	case "backup":
		err = cmdBackup(args[1:], stdout)
	case "restore":
		err = cmdRestore(args[1:], stdout)
	case "compact":
		err = cmdCompact(args[1:], stdout)
	case "docs":
		err = cmdDocs(args[1:], stdout)
	case "healthcheck":
		err = cmdHealthcheck(args[1:], stdout)
	case "completion":
		err = cmdCompletion(args[1:], stdout)
	case "version", "--version", "-v":
		fs := bareFlagSet("version")
		if _, err = parse(fs, args[1:]); err == nil {
			fmt.Fprintln(stdout, versionString())
		}
	case "help", "--help", "-h":
		if len(args) > 1 && args[1] != "help" {
			// switchyard help serve: the command's own usage.
			return run(append(args[1:], "--help"), stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "switchyard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return exitCode(err, stdout, stderr)
}

// exitCode reports a command's error and turns it into the exit code.
func exitCode(err error, stdout, stderr io.Writer) int {
	var help helpError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		fmt.Fprint(stdout, help.text)
		return 0
	}
	fmt.Fprintf(stderr, "switchyard: %v\n", err)
	if _, ok := err.(usageError); ok {
		return 2
	}
	return 1
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
