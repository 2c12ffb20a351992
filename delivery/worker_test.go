package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/delivery"
	"github.com/tiltas/tiltas/internal/redistest"
)

// platform is a fake chat platform at the Messenger boundary: it records every call and can
// answer 429, 5xx or a permanent error.
type platform struct {
	mu      sync.Mutex
	calls   map[string][]time.Time // conversation → call times
	sent    map[string]int         // message text → times delivered
	fail    func(to bot.Address, text string) error
	block   chan struct{} // when set, every call waits on it (a hung worker)
	waiting chan struct{} // told when a call starts waiting on block
}

func newPlatform() *platform {
	return &platform{calls: map[string][]time.Time{}, sent: map[string]int{}}
}

func (p *platform) Send(ctx context.Context, to bot.Address, m bot.Message) (bot.MessageRef, error) {
	if p.block != nil {
		select {
		case p.waiting <- struct{}{}:
		default:
		}
		select {
		case <-p.block:
		case <-ctx.Done():
			return bot.MessageRef{}, ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[to.Key()] = append(p.calls[to.Key()], time.Now())
	if p.fail != nil {
		if err := p.fail(to, m.Text()); err != nil {
			return bot.MessageRef{}, err
		}
	}
	p.sent[m.Text()]++
	return bot.MessageRef{Platform: to.Platform, Chat: to.User, ID: fmt.Sprint(len(p.sent))}, nil
}

func (p *platform) Edit(ctx context.Context, ref bot.MessageRef, m bot.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent["edit:"+ref.ID+":"+m.Text()]++
	return nil
}

func (p *platform) count(text string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent[text]
}

func (p *platform) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.sent {
		n += v
	}
	return n
}

func newStore(t *testing.T, prefix string) *redis.Store {
	t.Helper()
	s, err := redis.New(redis.Options{Client: redistest.Client(t), Prefix: prefix, ClaimTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func msg(i int, chat string) bot.Outgoing {
	return bot.Outgoing{ID: fmt.Sprintf("m%d", i), Op: bot.OpSend, To: bot.Address{Platform: bot.Telegram, User: chat}, Msg: bot.Message{Lines: []string{fmt.Sprintf("message %d", i)}}, Queued: time.Now()}
}

func worker(s *redis.Store, p bot.Messenger, failed func(context.Context, bot.Outgoing, string)) *delivery.Worker {
	return &delivery.Worker{Platform: bot.Telegram, Queue: s, Messenger: p, Records: s, Failed: failed, Batch: 16}
}

// waitFor polls cond for up to a generous deadline (a hang becomes a failure, not a wait forever).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWorkerKilledMidBatchLosesNothing(t *testing.T) {
	prefix := redistest.Prefix(t, redistest.Client(t))
	a, b := newStore(t, prefix), newStore(t, prefix)
	ctx := context.Background()
	const n = 200
	for i := range n {
		if err := a.Enqueue(ctx, msg(i, fmt.Sprint(i%23))); err != nil {
			t.Fatal(err)
		}
	}
	// Worker A takes a batch and hangs on the platform; then it is killed.
	hung := newPlatform()
	hung.block, hung.waiting = make(chan struct{}), make(chan struct{}, 1)
	actx, kill := context.WithCancel(ctx)
	adone := make(chan struct{})
	go func() { _ = worker(a, hung, nil).Run(actx); close(adone) }()
	select {
	case <-hung.waiting: // A holds a batch and is stuck in a send
	case <-time.After(30 * time.Second):
		t.Fatal("worker A never took a batch")
	}
	kill()
	<-adone
	// Worker B delivers everything, A's batch after the claim timeout.
	live := newPlatform()
	bctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = worker(b, live, nil).Run(bctx) }()
	waitFor(t, "every message", func() bool { return live.total() == n })
	time.Sleep(1500 * time.Millisecond) // a second claim timeout: nothing is delivered twice
	for i := range n {
		if c := live.count(fmt.Sprintf("message %d", i)); c != 1 {
			t.Errorf("message %d delivered %d times", i, c)
		}
	}
	if depth, _, _ := b.Stats(ctx); depth != 0 {
		t.Errorf("%d messages left in the queue", depth)
	}
}

// TestTelegramRetryAfterHoldsEveryChat: Telegram's 429 does not say which limit was hit, so after
// one nothing goes to any chat until its retry_after has passed: not a message taken afterwards,
// nor one that had its slot before the 429 came in and was waiting for it.
func TestTelegramRetryAfterHoldsEveryChat(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	// A claim long enough for a's second message to wait for its slot in the worker.
	s, err := redis.New(redis.Options{Client: c, Prefix: prefix, ClaimTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newPlatform()
	const retryAfter = 5 * time.Second
	var refusedAt time.Time // under p.mu
	p.fail = func(to bot.Address, text string) error {
		if to.User == "b" && refusedAt.IsZero() {
			refusedAt = time.Now()
			return &bot.DeliveryError{Reason: "rate_limited", RetryAfter: retryAfter}
		}
		return nil
	}
	cfg := redis.DefaultLimitConfig()
	tg := cfg.Platforms[bot.Telegram]
	tg.PerChat = redis.Rate{N: 1, Window: 2 * time.Second} // a's second message waits 2 s for its slot
	cfg.Platforms[bot.Telegram] = tg
	lim := redis.NewLimiter(c, prefix, cfg)
	w := worker(s, p, nil)
	w.Limiter = lim
	go func() { _ = w.Run(ctx) }()
	if err := s.Enqueue(ctx, msg(1, "a"), msg(2, "a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's first message", func() bool { return p.count("message 1") == 1 })
	if err := s.Enqueue(ctx, msg(3, "b")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the 429", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return !refusedAt.IsZero() })
	c4 := bot.Address{Platform: bot.Telegram, User: "c"}
	waitFor(t, "the pause", func() bool { d, _ := lim.Held(ctx, c4, bot.OpSend); return d > 0 })
	if err := s.Enqueue(ctx, msg(4, "c")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every message", func() bool {
		return p.count("message 2")+p.count("message 3")+p.count("message 4") == 3
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	for conv, calls := range p.calls {
		for _, at := range calls {
			if d := at.Sub(refusedAt); d > 0 && d < retryAfter {
				t.Errorf("a call to %s %v after the 429, before its retry_after (%v) passed", conv, d, retryAfter)
			}
		}
	}
}

// slowHeld answers Held late once, as Redis does while it restarts (the client retries).
type slowHeld struct {
	bot.Limiter
	once sync.Once
}

func (l *slowHeld) Held(ctx context.Context, to bot.Address, op bot.Op) (time.Duration, error) {
	l.once.Do(func() { time.Sleep(400 * time.Millisecond) })
	return l.Limiter.Held(ctx, to, op)
}

// TestLateSendHoldsTheNextOneBack: a send that goes out later than its reserved moment (here its
// hold check answered 400 ms late) does not bring the next send to that chat closer than the
// chat's limit allows: the load run's Telegram 429 and Slack "2 in one second" after a Redis
// restart.
func TestLateSendHoldsTheNextOneBack(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	s, err := redis.New(redis.Options{Client: c, Prefix: prefix, ClaimTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newPlatform()
	w := worker(s, p, nil)
	w.Limiter = &slowHeld{Limiter: redis.NewLimiter(c, prefix, redis.DefaultLimitConfig())}
	if err := s.Enqueue(ctx, msg(1, "a"), msg(2, "a"), msg(3, "a")); err != nil {
		t.Fatal(err)
	}
	go func() { _ = w.Run(ctx) }()
	waitFor(t, "the three messages", func() bool { return p.total() == 3 })
	p.mu.Lock()
	defer p.mu.Unlock()
	calls := p.calls[bot.Address{Platform: bot.Telegram, User: "a"}.Key()]
	for i := 1; i < len(calls); i++ {
		if gap := calls[i].Sub(calls[i-1]); gap < time.Second {
			t.Errorf("send %d went %v after the one before it; Telegram allows one a second per chat", i+1, gap)
		}
	}
}

func TestOutageThenEverythingArrives(t *testing.T) {
	prefix := redistest.Prefix(t, redistest.Client(t))
	s := newStore(t, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newPlatform()
	until := time.Now().Add(2 * time.Second)
	p.fail = func(bot.Address, string) error {
		if time.Now().Before(until) {
			return &bot.DeliveryError{Reason: "unavailable", Err: errors.New("502 Bad Gateway")}
		}
		return nil
	}
	for i := range 40 {
		if err := s.Enqueue(ctx, msg(i, fmt.Sprint(i%5))); err != nil {
			t.Fatal(err)
		}
	}
	go func() { _ = worker(s, p, nil).Run(ctx) }()
	waitFor(t, "every message after the outage", func() bool { return p.total() == 40 })
	for i := range 40 {
		if p.count(fmt.Sprintf("message %d", i)) != 1 {
			t.Errorf("message %d delivered %d times", i, p.count(fmt.Sprintf("message %d", i)))
		}
	}
}

func TestPermanentFailureStopsAndIsReported(t *testing.T) {
	prefix := redistest.Prefix(t, redistest.Client(t))
	s := newStore(t, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newPlatform()
	p.fail = func(to bot.Address, _ string) error {
		if to.User == "blocked" {
			return &bot.DeliveryError{Permanent: true, Reason: "blocked"}
		}
		return nil
	}
	var mu sync.Mutex
	var reasons, receipts []string
	w := worker(s, p, func(_ context.Context, o bot.Outgoing, reason string) {
		mu.Lock()
		reasons = append(reasons, o.ID+":"+reason)
		mu.Unlock()
	})
	// Both ask for a receipt: only the one sent is heard of.
	w.Delivered = func(_ context.Context, o bot.Outgoing, _ time.Time) error {
		mu.Lock()
		receipts = append(receipts, o.ID+":"+o.Receipt)
		mu.Unlock()
		return nil
	}
	go func() { _ = w.Run(ctx) }()
	m1, m2 := msg(1, "blocked"), msg(2, "fine")
	m1.Receipt, m2.Receipt = "request/R1", "request/R1"
	if err := s.Enqueue(ctx, m1, m2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failure report", func() bool { mu.Lock(); defer mu.Unlock(); return len(reasons) == 1 })
	waitFor(t, "the other message", func() bool { return p.count("message 2") == 1 })
	waitFor(t, "the receipt", func() bool { mu.Lock(); defer mu.Unlock(); return len(receipts) > 0 })
	time.Sleep(1500 * time.Millisecond)
	p.mu.Lock()
	if n := len(p.calls[bot.Address{Platform: bot.Telegram, User: "blocked"}.Key()]); n != 1 {
		t.Errorf("a permanent failure was retried: %d calls", n)
	}
	p.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if reasons[0] != "m1:blocked" {
		t.Errorf("reported %v", reasons)
	}
	if strings.Join(receipts, " ") != "m2:request/R1" {
		t.Errorf("receipts %v, want only the sent message's", receipts)
	}
}

func TestDeliveredMessageIsNotSentAgainAndEditsFindIt(t *testing.T) {
	prefix := redistest.Prefix(t, redistest.Client(t))
	s := newStore(t, prefix)
	ctx := context.Background()
	p := newPlatform()
	w := worker(s, p, nil)
	first := msg(1, "a")
	first.RefKey = "alert/A1/ona"
	if err := s.Enqueue(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// A timer replayed after a crash queues the same message again: nothing is sent.
	if err := s.Enqueue(ctx, first); err != nil {
		t.Fatal(err)
	}
	edit := bot.Outgoing{ID: "e1", Op: bot.OpEdit, To: first.To, RefKey: "alert/A1/ona", Msg: bot.Message{Lines: []string{"acknowledged"}}, Queued: time.Now()}
	if err := s.Enqueue(ctx, edit); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if p.count("message 1") != 1 {
		t.Errorf("sent %d times", p.count("message 1"))
	}
	if p.count("edit:1:acknowledged") != 1 {
		t.Errorf("edit did not reach the sent message: %v", p.sent)
	}
}

// flakyDone is a queue whose Done fails a few times, as while Redis restarts.
type flakyDone struct {
	*redis.Store
	mu    sync.Mutex
	fails int
}

func (q *flakyDone) Done(ctx context.Context, d bot.Delivery, ref bot.MessageRef) error {
	q.mu.Lock()
	if q.fails > 0 {
		q.fails--
		q.mu.Unlock()
		return errors.New("redis: connection refused")
	}
	q.mu.Unlock()
	return q.Store.Done(ctx, d, ref)
}

// A message sent while Redis is away for a moment is recorded as sent once Redis is back, so
// that no worker sends it again after the claim runs out.
func TestASendRecordedWhileRedisIsAwayIsNotSentAgain(t *testing.T) {
	prefix := redistest.Prefix(t, redistest.Client(t))
	a, b := newStore(t, prefix), newStore(t, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := a.Enqueue(ctx, msg(1, "42")); err != nil {
		t.Fatal(err)
	}
	p := newPlatform()
	q := &flakyDone{Store: a, fails: 3}
	wa := &delivery.Worker{Platform: bot.Telegram, Queue: q, Messenger: p, Records: a, Batch: 16}
	go func() { _ = wa.Run(ctx) }()
	waitFor(t, "the message", func() bool { return p.count("message 1") == 1 })
	go func() { _ = worker(b, p, nil).Run(ctx) }() // another replica, ready to take it over
	time.Sleep(2500 * time.Millisecond)            // two claim timeouts
	q.mu.Lock()
	if q.fails != 0 {
		t.Errorf("Done failed %d times, want 3", 3-q.fails)
	}
	q.mu.Unlock()
	if n := p.count("message 1"); n != 1 {
		t.Fatalf("message sent %d times, want once", n)
	}
	if depth, _, _ := b.Stats(ctx); depth != 0 {
		t.Errorf("%d messages left in the queue", depth)
	}
}
