package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// The command line's conventions, kept in one place: every flag may be
// bound to an environment variable (bindEnv), both are parsed the same way
// and refused the same way (parse), --help and -h print the command's
// usage with every flag, its variable and its default (helpError), and the
// shell completions are generated from the same flag sets (completion).

// envBindings maps a flag set's flag names to their environment variables.
var envBindings = map[*flag.FlagSet]map[string]string{}

// bindEnv makes the environment variable key set the flag name of fs,
// unless the command line sets it.
func bindEnv(fs *flag.FlagSet, name, key string) {
	if envBindings[fs] == nil {
		envBindings[fs] = map[string]string{}
	}
	envBindings[fs][name] = key
}

// applyEnv sets fs's bound flags from the environment. A value the flag
// refuses is a usage error naming the variable.
func applyEnv(fs *flag.FlagSet) error {
	names := make([]string, 0, len(envBindings[fs]))
	for name := range envBindings[fs] {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		key := envBindings[fs][name]
		v, ok := os.LookupEnv(key)
		if !ok || v == "" {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return usageError{fmt.Sprintf("%s: invalid value %q for %s (--%s): %v", fs.Name(), v, key, name, err)}
		}
	}
	return nil
}

// commandHelp is what a command's usage says besides its flags.
type commandHelp struct {
	args, summary string
}

// commands lists every command (by its flag set's name) for --help and
// the completions, in the order the usage shows them.
var commands = []struct {
	name string
	commandHelp
}{
	{"serve", commandHelp{"", "Run the server: webhooks, engine, API and UI."}},
	{"flows validate", commandHelp{"FILE|DIR|-...", "Check flow files (every .json file of a directory; - reads standard input) as the API would; exit 1 when any is invalid."}},
	{"flows schema", commandHelp{"", "Print the flow JSON Schema (what /api/schema/flow serves)."}},
	{"flows import", commandHelp{"FILE|DIR...", "Save flow files into the data dir, or through a running server (--server); an unchanged flow makes no new version."}},
	{"flows export", commandHelp{"[ID...]", "Print the flows (or write one <id>.json per flow with --out), from the data dir or a running server (--server)."}},
	{"run", commandHelp{"FILE --payload FILE", "Run a flow once (in-process, or on a running server with --server) and print each step's input and output; nothing is stored."}},
	{"token create", commandHelp{"--name NAME", "Print a new API token, made in the data dir or by a running server (--server, with a token of its own)."}},
	{"keys rotate", commandHelp{"", "Re-encrypt every stored credential under a new key (SWITCHYARD_SECRET_KEY: print the new key instead of writing the key file)."}},
	{"recover", commandHelp{"", "Apply every intact record of a damaged write-ahead log and print what was lost."}},
	{"migrate", commandHelp{"--database URL", "Copy a data dir (flows and their versions, connections, accounts, tokens, trigger state; the run history with --runs) into a PostgreSQL database; safe to run again."}},
	{"backup", commandHelp{"--out FILE", "Write a consistent copy of the database to FILE: from a running server (--server, --token) or offline from the data dir. Never the key file."}},
	{"restore", commandHelp{"FILE", "Make a backup the data dir's database (refuses a dir holding anything but the key file without --force)."}},
	{"compact", commandHelp{"", "Rewrite the database of a data dir no server runs on without its free pages (a server compacts by itself: --compact-free)."}},
	{"docs", commandHelp{"connectors|openapi", "Print the connector reference or the OpenAPI description."}},
	{"healthcheck", commandHelp{"", "Exit 0 when the server answers 200, 1 otherwise (the container's HEALTHCHECK)."}},
	{"completion", commandHelp{"bash|zsh|fish", "Print a shell completion script."}},
	{"version", commandHelp{"", "Print the version and build info."}},
}

func helpOf(name string) commandHelp {
	for _, c := range commands {
		if c.name == name {
			return c.commandHelp
		}
	}
	return commandHelp{}
}

// helpError is --help or -h: the usage goes to stdout and the exit code is 0.
type helpError struct{ text string }

func (e helpError) Error() string { return e.text }

// lastHelp is the flag set whose usage was asked for last (completion
// reads the commands' flags through it).
var lastHelp *flag.FlagSet

func newHelpError(fs *flag.FlagSet) helpError {
	lastHelp = fs
	h := helpOf(fs.Name())
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: switchyard %s", fs.Name())
	if h.args != "" {
		fmt.Fprintf(&b, " %s", h.args)
	}
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		b.WriteString(" [flags]")
	}
	b.WriteString("\n")
	if h.summary != "" {
		fmt.Fprintf(&b, "\n%s\n", h.summary)
	}
	if hasFlags {
		b.WriteString("\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(&b, "  --%s", f.Name)
			if name != "" {
				fmt.Fprintf(&b, " %s", strings.ToUpper(name))
			}
			fmt.Fprintf(&b, "\n        %s", usage)
			var notes []string
			if key := envBindings[fs][f.Name]; key != "" {
				notes = append(notes, "env "+key)
			}
			if f.DefValue != "" {
				notes = append(notes, fmt.Sprintf("default %q", f.DefValue))
			} else {
				notes = append(notes, "default none")
			}
			fmt.Fprintf(&b, " (%s)\n", strings.Join(notes, "; "))
		})
	}
	return helpError{b.String()}
}

// bareFlagSet is the flag set of a command without flags of its own: it
// still answers --help and refuses unknown flags.
func bareFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// isHelp reports whether args ask for help and nothing else.
func isHelp(args []string) bool {
	return len(args) == 1 && (args[0] == "--help" || args[0] == "-h" || args[0] == "-help")
}

// groupUsage is the usage of a command with subcommands (flows, token,
// keys): its subcommands and what they do.
func groupUsage(group string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: switchyard %s COMMAND [flags]\n\nCommands:\n", group)
	for _, c := range commands {
		if sub, ok := strings.CutPrefix(c.name, group+" "); ok {
			fmt.Fprintf(&b, "  %-10s %s\n", sub, c.summary)
		}
	}
	fmt.Fprintf(&b, "\nswitchyard %s COMMAND --help shows a command's flags.\n", group)
	return b.String()
}

// flagsOf returns the flags of a command, by asking it for its usage.
func flagsOf(name string) []*flag.Flag {
	lastHelp = nil
	run(append(strings.Fields(name), "--help"), io.Discard, io.Discard)
	var out []*flag.Flag
	if lastHelp != nil {
		lastHelp.VisitAll(func(f *flag.Flag) { out = append(out, f) })
	}
	return out
}

// cmdCompletion prints a completion script for bash, zsh or fish, made
// from the command table and each command's own flags.
func cmdCompletion(args []string, stdout io.Writer) error {
	pos, err := parse(bareFlagSet("completion"), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"completion: name a shell: switchyard completion bash|zsh|fish"}
	}
	type cmd struct {
		path  []string
		about string
		flags []*flag.Flag
	}
	var cmds []cmd
	tops := []string{}
	subs := map[string][]string{}
	for _, c := range commands {
		path := strings.Fields(c.name)
		cmds = append(cmds, cmd{path, c.summary, flagsOf(c.name)})
		if len(path) == 2 {
			if len(subs[path[0]]) == 0 {
				tops = append(tops, path[0])
			}
			subs[path[0]] = append(subs[path[0]], path[1])
		} else {
			tops = append(tops, path[0])
		}
	}
	tops = append(tops, "help")
	// about describes a top-level command: its summary, or its subcommands.
	about := func(top string) string {
		switch {
		case len(subs[top]) > 0:
			return strings.Join(subs[top], ", ")
		case top == "help":
			return "Show the usage."
		}
		return helpOf(top).summary
	}
	flagWords := func(c cmd) string {
		var w []string
		for _, f := range c.flags {
			w = append(w, "--"+f.Name)
		}
		return strings.Join(append(w, "--help"), " ")
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	switch pos[0] {
	case "bash":
		p("# bash completion for switchyard: source <(switchyard completion bash)\n")
		p("_switchyard() {\n\tlocal cur=${COMP_WORDS[COMP_CWORD]} key=${COMP_WORDS[1]}\n")
		p("\tif ((COMP_CWORD == 1)); then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n", strings.Join(tops, " "))
		p("\tcase $key in\n")
		for _, top := range tops {
			if s := subs[top]; len(s) > 0 {
				p("\t%s)\n\t\tif ((COMP_CWORD == 2)); then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n\t\tkey=\"$key ${COMP_WORDS[2]}\";;\n", top, strings.Join(s, " "))
			}
		}
		p("\tesac\n\tlocal flags=\n\tcase $key in\n")
		// The commands whose argument is a word come first: the first
		// matching pattern wins.
		p("\tcompletion) COMPREPLY=($(compgen -W \"bash zsh fish --help\" -- \"$cur\")); return;;\n")
		p("\tdocs) COMPREPLY=($(compgen -W \"connectors openapi --help\" -- \"$cur\")); return;;\n")
		for _, c := range cmds {
			p("\t%q) flags=%q;;\n", strings.Join(c.path, " "), flagWords(c))
		}
		p("\tesac\n")
		p("\tif [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\")); else COMPREPLY=($(compgen -f -- \"$cur\")); fi\n}\n")
		p("complete -o filenames -F _switchyard switchyard\n")
	case "zsh":
		p("#compdef switchyard\n# zsh completion for switchyard: switchyard completion zsh > \"${fpath[1]}/_switchyard\"\n")
		p("_switchyard() {\n\tlocal -a items\n\tif (( CURRENT == 2 )); then\n\t\titems=(\n")
		for _, top := range tops {
			p("\t\t\t%s\n", zshQuote(top+":"+about(top)))
		}
		p("\t\t)\n\t\t_describe command items\n\t\treturn\n\tfi\n\tlocal key=${words[2]}\n\tcase $key in\n")
		for _, top := range tops {
			if s := subs[top]; len(s) > 0 {
				p("\t%s)\n\t\tif (( CURRENT == 3 )); then compadd -- %s; return; fi\n\t\tkey=\"$key ${words[3]}\";;\n", top, strings.Join(s, " "))
			}
		}
		p("\tcompletion) compadd -- bash zsh fish; return;;\n\tdocs) compadd -- connectors openapi; return;;\n\tesac\n")
		p("\tcase $key in\n")
		for _, c := range cmds {
			p("\t%s)\n\t\t_arguments", zshQuote(strings.Join(c.path, " ")))
			for _, f := range c.flags {
				p(" %s", zshQuote(fmt.Sprintf("--%s[%s]", f.Name, zshBracket(f.Usage))+zshValue(f)))
			}
			p(" '--help[show the usage]' '*:file:_files';;\n")
		}
		p("\tesac\n}\ncompdef _switchyard switchyard\n")
	case "fish":
		p("# fish completion for switchyard: switchyard completion fish > ~/.config/fish/completions/switchyard.fish\n")
		p("complete -c switchyard -f\n")
		for _, top := range tops {
			p("complete -c switchyard -n __fish_use_subcommand -a %s -d %s\n", top, fishQuote(about(top)))
		}
		for _, top := range tops {
			if s := subs[top]; len(s) > 0 {
				p("complete -c switchyard -n %s -a %s\n", fishQuote("__fish_seen_subcommand_from "+top+"; and not __fish_seen_subcommand_from "+strings.Join(s, " ")),
					fishQuote(strings.Join(s, " ")))
			}
		}
		p("complete -c switchyard -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'\n")
		p("complete -c switchyard -n '__fish_seen_subcommand_from docs' -a 'connectors openapi'\n")
		for _, c := range cmds {
			// The last word names the command: no subcommand repeats.
			cond := fishQuote("__fish_seen_subcommand_from " + c.path[len(c.path)-1])
			for _, f := range c.flags {
				p("complete -c switchyard -n %s -l %s -d %s", cond, f.Name, fishQuote(f.Usage))
				if name, _ := flag.UnquoteUsage(f); name != "" {
					p(" -r -F")
				}
				p("\n")
			}
			if len(c.path) == 1 || c.path[0] == "flows" {
				p("complete -c switchyard -n %s -F\n", cond)
			}
		}
	default:
		return usageError{fmt.Sprintf("completion: unknown shell %q (bash, zsh or fish)", pos[0])}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// zshBracket escapes what _arguments reads inside a [description].
func zshBracket(s string) string {
	return strings.NewReplacer("[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

// zshValue is the ":value:_files" part of a flag that takes a value.
func zshValue(f *flag.Flag) string {
	if name, _ := flag.UnquoteUsage(f); name != "" {
		return ":" + name + ":_files"
	}
	return ""
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
