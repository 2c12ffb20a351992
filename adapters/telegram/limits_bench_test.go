package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/inbound"
	"github.com/tiltas/tiltas/internal/app"
	"github.com/tiltas/tiltas/internal/redistest"
	"github.com/tiltas/tiltas/refusal"
)

// BenchmarkTelegramLimits runs Tiltas against the fake Bot API enforcing Telegram's limits (30
// sends a second overall, 1 a second per private chat, 20 a minute per group) and its flood
// control (a send before a retry_after has passed is refused and lengthens it): a burst of 2,000
// updates from 400 people who are not linked, and at the same moment a meeting reminder to 300
// people, delivered by three workers (three replicas) sharing the Redis limiter. It reports:
//
//   - early-bot: sends a worker started after a 429 had reached any worker and before its
//     retry_after passed (target 0), counted at the workers' Messenger;
//
//   - early-fake: sends the fake saw arrive during a retry_after that concerned them (also those
//     already on their way when the 429 was answered);
//
//   - 429s, invalid (requests the spec validation refused; target 0), sends;
//
//   - %of-30/s: the rate sustained while the backlog lasted (until the outbox first held less than
//     a second's worth, 30 messages), the sends until then over the time from the first, as a
//     share of 30 a second
//     (target at least 90); %of-30/s-to-last the same up to the very last send, through the tail
//     where the last chats wait for their own one a second; busiest-s, the most sends in any one
//     second.
//
//     scripts/test -run '^$' -bench TelegramLimits -benchtime 1x ./adapters/telegram/
//
// It runs with the default jitter guard (100 ms) and with the former 25 ms; overall is the fake's
// overall limit (Telegram's 30 a second in both).
func BenchmarkTelegramLimits(b *testing.B) {
	for _, v := range []struct {
		name    string
		guard   time.Duration
		overall int
	}{
		{"guard=100ms", bot.DefaultMargin, 30},
		{"guard=25ms", 25 * time.Millisecond, 30},
	} {
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				limitsRun(b, v.guard, v.overall)
			}
		})
	}
}

const (
	limitsInvitees  = 300
	limitsStrangers = 400
	limitsUpdates   = 2000
)

func limitsRun(b *testing.B, guard time.Duration, overall int) {
	b.StopTimer()
	c := redistest.Client(b)
	prefix := redistest.Prefix(b, c)
	srv := telegramtest.New(b, telegramtest.Options{AllowInvalid: true, Limits: telegramtest.Limits{Global: telegramtest.Window{N: overall, Per: time.Second}}})
	cfg, err := config.Parse(bytes.NewReader(config.Example()), config.ExampleEnv)
	if err != nil {
		b.Fatal(err)
	}
	// The example's leaders' meeting: the first Thursday of January 2027 at 10:00, reminded an
	// hour before. The app's clock starts just before that reminder, so that it and the updates
	// come in together.
	loc, _ := time.LoadLocation("Europe/Vilnius")
	due := time.Date(2027, time.January, 7, 9, 0, 0, 0, loc)
	offset := time.Until(due.Add(-200 * time.Millisecond))
	clock := bot.ClockFunc(func() time.Time { return time.Now().Add(offset) })
	dir := cfg.Directory()
	for i := range limitsInvitees {
		dir.People = append(dir.People, &bot.Person{ID: fmt.Sprintf("vadove-%03d", i), Name: fmt.Sprintf("Vadovė %03d", i),
			Institution: "savivaldybe", Roles: []bot.Role{bot.RoleLeader}})
	}
	dir.Index()
	st, err := redis.New(redis.Options{Client: c, Prefix: prefix, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gate := refusal.New(refusal.Options{Log: st.Audit(), Logger: log})
	a, err := app.New(app.Options{Config: cfg, Directory: dir, Stores: app.Stores{Records: st, Marks: st, Audit: st.Audit(), Timers: st, Queue: st},
		Clock: clock, Log: log, Gate: gate})
	if err != nil {
		b.Fatal(err)
	}
	const firstInvitee, firstStranger = 300001, 500001
	for i := range limitsInvitees {
		uid := strconv.Itoa(firstInvitee + i)
		if err := a.Engine.Link(ctx, fmt.Sprintf("vadove-%03d", i), bot.Identity{Platform: bot.Telegram, User: uid}, bot.Address{Platform: bot.Telegram, Chat: uid}); err != nil {
			b.Fatal(err)
		}
	}
	if err := a.Plan(ctx); err != nil {
		b.Fatal(err)
	}
	inbox := redis.NewInbox(redis.InboxOptions{Client: c, Prefix: prefix})
	locker := redis.NewLocker(c, prefix)
	ad, err := telegram.New(telegram.Config{Token: srv.Token(), APIURL: srv.URL(), BotUsername: botName},
		telegram.Deps{Inbox: inbox, Locker: locker, Records: st, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	defer ad.Close()
	if err := ad.Start(ctx, telegram.EngineCommands(a.Engine)); err != nil {
		b.Fatal(err)
	}
	proc := &inbound.Processor{Inbox: inbox, Locker: locker, Marks: st, Handle: a.Engine.Handle,
		Answer: map[bot.Platform]bot.Answerer{bot.Telegram: ad}, Log: log}
	watch := &watchedMessenger{Messenger: ad}
	runs := []func(context.Context) error{ad.RunPolling, proc.Run, a.Runner().Run, gate.Run}
	for range 3 { // three replicas' workers, one limiter in Redis
		w := a.Worker(bot.Telegram, watch)
		limits := redis.DefaultLimitConfig()
		tg := limits.Platforms[bot.Telegram]
		tg.Margin = guard
		limits.Platforms[bot.Telegram] = tg
		w.Limiter = redis.NewLimiter(c, prefix, limits)
		runs = append(runs, w.Run)
	}
	for i := range limitsUpdates {
		srv.PushUpdate(srv.PrivateMessage(int64(firstStranger+i%limitsStrangers), "labas"))
	}
	var wg sync.WaitGroup
	start := time.Now()
	b.StartTimer()
	for _, run := range runs {
		wg.Go(func() {
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				b.Error(err)
			}
		})
	}
	// Done when every invitee has the reminder and nothing is left to send. The backlog lasts
	// until the queue first holds less than a second's worth after it filled.
	deadline := time.Now().Add(5 * time.Minute)
	var filled bool
	var backlogEnd time.Time
	for {
		reminded := 0
		for i := range limitsInvitees {
			if len(srv.Sent(int64(firstInvitee+i))) > 0 {
				reminded++
			}
		}
		depth, _, err := st.Stats(ctx)
		switch {
		case err != nil:
		case depth >= 30:
			filled = true
		case filled && backlogEnd.IsZero():
			backlogEnd = time.Now()
		}
		if reminded == limitsInvitees && err == nil && depth == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("after 5 minutes %d of %d invitees reminded, %d messages queued", reminded, limitsInvitees, depth)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	cancel()
	wg.Wait()

	var times []time.Time
	for _, s := range srv.Sends() {
		if !s.Time.Before(start) {
			times = append(times, s.Time)
		}
	}
	slices.SortFunc(times, time.Time.Compare)
	busiest := 0
	for i := range times {
		j, _ := slices.BinarySearchFunc(times, times[i].Add(time.Second), time.Time.Compare)
		busiest = max(busiest, j-i)
	}
	rate := float64(len(times)-1) / times[len(times)-1].Sub(times[0]).Seconds()
	// Sends come in windows of up to 30 at once: the rate while the backlog lasted is counted
	// over that time, not from the first send to the last of a window.
	inBacklog := sort.Search(len(times), func(i int) bool { return !times[i].Before(backlogEnd) })
	sustained := float64(inBacklog) / backlogEnd.Sub(times[0]).Seconds()
	if testing.Verbose() {
		kinds := map[string]int{}
		for _, s := range srv.Sends() {
			kinds[s.Method]++
		}
		hist := map[int]int{}
		for _, t := range times {
			hist[int(t.Sub(start).Seconds())]++
		}
		b.Logf("sends by method %v; per second from the start %v", kinds, hist)
	}
	b.ReportMetric(float64(watch.early()), "early-bot")
	b.ReportMetric(float64(len(srv.Early())), "early-fake")
	b.ReportMetric(float64(srv.Count429()), "429s")
	b.ReportMetric(float64(len(srv.Invalid())), "invalid")
	b.ReportMetric(float64(len(times)), "sends")
	b.ReportMetric(100*sustained/30, "%of-30/s")
	b.ReportMetric(100*rate/30, "%of-30/s-to-last")
	b.ReportMetric(float64(busiest), "busiest-s")
}

// watchedMessenger notes when each send starts and when each 429 reaches a worker.
type watchedMessenger struct {
	bot.Messenger
	mu       sync.Mutex
	starts   []time.Time
	refusals []refusalSeen
}

type refusalSeen struct {
	at, until time.Time
}

func (m *watchedMessenger) Send(ctx context.Context, to bot.Address, msg bot.Message) (bot.MessageRef, error) {
	m.started()
	ref, err := m.Messenger.Send(ctx, to, msg)
	m.finished(err)
	return ref, err
}

func (m *watchedMessenger) Edit(ctx context.Context, ref bot.MessageRef, msg bot.Message) error {
	m.started()
	err := m.Messenger.Edit(ctx, ref, msg)
	m.finished(err)
	return err
}

func (m *watchedMessenger) started() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.starts = append(m.starts, time.Now())
}

func (m *watchedMessenger) finished(err error) {
	var de *bot.DeliveryError
	if errors.As(err, &de) && de.RetryAfter > 0 {
		now := time.Now()
		m.mu.Lock()
		defer m.mu.Unlock()
		m.refusals = append(m.refusals, refusalSeen{at: now, until: now.Add(de.RetryAfter)})
	}
}

// early counts the sends started after a 429 had reached a worker and before its retry_after
// passed.
func (m *watchedMessenger) early() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.starts {
		if slices.ContainsFunc(m.refusals, func(r refusalSeen) bool { return s.After(r.at) && s.Before(r.until) }) {
			n++
		}
	}
	return n
}
