// Command tiltas runs the Tiltas bot service and its tools. It is the only place that knows
// concrete types: it loads config, builds the adapters, injects them into the engine and runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

type command struct {
	name, args, help string
	run              func(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "-c FILE", "run the bot: chat platforms, HTTP endpoints, delivery and timers", serve},
		{"demo", "[-start 'YYYY-MM-DD HH:MM'] [-as PERSON] [-c FILE]", "chat with Tiltas in the terminal on the example municipality; no tokens, no Redis", demo},
		{"check-config", "-c FILE", "report every problem in a config file (exit 2) or summarise it (exit 0)", checkConfig},
		{"people", "list|export|import FILE [-yes] [-prune] -c FILE", "list the people (config and added in chat) with their accounts, export them as a people: file, or import one (a diff first; -yes applies)", people},
		{"invite", "PERSON_ID -c FILE", "print a one-time link code (and Telegram deep link) for a person", invite},
		{"audit", "[-since T] [-until T] -c FILE", "print the audit stream as JSON lines, one event per line", auditCmd},
		{"export", "-person ID | -case CODE -c FILE", "print everything held about a member of staff or a case as one JSON document", exportCmd},
		{"erase", "-person ID | -case CODE [-yes] -c FILE", "erase everything held about a member of staff or a case, and say what was erased", eraseCmd},
		{"rekey", "-c FILE", "seal every stored record and queued message with the newest encryption key", rekeyCmd},
		{"doctor", "-c FILE", "check a deployment: Redis and its AOF, the keys, each platform's token, webhook and the bot's membership in every group, people in routing rules without a chat account; exit 1 on a blocker", doctor},
		{"slack-manifest", "-c FILE [-name NAME]", "print the Slack app manifest matching the config (scopes, events, App Home, interactivity, the slash command, Socket Mode or request URLs)", slackManifest},
		{"keygen", "[-id ID]", "print a new encryption key as the environment line that gives it (for an .env file)", keygen},
		{"healthcheck", "[-addr HOST:PORT]", "exit 0 when a running serve answers /readyz ready (for a container's HEALTHCHECK)", healthcheck},
		{"version", "", "print the version", printVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Tiltas — information bridge between institutions that look after children and families at risk.")
	fmt.Fprintln(w, "\nUsage: tiltas COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.help)
	}
	fmt.Fprintln(w, "\nRun 'tiltas COMMAND --help' for a command's flags.")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("tiltas "+c.name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "Usage: tiltas %s %s\n\n%s\n", c.name, c.args, c.help)
			if hasFlags(fs) {
				fmt.Fprintln(fs.Output(), "\nFlags:")
				fs.PrintDefaults()
			}
		}
		return c.run(ctx, fs, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "tiltas: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses flags, allowing positional arguments before them ("invite ona-p -c FILE").
func parse(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func printVersion(_ context.Context, fs *flag.FlagSet, args []string, stdout, _ io.Writer) int {
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	fmt.Fprintln(stdout, "tiltas", versionString())
	return 0
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			return "dev-" + rev + dirty + " (" + bi.GoVersion + ")"
		}
		return "dev (" + bi.GoVersion + ")"
	}
	return "dev"
}
