package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tiltas/tiltas/adapters/console"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/app"
)

// stdin is the demo's input; tests replace it.
var stdin io.Reader = os.Stdin

func demo(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	start := fs.String("start", "", "start the clock at `YYYY-MM-DD HH:MM` (default: now)")
	as := fs.String("as", "jurate-z", "act as this `person` first")
	path := fs.String("c", "", "config `file` whose directory to use (default: the built-in example)")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	var cfg *config.Config
	var err error
	if *path != "" {
		cfg, err = loadConfig(*path)
	} else {
		cfg, err = config.Parse(bytes.NewReader(config.Example()), config.ExampleEnv)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tiltas demo: config:\n%v\n", err)
		return 2
	}
	loc := cfg.Location()
	now := time.Now().In(loc).Truncate(time.Minute)
	if *start != "" {
		if now, err = time.ParseInLocation("2006-01-02 15:04", *start, loc); err != nil {
			fmt.Fprintf(stderr, "tiltas demo: -start: want YYYY-MM-DD HH:MM\n")
			return 2
		}
	}
	clock := bot.NewManualClock(now)
	if err := runDemo(ctx, cfg, clock, *as, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "tiltas demo: %v\n", err)
		return 1
	}
	return 0
}

// runDemo wires the engine to in-memory stores and the console, through the same engine, outbox,
// delivery worker, timers and authorization as serve.
func runDemo(ctx context.Context, cfg *config.Config, clock *bot.ManualClock, as string, in io.Reader, out io.Writer) error {
	dir := cfg.Directory()
	var groups []string
	for _, g := range dir.Groups {
		g.Address = console.GroupChat(g.ID) // every group lives in the terminal
		groups = append(groups, g.ID)
	}
	st := app.Memory(clock)
	a, err := app.New(app.Options{Config: cfg, Directory: dir, Stores: st, Clock: clock})
	if err != nil {
		return err
	}
	e := a.Engine
	// In the demo everyone in the directory is linked to their console account.
	for _, p := range dir.People {
		if err := e.Link(ctx, p.ID, console.Identity(p.ID), console.DM(p.ID)); err != nil {
			return err
		}
	}
	name := func(chat string) string {
		if id, ok := strings.CutPrefix(chat, "dm:"); ok {
			if p := dir.Person(id); p != nil {
				return p.Name + " (" + id + ")"
			}
			return id
		}
		if id, ok := strings.CutPrefix(chat, "group:"); ok {
			if g := dir.Group(id); g != nil {
				return "group " + g.Name + " (" + id + ")"
			}
		}
		return chat
	}
	con := console.New(out, clock, name)
	// One conversation at a time, so the transcript reads in the order things happened.
	worker := a.Worker(bot.Console, con)
	worker.Parallel = 1
	runner := a.Runner()
	runner.Parallel = 1
	settle := func(ctx context.Context) error {
		for range 20 {
			if err := runner.RunAllDue(ctx); err != nil {
				return err
			}
			if err := worker.Drain(ctx); err != nil {
				return err
			}
			if n, _, _ := st.Queue.Stats(ctx); n == 0 {
				if next, ok, _ := st.Timers.Next(ctx); !ok || next.After(clock.Now()) {
					return nil
				}
			}
		}
		return nil
	}
	texts := e.Texts
	who := func(id string) (string, bool) {
		p := dir.Person(id)
		if p == nil {
			return "", false
		}
		var roles []string
		for _, r := range p.Roles {
			roles = append(roles, texts.T("en", "role."+string(r)))
		}
		inst := ""
		if i := dir.Institution(p.Institution); i != nil {
			inst = ", " + i.Name
		}
		return p.Name + " — " + strings.Join(roles, ", ") + inst, true
	}
	fmt.Fprintf(out, "Tiltas demo — %s. Type /help; console: /as PERSON, /inbox, /in GROUP, /dm, N presses button [N], /clock +1h, /all, /quit.\n",
		clock.Now().Format("2006-01-02 15:04 Mon"))
	var people []string
	for _, p := range dir.People {
		people = append(people, p.ID)
	}
	sh := &console.Shell{Console: con, Handle: e.Handle, Settle: settle, Clock: clock, Who: who, Groups: groups, People: people, Out: out}
	sh.Start(as)
	// Plan meeting occurrences and series visits, as serve does at start; from here on their own
	// timers keep them coming as the clock moves.
	if err := a.Plan(ctx); err != nil {
		return err
	}
	if err := settle(ctx); err != nil {
		return err
	}
	return sh.Run(ctx, in, !isTerminal(in))
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
