package telegramtest

import (
	"sort"
	"time"
)

// Window allows N sends per sliding period Per. N < 0 disables the window.
type Window struct {
	N   int
	Per time.Duration
}

// Limits are Telegram's broadcast limits, enforced as sliding windows on
// arrival time. Zero windows take Telegram's defaults; Disabled turns all
// of them off (for benchmarks of the fake-free path, raise them instead).
//
// A refused send starts a retry_after: the whole bot's when the overall
// window was full, else the chat's. Like Telegram's flood control, a send
// that arrives before it has passed is refused too and lengthens it by its
// first length; such sends are counted (Server.Early).
type Limits struct {
	Disabled bool
	Global   Window // all chats together; default 30 per second
	Private  Window // per private chat (positive chat ID); default 1 per second
	Group    Window // per group, supergroup or channel (negative ID); default 20 per minute
}

func (l Limits) withDefaults() Limits {
	def := func(w *Window, n int, per time.Duration) {
		if w.N == 0 {
			w.N = n
		}
		if w.Per <= 0 {
			w.Per = per
		}
	}
	def(&l.Global, 30, time.Second)
	def(&l.Private, 1, time.Second)
	def(&l.Group, 20, time.Minute)
	return l
}

// Send is one accepted send: a message, document or edit that Telegram
// would have delivered.
type Send struct {
	Method string
	ChatID int64 // 0 for inline messages
	Time   time.Time
}

// rateLimiter keeps the arrival times of accepted sends, sorted, per window,
// and the retry_afters running.
type rateLimiter struct {
	limits Limits
	global []time.Time
	chats  map[int64][]time.Time
	// pauses are the retry_afters not yet passed: key 0 the bot's, else a chat's.
	pauses map[int64]*pause
}

type pause struct {
	until  time.Time
	length time.Duration
}

func newRateLimiter(l Limits) *rateLimiter {
	return &rateLimiter{limits: l.withDefaults(), chats: map[int64][]time.Time{}, pauses: map[int64]*pause{}}
}

// admit records a send at now unless a retry_after is running for it (early)
// or a window is full; then it returns the whole seconds to wait, rounded up,
// as Telegram's retry_after.
func (r *rateLimiter) admit(now time.Time, chatID int64) (retryAfter int, ok, early bool) {
	if r.limits.Disabled {
		return 0, true, false
	}
	for _, k := range []int64{0, chatID} {
		p := r.pauses[k]
		if p == nil {
			continue
		}
		if !now.Before(p.until) {
			delete(r.pauses, k)
			continue
		}
		p.until = p.until.Add(p.length)
		return seconds(p.until.Sub(now)), false, true
	}
	dg := wait(r.global, now, r.limits.Global)
	chatWindow := r.limits.Private
	if chatID < 0 {
		chatWindow = r.limits.Group
	}
	var dc time.Duration
	if chatID != 0 {
		dc = wait(r.chats[chatID], now, chatWindow)
	}
	if d := max(dg, dc); d > 0 {
		retry := seconds(d)
		scope := chatID
		if dg > 0 {
			scope = 0
		}
		length := time.Duration(retry) * time.Second
		r.pauses[scope] = &pause{until: now.Add(length), length: length}
		return retry, false, false
	}
	r.global = insert(prune(r.global, now, r.limits.Global), now)
	if chatID != 0 {
		r.chats[chatID] = insert(prune(r.chats[chatID], now, chatWindow), now)
	}
	return 0, true, false
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// wait is how long until a send at now fits in window w.
func wait(times []time.Time, now time.Time, w Window) time.Duration {
	if w.N < 0 {
		return 0
	}
	from := now.Add(-w.Per)
	in := times[sort.Search(len(times), func(i int) bool { return times[i].After(from) }):]
	if len(in) < w.N {
		return 0
	}
	// The send fits once the oldest of the last N leaves the window.
	oldest := in[len(in)-w.N]
	return max(oldest.Add(w.Per).Sub(now), time.Nanosecond)
}

func prune(times []time.Time, now time.Time, w Window) []time.Time {
	from := now.Add(-w.Per)
	i := sort.Search(len(times), func(i int) bool { return times[i].After(from) })
	return append(times[:0], times[i:]...)
}

func insert(times []time.Time, t time.Time) []time.Time {
	i := sort.Search(len(times), func(i int) bool { return times[i].After(t) })
	times = append(times, time.Time{})
	copy(times[i+1:], times[i:])
	times[i] = t
	return times
}

// cancel forgets a send admitted at now that then failed.
func (r *rateLimiter) cancel(now time.Time, chatID int64) {
	if r.limits.Disabled {
		return
	}
	r.global = remove(r.global, now)
	if chatID != 0 {
		r.chats[chatID] = remove(r.chats[chatID], now)
	}
}

func remove(times []time.Time, t time.Time) []time.Time {
	for i := len(times) - 1; i >= 0; i-- {
		if times[i].Equal(t) {
			return append(times[:i], times[i+1:]...)
		}
	}
	return times
}
