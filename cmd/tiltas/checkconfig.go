package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tiltas/tiltas/config"
)

func checkConfig(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	path := fs.String("c", "", "config file")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if *path == "" {
		fmt.Fprintln(stderr, "tiltas check-config: -c FILE is required")
		return 2
	}
	c, err := loadConfig(*path)
	if err != nil {
		var errs *config.Errors
		if errors.As(err, &errs) {
			noun := "problems"
			if len(errs.List) == 1 {
				noun = "problem"
			}
			fmt.Fprintf(stderr, "%s: %d %s:\n", *path, len(errs.List), noun)
			for _, e := range errs.List {
				fmt.Fprintf(stderr, "  %v\n", e)
			}
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", *path, err)
		}
		return 2
	}
	if len(c.Encryption.Keys) == 0 && !c.Encryption.Disabled {
		c.Warnings = append(c.Warnings, noKeys+" (serve will not start)")
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", *path, w)
	}
	fmt.Fprintf(stdout, "%s: ok: %s\n", *path, c.Summary())
	return 0
}
