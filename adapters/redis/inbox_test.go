package redis_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/storetest"
)

func TestInboxConformance(t *testing.T) {
	tests := []struct {
		name   string
		client func(testing.TB) goredis.UniversalClient
		sealer bool
	}{
		{name: "standalone", client: standalone},
		{name: "cluster, sealed", client: cluster, sealer: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.client(t)
			storetest.RunInbox(t, func(t *testing.T) storetest.Inboxes {
				var s bot.Sealer
				if tt.sealer {
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
