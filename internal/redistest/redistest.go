// Package redistest gives tests a real Redis: the server scripts/test starts. A test that needs
// Redis and finds none fails with a message saying how to run the suite; it never skips.
package redistest

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

var (
	mu      sync.Mutex
	clients = map[string]goredis.UniversalClient{}
)

// Client returns a client for TILTAS_TEST_REDIS_URL, or fails tb.
func Client(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	url := getenv("TILTAS_TEST_REDIS_URL")
	if url == "" {
		tb.Fatal("TILTAS_TEST_REDIS_URL is not set: this test needs a real redis-server. Run the suite with scripts/test, which starts one (and a Cluster) and sets it.")
	}
	mu.Lock()
	defer mu.Unlock()
	if c := clients[url]; c != nil {
		return c
	}
	o, err := goredis.ParseURL(url)
	if err != nil {
		tb.Fatalf("TILTAS_TEST_REDIS_URL: %v", err)
	}
	o.PoolSize = 64
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	c := goredis.NewClient(o)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redis at TILTAS_TEST_REDIS_URL does not answer: %v", err)
	}
	clients[url] = c
	return c
}

// Prefix returns a key prefix no other test uses and deletes its keys when tb ends.
func Prefix(tb testing.TB, c goredis.UniversalClient) string {
	p := "t-" + strings.ToLower(rand.Text()[:10])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		iter := c.Scan(ctx, 0, p+":*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			c.Unlink(ctx, keys[:n]...)
			keys = keys[n:]
		}
	})
	return p
}

// Own starts a redis-server of tb's own (for a test that changes server settings, such as
// maxmemory, that the shared one must keep) with extra arguments, and returns a client for it.
// The server stops when tb ends.
func Own(tb testing.TB, args ...string) *goredis.Client {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatal("redis-server is not on PATH: this test starts its own. Run the suite with scripts/test, which installs it.")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := tb.TempDir()
	cmd := exec.Command("redis-server", append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log")}, args...)...)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), MaxRetries: -1, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	tb.Cleanup(func() {
		c.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for c.Ping(ctx).Err() != nil {
		if ctx.Err() != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			tb.Fatalf("redis-server on port %d did not answer:\n%s", port, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}
