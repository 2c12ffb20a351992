package telegram_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/internal/logbuf"

	"go.uber.org/goleak"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/bot/meetings"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/delivery"
	"github.com/tiltas/tiltas/inbound"
	"github.com/tiltas/tiltas/scheduler"
)

// hang turns a hang into a failure; nothing here asserts speed.
const hang = 20 * time.Second

// botName is the fake server's default bot username.
const botName = "tiltas_test_bot"

// vtasGroup is the example config's Telegram group (a supergroup).
const vtasGroup = int64(-1001234567890)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The package's shared Redis client (internal/redistest) keeps its autopipeliner, which
		// the Redis limiter uses, for as long as the client: the whole test binary.
		goleak.IgnoreTopFunction("github.com/redis/go-redis/v9.(*apShard).flusher"))
}

// alertsConfig mirrors cmd/tiltas's alertsConfig for the example municipality, as
// bot/alerts/alerts_test.go does.
func alertsConfig(c *config.Config) alerts.Config {
	return c.AlertsFlow()
}

// options shape a harness.
type options struct {
	// Limits are the fake's rate limits; zero disables them.
	limits *telegramtest.Limits
	// webhook runs the adapter in webhook mode.
	webhook bool
	// groups moves configured groups to other Telegram chats.
	groups map[string]string
	// link lists people linked to their Telegram accounts before the test (the rest link with
	// /start CODE or not at all).
	link []string
	// lease is the poll and processing lease (default 2s, so that takeovers are quick).
	lease time.Duration
}

// harness is Tiltas end to end on the fake Bot API server: the adapter polling (or serving a
// webhook), the inbound processor, the engine with the alerts flow, the delivery worker, over
// memory stores on a clock that starts on a Tuesday morning and runs in real time.
type harness struct {
	t        *testing.T
	ctx      context.Context
	srv      *telegramtest.Server
	cfg      *config.Config
	opts     options
	clock    bot.Clock
	mem      *memory.Store
	inbox    *memory.Inbox
	locker   *memory.Locker
	limits   *memory.Limiter
	logs     *logbuf.Buffer
	log      *slog.Logger
	e        *bot.Engine
	flow     *alerts.Flow
	meetings *meetings.Flow
	visits   *visits.Flow
	users    map[string]int64
	rep      *replica
	n        int

	mu      sync.Mutex
	handled map[string]int // update ID → times the engine handled it
}

func newHarness(t *testing.T, o options) *harness {
	t.Helper()
	cfg, err := config.Parse(bytes.NewReader(config.Example()), config.ExampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	lim := telegramtest.Limits{Disabled: true}
	if o.limits != nil {
		lim = *o.limits
	}
	if o.lease <= 0 {
		o.lease = 2 * time.Second
	}
	srv := telegramtest.New(t, telegramtest.Options{Limits: lim})
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.FixedZone("EET", 2*3600))
	t0 := time.Now()
	clock := bot.ClockFunc(func() time.Time { return start.Add(time.Since(t0)) })
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logbuf.Buffer{}
	h := &harness{
		t: t, ctx: ctx, srv: srv, cfg: cfg, opts: o, clock: clock,
		mem: memory.New(clock), inbox: memory.NewInbox(clock), locker: memory.NewLocker(clock),
		// The delivery worker's limiter is raised out of the way; tests that want Telegram's
		// limits set them on the fake.
		limits: memory.NewLimiter(memory.LimitConfig{}),
		logs:   logs, log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		users: map[string]int64{}, handled: map[string]int{},
	}
	h.newEngine()
	for i, p := range h.e.Directory().People {
		h.users[p.ID] = int64(1001 + i)
	}
	for _, p := range o.link {
		h.link(p)
	}
	t.Cleanup(func() {
		if h.rep != nil {
			h.rep.stop()
		}
		cancel()
		if strings.Contains(logs.String(), srv.Token()) {
			t.Errorf("the token appeared in the logs")
		}
		if t.Failed() {
			t.Logf("adapter logs:\n%s", logs.String())
		}
	})
	h.rep = h.start()
	return h
}

// newEngine builds the engine over the harness's stores, with every flow registered the way
// cmd/tiltas does. A restart builds a new one over the same stores. Meetings are not planned:
// the test that needs them plans.
func (h *harness) newEngine() {
	h.t.Helper()
	texts, err := bot.LoadCatalog()
	if err != nil {
		h.t.Fatal(err)
	}
	dir := h.cfg.Directory()
	for _, g := range dir.Groups {
		if chat, ok := h.opts.groups[g.ID]; ok {
			g.Address.Chat = chat
		}
	}
	settings := h.cfg.Settings()
	settings.BotUsername = botName
	e := bot.NewEngine(bot.Deps{Clock: h.clock, Records: h.mem, Marks: h.mem, Outbox: h.mem, Timers: h.mem,
		Audit: h.mem.Audit(), Texts: texts, Log: h.log}, settings, dir)
	h.e = e
	h.flow = alerts.Register(e, alertsConfig(h.cfg))
	h.meetings = meetings.Register(e, meetingsConfig(h.cfg))
	h.visits = visits.Register(e, visitsConfig(h.cfg))
}

// replica is one running Tiltas process: adapter, inbound processor and delivery worker.
type replica struct {
	ad     *telegram.Adapter
	owner  string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func (r *replica) stop() {
	r.once.Do(func() {
		r.cancel()
		r.wg.Wait()
		r.ad.Close()
	})
}

func (h *harness) adapterConfig() telegram.Config {
	c := telegram.Config{Token: h.srv.Token(), APIURL: h.srv.URL(), BotUsername: botName, Lease: h.opts.lease}
	if h.opts.webhook {
		c.Mode, c.WebhookURL, c.WebhookSecret = telegram.ModeWebhook, "https://tiltas.example.lt/telegram", "s3cret-Webhook_token"
	}
	return c
}

// start runs a replica: Start, then polling (unless in webhook mode), processing and delivery.
func (h *harness) start() *replica {
	h.t.Helper()
	h.n++
	owner := fmt.Sprintf("replica-%d", h.n)
	ad, err := telegram.New(h.adapterConfig(), telegram.Deps{Inbox: h.inbox, Locker: h.locker, Records: h.mem, Log: h.log, Owner: owner})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	if err := ad.Start(ctx, telegram.EngineCommands(h.e)); err != nil {
		cancel()
		h.t.Fatalf("start: %v", err)
	}
	r := &replica{ad: ad, owner: owner, cancel: cancel}
	e := h.e
	handle := func(ctx context.Context, in bot.Incoming) (bot.Response, error) {
		resp, err := e.Handle(ctx, in)
		h.mu.Lock()
		h.handled[in.ID]++
		h.mu.Unlock()
		return resp, err
	}
	proc := &inbound.Processor{Inbox: h.inbox, Locker: h.locker, Marks: h.mem, Handle: handle,
		Answer: map[bot.Platform]bot.Answerer{bot.Telegram: ad}, Owner: owner, Lease: h.opts.lease, Log: h.log}
	timers := &scheduler.Runner{Queue: h.mem, Fire: e.Fire, Clock: h.clock, Log: h.log}
	worker := &delivery.Worker{Platform: bot.Telegram, Queue: h.mem, Messenger: ad, Limiter: h.limits, Records: h.mem,
		Clock: h.clock, Log: h.log, Failed: h.e.Undeliverable}
	run := func(f func(context.Context) error) {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := f(ctx); err != nil {
				h.t.Errorf("replica %s: %v", owner, err)
			}
		}()
	}
	if !h.opts.webhook {
		run(ad.RunPolling)
	}
	run(proc.Run)
	run(worker.Run)
	run(timers.Run)
	return r
}

// restart stops the running replica and starts a new process over the same stores: a new
// engine, adapter, processor and worker.
func (h *harness) restart() {
	h.t.Helper()
	h.delivered() // what a stopped worker had taken would wait out the outbox's claim timeout
	h.rep.stop()
	h.newEngine()
	h.rep = h.start()
}

// user is person's Telegram user ID, which is also their private chat's ID.
func (h *harness) user(person string) int64 {
	h.t.Helper()
	id, ok := h.users[person]
	if !ok {
		h.t.Fatalf("no person %s", person)
	}
	return id
}

// link links person to their Telegram account directly, as a redeemed invite would.
func (h *harness) link(person string) {
	h.t.Helper()
	uid := strconv.FormatInt(h.user(person), 10)
	err := h.e.Link(h.ctx, person, bot.Identity{Platform: bot.Telegram, User: uid}, bot.Address{Platform: bot.Telegram, Chat: uid})
	if err != nil {
		h.t.Fatal(err)
	}
}

// say sends text from person in their private chat with the bot; it returns the update ID.
func (h *harness) say(person, text string) int {
	h.t.Helper()
	return h.srv.PushUpdate(h.srv.PrivateMessage(h.user(person), text))
}

// eventually waits for cond, failing the test after hang.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(hang)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// find returns the newest message in chat whose text contains text.
func (h *harness) find(chat int64, text string) (telegramtest.SentMessage, bool) {
	sent := h.srv.Sent(chat)
	for _, m := range slices.Backward(sent) {
		if strings.Contains(m.Text+m.Caption, text) {
			return m, true
		}
	}
	return telegramtest.SentMessage{}, false
}

// see waits until chat has a message containing text and returns the newest such.
func (h *harness) see(chat int64, text string) telegramtest.SentMessage {
	h.t.Helper()
	var m telegramtest.SentMessage
	deadline := time.Now().Add(hang)
	for {
		var ok bool
		if m, ok = h.find(chat, text); ok {
			return m
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("chat %d never showed %q; it has:\n%s", chat, text, h.dump(chat))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// seeFor waits until person's private chat shows text.
func (h *harness) seeFor(person, text string) telegramtest.SentMessage {
	h.t.Helper()
	return h.see(h.user(person), text)
}

func (h *harness) dump(chat int64) string {
	var b strings.Builder
	for _, m := range h.srv.Sent(chat) {
		fmt.Fprintf(&b, "--- #%d (edits %d)\n%s%s\n", m.MessageID, m.Edits, m.Text, m.Caption)
		if labels := buttons(m); len(labels) > 0 {
			fmt.Fprintf(&b, "[%s]\n", strings.Join(labels, "] ["))
		}
	}
	return b.String()
}

// buttons lists a message's button labels.
func buttons(m telegramtest.SentMessage) []string {
	var out []string
	if m.ReplyMarkup == nil {
		return nil
	}
	for _, row := range m.ReplyMarkup.InlineKeyboard {
		for _, b := range row {
			out = append(out, b.Text)
		}
	}
	return out
}

// button finds the newest message in chat with a button whose label contains label.
func (h *harness) button(chat int64, label string) (telegramtest.SentMessage, string) {
	h.t.Helper()
	var (
		msg  telegramtest.SentMessage
		data string
	)
	h.eventually(fmt.Sprintf("a %q button in chat %d", label, chat), func() bool {
		var ok bool
		msg, data, ok = telegramtest.NewestButton(h.srv.Sent(chat), label)
		return ok
	})
	return msg, data
}

// press presses, as person, the newest button labelled label in their private chat and returns
// the toast the bot answered with.
func (h *harness) press(person, label string) string {
	h.t.Helper()
	return h.pressIn(person, h.user(person), label)
}

// pressIn presses, as person, the newest button labelled label in chat.
func (h *harness) pressIn(person string, chat int64, label string) string {
	h.t.Helper()
	m, data := h.button(chat, label)
	return h.pressData(person, m, data)
}

// pressData presses a button with data on m as person, which may be forged, and returns the
// toast once the callback query is answered.
func (h *harness) pressData(person string, m telegramtest.SentMessage, data string) string {
	h.t.Helper()
	q := h.srv.CallbackQuery(h.user(person), m.Message, data)
	h.srv.PushUpdate(q)
	return h.answered(q.CallbackQuery.ID)
}

// answered waits for the answer to callback query id and returns its text.
func (h *harness) answered(id string) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, hang)
	defer cancel()
	c, err := h.srv.WaitFor(ctx, func(c telegramtest.Call) bool {
		return c.Method == "answerCallbackQuery" && c.Code != 0 && c.Params["callback_query_id"] == id
	})
	if err != nil {
		h.t.Fatalf("callback %s never answered: %v", id, err)
	}
	if c.Code != 200 {
		h.t.Fatalf("answerCallbackQuery: %d %s", c.Code, c.Error)
	}
	text, _ := c.Params["text"].(string)
	return text
}

// handledUpdate waits until the engine has handled update id (pushed at the fake).
func (h *harness) handledUpdate(id int) {
	h.t.Helper()
	key := "tg:" + strconv.Itoa(id)
	h.eventually("update "+key+" to be handled", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.handled[key] > 0
	})
}

// timesHandled is how often the engine handled update id.
func (h *harness) timesHandled(id int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.handled["tg:"+strconv.Itoa(id)]
}

// delivered waits until the outbox is empty: everything queued was sent or dropped.
func (h *harness) delivered() {
	h.t.Helper()
	h.eventually("the outbox to drain", func() bool {
		depth, _, err := h.mem.Stats(h.ctx)
		return err == nil && depth == 0
	})
}

// calls returns the calls of method to chat.
func (h *harness) calls(method string, chat int64) []telegramtest.Call {
	var out []telegramtest.Call
	for _, c := range h.srv.Calls(method) {
		if c.Params["chat_id"] == chat {
			out = append(out, c)
		}
	}
	return out
}

// snapshot is every chat's messages as they read now, to prove that nothing changed.
func (h *harness) snapshot(chats ...int64) string {
	var b strings.Builder
	for _, c := range chats {
		fmt.Fprintf(&b, "chat %d\n%s", c, h.dump(c))
	}
	return b.String()
}
