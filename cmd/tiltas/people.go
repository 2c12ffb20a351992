package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
)

// people is IT's view of the stored people: list them, export them in the config's people:
// shape, or import such a file (a diff first; -yes applies it, -prune deactivates people added
// in chat or by import whom the file lacks).
func people(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	path := fs.String("c", "", "config `file`")
	yes := fs.Bool("yes", false, "import: apply the changes shown")
	prune := fs.Bool("prune", false, "import: deactivate people added in chat or by import whom the file lacks")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) == 0 || pos[0] != "list" && pos[0] != "export" && pos[0] != "import" || pos[0] == "import" && len(pos) != 2 {
		fmt.Fprintln(stderr, "usage: tiltas people list|export -c FILE, or tiltas people import PEOPLE_FILE [-yes] [-prune] -c FILE")
		return 2
	}
	cfg, b, code := loadConnect(ctx, "people", *path, stderr)
	if b == nil {
		return code
	}
	defer b.client.Close()
	e, err := engineFor(ctx, cfg, b)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas people: %v\n", err)
		return 1
	}
	members, err := e.Members(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas people: %v\n", err)
		return 1
	}
	ids := slices.Sorted(maps.Keys(members))
	switch pos[0] {
	case "list":
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tINSTITUTION\tROLES\tSOURCE\tSTATE\tACCOUNT")
		for _, id := range ids {
			m := members[id]
			state := "active"
			if !m.Active {
				state = "deactivated"
			}
			acct := "-"
			if a, err := e.AddressOf(ctx, id); err == nil {
				acct = string(a.Platform)
			}
			roles := make([]string, len(m.Roles))
			for i, r := range m.Roles {
				roles[i] = string(r)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, m.Name, m.Institution, strings.Join(roles, ","), m.Source, state, acct)
		}
		_ = w.Flush()
		return 0
	case "export":
		var f config.PeopleFile
		for _, id := range ids {
			if members[id].Active {
				f.People = append(f.People, config.PersonOf(members[id]))
			}
		}
		enc := yaml.NewEncoder(stdout)
		enc.SetIndent(2)
		if err := enc.Encode(f); err != nil {
			fmt.Fprintf(stderr, "tiltas people: %v\n", err)
			return 1
		}
		return 0
	}
	return importPeople(ctx, e, members, pos[1], *yes, *prune, stdout, stderr)
}

func importPeople(ctx context.Context, e *bot.Engine, members map[string]*bot.Member, file string, yes, prune bool, stdout, stderr io.Writer) int {
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas people import: %v\n", err)
		return 2
	}
	defer f.Close()
	list, err := config.ReadPeople(f)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas people import: %s: %v\n", file, err)
		return 2
	}
	type change struct {
		m      bot.Member
		fields []string
	}
	var add, edit []change
	var problems []string
	inFile := map[string]bool{}
	for i, p := range list {
		m := p.Member()
		if m.Language == "" {
			m.Language = e.Directory().Language // as the config fills it in
		}
		where := fmt.Sprintf("people[%d]", i)
		if rePersonID.MatchString(p.ID) {
			where += " (" + p.ID + ")"
		}
		if !rePersonID.MatchString(m.ID) {
			problems = append(problems, where+".id: want a person ID (a-z, 0-9, -)")
			continue
		}
		if inFile[m.ID] {
			problems = append(problems, where+".id: listed twice")
			continue
		}
		inFile[m.ID] = true
		if err := e.ValidMember(&m); err != nil {
			var pr *bot.Problem
			if errors.As(err, &pr) {
				problems = append(problems, where+": "+e.Texts.T("en", pr.ID, pr.KV...))
				continue
			}
			problems = append(problems, where+": "+err.Error())
			continue
		}
		cur, ok := members[m.ID]
		switch {
		case !ok:
			add = append(add, change{m: m})
		default:
			n := *cur
			n.Name, n.Institution, n.Roles, n.Language, n.Areas, n.Quiet = m.Name, m.Institution, m.Roles, m.Language, m.Areas, m.Quiet
			if fields := fieldDiff(cur, &n); len(fields) > 0 || !cur.Active {
				edit = append(edit, change{m: n, fields: fields})
			}
		}
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "tiltas people import: %s: %d problems; nothing imported:\n  %s\n", file, len(problems), strings.Join(problems, "\n  "))
		return 2
	}
	var off []string
	if prune {
		for _, id := range slices.Sorted(maps.Keys(members)) {
			if m := members[id]; m.Source == bot.SourceChat && m.Active && !inFile[id] {
				off = append(off, id)
			}
		}
	}
	for _, c := range add {
		fmt.Fprintf(stdout, "+ %s (%s, %s)\n", c.m.ID, c.m.Name, c.m.Institution)
	}
	for _, c := range edit {
		what := strings.Join(c.fields, ", ")
		if !members[c.m.ID].Active {
			what = strings.TrimPrefix(what+", reactivated", ", ")
		}
		fmt.Fprintf(stdout, "~ %s: %s\n", c.m.ID, what)
	}
	for _, id := range off {
		fmt.Fprintf(stdout, "- %s: deactivated\n", id)
	}
	fmt.Fprintf(stdout, "%d to add, %d to change, %d to deactivate.\n", len(add), len(edit), len(off))
	if !yes {
		if len(add)+len(edit)+len(off) > 0 {
			fmt.Fprintln(stdout, "Nothing changed yet: run again with -yes to apply.")
		}
		return 0
	}
	for _, c := range add {
		if _, err := e.AddPerson(ctx, c.m, cliActor); err != nil {
			fmt.Fprintf(stderr, "tiltas people import: %s: %v\n", c.m.ID, err)
			return 1
		}
	}
	for _, c := range edit {
		m := c.m
		if _, err := e.EditPerson(ctx, m.ID, cliActor, func(n *bot.Member) {
			n.Name, n.Institution, n.Roles, n.Language, n.Areas, n.Quiet = m.Name, m.Institution, m.Roles, m.Language, m.Areas, m.Quiet
		}); err != nil {
			fmt.Fprintf(stderr, "tiltas people import: %s: %v\n", m.ID, err)
			return 1
		}
		if !members[m.ID].Active {
			if _, err := e.SetActive(ctx, m.ID, cliActor, true); err != nil {
				fmt.Fprintf(stderr, "tiltas people import: %s: %v\n", m.ID, err)
				return 1
			}
		}
	}
	for _, id := range off {
		if _, err := e.SetActive(ctx, id, cliActor, false); err != nil {
			fmt.Fprintf(stderr, "tiltas people import: %s: %v\n", id, err)
			return 1
		}
	}
	fmt.Fprintln(stdout, "Applied; every replica sees it with its next message.")
	return 0
}

// fieldDiff names the fields of a person that differ.
func fieldDiff(a, b *bot.Member) []string {
	var out []string
	join := func(rs []bot.Role) string {
		s := make([]string, len(rs))
		for i, r := range rs {
			s[i] = string(r)
		}
		return strings.Join(s, ",")
	}
	for _, f := range []struct{ name, x, y string }{
		{"name", a.Name, b.Name}, {"institution", a.Institution, b.Institution}, {"roles", join(a.Roles), join(b.Roles)},
		{"language", a.Language, b.Language}, {"areas", strings.Join(a.Areas, ","), strings.Join(b.Areas, ",")}, {"quiet_hours", a.Quiet, b.Quiet},
	} {
		if f.x != f.y {
			out = append(out, f.name)
		}
	}
	return out
}
