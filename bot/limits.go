package bot

import "time"

// RateLimits is how fast each platform takes messages from the bot; a platform missing from it is
// not limited. Both limiters (in memory and in Redis) take it, so one config section fills either.
type RateLimits struct {
	Platforms map[Platform]PlatformLimits
}

// PlatformLimits are one platform's limits: overall, per private conversation and per group chat
// or channel. Margin widens every window, so that jitter between our sends and the platform's
// clock never puts one send too many into the platform's window.
type PlatformLimits struct {
	Global   Rate
	PerChat  Rate
	PerGroup Rate
	Margin   time.Duration
}

// Rate is at most N sends in any Window; a zero N is no limit.
type Rate struct {
	N      int
	Window time.Duration
}

// DefaultMargin widens every window. 25 ms was too little on a two-core machine under load (the
// load run saw ten sends of a reminder burst land in one of Telegram's one-second windows): the
// time from the limiter's reservation to Telegram's receipt varies by more than that when the
// CPUs are busy. 100 ms held in every load run, for a tenth of the 30 a second.
const DefaultMargin = 100 * time.Millisecond

// DefaultRateLimits returns the limits the platforms publish: Telegram takes 30 messages a second
// overall, one a second per private chat and 20 a minute per group; Slack one a second per
// channel. The margin is DefaultMargin.
func DefaultRateLimits() RateLimits {
	const margin = DefaultMargin
	return RateLimits{Platforms: map[Platform]PlatformLimits{
		Telegram: {Global: Rate{30, time.Second}, PerChat: Rate{1, time.Second}, PerGroup: Rate{20, time.Minute}, Margin: margin},
		Slack:    {PerChat: Rate{1, time.Second}, PerGroup: Rate{1, time.Second}, Margin: margin},
	}}
}

// PausedTogether names the sends that one "retry after" from platform p holds back along with a
// send of op. Telegram's does not say which limit was hit, so every send of the bot waits ("all"),
// unless the limiter's own window for that conversation was full and the overall one was not
// (then that conversation alone); Slack's is per Web API method, so sends or edits wait ("send", "edit"). Empty: the
// conversation alone.
func PausedTogether(p Platform, op Op) string {
	switch p {
	case Telegram:
		return "all"
	case Slack:
		return string(op)
	}
	return ""
}
