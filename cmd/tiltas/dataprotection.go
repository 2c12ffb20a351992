package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/app"
)

// cliActor is who the audit stream names for what an operator does on the command line.
const cliActor = "cli"

// loadConnect loads the config at path and connects to its Redis, reporting problems as
// "tiltas NAME: …" with the exit code to use.
func loadConnect(ctx context.Context, name, path string, stderr io.Writer) (*config.Config, *backend, int) {
	if path == "" {
		fmt.Fprintf(stderr, "tiltas %s: -c FILE is required\n", name)
		return nil, nil, 2
	}
	cfg, err := loadStorageConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas %s: %s:\n%v\n", name, path, err)
		return nil, nil, 2
	}
	b, err := connect(ctx, cfg, nil, bot.SystemClock)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas %s: %v\n", name, err)
		return nil, nil, 1
	}
	return cfg, b, 0
}

// parseWhen reads an RFC 3339 time or a date (YYYY-MM-DD) in loc; a date given as an end
// (until) means the end of that day.
func parseWhen(s string, loc *time.Location, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-12-01T08:00:00+02:00) or a date (2026-12-01)", s)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

func auditCmd(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	path := fs.String("c", "", "config `file`")
	since := fs.String("since", "", "first moment, RFC 3339 or `YYYY-MM-DD` in the config's time zone (default: the beginning)")
	until := fs.String("until", "", "last moment (excluded), RFC 3339, or `YYYY-MM-DD` for the end of that day (default: now)")
	refusals := fs.Bool("refusals", false, "print the refusals of the unauthenticated instead: one entry per kind and minute, with the sources that failed most")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, b, code := loadConnect(ctx, "audit", *path, stderr)
	if b == nil {
		return code
	}
	defer b.client.Close()
	loc := cfg.Location()
	from, to := time.Time{}, time.Now()
	var err error
	if *since != "" {
		if from, err = parseWhen(*since, loc, false); err != nil {
			fmt.Fprintf(stderr, "tiltas audit: -since %v\n", err)
			return 2
		}
	}
	if *until != "" {
		if to, err = parseWhen(*until, loc, true); err != nil {
			fmt.Fprintf(stderr, "tiltas audit: -until %v\n", err)
			return 2
		}
	}
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	if *refusals {
		err = b.store.Audit().RangeRefusals(ctx, func(e bot.RefusalEntry) error {
			if e.Minute.Before(from) || !e.Minute.Before(to) {
				return nil
			}
			e.Minute = e.Minute.In(loc)
			return enc.Encode(e)
		})
	} else {
		err = b.store.Audit().Range(ctx, from, to, func(ev bot.AuditEvent) error {
			ev.At = ev.At.In(loc)
			return enc.Encode(ev)
		})
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "tiltas audit: %v\n", err)
		return 1
	}
	return 0
}

// subjectFlags reads -person and -case, exactly one of them.
func subjectFlags(fs *flag.FlagSet) func(name string, stderr io.Writer) (bot.Subject, bool) {
	person := fs.String("person", "", "a member of staff, by `ID`")
	code := fs.String("case", "", "a case, by its `CODE`")
	return func(name string, stderr io.Writer) (bot.Subject, bool) {
		s := bot.Subject{Person: strings.TrimSpace(*person), Case: strings.ToUpper(strings.TrimSpace(*code))}
		if (s.Person == "") == (s.Case == "") {
			fmt.Fprintf(stderr, "tiltas %s: give exactly one of -person ID and -case CODE\n", name)
			return s, false
		}
		return s, true
	}
}

var rePersonID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// checkSubject refuses what is not a person ID or a case code, before anything is looked up or
// written to the audit stream (which is not encrypted: a name typed by mistake must not land there).
func checkSubject(cfg *config.Config, s bot.Subject, name string, stderr io.Writer) bool {
	if s.Case != "" && !cfg.Settings().ValidCaseCode(s.Case) {
		fmt.Fprintf(stderr, "tiltas %s: %q is not a case code (cases.code_pattern %s); nothing done\n", name, s.Case, cfg.Cases.CodePattern)
		return false
	}
	if s.Person != "" && !rePersonID.MatchString(s.Person) {
		fmt.Fprintf(stderr, "tiltas %s: %q is not a person ID; nothing done\n", name, s.Person)
		return false
	}
	return true
}

// subjectName prints a subject for operators.
type subjectName bot.Subject

func (s subjectName) String() string {
	if s.Person != "" {
		return "person " + s.Person
	}
	return "case " + s.Case
}

// engineFor builds the engine with every flow over b, as serve does, without running anything.
// engineFor is the engine over b for an admin command, with the stored people read.
func engineFor(ctx context.Context, cfg *config.Config, b *backend) (*bot.Engine, error) {
	a, err := app.New(app.Options{Config: cfg, Stores: b.stores})
	if err != nil {
		return nil, err
	}
	if err := a.Engine.Refresh(ctx); err != nil {
		return nil, err
	}
	return a.Engine, nil
}

func exportCmd(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	path := fs.String("c", "", "config `file`")
	subject := subjectFlags(fs)
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	s, ok := subject("export", stderr)
	if !ok {
		return 2
	}
	cfg, b, code := loadConnect(ctx, "export", *path, stderr)
	if b == nil {
		return code
	}
	defer b.client.Close()
	if !checkSubject(cfg, s, "export", stderr) {
		return 2
	}
	e, err := engineFor(ctx, cfg, b)
	if err == nil {
		var x bot.Export
		if x, err = e.Export(ctx, s, cliActor); err == nil {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			err = enc.Encode(x)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "tiltas export: %v\n", err)
		return 1
	}
	return 0
}

func eraseCmd(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	path := fs.String("c", "", "config `file`")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	subject := subjectFlags(fs)
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	s, ok := subject("erase", stderr)
	if !ok {
		return 2
	}
	cfg, b, code := loadConnect(ctx, "erase", *path, stderr)
	if b == nil {
		return code
	}
	defer b.client.Close()
	if !checkSubject(cfg, s, "erase", stderr) {
		return 2
	}
	name := subjectName(s).String()
	if !*yes {
		fmt.Fprintf(stderr, "This erases everything Tiltas holds about %s; it cannot be undone.\nType yes to go on: ", name)
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimSpace(strings.ToLower(line)) != "yes" {
			fmt.Fprintln(stderr, "Nothing erased.")
			return 1
		}
	}
	e, err := engineFor(ctx, cfg, b)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas erase: %v\n", err)
		return 1
	}
	parts, err := e.Erase(ctx, s, cliActor)
	deleted, changed := 0, 0
	fmt.Fprintf(stdout, "Erased %s:\n", name)
	for _, x := range parts {
		deleted += len(x.Deleted)
		changed += len(x.Changed)
		if len(x.Deleted)+len(x.Changed) == 0 {
			fmt.Fprintf(stdout, "  %-9s nothing held\n", x.Part+":")
			continue
		}
		if len(x.Deleted) > 0 {
			fmt.Fprintf(stdout, "  %-9s deleted %s\n", x.Part+":", strings.Join(x.Deleted, ", "))
		}
		if len(x.Changed) > 0 {
			fmt.Fprintf(stdout, "  %-9s changed %s\n", x.Part+":", strings.Join(x.Changed, ", "))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "tiltas erase: stopped part way: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d records deleted, %d changed; the audit stream keeps its entries (IDs and times) and now records subject.erased.\n", deleted, changed)
	if s.Person != "" && cfg.Directory().Person(s.Person) != nil {
		fmt.Fprintf(stdout, "%s is still listed in %s: remove their lines there too (the service will not bring them back, and their ID is never given to anyone else).\n", s.Person, *path)
	}
	return 0
}

func rekeyCmd(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	path := fs.String("c", "", "config `file`")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, b, code := loadConnect(ctx, "rekey", *path, stderr)
	if b == nil {
		return code
	}
	defer b.client.Close()
	if b.sealer == nil {
		fmt.Fprintln(stderr, "tiltas rekey: encryption.keys is empty: there is no key to seal with")
		return 2
	}
	recs, out, err := b.store.Rekey(ctx)
	newest := cfg.Encryption.Keys[0].ID
	for _, r := range []struct {
		name string
		st   redis.RekeyStats
	}{{"records", recs}, {"outbox", out}} {
		fmt.Fprintf(stdout, "%-8s %d scanned, %d re-sealed with %s, %d already current, %d rewritten meanwhile, %d deleted meanwhile, %d unreadable\n",
			r.name+":", r.st.Scanned, r.st.Resealed, newest, r.st.Current, r.st.Raced, r.st.Gone, r.st.Failed)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tiltas rekey: %v\n", err)
		return 1
	}
	return 0
}
