//go:build loadrun

package loadrun

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
)

// expected lists the messages the run is sure must arrive once each (want), and those that may
// arrive at most once (allowed: a concern acknowledged just after its step's wait ran out).
func (r *run) expected(c *classified) (want, allowed map[key]bool) {
	want, allowed = map[key]bool{}, map[key]bool{}
	for _, cn := range r.concerns {
		want[key{"concern.prompt", cn.Case, cn.Sender.chat()}] = true
		if cn.Confirmed.IsZero() {
			continue // the prompt never came: counted above
		}
		want[key{"concern.sent", cn.Case, cn.Sender.chat()}] = true
		want[key{"concern.group", cn.Case, r.m.groupChat(cn.Area)}] = true
		for _, p := range r.m.rights[cn.Area] {
			want[key{"concern.card", cn.Case, p.chat()}] = true
		}
		later := want
		if cn.Ack {
			later = allowed
			if !cn.Acked.IsZero() {
				want[key{"concern.acked", cn.Case, cn.Sender.chat()}] = true
			}
		}
		for _, p := range r.m.police[cn.Area] {
			later[key{"concern.card", cn.Case, p.chat()}] = true
		}
		for _, p := range r.m.coordinators {
			later[key{"concern.card", cn.Case, p.chat()}] = true
			later[key{"concern.exhausted", cn.Case, p.chat()}] = true
		}
	}
	for _, cn := range r.api {
		if cn.ID == "" {
			continue // lost before it was raised: counted by apiOutcome
		}
		// Nobody acknowledges them: every step, then the exhausted notice.
		want[key{"concern.group", cn.Case, r.m.groupChat(cn.Area)}] = true
		for _, group := range [][]*person{r.m.rights[cn.Area], r.m.police[cn.Area], r.m.coordinators} {
			for _, p := range group {
				want[key{"concern.card", cn.Case, p.chat()}] = true
			}
		}
		for _, p := range r.m.coordinators {
			want[key{"concern.exhausted", cn.Case, p.chat()}] = true
		}
	}
	for _, p := range r.m.meetingAudience() {
		for _, off := range r.sc.Reminders {
			want[key{"meeting.reminder", durationYAML(off), p.chat()}] = true
		}
	}
	for _, v := range r.sc.Visits {
		no := r.visitNo(c, v.Area)
		for _, p := range r.m.visitPool(v) {
			want[key{"visit.card", no, p.chat()}] = true
		}
		if len(r.joiners[v.ID]) < 2 {
			continue
		}
		for _, p := range r.m.visitPool(v) {
			want[key{"visit.confirmed", no, p.chat()}] = true
		}
		for _, p := range r.joiners[v.ID] {
			for _, off := range visitReminders {
				want[key{"visit.reminder", no + "@" + durationYAML(off), p.chat()}] = true
			}
		}
	}
	return want, allowed
}

// visitNo is the number the bot gave the visit in area, from the cards it sent.
func (r *run) visitNo(c *classified, area string) string {
	for no, a := range c.visitArea {
		if a == area {
			return no
		}
	}
	return "?" + area
}

// latency is a list of lateness figures in app time.
type latency struct {
	name string
	app  []time.Duration
}

func (l *latency) add(d time.Duration) { l.app = append(l.app, d) }

func (r *run) line(l latency) string {
	if len(l.app) == 0 {
		return fmt.Sprintf("  %-44s %5d\n", l.name, 0)
	}
	xs := make([]float64, len(l.app))
	for i, d := range l.app {
		xs[i] = d.Seconds() / r.sc.Speed // real seconds
	}
	slices.Sort(xs)
	f := func(x float64) string { return fmt.Sprintf("%5.2fs %6.1fm", x, x*r.sc.Speed/60) }
	return fmt.Sprintf("  %-44s %5d  p50 %s  p99 %s  max %s\n", l.name, len(xs), f(percentile(xs, 50)), f(percentile(xs, 99)), f(xs[len(xs)-1]))
}

// lateness measures, per kind of timer, how late its message arrived at a fake after the time
// it was due (app time), and, for escalations, how late the timer itself fired (from the alert's
// timeline in Redis).
func (r *run) lateness(ctx context.Context, c *classified) []latency {
	meet := latency{name: "meeting reminders (arrival at the fake)"}
	for k, ats := range c.arrivals {
		if k.Kind != "meeting.reminder" {
			continue
		}
		off, _ := time.ParseDuration(k.Subject)
		meet.add(r.clock.app(ats[0]).Sub(r.sc.Meeting.Add(-off)))
	}
	visit := latency{name: "visit reminders (arrival at the fake)"}
	for k, ats := range c.arrivals {
		if k.Kind != "visit.reminder" {
			continue
		}
		no, offs, _ := strings.Cut(k.Subject, "@")
		off, err := time.ParseDuration(offs)
		start, ok := visitStart(r.sc, c.visitArea[no])
		if err == nil && ok {
			visit.add(r.clock.app(ats[0]).Sub(start.Add(-off)))
		}
	}
	esc := latency{name: "escalation steps (arrival at the fake)"}
	escTimer := latency{name: "escalation timers (fired, from the timeline)"}
	for _, cn := range r.concerns {
		if cn.Ack || cn.Confirmed.IsZero() {
			continue
		}
		for id := range c.alertOf[cn.Case] {
			a, _, err := bot.Load[alerts.Alert](ctx, r.store, "alert/"+id)
			if err != nil {
				continue
			}
			entered := map[string]time.Time{}
			for _, ev := range a.Timeline {
				entered[ev.Kind] = ev.At
			}
			steps := [][]*person{r.m.rights[cn.Area], r.m.police[cn.Area], r.m.coordinators}
			for s := 1; s <= len(steps); s++ {
				prev, ok := entered[fmt.Sprintf("entered:0:%d", s-1)]
				if !ok {
					continue
				}
				due := prev.Add(r.sc.StepWait)
				kind, fired := "concern.card", entered[fmt.Sprintf("entered:0:%d", s)]
				to := []*person(nil)
				if s < len(steps) {
					to = steps[s]
				} else {
					kind, fired, to = "concern.exhausted", entered["exhausted"], r.m.coordinators
				}
				if !fired.IsZero() {
					escTimer.add(fired.Sub(due))
				}
				var firstAt time.Time
				for _, p := range to {
					if at, ok := c.first(key{kind, cn.Case, p.chat()}); ok && (firstAt.IsZero() || at.Before(firstAt)) {
						firstAt = at
					}
				}
				if !firstAt.IsZero() {
					esc.add(r.clock.app(firstAt).Sub(due))
				}
			}
		}
	}
	return []latency{meet, visit, esc, escTimer}
}

// windowMax is the most events in any window of length w (times sorted).
func windowMax(ts []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// report prints the figures and fails the test for messages lost or sent twice.
func (r *run) report() {
	ctx := context.Background()
	t := r.t
	recs := ledger(r.tg, r.sl)
	dump(r.work, recs, r.tg, r.sl, r.clock)
	c := classify(recs, r.sc, r.clock)
	want, allowed := r.expected(c)
	var lost []key
	for k := range want {
		if len(c.arrivals[k]) == 0 {
			lost = append(lost, k)
		}
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i].String() < lost[j].String() })
	dups, unexpected := map[key]int{}, 0
	var unexpectedKeys []key
	for k, ats := range c.arrivals {
		if len(ats) > 1 {
			dups[k] = len(ats) - 1
		}
		if !want[k] && !allowed[k] {
			unexpected += len(ats)
			unexpectedKeys = append(unexpectedKeys, k)
		}
	}
	nDup := 0
	for _, n := range dups {
		nDup += n
	}
	twice := 0 // concerns that became two alerts
	for _, ids := range c.alertOf {
		if len(ids) > 1 {
			twice++
		}
	}
	delivered := 0
	for k := range want {
		if len(c.arrivals[k]) > 0 {
			delivered++
		}
	}

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	sep := strings.Repeat("─", 96) + "\n"
	var tgPeople, slPeople int
	for _, p := range r.m.people {
		if p.Slack {
			slPeople++
		} else {
			tgPeople++
		}
	}
	acked, confirmed, escalate := 0, 0, 0
	for _, cn := range r.concerns {
		if !cn.Ack {
			escalate++
		}
		if !cn.Confirmed.IsZero() {
			confirmed++
		}
		if !cn.Acked.IsZero() {
			acked++
		}
	}
	w("%s", sep)
	w("Tiltas load and fault run · %s · %s\n", time.Now().Format("2006-01-02 15:04 MST"), machine())
	w("%s", sep)
	w("day            %s → %s (app time, Europe/Vilnius), clock ×%g: 1 s real = %s app\n",
		r.sc.Start.Format("2006-01-02 15:04"), r.drivenUntil.Format("15:04"), r.sc.Speed, time.Duration(r.sc.Speed*float64(time.Second)))
	w("people         %d (%d on Telegram, %d on Slack) in %d institutions; 3 replicas, 1 Redis (AOF everysec)\n",
		len(r.m.people), tgPeople, slPeople, len(r.m.insts))
	w("concerns       %d raised (%d confirmed), %d acknowledged by a first-step recipient, %d left to escalate (3 steps × %s)\n",
		len(r.concerns), confirmed, acked, escalate, durationYAML(r.sc.StepWait))
	apiLost, apiTwice, apiFirst, apiRetried, api409 := r.apiOutcome(ctx)
	w("api concerns   %d through the integration API to the replica killed next, from 25 ms apart: %d answered by it, %d retried elsewhere (%d × 409 heard); lost %d, raised twice %d\n",
		len(r.api), apiFirst, apiRetried, api409, len(apiLost), len(apiTwice))
	w("meeting        1 one-off, %d people reminded %s before\n", len(r.m.meetingAudience()), durationList(r.sc.Reminders))
	w("visits         %d series, each proposed to its area's pool and confirmed by two; reminders %s before\n", len(r.sc.Visits), durationList(visitReminders))
	w("driver         %d commands, %d presses; Slack requests resent %d; load balancer passed %d on to another replica, %d refused\n",
		r.d.Commands.Load(), r.d.Presses.Load(), r.d.SlackRetries.Load(), r.bal.Retried.Load(), r.bal.Failed.Load())
	w("faults         %s replica %d (inbound leader) SIGKILLed; %s Redis SHUTDOWN + start on the same port and AOF (down %s); %d Slack 429s injected (Retry-After 2s)\n",
		r.clock.app(r.killedAt).Format("15:04"), r.killedN(), r.clock.app(r.redisRestartAt).Format("15:04"), r.redisDown.Round(time.Millisecond), r.slack429)
	w("quiescence     outbox empty and fakes quiet after %s real\n", r.quiet.Round(time.Second))
	w("%s", sep)
	w("MESSAGES (from the fakes' records)\n")
	tgS, tgE, slS, slE := 0, 0, 0, 0
	for _, rec := range recs {
		switch {
		case rec.Platform == "telegram" && rec.Edit:
			tgE++
		case rec.Platform == "telegram":
			tgS++
		case rec.Edit:
			slE++
		default:
			slS++
		}
	}
	w("  accepted               Telegram %d sends + %d edits, Slack %d sends + %d edits\n", tgS, tgE, slS, slE)
	w("  expected (sure)        %d logical messages, %d delivered\n", len(want), delivered)
	w("  LOST                   %d   (target 0)\n", len(lost))
	w("  DUPLICATES             %d extra copies of %d messages; %d concerns raised twice\n", nDup, len(dups), twice)
	w("  unexpected             %d (recognised, but neither expected nor allowed)\n", unexpected)
	w("  not recognised         %d sends (dialog replies, toasts as messages, visit briefs, summaries …)\n", c.other)
	for _, kind := range []string{"concern.prompt", "concern.sent", "concern.card", "concern.group", "concern.acked", "concern.exhausted", "meeting.reminder", "visit.card", "visit.confirmed", "visit.reminder"} {
		nw, nd, nl, nx := 0, 0, 0, 0
		for k := range want {
			if k.Kind == kind {
				nw++
				if len(c.arrivals[k]) > 0 {
					nd++
				} else {
					nl++
				}
			}
		}
		for k, n := range dups {
			if k.Kind == kind {
				nx += n
			}
		}
		w("    %-20s expected %5d  delivered %5d  lost %3d  duplicates %3d\n", kind, nw, nd, nl, nx)
	}
	for i, k := range lost {
		if i == 10 {
			w("    … %d more lost\n", len(lost)-10)
			break
		}
		w("    lost: %s\n", k)
	}
	n := 0
	for k, x := range dups {
		if n == 10 {
			w("    … more duplicates\n")
			break
		}
		w("    duplicate ×%d: %s\n", x+1, k)
		n++
	}
	for i, k := range unexpectedKeys {
		if i == 5 {
			break
		}
		w("    unexpected: %s\n", k)
	}
	stale := r.staleCopies(recs, c)
	w("  copies not up to date  %d (an acknowledged concern's card not saying so; a latest meeting or visit copy not showing it)\n", stale)
	w("%s", sep)
	w("TIMER LATENESS (arrival or firing − due; real seconds, and app minutes at ×%g)\n", r.sc.Speed)
	for _, l := range r.lateness(ctx, c) {
		w("%s", r.line(l))
	}
	w("%s", sep)
	w("DELIVERY RATE AGAINST THE PLATFORM LIMITS\n")
	sends := r.tg.Sends()
	var ts []time.Time
	perChat := map[int64][]time.Time{}
	for _, s := range sends {
		ts = append(ts, s.Time)
		perChat[s.ChatID] = append(perChat[s.ChatID], s.Time)
	}
	maxPriv, maxGroup := 0, 0
	for id, list := range perChat {
		if id > 0 {
			maxPriv = max(maxPriv, windowMax(list, time.Second))
		} else {
			maxGroup = max(maxGroup, windowMax(list, time.Minute))
		}
	}
	w("  Telegram               %d accepted sends and edits; busiest 1 s: %d (limit 30); busiest 10 s: %.1f/s = %.0f%% of the limit\n",
		len(ts), windowMax(ts, time.Second), float64(windowMax(ts, 10*time.Second))/10, float64(windowMax(ts, 10*time.Second))/10/30*100)
	w("                         per private chat, busiest 1 s: %d (limit 1); per group, busiest minute: %d (limit 20)\n", maxPriv, maxGroup)
	for _, off := range r.sc.Reminders {
		var burst []time.Time
		for k, ats := range c.arrivals {
			if k.Kind == "meeting.reminder" && k.Subject == durationYAML(off) && strings.HasPrefix(k.Chat, "tg:") {
				burst = append(burst, ats[0])
			}
		}
		if len(burst) < 2 {
			continue
		}
		slices.SortFunc(burst, func(a, b time.Time) int { return a.Compare(b) })
		from, to := burst[0], burst[len(burst)-1]
		all := 0
		for _, x := range ts {
			if !x.Before(from) && !x.After(to) {
				all++
			}
		}
		span := to.Sub(from).Seconds()
		w("    meeting reminder %-4s %d reminders to Telegram within %.2fs; all Telegram sends then: %.1f/s = %.0f%% of 30/s\n",
			durationYAML(off), len(burst), span, float64(all)/span, float64(all)/span/30*100)
	}
	w("  Telegram 429s          %d provoked (target 0; jitter guard %s)\n", r.tg.Count429(), r.sc.JitterGuard)
	slackPer := map[string][]time.Time{}
	s429 := 0
	for _, call := range r.sl.Calls("") {
		if call.Status == 429 {
			s429++
		}
		if (call.Method == "chat.postMessage" || call.Method == "chat.update") && call.Status == 200 && call.Error == "" {
			slackPer[call.Channel] = append(slackPer[call.Channel], call.Time)
		}
	}
	maxSl := 0
	for _, list := range slackPer {
		maxSl = max(maxSl, windowMax(list, time.Second))
	}
	w("  Slack                  per channel, busiest 1 s: %d (limit 1); 429s answered %d (%d injected); calls before Retry-After passed: %d\n",
		maxSl, s429, r.slack429, len(r.sl.Problems()))
	w("%s", sep)
	w("REPLICAS\n")
	for _, rep := range r.replicas {
		h, rd := rep.probes()
		state := "survived"
		if rep.killed.Load() {
			state = "SIGKILLed"
		} else if !rep.alive() {
			state = "EXITED"
		}
		rec := "-"
		if d, ok := r.recovered[rep.n]; ok {
			rec = fmt.Sprintf("ready %.1fs after the Redis restart began", d.Seconds())
		} else if !rep.killed.Load() {
			rec = "NOT ready again after the Redis restart"
		}
		errs := rep.errorsLogged()
		var top []string
		for msg, n := range errs {
			top = append(top, fmt.Sprintf("%d× %s", n, msg))
		}
		sort.Strings(top)
		w("  replica %d  %-9s /healthz %d/%d  /readyz %d/%d  %s\n", rep.n, state, h.OK, h.Asked, rd.OK, rd.Asked, rec)
		if len(top) > 0 {
			w("             errors logged: %s\n", strings.Join(top, "; "))
		}
	}
	d := r.d
	d.mu.Lock()
	probs := slices.Clone(d.problems)
	d.mu.Unlock()
	if len(probs) > 0 {
		w("%s", sep)
		w("DRIVER WAITS THAT TIMED OUT (%d)\n", len(probs))
		for i, p := range probs {
			if i == 10 {
				w("  … %d more\n", len(probs)-10)
				break
			}
			w("  %s\n", p)
		}
	}
	w("%s", sep)
	out := b.String()
	_ = os.WriteFile(r.work+"/report.txt", []byte(out), 0o644)
	if p := os.Getenv("LOADRUN_REPORT"); p != "" {
		_ = os.WriteFile(p, []byte(out), 0o644) // scripts/loadrun prints it after go test's output
	} else {
		fmt.Print(out)
	}
	if len(lost) > 0 {
		t.Errorf("%d messages lost (target 0)", len(lost))
	}
	if nDup > 0 || twice > 0 {
		t.Errorf("%d duplicate messages, %d concerns raised twice (target 0)", nDup, twice)
	}
	if len(apiLost) > 0 || len(apiTwice) > 0 {
		t.Errorf("API concerns: %d lost %v, %d raised twice %v (target 0)", len(apiLost), apiLost, len(apiTwice), apiTwice)
	}
	if n := r.tg.Count429(); n > 0 {
		t.Errorf("%d Telegram sends refused by the rate limits (target 0)", n)
	}
	for _, rep := range r.replicas {
		if !rep.killed.Load() && !rep.alive() {
			t.Errorf("replica %d exited: %v (log %s)", rep.n, rep.exitErr, rep.logPath)
		} else if _, ok := r.recovered[rep.n]; !ok && !rep.killed.Load() {
			t.Errorf("replica %d was not ready again after the Redis restart", rep.n)
		}
	}
}

func (r *run) killedN() int {
	if r.killed == nil {
		return 0
	}
	return r.killed.n
}

func durationList(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, durationYAML(d))
	}
	return strings.Join(s, ", ")
}

// staleCopies counts copies whose final state is wrong: an acknowledged concern's card that does
// not say who acknowledged it, and a meeting's or visit's latest copy that no longer shows it
// (superseded, or turned into something else by an edit meant for another message). The n-th
// message a chat shows is the n-th send the fake accepted for it.
func (r *run) staleCopies(recs []record, c *classified) int {
	sends := map[string][]record{}
	for _, rec := range recs {
		if !rec.Edit {
			sends[rec.Chat] = append(sends[rec.Chat], rec)
		}
	}
	// latest returns what p's chat shows now in place of the last send that matched.
	latest := func(p *person, match func(string) bool) (string, bool) {
		list := sends[p.chat()]
		now := currentTexts(r.tg, r.sl, p)
		for i := len(list) - 1; i >= 0; i-- {
			if match(list[i].Text) {
				if i < len(now) {
					return now[i], true
				}
				return "", true
			}
		}
		return "", false
	}
	stale := 0
	for _, cn := range r.concerns {
		if cn.Acked.IsZero() {
			continue
		}
		for _, p := range r.m.rights[cn.Area] {
			if text, ok := latest(p, func(s string) bool { return isCard(s, cn.Case) }); ok && !(isCard(text, cn.Case) && reAckedState.MatchString(text)) {
				stale++
			}
		}
	}
	isReminder := func(s string) bool {
		return strings.HasPrefix(s, r.sc.MeetingTitle) && (reInHours.MatchString(s) || reInMinutes.MatchString(s))
	}
	for _, p := range r.m.meetingAudience() {
		if text, ok := latest(p, isReminder); ok && !(strings.HasPrefix(text, r.sc.MeetingTitle) && reMeetWhen.MatchString(text)) {
			stale++
		}
	}
	for _, v := range r.sc.Visits {
		no := r.visitNo(c, v.Area)
		isVisit := func(s string) bool { x, ok := field(reVisitCard, s, "visit"); return ok && x == no }
		for _, p := range r.m.visitPool(v) {
			if text, ok := latest(p, isVisit); ok && !isVisit(text) {
				stale++
			}
		}
	}
	return stale
}
