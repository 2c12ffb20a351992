package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/redistest"
)

// BenchmarkUnauthenticatedFlood runs serve (the example municipality, Telegram in webhook mode
// against the Bot API fake, an integration) on loopback and floods it for FLOOD_SECONDS (60) at
// FLOOD_RATE (2,000) requests a second from 1,024 source addresses in 127.0.0.0/8, a third each:
// integration-API requests with a wrong token, Telegram webhook requests with a wrong secret, and
// Telegram messages (right secret) from 20,000 people nobody linked. Meanwhile an authenticated,
// urgent alert is posted. Its first escalation step is set to a minute and the bot's clock runs
// twice as fast, so that it falls due 30 s after the alert, inside the flood (the strangers'
// reply budget, 60 a minute of the bot's clock, is then 120 a real minute).
//
// It reports the rate reached, what the flood was answered (refused-401, throttled-429, other),
// Redis memory before and after (used_memory, after the refusal summaries are written), the
// alert's status, and how late its first escalation fired (real ms after due, polled from
// /metrics every 20 ms).
//
//	scripts/test -run '^$' -bench UnauthenticatedFlood -benchtime 1x -timeout 20m ./cmd/tiltas/
func BenchmarkUnauthenticatedFlood(b *testing.B) {
	seconds := envInt("FLOOD_SECONDS", 60)
	rateN := envInt("FLOOD_RATE", 2000)
	for range b.N {
		floodRun(b, time.Duration(seconds)*time.Second, rateN)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

const (
	floodSecret   = "flood-webhook-secret-0123456789"
	floodAPIToken = "integration-token-0123456789"
	floodSources  = 1024
	speed         = 2
)

func floodRun(b *testing.B, d time.Duration, perSecond int) {
	b.StopTimer()
	tg := telegramtest.New(b, telegramtest.Options{AllowInvalid: true})
	c := redistest.Client(b)
	prefix := redistest.Prefix(b, c)
	addr := freeAddr(b)
	raw := withoutExampleKeys(string(config.Example()))
	raw = strings.Replace(raw, "url: redis://127.0.0.1:6379/0", "url: "+os.Getenv("TILTAS_TEST_REDIS_URL"), 1)
	raw = strings.Replace(raw, "prefix: tiltas", "prefix: "+prefix, 1)
	// The alert's first step a minute after it, on a clock twice as fast: due 30 s after it.
	raw = strings.Replace(raw, "groups: [vtas-grupe], wait: 10m}", "groups: [vtas-grupe], wait: 1m}", 1)
	raw = strings.Replace(raw, `listen: ":8080"`, `listen: "`+addr+`"`+"\n  public_url: https://tiltas.example.lt", 1)
	raw = strings.Replace(raw, `metrics_listen: ":9090"`, `metrics_listen: "`+freeAddr(b)+`"`, 1)
	raw += fmt.Sprintf(`
telegram:
  token: %q
  api_url: %q
  mode: webhook
  webhook_secret: %q
  bot_username: tiltas_rajonas_bot
integrations:
  - {id: policijos-registras, institution: policija, token: %q}
encryption:
  keys:
    - {id: k1, key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
`, tg.Token(), tg.URL(), floodSecret, floodAPIToken)
	path := b.TempDir() + "/tiltas.yaml"
	if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		b.Fatal(err)
	}
	clock, err := acceleratedClock(speed, "2027-01-05T09:00:00+02:00") // a Tuesday morning
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runServeClock(ctx, cfg, path, slog.New(slog.DiscardHandler), clock) }()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("serve never became ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // startup writes settle
	memBefore := usedMemory(b, c)

	clients := make([]*http.Client, floodSources)
	for i := range clients {
		local := &net.TCPAddr{IP: net.IPv4(127, 1, byte(i/256), byte(i%256+1))}
		dialer := &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
		clients[i] = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 2}}
	}
	var sent, refused, throttled, other, failed atomic.Int64
	var n atomic.Int64
	work := make(chan int, 4096)
	var wg sync.WaitGroup
	for range 256 {
		wg.Go(func() {
			for i := range work {
				req := floodRequest(base, i)
				resp, err := clients[i%floodSources].Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 401, 403:
					refused.Add(1)
				case 429:
					throttled.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}

	b.StartTimer()
	start := time.Now()
	// The authenticated alert, five seconds in.
	alertStatus := make(chan int, 1)
	var alertAt time.Time
	go func() {
		time.Sleep(5 * time.Second)
		req, _ := http.NewRequest("POST", base+"/api/v1/alerts", strings.NewReader(`{"case":"K-2027-001","category":"violence","urgency":"urgent","description":"Floodo metu"}`))
		req.Header.Set("Authorization", "Bearer "+floodAPIToken)
		req.Header.Set("Content-Type", "application/json")
		alertAt = time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			alertStatus <- 0
			return
		}
		resp.Body.Close()
		alertStatus <- resp.StatusCode
	}()
	escalated := make(chan time.Time, 1)
	go func() {
		for ctx.Err() == nil {
			if metric(base, "tiltas_escalations_total") >= 1 {
				escalated <- time.Now()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	per := perSecond / 100
	for time.Since(start) < d {
		<-tick.C
		for range per {
			work <- int(n.Add(1))
		}
	}
	tick.Stop()
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sent.Store(n.Load())

	status := <-alertStatus
	var late time.Duration = -1
	select {
	case at := <-escalated:
		due := alertAt.Add(time.Minute / speed)
		late = at.Sub(due)
	case <-time.After(45 * time.Second):
	}
	time.Sleep(65 * time.Second) // the refusal gate writes each minute's summary once it is over
	memAfter := usedMemory(b, c)
	logKeyFamilies(b, c, prefix)
	cancel()
	<-done

	b.ReportMetric(float64(sent.Load())/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(refused.Load()), "refused-401")
	b.ReportMetric(float64(throttled.Load()), "throttled-429")
	b.ReportMetric(float64(other.Load()), "other")
	b.ReportMetric(float64(failed.Load()), "failed")
	b.ReportMetric(float64(memBefore)/1e6, "redis-MB-before")
	b.ReportMetric(float64(memAfter-memBefore)/1e6, "redis-MB-growth")
	b.ReportMetric(float64(status), "alert-status")
	b.ReportMetric(float64(late.Milliseconds()), "escalation-late-ms")
}

// floodRequest is the i-th request of the flood: a wrong API token, a wrong webhook secret, or
// a message from someone nobody linked.
func floodRequest(base string, i int) *http.Request {
	switch i % 3 {
	case 0:
		req, _ := http.NewRequest("POST", base+"/api/v1/alerts", strings.NewReader(`{"case":"K-2027-002","category":"other","urgency":"routine","description":"x"}`))
		req.Header.Set("Authorization", "Bearer wrong-token-"+strconv.Itoa(i%50))
		req.Header.Set("Content-Type", "application/json")
		return req
	case 1:
		req, _ := http.NewRequest("POST", base+telegramWebhookPath, strings.NewReader(strangerUpdate(i)))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "wrong-secret-0123456789")
		req.Header.Set("Content-Type", "application/json")
		return req
	default:
		req, _ := http.NewRequest("POST", base+telegramWebhookPath, strings.NewReader(strangerUpdate(i)))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", floodSecret)
		req.Header.Set("Content-Type", "application/json")
		return req
	}
}

func strangerUpdate(i int) string {
	user := 700000000 + i%20000
	return fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"Nepažįstamas"},"chat":{"id":%d,"type":"private","first_name":"Nepažįstamas"},"date":%d,"text":"labas"}}`,
		100000+i, i, user, user, time.Now().Unix())
}

// usedMemory is Redis's used_memory.
func usedMemory(b *testing.B, c goredis.UniversalClient) int64 {
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no used_memory in INFO memory")
	return 0
}

var reMetric = regexp.MustCompile(`(?m)^(\S+) (\S+)$`)

// metric reads one unlabelled series from /metrics.
func metric(base, name string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := reMetric.FindStringSubmatch(sc.Text()); m != nil && m[1] == name {
			v, _ := strconv.ParseFloat(m[2], 64)
			return v
		}
	}
	return -1
}

var reDigits = regexp.MustCompile(`[0-9a-f]{6,}|\d+`)

// logKeyFamilies logs, for -v, how many keys of each shape the run left and their memory.
func logKeyFamilies(b *testing.B, c goredis.UniversalClient, prefix string) {
	ctx := context.Background()
	count, bytes := map[string]int{}, map[string]int64{}
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		f := reDigits.ReplaceAllString(strings.TrimPrefix(k, prefix), "N")
		count[f]++
		n, _ := c.MemoryUsage(ctx, k).Result()
		bytes[f] += n
	}
	for f, n := range count {
		if bytes[f] > 20000 {
			b.Logf("%-50s %6d keys %9d bytes", f, n, bytes[f])
		}
	}
}
