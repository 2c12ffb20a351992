package redis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot/storetest"
	"github.com/tiltas/tiltas/internal/redistest"
)

// TestAHealthyRunRaisesNoErrorReplies runs the store and inbox conformance suites against a
// redis-server of their own, then reads its error stats: a healthy run makes Redis answer no
// error at all, not even one a script catches and ignores (XGROUP CREATE's BUSYGROUP was one
// per outbox take), so that an alert on errors means trouble. NOSCRIPT, go-redis's way of loading
// a script the first time, is the one expected error reply.
func TestAHealthyRunRaisesNoErrorReplies(t *testing.T) {
	c := redistest.Own(t)
	t.Run("store", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) storetest.Stores { return newStores(t, c, nil) })
	})
	t.Run("inbox", func(t *testing.T) {
		storetest.RunInbox(t, func(t *testing.T) storetest.Inboxes {
			p := prefix(t, c)
			return storetest.Inboxes{
				Inbox:        redis.NewInbox(redis.InboxOptions{Client: c, Prefix: p, ClaimTimeout: claimTimeout}),
				Locker:       redis.NewLocker(c, p),
				Wait:         time.Sleep,
				ClaimTimeout: claimTimeout,
			}
		})
	})
	stats, err := c.Info(t.Context(), "errorstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(stats, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "errorstat_") && !strings.HasPrefix(line, "errorstat_NOSCRIPT:") {
			t.Errorf("Redis answered errors in a healthy run: %s", line)
		}
	}
	if t.Failed() {
		cmds, _ := c.Info(t.Context(), "commandstats").Result()
		for _, line := range strings.Split(cmds, "\n") {
			if !strings.Contains(line, "failed_calls=0") && strings.HasPrefix(line, "cmdstat_") {
				t.Log(strings.TrimSpace(line))
			}
		}
	}
}
