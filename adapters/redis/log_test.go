package redis_test

import (
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/internal/logbuf"
)

// go-redis's own complaints (here: a server that cannot be dialled) land in the service's log as
// JSON lines, not as plain text on stderr.
func TestGoRedisLogsAsJSON(t *testing.T) {
	var buf logbuf.Buffer
	redis.LogTo(slog.New(slog.NewJSONHandler(&buf, nil)))
	defer redis.LogTo(slog.New(slog.DiscardHandler))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	if c.Ping(t.Context()).Err() == nil {
		t.Fatal("a ping to nothing worked")
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if rec["component"] == "go-redis" && rec["level"] == "WARN" && strings.Contains(rec["msg"].(string), "failed to dial") {
			found = true
		}
	}
	if !found {
		t.Errorf("go-redis's dial failure not in the log:\n%s", buf.String())
	}
}
