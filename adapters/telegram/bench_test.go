package telegram_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/delivery"
	"github.com/tiltas/tiltas/inbound"
)

// benchChats is how many people write to the bot at once in the benchmark.
const benchChats = 50

// BenchmarkInbound measures updates per second end to end — updates waiting at the fake Bot API
// server until a reply to each has reached it — for Tiltas (adapter polling under its lease,
// durable inbox, processor, engine with the alerts flow, outbox, delivery worker) and, on the
// same fake in the same run, for a bare go-telegram/bot echo bot without state or queue. The two
// take turns over rounds of up to 5,000 text messages from 50 private chats, so that whatever
// else runs on the machine weighs on both alike; rate limits are off on the fake and in the
// delivery limiter. It reports both rates, their ratio, and the latency from an update entering
// the inbox to its reply entering the outbox under that full load (p50, p99; a backlog builds
// up, so these include queueing: BenchmarkInboundLatency measures at a steady rate).
//
//	go test -run '^$' -bench 'BenchmarkInbound$' -benchtime 20000x ./adapters/telegram/
//
// With TILTAS_TEST_REDIS_URL set, the Tiltas side also runs with its records, marks and outbox
// in Redis, the inbox and the locker included.
func BenchmarkInbound(b *testing.B) {
	for _, v := range benchVariants() {
		b.Run(v.name, func(b *testing.B) {
			srv := telegramtest.New(b, telegramtest.Options{Limits: telegramtest.Limits{Disabled: true}})
			var bare, tiltas time.Duration
			var spans []time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(5000, b.N-done)
				bare += benchBare(b, srv, benchChats, n, "labas")
				res := benchTiltas(b, srv, v.stores(b), tiltasRun{n: n, chats: benchChats, text: "labas"})
				tiltas += res.took
				spans = append(spans, res.spans...)
				done += n
			}
			b.StopTimer()
			bareRate, tiltasRate := float64(b.N)/bare.Seconds(), float64(b.N)/tiltas.Seconds()
			p50, p99 := percentiles(spans)
			b.ReportMetric(bareRate, "bare-updates/s")
			b.ReportMetric(tiltasRate, "tiltas-updates/s")
			b.ReportMetric(tiltasRate/bareRate, "ratio")
			b.ReportMetric(ms(p50), "p50-ms")
			b.ReportMetric(ms(p99), "p99-ms")
		})
	}
}

// BenchmarkInboundLatency offers b.N updates from 50 chats at a steady 500 a second (ten a
// second per chat) to Tiltas and reports the latency from an update entering the inbox to its
// reply entering the outbox, and from the update being queued at the fake to the reply
// reaching it (p50, p99).
//
//	go test -run '^$' -bench 'BenchmarkInboundLatency' -benchtime 5000x ./adapters/telegram/
func BenchmarkInboundLatency(b *testing.B) {
	for _, v := range benchVariants() {
		b.Run(v.name, func(b *testing.B) {
			srv := telegramtest.New(b, telegramtest.Options{Limits: telegramtest.Limits{Disabled: true}})
			b.ResetTimer()
			res := benchTiltas(b, srv, v.stores(b), tiltasRun{n: b.N, every: 2 * time.Millisecond, chats: benchChats, text: "labas"})
			b.StopTimer()
			p50, p99 := percentiles(res.spans)
			e50, e99 := percentiles(res.endToEnd)
			b.ReportMetric(ms(p50), "p50-ms")
			b.ReportMetric(ms(p99), "p99-ms")
			b.ReportMetric(ms(e50), "e2e-p50-ms")
			b.ReportMetric(ms(e99), "e2e-p99-ms")
		})
	}
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

type benchVariant struct {
	name   string
	stores func(b *testing.B) benchStores
}

func benchVariants() []benchVariant {
	vs := []benchVariant{{"memory", memoryBenchStores}}
	if url := os.Getenv("TILTAS_TEST_REDIS_URL"); url != "" {
		vs = append(vs, benchVariant{"redis", func(b *testing.B) benchStores { return redisBenchStores(b, url) }})
	}
	return vs
}

// pushBatch queues n private text messages from chats users starting at firstUser, and
// returns the first update ID.
func pushBatch(srv *telegramtest.Server, firstUser int64, chats, n int, text string) int {
	first := 0
	for i := range n {
		id := srv.PushUpdate(srv.PrivateMessage(firstUser+int64(i%chats), text))
		if i == 0 {
			first = id
		}
	}
	return first
}

// waitReplies waits for n accepted sends to chats in [firstUser, firstUser+chats) that
// arrived at or after since, and returns when the last of them arrived.
func waitReplies(b *testing.B, srv *telegramtest.Server, firstUser int64, chats, n int, since time.Time) time.Time {
	deadline := time.Now().Add(5*time.Minute + time.Duration(n)*time.Millisecond)
	for {
		var last time.Time
		got := 0
		for _, s := range srv.Sends() {
			if s.ChatID >= firstUser && s.ChatID < firstUser+int64(chats) && !s.Time.Before(since) {
				got++
				last = s.Time
			}
		}
		if got >= n {
			return last
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d replies arrived", got, n)
		}
		// Sends copies and sorts every send so far: asking seldom keeps the measuring cheap. The
		// time measured is the fake's arrival time of the last reply, not when this loop noticed.
		time.Sleep(200 * time.Millisecond)
	}
}

// confirm tells the fake that everything up to and including update last was received, as the
// next poll of a bot would.
func confirm(b *testing.B, srv *telegramtest.Server, last int) {
	body := fmt.Sprintf(`{"offset":%d,"timeout":0}`, last+1)
	resp, err := http.Post(srv.URL()+"/bot"+srv.Token()+"/getUpdates", "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
}

// benchBare runs the bare echo bot over n queued updates and returns how long it took.
// The bare bot echoes what it gets; with reply set it sends that instead.
func benchBare(b *testing.B, srv *telegramtest.Server, chats, n int, text string, reply ...string) time.Duration {
	p := peerBot{firstUser: 100001, chats: chats, n: n, text: text}
	if len(reply) > 0 {
		p.reply = reply[0]
	}
	return benchPeer(b, srv, p)
}

// peerBot is a bot Tiltas is measured against: go-telegram/bot answering each of n queued
// updates from chats users starting at firstUser, with reply (or, when empty, the update's own
// text), after before (when set) has done its work for the chat.
type peerBot struct {
	firstUser int64
	chats, n  int
	text      string
	reply     string
	before    func(ctx context.Context, chat int64) error
	measure   func() func() // as tiltasRun's
}

// benchPeer runs p over its queued updates and returns how long it took.
func benchPeer(b *testing.B, srv *telegramtest.Server, p peerBot) time.Duration {
	b.StopTimer()
	first := pushBatch(srv, p.firstUser, p.chats, p.n, p.text)
	// The same connection pool as the adapter's, so that the baseline is not held back by the
	// default transport's two idle connections per host.
	transport := &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second}
	defer transport.CloseIdleConnections()
	peer, err := tg.New(srv.Token(), tg.WithServerURL(srv.URL()), tg.WithSkipGetMe(),
		tg.WithHTTPClient(time.Minute, &http.Client{Transport: transport, Timeout: time.Minute}),
		tg.WithErrorsHandler(func(err error) { b.Error(err) }),
		tg.WithDefaultHandler(func(ctx context.Context, bt *tg.Bot, u *models.Update) {
			if u.Message == nil {
				return
			}
			if p.before != nil {
				if err := p.before(ctx, u.Message.Chat.ID); err != nil {
					b.Error(err)
					return
				}
			}
			out := u.Message.Text
			if p.reply != "" {
				out = p.reply
			}
			if _, err := bt.SendMessage(ctx, &tg.SendMessageParams{ChatID: u.Message.Chat.ID, Text: out}); err != nil && ctx.Err() == nil {
				b.Error(err)
			}
		}))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stop := func() {}
	if p.measure != nil {
		stop = p.measure()
	}
	start := time.Now()
	b.StartTimer()
	wg.Go(func() { peer.Start(ctx) })
	last := waitReplies(b, srv, p.firstUser, p.chats, p.n, start)
	b.StopTimer()
	stop()
	cancel()
	wg.Wait()
	confirm(b, srv, first+p.n-1)
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	b.StartTimer()
	return last.Sub(start)
}

// benchStores are the stores one Tiltas run uses.
type benchStores struct {
	records bot.Records
	marks   bot.Marks
	audit   bot.Audit
	timers  bot.Timers
	queue   bot.DeliveryQueue
	inbox   bot.Inbox
	locker  bot.Locker
}

func memoryBenchStores(*testing.B) benchStores {
	mem := memory.New(nil)
	return benchStores{records: mem, marks: mem, audit: mem.Audit(), timers: mem, queue: mem, inbox: memory.NewInbox(nil), locker: memory.NewLocker(nil)}
}

func redisBenchStores(b *testing.B, url string) benchStores {
	ctx := context.Background()
	c, err := redis.Connect(ctx, url, redis.Topology{})
	if err != nil {
		b.Fatalf("TILTAS_TEST_REDIS_URL: %v", err)
	}
	prefix := "tiltas-bench-" + rand.Text()[:8]
	st, err := redis.New(redis.Options{Client: c, Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = c.Close()
	})
	return benchStores{records: st, marks: st, audit: st.Audit(), timers: st, queue: st,
		inbox: redis.NewInbox(redis.InboxOptions{Client: c, Prefix: prefix}), locker: redis.NewLocker(c, prefix)}
}

type benchResult struct {
	took     time.Duration
	spans    []time.Duration // inbox to outbox, per update
	endToEnd []time.Duration // queued at the fake to reply at the fake, per update (paced runs)
}

// tiltasRun is one run of Tiltas: n updates saying text from chats linked people, queued before
// it starts when every is zero, or else pushed one every "every" while it runs.
type tiltasRun struct {
	n, chats int
	every    time.Duration
	text     string
	// measure, when set, is called as the run starts and returns what to call when its last
	// reply has arrived (setup and teardown fall outside).
	measure func() func()
}

// benchTiltas runs Tiltas over r.n updates.
func benchTiltas(b *testing.B, srv *telegramtest.Server, st benchStores, r tiltasRun) benchResult {
	n, every, chats := r.n, r.every, r.chats
	b.StopTimer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := config.Parse(bytes.NewReader(config.Example()), config.ExampleEnv)
	if err != nil {
		b.Fatal(err)
	}
	texts, err := bot.LoadCatalog()
	if err != nil {
		b.Fatal(err)
	}
	tap := newLatencyTap(st.queue)
	log := slog.New(slog.DiscardHandler)
	// One linked person per chat: social workers of the example municipality.
	dir := cfg.Directory()
	for i := range chats {
		dir.People = append(dir.People, &bot.Person{ID: fmt.Sprintf("bench-%02d", i), Name: fmt.Sprintf("Darbuotoja %02d", i),
			Institution: "socpaslaugos", Roles: []bot.Role{bot.RoleSocialWorker}})
	}
	dir.Index()
	e := bot.NewEngine(bot.Deps{Records: st.records, Marks: st.marks, Outbox: tap, Timers: st.timers, Audit: st.audit, Texts: texts, Log: log},
		cfg.Settings(), dir)
	alerts.Register(e, alertsConfig(cfg))
	const firstUser = 200001
	for i := range chats {
		uid := strconv.Itoa(firstUser + i)
		if err := e.Link(ctx, fmt.Sprintf("bench-%02d", i), bot.Identity{Platform: bot.Telegram, User: uid}, bot.Address{Platform: bot.Telegram, Chat: uid}); err != nil {
			b.Fatal(err)
		}
	}
	inbox := &inboxTap{Inbox: st.inbox, tap: tap}
	locker := st.locker
	ad, err := telegram.New(telegram.Config{Token: srv.Token(), APIURL: srv.URL(), BotUsername: botName},
		telegram.Deps{Inbox: inbox, Locker: locker, Records: st.records, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	defer ad.Close()
	if err := ad.Start(ctx, telegram.EngineCommands(e)); err != nil {
		b.Fatal(err)
	}
	proc := &inbound.Processor{Inbox: inbox, Locker: locker, Marks: st.marks, Handle: e.Handle,
		Answer: map[bot.Platform]bot.Answerer{bot.Telegram: ad}, Log: log}
	worker := &delivery.Worker{Platform: bot.Telegram, Queue: st.queue, Messenger: ad, Limiter: memory.NewLimiter(memory.LimitConfig{}),
		Records: st.records, Log: log, Failed: e.Undeliverable}
	first := 0
	if every == 0 {
		first = pushBatch(srv, firstUser, chats, n, r.text)
	}
	var wg sync.WaitGroup
	stop := func() {}
	if r.measure != nil {
		stop = r.measure()
	}
	start := time.Now()
	b.StartTimer()
	for _, run := range []func(context.Context) error{ad.RunPolling, proc.Run, worker.Run} {
		wg.Go(func() {
			if err := run(ctx); err != nil {
				b.Error(err)
			}
		})
	}
	var pushed []time.Time
	if every > 0 {
		tick := time.NewTicker(every)
		for i := range n {
			<-tick.C
			pushed = append(pushed, time.Now())
			id := srv.PushUpdate(srv.PrivateMessage(firstUser+int64(i%chats), r.text))
			if i == 0 {
				first = id
			}
		}
		tick.Stop()
	}
	last := waitReplies(b, srv, firstUser, chats, n, start)
	b.StopTimer()
	stop()
	cancel()
	wg.Wait()
	confirm(b, srv, first+n-1)
	b.StartTimer()
	res := benchResult{took: last.Sub(start), spans: tap.spans}
	if every > 0 {
		// Each chat's replies come in the order of its messages: the k-th reply in a chat
		// answers its k-th message.
		replies := map[int64][]time.Time{}
		for _, s := range srv.Sends() {
			if s.ChatID >= firstUser && s.ChatID < firstUser+int64(chats) && !s.Time.Before(start) {
				replies[s.ChatID] = append(replies[s.ChatID], s.Time)
			}
		}
		for i, at := range pushed {
			chat := firstUser + int64(i%chats)
			if k := i / benchChats; k < len(replies[chat]) {
				res.endToEnd = append(res.endToEnd, replies[chat][k].Sub(at))
			}
		}
	}
	return res
}

// latencyTap times each update from entering the inbox to its first reply entering the
// outbox. It only watches; it changes nothing.
type latencyTap struct {
	bot.DeliveryQueue
	mu    sync.Mutex
	in    map[string]time.Time
	spans []time.Duration
}

func newLatencyTap(q bot.DeliveryQueue) *latencyTap {
	return &latencyTap{DeliveryQueue: q, in: map[string]time.Time{}}
}

// Enqueue notes the replies' times; a reply's ID is "in:<update ID>:<n>".
func (t *latencyTap) Enqueue(ctx context.Context, msgs ...bot.Outgoing) error {
	err := t.DeliveryQueue.Enqueue(ctx, msgs...)
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range msgs {
		id, ok := strings.CutPrefix(m.ID, "in:")
		if i := strings.LastIndexByte(id, ':'); ok && i > 0 {
			if at, seen := t.in[id[:i]]; seen {
				t.spans = append(t.spans, now.Sub(at))
				delete(t.in, id[:i])
			}
		}
	}
	return err
}

func percentiles(spans []time.Duration) (p50, p99 time.Duration) {
	if len(spans) == 0 {
		return 0, 0
	}
	s := slices.Clone(spans)
	slices.Sort(s)
	return s[len(s)*50/100], s[min(len(s)-1, len(s)*99/100)]
}

// inboxTap notes when each update enters the inbox.
type inboxTap struct {
	bot.Inbox
	tap *latencyTap
}

func (t *inboxTap) Push(ctx context.Context, in bot.Incoming) (bool, error) {
	t.tap.mu.Lock()
	t.tap.in[in.ID] = time.Now()
	t.tap.mu.Unlock()
	return t.Inbox.Push(ctx, in)
}

func (t *inboxTap) PushAll(ctx context.Context, ins []bot.Incoming) error {
	now := time.Now()
	t.tap.mu.Lock()
	for _, in := range ins {
		t.tap.in[in.ID] = now
	}
	t.tap.mu.Unlock()
	return t.Inbox.PushAll(ctx, ins)
}
