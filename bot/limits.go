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

// DefaultRateLimits returns the limits the platforms publish: Telegram takes 30 messages a second
// overall, one a second per private chat and 20 a minute per group; Slack one a second per
// channel. The margin is 25ms.
func DefaultRateLimits() RateLimits {
	const margin = 25 * time.Millisecond
	return RateLimits{Platforms: map[Platform]PlatformLimits{
		Telegram: {Global: Rate{30, time.Second}, PerChat: Rate{1, time.Second}, PerGroup: Rate{20, time.Minute}, Margin: margin},
		Slack:    {PerChat: Rate{1, time.Second}, PerGroup: Rate{1, time.Second}, Margin: margin},
	}}
}
