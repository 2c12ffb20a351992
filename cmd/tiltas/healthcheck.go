package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheck asks a running serve's /readyz and exits 0 when it answers ready: the image's
// HEALTHCHECK (a distroless image has no shell and no curl) and Compose's use it.
func healthcheck(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	addr := fs.String("addr", "127.0.0.1:8080", "serve's `host:port` (http.listen)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas healthcheck: -addr %q: want host:port\n", *addr)
		return 2
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1" // listening on every address: ask the loopback one
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+net.JoinHostPort(host, port)+"/readyz", nil)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "tiltas healthcheck: not answering: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "tiltas healthcheck: not ready (%d): %s\n", resp.StatusCode, body)
		return 1
	}
	fmt.Fprintf(stdout, "ready: %s\n", body)
	return 0
}
