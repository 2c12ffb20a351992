package redis_test

import (
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/storetest"
)

func TestInboxConformance(t *testing.T) {
	for _, tt := range topologies {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.client(t)
			storetest.RunInbox(t, func(t *testing.T) storetest.Inboxes {
				var s bot.Sealer
				if tt.sealed {
					s = newSealer(t)
				}
				p := prefix(t, c)
				return storetest.Inboxes{
					Inbox:        redis.NewInbox(redis.InboxOptions{Client: c, Prefix: p, Sealer: s, ClaimTimeout: claimTimeout}),
					Locker:       redis.NewLocker(c, p),
					Wait:         time.Sleep,
					ClaimTimeout: claimTimeout,
				}
			})
		})
	}
}
