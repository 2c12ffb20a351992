package telegram_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
)

// perUpdateChats is how many linked people write in BenchmarkRedisPerUpdate.
const perUpdateChats = 500

// BenchmarkRedisPerUpdate measures what each handled update costs Redis, next to two peers on
// the same fake Bot API and the same Redis, taking turns in rounds of up to 5,000 "/help"
// updates from 500 linked private chats:
//
//   - bare: a go-telegram/bot bot that answers each update with a text as long as Tiltas's /help
//     reply, keeping nothing;
//   - state: the bot most people would write instead: the same, plus go-redis with a GET and a
//     SET of the chat's state per update (aiogram-style; no inbox, no outbox, no dedupe);
//   - tiltas: polling under its lease, durable inbox, processor, engine, outbox, delivery worker,
//     everything in Redis.
//
// Both peers get the same 128 idle HTTP connections as Tiltas. It reports each one's updates/s,
// Tiltas's ratio to each, and for Tiltas and the state bot, per update: redis-server time from
// INFO commandstats (top-level commands: a script counts with what it calls, counted once),
// redis-server process CPU (INFO cpu, system calls included), commands, scripts and error
// replies. A last Tiltas round with SLOWLOG recording every command splits Redis's time by stage;
// the table is logged (-v) and the stages are reported as metrics (<stage>-µs, <stage>-calls).
//
//	TILTAS_TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test -run '^$' -bench RedisPerUpdate -benchtime 20000x ./adapters/telegram/
//
// It needs Redis (TILTAS_TEST_REDIS_URL; scripts/test sets it) and changes the server's slowlog
// settings for its last round, restoring them after.
func BenchmarkRedisPerUpdate(b *testing.B) {
	url := os.Getenv("TILTAS_TEST_REDIS_URL")
	if url == "" {
		b.Fatal("BenchmarkRedisPerUpdate needs Redis: set TILTAS_TEST_REDIS_URL (scripts/test does)")
	}
	opt, err := goredis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	admin := goredis.NewClient(opt)
	defer admin.Close()
	srv := telegramtest.New(b, telegramtest.Options{Limits: telegramtest.Limits{Disabled: true}})
	reply := helpReplyLike(b, srv, url)

	var bareT, stateT, tiltasT time.Duration
	var stateW, tiltasW redisWork
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(5000, b.N-done)
		bareT += benchBare(b, srv, perUpdateChats, n, "/help", reply)
		stateT += benchState(b, srv, opt, n, reply, measureInto(b, admin, &stateW))
		tiltasT += benchTiltas(b, srv, redisBenchStores(b, url), tiltasRun{n: n, chats: perUpdateChats, text: "/help", measure: measureInto(b, admin, &tiltasW)}).took
		done += n
	}
	b.StopTimer()
	rate := func(d time.Duration) float64 { return float64(b.N) / d.Seconds() }
	b.ReportMetric(rate(bareT), "bare-updates/s")
	b.ReportMetric(rate(stateT), "state-updates/s")
	b.ReportMetric(rate(tiltasT), "tiltas-updates/s")
	b.ReportMetric(rate(tiltasT)/rate(bareT), "ratio-bare")
	b.ReportMetric(rate(tiltasT)/rate(stateT), "ratio-state")

	// The split: one more Tiltas round with every command in the slowlog, which also tells
	// top-level commands from those scripts call (commandstats counts both).
	n := min(b.N, 5000)
	split := slowlogRound(b, admin, func(measure func() func()) {
		benchTiltas(b, srv, redisBenchStores(b, url), tiltasRun{n: n, chats: perUpdateChats, text: "/help", measure: measure})
	})
	top := split.topLevel()
	per := func(v float64, of int) float64 { return v / float64(of) }
	b.ReportMetric(per(tiltasW.usec(top), b.N), "tiltas-redis-µs/update")
	b.ReportMetric(per(tiltasW.cpu*1e6, b.N), "tiltas-redis-cpu-µs/update")
	b.ReportMetric(per(float64(tiltasW.calls(top)), b.N), "tiltas-commands/update")
	b.ReportMetric(per(float64(tiltasW.scripts()), b.N), "tiltas-scripts/update")
	b.ReportMetric(per(float64(tiltasW.errors), b.N), "tiltas-errors/update")
	b.ReportMetric(per(stateW.usec(nil), b.N), "state-redis-µs/update")
	b.ReportMetric(per(stateW.cpu*1e6, b.N), "state-redis-cpu-µs/update")
	b.ReportMetric(per(float64(stateW.calls(nil)), b.N), "state-commands/update")
	var table strings.Builder
	fmt.Fprintf(&table, "\nRedis per handled update, by stage (SLOWLOG, %d updates; %.1f µs and %.2f commands in all):\n", n, per(split.total(), n), per(float64(split.commands()), n))
	fmt.Fprintf(&table, "| stage | commands/update | µs/update | commands |\n|---|---|---|---|\n")
	for _, st := range split.stages() {
		fmt.Fprintf(&table, "| %s | %.2f | %.1f | %s |\n", st.name, per(float64(st.calls), n), per(st.usec, n), st.what(n))
		b.ReportMetric(per(st.usec, n), strings.ReplaceAll(st.name, " ", "-")+"-µs")
	}
	fmt.Fprintf(&table, "\nTiltas's commands in the measured rounds (INFO commandstats; those scripts call included, so the lines add up to more than the total):\n")
	names := make([]string, 0, len(tiltasW.cmds))
	for name := range tiltasW.cmds {
		names = append(names, name)
	}
	slices.SortFunc(names, func(x, y string) int { return int(tiltasW.cmds[y].usec - tiltasW.cmds[x].usec) })
	for _, name := range names {
		st := tiltasW.cmds[name]
		fmt.Fprintf(&table, "  %-16s %6.2f calls/update %6.2f µs/update %5.2f µs/call\n", name, per(float64(st.calls), b.N), per(st.usec, b.N), st.usec/float64(st.calls))
	}
	b.Log(table.String())
}

// helpReplyLike returns a text as long as Tiltas's Lithuanian /help reply, so that the peers
// send as much as Tiltas does.
func helpReplyLike(b *testing.B, srv *telegramtest.Server, url string) string {
	b.Helper()
	const firstUser = 200001
	benchTiltas(b, srv, redisBenchStores(b, url), tiltasRun{n: 1, chats: 1, text: "/help"})
	sent := srv.Sent(firstUser)
	if len(sent) == 0 {
		b.Fatal("Tiltas did not answer /help")
	}
	return strings.Repeat("x", len([]rune(sent[len(sent)-1].Text)))
}

// benchState runs the state-only bot over n queued updates: the peer bot, plus go-redis (its
// default pool) with a GET and a SET of the chat's state per update before the reply.
func benchState(b *testing.B, srv *telegramtest.Server, opt *goredis.Options, n int, reply string, measure func() func()) time.Duration {
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	prefix := "tiltas-bench-state-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	took := benchPeer(b, srv, peerBot{firstUser: 300001, chats: perUpdateChats, n: n, text: "/help", reply: reply, measure: measure,
		before: func(ctx context.Context, chat int64) error {
			key := prefix + strconv.FormatInt(chat, 10)
			state, err := rdb.Get(ctx, key).Result()
			if err != nil && err != goredis.Nil {
				return err
			}
			return rdb.Set(ctx, key, state+"h", time.Hour).Err()
		}})
	b.StopTimer()
	iter := rdb.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
	for iter.Next(context.Background()) {
		rdb.Del(context.Background(), iter.Val())
	}
	b.StartTimer()
	return took
}

// measureInto returns a measure function for a run: what redis-server does between its start
// and its stop is added to w.
func measureInto(b *testing.B, c *goredis.Client, w *redisWork) func() func() {
	return func() func() {
		before := readRedisWork(b, c)
		return func() { w.add(readRedisWork(b, c).since(before)) }
	}
}

// redisWork is what redis-server did over a span: per command, calls and microseconds (INFO
// commandstats), error replies (INFO stats) and process CPU seconds (INFO cpu).
type redisWork struct {
	cmds   map[string]cmdStat
	errors int64
	cpu    float64
}

type cmdStat struct {
	calls int64
	usec  float64
}

func readRedisWork(b *testing.B, c *goredis.Client) redisWork {
	b.Helper()
	info, err := c.Info(context.Background(), "commandstats", "stats", "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	w := redisWork{cmds: map[string]cmdStat{}}
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(name, "cmdstat_"):
			var st cmdStat
			for kv := range strings.SplitSeq(rest, ",") {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "calls":
					st.calls, _ = strconv.ParseInt(v, 10, 64)
				case "usec":
					st.usec, _ = strconv.ParseFloat(v, 64)
				}
			}
			w.cmds[strings.TrimPrefix(name, "cmdstat_")] = st
		case name == "total_error_replies":
			w.errors, _ = strconv.ParseInt(rest, 10, 64)
		case name == "used_cpu_sys_main_thread", name == "used_cpu_user_main_thread":
			f, _ := strconv.ParseFloat(rest, 64)
			w.cpu += f
		}
	}
	return w
}

// since is w minus an earlier reading; the INFO calls themselves are left out.
func (w redisWork) since(before redisWork) redisWork {
	d := redisWork{cmds: map[string]cmdStat{}, errors: w.errors - before.errors, cpu: w.cpu - before.cpu}
	for name, st := range w.cmds {
		o := before.cmds[name]
		if name == "info" || st.calls == o.calls {
			continue
		}
		d.cmds[name] = cmdStat{st.calls - o.calls, st.usec - o.usec}
	}
	return d
}

func (w *redisWork) add(o redisWork) {
	if w.cmds == nil {
		w.cmds = map[string]cmdStat{}
	}
	for name, st := range o.cmds {
		c := w.cmds[name]
		w.cmds[name] = cmdStat{c.calls + st.calls, c.usec + st.usec}
	}
	w.errors += o.errors
	w.cpu += o.cpu
}

// isScript reports whether a command runs others: a script, or EXEC running a transaction.
// Its time includes theirs, which commandstats also counts under their own names.
func isScript(name string) bool {
	return strings.HasPrefix(name, "eval") || strings.HasPrefix(name, "fcall") || name == "exec"
}

// usec is the time of top-level commands: every script call (which includes what it calls) and,
// of other commands, the share top gives as called by clients (nil: all of them).
func (w redisWork) usec(top map[string]float64) float64 {
	var t float64
	for name, st := range w.cmds {
		switch {
		case isScript(name) || top == nil:
			t += st.usec
		default:
			t += st.usec * top[name]
		}
	}
	return t
}

// calls counts top-level commands, as usec does.
func (w redisWork) calls(top map[string]float64) int64 {
	var n float64
	for name, st := range w.cmds {
		switch {
		case isScript(name) || top == nil:
			n += float64(st.calls)
		default:
			n += float64(st.calls) * top[name]
		}
	}
	return int64(n + 0.5)
}

func (w redisWork) scripts() int64 {
	var n int64
	for name, st := range w.cmds {
		if isScript(name) {
			n += st.calls
		}
	}
	return n
}

// slowlog is one round's commands as the slowlog recorded them, with the commandstats of the
// same span.
type slowlog struct {
	entries []goredis.SlowLog
	work    redisWork
}

// slowlogRound runs fn with every command recorded in the slowlog between the start and the stop
// of fn's measured span, and returns what it holds.
func slowlogRound(b *testing.B, c *goredis.Client, fn func(measure func() func())) slowlog {
	b.Helper()
	ctx := context.Background()
	old, err := c.ConfigGet(ctx, "slowlog-*").Result()
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		for k, v := range old {
			c.ConfigSet(ctx, k, v)
		}
	}()
	if err := c.ConfigSet(ctx, "slowlog-max-len", "1000000").Err(); err != nil {
		b.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "slowlog-log-slower-than", "0").Err(); err != nil {
		b.Fatal(err)
	}
	var work redisWork
	fn(func() func() {
		c.SlowLogReset(ctx)
		before := readRedisWork(b, c)
		return func() {
			work = readRedisWork(b, c).since(before)
			c.ConfigSet(ctx, "slowlog-log-slower-than", "-1")
		}
	})
	entries, err := c.SlowLogGet(ctx, -1).Result()
	if err != nil {
		b.Fatal(err)
	}
	c.SlowLogReset(ctx)
	// Only the round's own commands: not the reading of INFO and the settings around it. Oldest
	// first, so that what a script called comes just before the script.
	entries = slices.DeleteFunc(entries, func(e goredis.SlowLog) bool {
		name := strings.ToLower(e.Args[0])
		return name == "info" || name == "config" || name == "slowlog"
	})
	slices.Reverse(entries)
	return slowlog{entries: entries, work: work}
}

// topLevel is, per non-script command, the share of its calls that clients made (the rest were
// made by scripts).
func (s slowlog) topLevel() map[string]float64 {
	count := map[string]float64{}
	for _, e := range s.entries {
		if !nested(e) {
			count[commandName(e.Args)]++
		}
	}
	out := map[string]float64{}
	for name, st := range s.work.cmds {
		if st.calls > 0 {
			out[name] = min(1, count[name]/float64(st.calls))
		}
	}
	return out
}

// nested reports whether a script made the call or a transaction's EXEC did (inTransaction).
func nested(e goredis.SlowLog) bool { return inScript(e) || inTransaction(e) }

// inScript reports whether a script made the call: the slowlog names no client for those.
func inScript(e goredis.SlowLog) bool {
	return e.ClientAddr == "" || strings.HasPrefix(e.ClientAddr, "?")
}

// inTransaction reports whether a command is one of the store's MULTI/EXEC transactions
// (finishing messages, and updates whose seen mark goes too): they are made of these commands on
// these keys, which the store sends nowhere else. The slowlog records MULTI and the commands EXEC
// ran, not EXEC. Finishing updates is otherwise one XACK.
func inTransaction(e goredis.SlowLog) bool {
	args := e.Args
	if inScript(e) || len(args) < 2 {
		return false
	}
	switch strings.ToLower(args[0]) {
	case "xack", "xdel":
		return strings.Contains(args[1], ":{out}:")
	case "del":
		return strings.Contains(args[1], ":{out}:") || strings.Contains(args[1], ":{in}:seen:")
	case "zrem", "set":
		return strings.Contains(args[1], ":{out}:")
	}
	return false
}

// total is the time of the top-level commands: a script's with what it called, a
// transaction's as the time of its commands.
func (s slowlog) total() float64 {
	var t float64
	for _, e := range s.entries {
		if !nested(e) || inTransaction(e) {
			t += float64(e.Duration.Microseconds())
		}
	}
	return t
}

// commands counts the top-level commands.
func (s slowlog) commands() int {
	n := 0
	for _, e := range s.entries {
		if !nested(e) {
			n++
		}
	}
	return n
}

type stage struct {
	name  string
	calls int
	usec  float64
	by    map[string]int // calls by command
}

// what lists the stage's commands, most called first.
func (st stage) what(n int) string {
	names := make([]string, 0, len(st.by))
	for name := range st.by {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return st.by[b] - st.by[a] })
	var top, in []string
	for _, name := range names {
		if c, ok := strings.CutPrefix(name, "  "); ok {
			in = append(in, fmt.Sprintf("%s %.2f", c, float64(st.by[name])/float64(n)))
		} else {
			top = append(top, fmt.Sprintf("%s %.2f", name, float64(st.by[name])/float64(n)))
		}
	}
	out := strings.Join(top, ", ")
	if len(in) > 0 {
		out += " (calling " + strings.Join(in, ", ") + ")"
	}
	return out
}

// stages sums the entries by the stage of Tiltas's path each belongs to.
func (s slowlog) stages() []stage {
	by := map[string]*stage{}
	get := func(name string) *stage {
		st := by[name]
		if st == nil {
			st = &stage{name: name, by: map[string]int{}}
			by[name] = st
		}
		return st
	}
	var inner []string         // what the next script called
	multi := map[string]bool{} // clients whose MULTI is not yet matched with what EXEC ran
	for _, e := range s.entries {
		cmd := commandName(e.Args)
		switch {
		case cmd == "multi":
			multi[e.ClientAddr] = true
			continue
		case inTransaction(e):
			// Run by EXEC: the transaction's time is its commands' time.
			st := get("inbox done")
			if strings.Contains(e.Args[1], ":{out}:") {
				st = get("outbox done")
			}
			if multi[e.ClientAddr] {
				multi[e.ClientAddr] = false
				st.calls++
				st.by["multi/exec"]++
			}
			st.by["  "+cmd]++
			st.usec += float64(e.Duration.Microseconds())
			continue
		case nested(e):
			inner = append(inner, cmd)
			continue
		}
		st := get(stageOf(e.Args))
		st.by[cmd]++
		if isScript(cmd) {
			for _, c := range inner {
				st.by["  "+c]++
			}
		}
		inner = inner[:0]
		st.calls++
		st.usec += float64(e.Duration.Microseconds())
	}
	var out []stage
	for _, st := range by {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b stage) int { return int(b.usec - a.usec) })
	return out
}

// commandName is how commandstats names a command: "xgroup|create" for subcommands.
func commandName(args []string) string {
	name := strings.ToLower(args[0])
	switch name {
	case "xgroup", "xinfo", "config", "client", "script", "slowlog":
		if len(args) > 1 {
			name += "|" + strings.ToLower(args[1])
		}
	}
	return name
}

// stageOf names the stage a command serves, from the script it runs or the keys it touches.
func stageOf(args []string) string {
	name := strings.ToLower(args[0])
	if name == "evalsha" || name == "eval" {
		if len(args) > 1 {
			if s := redis.ScriptName(args[1]); s != "" {
				return s
			}
		}
		return "script (other)"
	}
	key := ""
	if len(args) > 1 {
		key = args[1]
	}
	if name == "xack" && strings.Contains(key, ":{in}:") {
		return "inbox done"
	}
	if name == "xadd" && strings.Contains(key, ":{in}:") {
		return "inbox push"
	}
	if name == "xreadgroup" || name == "xautoclaim" {
		for _, a := range args {
			if strings.Contains(a, ":{in}:") {
				return "inbox take"
			}
			if strings.Contains(a, ":{out}:") {
				return "outbox take"
			}
		}
	}
	switch {
	case strings.Contains(key, ":{rec}:r:dialog/"):
		return "dialog read"
	case strings.Contains(key, ":{rec}:r:link/"), strings.Contains(key, ":{rec}:r:acct/"):
		return "account read"
	case strings.Contains(key, ":{rec}:i:directory"):
		return "roster probe"
	case strings.Contains(key, ":{rec}:"):
		return "records (other)"
	case strings.Contains(key, ":{out}:"):
		return "outbox take"
	case strings.Contains(key, ":{in}:"):
		return "inbox take"
	case strings.Contains(key, ":lock:"):
		return "leases"
	}
	return name
}
