package redis_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/storetest"
)

// The tests run against real servers that scripts/test starts: one standalone server and a
// three-master Cluster. Without them they fail, saying so; they never skip.
const (
	envURL     = "TILTAS_TEST_REDIS_URL"
	envCluster = "TILTAS_TEST_REDIS_CLUSTER"
)

var clients struct {
	mu         sync.Mutex
	standalone goredis.UniversalClient
	cluster    goredis.UniversalClient
}

func TestMain(m *testing.M) {
	code := m.Run()
	clients.mu.Lock()
	for _, c := range []goredis.UniversalClient{clients.standalone, clients.cluster} {
		if c != nil {
			c.Close()
		}
	}
	clients.mu.Unlock()
	os.Exit(code)
}

func need(tb testing.TB, name string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		tb.Fatalf("%s is not set: these tests need a real redis-server. Run scripts/test, which starts "+
			"throwaway servers (a standalone one and a three-master cluster) and sets %s and %s.", name, envURL, envCluster)
	}
	return v
}

// standalone returns the shared client of the standalone test server.
func standalone(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	url := need(tb, envURL)
	clients.mu.Lock()
	defer clients.mu.Unlock()
	if clients.standalone == nil {
		c, err := redis.Connect(context.Background(), url, redis.Topology{})
		if err != nil {
			tb.Fatalf("connect to %s: %v", envURL, err)
		}
		clients.standalone = c
	}
	return clients.standalone
}

// cluster returns the shared client of the test Cluster.
func cluster(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	addrs := strings.Split(need(tb, envCluster), ",")
	clients.mu.Lock()
	defer clients.mu.Unlock()
	if clients.cluster == nil {
		c, err := redis.Connect(context.Background(), "redis://", redis.Topology{ClusterAddrs: addrs})
		if err != nil {
			tb.Fatalf("connect to %s: %v", envCluster, err)
		}
		clients.cluster = c
	}
	return clients.cluster
}

// prefix returns a key prefix no other test uses, and deletes its keys when tb ends.
func prefix(tb testing.TB, c goredis.UniversalClient) string {
	p := "test-" + strings.ToLower(rand.Text()[:12])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := deleteKeys(ctx, c, p+":*"); err != nil {
			tb.Errorf("delete test keys %s: %v", p, err)
		}
	})
	return p
}

func deleteKeys(ctx context.Context, c goredis.UniversalClient, match string) error {
	del := func(ctx context.Context, node goredis.UniversalClient) error {
		iter := node.Scan(ctx, 0, match, 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		_, err := node.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range keys {
				p.Unlink(ctx, k)
			}
			return nil
		})
		return err
	}
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error { return del(ctx, node) })
	}
	return del(ctx, c)
}

// claimTimeout is small so that the suite's redelivery tests wait little.
const claimTimeout = time.Second

func newStore(tb testing.TB, c goredis.UniversalClient, p string, sealer bot.Sealer) *redis.Store {
	tb.Helper()
	s, err := redis.New(redis.Options{Client: c, Prefix: p, Sealer: sealer, ClaimTimeout: claimTimeout})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func newStores(tb testing.TB, c goredis.UniversalClient, sealer bot.Sealer) storetest.Stores {
	s := newStore(tb, c, prefix(tb, c), sealer)
	return storetest.Stores{
		Records:      s,
		Marks:        s,
		Queue:        s,
		Timers:       s,
		Audit:        s.Audit(),
		Clock:        bot.SystemClock,
		Wait:         time.Sleep,
		ClaimTimeout: claimTimeout,
	}
}

// topology is a deployment the tests run on. On the Cluster, tests that store sealed data seal
// it, so that encryption is exercised on the harder path too.
type topology struct {
	name   string
	client func(testing.TB) goredis.UniversalClient
	sealed bool
}

var topologies = []topology{
	{name: "standalone", client: standalone},
	{name: "cluster", client: cluster, sealed: true},
}

func TestConformance(t *testing.T) {
	for _, tt := range topologies {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.client(t)
			var sealer bot.Sealer
			if tt.sealed {
				sealer = newSealer(t)
			}
			storetest.Run(t, func(t *testing.T) storetest.Stores { return newStores(t, c, sealer) })
		})
	}
}

func BenchmarkStores(b *testing.B) {
	c := standalone(b)
	storetest.Benchmark(b, func(b *testing.B) storetest.Stores { return newStores(b, c, nil) })
}

// sealer is AES-GCM, as production's, with a marker so tests can tell sealed from plain.
type sealer struct{ aead cipher.AEAD }

const sealMark = "sealed:"

func newSealer(tb testing.TB) *sealer {
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		tb.Fatal(err)
	}
	return &sealer{aead}
}

func (s *sealer) Seal(plain []byte) ([]byte, error) {
	return s.aead.Seal([]byte(sealMark), nil, plain, nil), nil
}

func (s *sealer) Open(sealed []byte) ([]byte, error) {
	rest, ok := strings.CutPrefix(string(sealed), sealMark)
	if !ok {
		return nil, errors.New("not sealed")
	}
	return s.aead.Open(nil, nil, []byte(rest), nil)
}
