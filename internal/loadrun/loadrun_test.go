//go:build loadrun

package loadrun

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/adapters/slack/slackfake"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/keyring"
)

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v > 0 {
		return v
	}
	return def
}

// run is one load and fault run and everything it learned.
type run struct {
	t        *testing.T
	work     string
	sc       *scenario
	m        *municipality
	clock    appClock
	tg       *telegramtest.Server
	sl       *slackfake.Server
	redis    *redisServer
	rc       *goredis.Client
	store    *redis.Store
	replicas []*replica
	bal      *balancer
	d        *driver
	concerns []*concern
	joiners  map[string][]*person // visit series ID → who confirmed
	api      []*apiConcern        // raised through the integration API around the SIGKILL

	killed         *replica
	killedAt       time.Time
	redisRestartAt time.Time
	redisDown      time.Duration
	recovered      map[int]time.Duration // survivor → how long after the Redis restart /readyz was 200 again
	slack429       int
	drivenUntil    time.Time
	quiet          time.Duration
	replicaArgs    replicaArgs
}

// TestLoadAndFaultRun is the load and fault run; scripts/loadrun runs it and prints its report.
// LOADRUN_SPEED (default 120) sets the clock speed, LOADRUN_CONCERNS (160) the concerns raised,
// LOADRUN_JITTER_GUARD (100ms) the Telegram limiter's jitter guard, LOADRUN_KEEP=1 keeps the work
// directory (configs, replica logs, ledger, Redis AOF) after a passing run.
func TestLoadAndFaultRun(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Vilnius")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, loc) // a Tuesday, a school and working day
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	r := &run{t: t, m: newMunicipality(), joiners: map[string][]*person{}, recovered: map[int]time.Duration{}}
	r.sc = &scenario{Start: at(7, 50), Speed: envFloat("LOADRUN_SPEED", 120), StepWait: 30 * time.Minute,
		Meeting: at(14, 0), MeetingTitle: "Apkrovos bandymo pasitarimas",
		Reminders:   []time.Duration{4 * time.Hour, 2 * time.Hour, time.Hour, 30 * time.Minute},
		JitterGuard: cmp.Or(os.Getenv("LOADRUN_JITTER_GUARD"), "100ms")}
	for i, area := range areas {
		r.sc.Visits = append(r.sc.Visits, visitSeries{ID: "reidas-" + area, Area: area, Start: at(17, 30*i),
			Organizer: r.m.social[area][1], Propose: 8 * time.Hour})
	}
	nConcerns := int(envFloat("LOADRUN_CONCERNS", 160))

	r.work, err = os.MkdirTemp("", "tiltas-loadrun-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("LOADRUN_KEEP") != "" {
			t.Logf("work directory kept: %s", r.work)
			return
		}
		os.RemoveAll(r.work)
	})
	r.setUp()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	r.startReplicas(ctx)
	r.drive(ctx, nConcerns, at)
	r.quiesce(ctx)
	r.report()
}

// setUp builds the binary, starts Redis and the fakes, writes the configs and links every
// person's account.
func (r *run) setUp() {
	t := r.t
	bin := filepath.Join(r.work, "tiltas")
	build := exec.Command("go", "build", "-o", bin, "./cmd/tiltas")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tiltas: %v\n%s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(r.work, "redis"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.redis = startRedis(t, filepath.Join(r.work, "redis"))
	r.tg = telegramtest.New(t, telegramtest.Options{})
	r.sl = slackfake.New(t, slackfake.Options{})
	r.d = &driver{m: r.m, tg: r.tg, sl: r.sl}

	r.bal = &balancer{client: &http.Client{Timeout: 8 * time.Second}}
	lb := httptest.NewServer(r.bal)
	t.Cleanup(lb.Close)
	r.sl.UseHTTP(lb.URL)

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := []string{
		"TILTAS_TELEGRAM_TOKEN=" + r.tg.Token(),
		"TILTAS_SLACK_BOT_TOKEN=" + r.sl.Options().BotToken,
		"TILTAS_SLACK_SIGNING_SECRET=" + r.sl.Options().SigningSecret,
		"TILTAS_LOADRUN_KEY=" + base64.StdEncoding.EncodeToString(key),
	}
	for _, area := range areas {
		env = append(env, "TILTAS_LOADRUN_API_TOKEN_"+strings.ToUpper(area)+"="+apiToken(area))
	}
	var cfgs []string
	for n := range 3 {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		path := filepath.Join(r.work, fmt.Sprintf("replica%d.yaml", n+1))
		if err := os.WriteFile(path, []byte(r.m.yaml(r.sc, r.redis.url(), addr, r.tg.URL(), r.sl.APIURL())), 0o600); err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, path)
		r.replicas = append(r.replicas, &replica{n: n + 1, addr: addr})
	}
	for _, kv := range env {
		k, v, _ := cutEnv(kv)
		t.Setenv(k, v) // config.Load below resolves the same secrets
	}
	cfg, err := config.Load(cfgs[0])
	if err != nil {
		t.Fatalf("generated config: %v", err)
	}

	r.rc = goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.redis.port), PoolSize: 16})
	t.Cleanup(func() { r.rc.Close() })
	kr, err := keyring.New([]keyring.Key{{ID: "loadrun", Secret: key}})
	if err != nil {
		t.Fatal(err)
	}
	r.store, err = redis.New(redis.Options{Client: r.rc, Prefix: "tiltas", Sealer: kr})
	if err != nil {
		t.Fatal(err)
	}
	e := bot.NewEngine(bot.Deps{Records: r.store, Marks: r.store, Outbox: r.store, Timers: r.store, Audit: r.store.Audit(),
		Texts: bot.MustLoadCatalog()}, cfg.Settings(), cfg.Directory())
	ctx := context.Background()
	team := r.sl.Team()
	for _, p := range r.m.people {
		id := bot.Identity{Platform: bot.Telegram, User: strconv.FormatInt(p.TG, 10)}
		dm := bot.Address{Platform: bot.Telegram, Chat: strconv.FormatInt(p.TG, 10)}
		if p.Slack {
			id, dm = slack.Identity(team, p.SU), slack.DM(team, p.SU)
		}
		if err := e.Link(ctx, p.ID, id, dm); err != nil {
			t.Fatalf("link %s: %v", p.ID, err)
		}
	}
	r.replicaArgs = replicaArgs{bin: bin, cfgs: cfgs, env: env}
}

type replicaArgs struct {
	bin  string
	cfgs []string
	env  []string
}

// envInt reads a count, 0 included (LOADRUN_API_CONCERNS=0: no API burst).
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

func cutEnv(kv string) (string, string, bool) {
	for i := range len(kv) {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func moduleRoot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(string(trimNL(out)))
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// startReplicas starts the three processes on the same accelerated clock and waits until each
// answers /readyz, then takes their clocks' common origin from their logs.
func (r *run) startReplicas(ctx context.Context) {
	t := r.t
	before := time.Now()
	for i, rep := range r.replicas {
		r.replicas[i] = startReplica(t, rep.n, r.replicaArgs.bin, r.replicaArgs.cfgs[i], rep.addr,
			filepath.Join(r.work, fmt.Sprintf("replica%d.log", rep.n)), r.replicaArgs.env, r.sc.Speed, r.sc.Start)
	}
	r.bal.replicas = r.replicas
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for _, rep := range r.replicas {
		if err := rep.waitReady(wctx); err != nil {
			t.Fatal(err)
		}
	}
	var sum time.Duration
	for _, rep := range r.replicas {
		o, ok := rep.origin()
		if !ok {
			t.Fatalf("replica %d did not log its clock's start (log %s)", rep.n, rep.logPath)
		}
		sum += o.Sub(before)
	}
	r.clock = appClock{start: r.sc.Start, origin: before.Add(sum / time.Duration(len(r.replicas))), speed: r.sc.Speed}
	go r.probe(ctx)
}

// probe asks every live replica's /healthz and /readyz every second.
func (r *run) probe(ctx context.Context) {
	for ctx.Err() == nil {
		for _, rep := range r.replicas {
			if rep.alive() {
				rep.check("/healthz")
				rep.check("/readyz")
			}
		}
		sleepCtx(ctx, time.Second)
	}
}

// drive plays the day: concerns from 08:00 to 16:00, the meeting's RSVPs, the visits'
// confirmations, and the faults, each at its app time.
func (r *run) drive(ctx context.Context, n int, at func(h, m int) time.Time) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	staff := append([]*person(nil), r.m.schoolStaff...)
	rng.Shuffle(len(staff), func(i, j int) { staff[i], staff[j] = staff[j], staff[i] })
	first, last := at(8, 0), at(16, 0)
	for i := range n {
		s := staff[i%len(staff)]
		area := r.m.areaOf(s)
		c := &concern{N: i + 1, Case: fmt.Sprintf("K-2026-%d", 1001+i), Sender: s, Area: area, Ack: i%3 != 0}
		c.Acker = r.m.rights[area][i%rightsPerArea]
		r.concerns = append(r.concerns, c)
	}
	var wg sync.WaitGroup
	goAt := func(app time.Time, fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sleepUntil(ctx, r.clock.real(app)) {
				fn()
			}
		}()
	}
	step := last.Sub(first) / time.Duration(max(n-1, 1))
	for i, c := range r.concerns {
		think := time.Duration(500+rng.IntN(2500)) * time.Millisecond
		goAt(first.Add(time.Duration(i)*step), func() {
			if err := r.d.raise(ctx, c); err != nil {
				r.d.problem("%v", err)
				return
			}
			if c.Ack {
				if err := r.d.acknowledge(ctx, c, think); err != nil {
					r.d.problem("%v", err)
				}
			}
		})
	}
	// The meeting: most invitees answer the first reminder, a few say no.
	audience := r.m.meetingAudience()
	firstReminder := r.sc.Meeting.Add(-r.sc.Reminders[0])
	for i, p := range audience {
		if i%5 == 4 || p == r.m.coordinators[0] {
			continue // no answer; the organizer is not invited
		}
		label := labelYes
		if i%10 == 3 {
			label = labelNo
		}
		goAt(firstReminder.Add(time.Duration(5+i%40)*time.Minute), func() {
			if err := r.d.rsvp(ctx, p, r.sc.MeetingTitle, label); err != nil {
				r.d.problem("rsvp: %v", err)
			}
		})
	}
	// The visits: one police officer and one social worker of the area confirm each.
	var jmu sync.Mutex
	for _, v := range r.sc.Visits {
		var cops, workers []*person
		for _, p := range r.m.visitPool(v) {
			switch {
			case p == v.Organizer:
			case p.has("police") && !p.has("leader"):
				cops = append(cops, p)
			case p.has("social_worker") && !p.has("leader"):
				workers = append(workers, p)
			}
		}
		for i, p := range []*person{cops[len(cops)-1], workers[len(workers)-1]} {
			goAt(v.Start.Add(-v.Propose).Add(time.Duration(15+10*i)*time.Minute), func() {
				if err := r.d.joinVisit(ctx, p, v.Area); err != nil {
					r.d.problem("visit %s: %v", v.ID, err)
					return
				}
				jmu.Lock()
				r.joiners[v.ID] = append(r.joiners[v.ID], p)
				jmu.Unlock()
			})
		}
	}
	// The faults. Just before the SIGKILL a burst of concerns comes in through the integration
	// API to the replica about to be killed; its clients retry elsewhere, as clients do.
	goAt(at(10, 59), func() { r.apiBurst(ctx, envInt("LOADRUN_API_CONCERNS", 60)) })
	goAt(at(11, 0), func() { r.killLeader(ctx) })
	goAt(at(12, 0), func() {
		// Slack answers some posts with 429 and Retry-After: the bot must wait it out.
		r.sl.Fail(slackfake.Fault{Method: "chat.postMessage", Status: http.StatusTooManyRequests, RetryAfter: 2, Times: 3})
		r.slack429 = 3
	})
	goAt(at(14, 30), func() { r.restartRedis(ctx) })
	r.drivenUntil = at(18, 45)
	sleepUntil(ctx, r.clock.real(r.drivenUntil))
	wg.Wait()
}

// killLeader SIGKILLs the replica holding the inbound lease (the one handling every update).
func (r *run) killLeader(ctx context.Context) {
	owner, _ := r.rc.Get(ctx, "tiltas:lock:inbound").Result()
	victim := r.replicas[0]
	for _, rep := range r.replicas {
		if rep.owner() == owner {
			victim = rep
		}
	}
	r.killedAt = time.Now()
	victim.kill()
	r.killed = victim
	r.t.Logf("%s: replica %d (inbound leader) killed with SIGKILL", r.clock.app(r.killedAt).Format("15:04"), victim.n)
}

// restartRedis shuts Redis down gracefully and starts it again, then waits for the survivors
// to be ready again.
func (r *run) restartRedis(ctx context.Context) {
	r.redisRestartAt = time.Now()
	r.redisDown = r.redis.restart()
	r.t.Logf("%s: Redis restarted gracefully (down %s)", r.clock.app(r.redisRestartAt).Format("15:04"), r.redisDown.Round(time.Millisecond))
	for _, rep := range r.replicas {
		if !rep.alive() {
			continue
		}
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if rep.check("/readyz") {
				r.recovered[rep.n] = time.Since(r.redisRestartAt)
				break
			}
			sleepCtx(ctx, 100*time.Millisecond)
		}
	}
}

// quiesce waits until the outbox is empty and the fakes have seen nothing new for ten seconds.
func (r *run) quiesce(ctx context.Context) {
	began := time.Now()
	last, stable := -1, time.Now()
	for time.Since(began) < 4*time.Minute && ctx.Err() == nil {
		depth, _, err := r.store.Stats(ctx)
		n := len(ledger(r.tg, r.sl)) // sends and edits: getUpdates long polls go on
		if n != last {
			last, stable = n, time.Now()
		}
		if err == nil && depth == 0 && time.Since(stable) > 10*time.Second {
			break
		}
		sleepCtx(ctx, time.Second)
	}
	r.quiet = time.Since(began)
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

func machine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d CPUs, %s/%s, %s", host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}
