package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

func serve(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	fs.String("c", "", "config file")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	fmt.Fprintln(stderr, "tiltas serve: not built yet")
	return 1
}

func invite(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	fs.String("c", "", "config file")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	fmt.Fprintln(stderr, "tiltas invite: not built yet")
	return 1
}
