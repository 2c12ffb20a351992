//go:build loadrun

package loadrun

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiltas/tiltas/adapters/slack/slackfake"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
)

// appClock converts between real time and the replicas' accelerated clock.
type appClock struct {
	start  time.Time // app time at origin
	origin time.Time // real time the replicas' clocks started
	speed  float64
}

func (c appClock) app(real time.Time) time.Time {
	return c.start.Add(time.Duration(float64(real.Sub(c.origin)) * c.speed))
}

func (c appClock) real(app time.Time) time.Time {
	return c.origin.Add(time.Duration(float64(app.Sub(c.start)) / c.speed))
}

// view is a message in a person's direct chat as it reads now, on either platform.
type view struct {
	text    string
	buttons []button
	tg      telegramtest.SentMessage
	sl      slackfake.Message
}

type button struct {
	label string
	data  string           // Telegram callback data
	sl    slackfake.Button // Slack button
}

func (v view) button(label string) (button, bool) {
	for _, b := range v.buttons {
		if b.label == label {
			return b, true
		}
	}
	return button{}, false
}

// driver acts as the people: it types and presses through the fakes, as each platform's users
// would, and counts what it did.
type driver struct {
	m  *municipality
	tg *telegramtest.Server
	sl *slackfake.Server

	// Updates the driver sent: Telegram updates queued and Slack requests the app accepted.
	Commands, Presses atomic.Int64
	// SlackRetries counts Slack requests sent again because no replica accepted them (Slack
	// itself retries events; a person would type the command again).
	SlackRetries atomic.Int64

	mu       sync.Mutex
	problems []string
}

func (d *driver) problem(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

// messages returns p's direct messages as they read now, oldest first.
func (d *driver) messages(p *person) []view {
	var out []view
	if p.Slack {
		for _, m := range d.sl.DM(p.SU) {
			v := view{text: m.Plain(), sl: m}
			for _, b := range m.Blocks {
				for _, bt := range b.Buttons {
					v.buttons = append(v.buttons, button{label: bt.Label, sl: bt})
				}
			}
			out = append(out, v)
		}
		return out
	}
	for _, m := range d.tg.Sent(p.TG) {
		v := view{text: m.Text, tg: m}
		if m.ReplyMarkup != nil {
			for _, row := range m.ReplyMarkup.InlineKeyboard {
				for _, b := range row {
					v.buttons = append(v.buttons, button{label: b.Text, data: b.CallbackData})
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// waitFor waits until one of p's messages satisfies pred, newest first.
func (d *driver) waitFor(ctx context.Context, p *person, timeout time.Duration, pred func(view) bool) (view, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ms := d.messages(p)
		for i := len(ms) - 1; i >= 0; i-- {
			if pred(ms[i]) {
				return ms[i], nil
			}
		}
		select {
		case <-ctx.Done():
			return view{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// slackAgain retries a Slack request that no replica accepted (a 5xx, or none reachable).
func (d *driver) slackAgain(ctx context.Context, fn func() error) error {
	var err error
	for i := range 8 {
		if err = fn(); err == nil {
			return nil
		}
		if !strings.Contains(err.Error(), "answered 5") {
			return err
		}
		d.SlackRetries.Add(1)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i+1) * 500 * time.Millisecond):
		}
	}
	return err
}

// say sends a command ("/concern …") in p's direct chat.
func (d *driver) say(ctx context.Context, p *person, text string) error {
	if p.Slack {
		// Slack users type the app's slash command: "/tiltas concern …".
		err := d.slackAgain(ctx, func() error {
			return d.sl.Command(slackfake.DMChannel(p.SU), p.SU, strings.TrimPrefix(text, "/"))
		})
		if err == nil {
			d.Commands.Add(1)
		}
		return err
	}
	d.tg.PushUpdate(d.tg.PrivateMessage(p.TG, text))
	d.Commands.Add(1)
	return nil
}

// press presses the button labelled label on v, as p.
func (d *driver) press(ctx context.Context, p *person, v view, label string) error {
	b, ok := v.button(label)
	if !ok {
		return fmt.Errorf("no button %q", label)
	}
	if p.Slack {
		err := d.slackAgain(ctx, func() error {
			return d.sl.PressButton(p.SU, slackfake.DMChannel(p.SU), v.sl.TS, b.sl)
		})
		if err == nil {
			d.Presses.Add(1)
		}
		return err
	}
	d.tg.PushUpdate(d.tg.CallbackQuery(p.TG, v.tg.Message, b.data))
	d.Presses.Add(1)
	return nil
}

// concern is one concern the driver raises.
type concern struct {
	N      int
	Case   string
	Sender *person
	Area   string
	// Ack says whether a first-step recipient acknowledges it; the others are left to escalate
	// through every step.
	Ack   bool
	Acker *person

	mu        sync.Mutex
	Confirmed time.Time // real time the sender pressed the confirmation
	Acked     time.Time // real time the acknowledgement was pressed
}

// isCard reports whether text is the card of the concern about caseCode.
func isCard(text, caseCode string) bool {
	c, ok := field(reCard, text, "case")
	return ok && c == caseCode
}

// raise types the concern shortcut and confirms the summary the bot shows.
func (d *driver) raise(ctx context.Context, c *concern) error {
	// The shortcut with urgency and category by their IDs, which the command reads in any language.
	text := fmt.Sprintf("/concern %s urgent violence Mokinys su mėlynėmis, sako bijantis grįžti namo (bandymas %d)", c.Case, c.N)
	if err := d.say(ctx, c.Sender, text); err != nil {
		return fmt.Errorf("concern %s: %w", c.Case, err)
	}
	prompt, err := d.waitFor(ctx, c.Sender, 3*time.Minute, func(v view) bool {
		_, ok := v.button(labelConfirm)
		return ok && strings.Contains(v.text, c.Case) && !isCard(v.text, c.Case)
	})
	if err != nil {
		return fmt.Errorf("concern %s: no confirmation prompt for %s: %w", c.Case, c.Sender.ID, err)
	}
	if err := d.press(ctx, c.Sender, prompt, labelConfirm); err != nil {
		return fmt.Errorf("concern %s: confirm: %w", c.Case, err)
	}
	c.mu.Lock()
	c.Confirmed = time.Now()
	c.mu.Unlock()
	return nil
}

// acknowledge waits for the acker's card and presses its acknowledge button.
func (d *driver) acknowledge(ctx context.Context, c *concern, think time.Duration) error {
	card, err := d.waitFor(ctx, c.Acker, 3*time.Minute, func(v view) bool {
		_, ok := v.button(labelAck)
		return ok && isCard(v.text, c.Case)
	})
	if err != nil {
		return fmt.Errorf("concern %s: no card with a button for %s: %w", c.Case, c.Acker.ID, err)
	}
	sleepCtx(ctx, think)
	if err := d.press(ctx, c.Acker, card, labelAck); err != nil {
		return fmt.Errorf("concern %s: acknowledge: %w", c.Case, err)
	}
	c.mu.Lock()
	c.Acked = time.Now()
	c.mu.Unlock()
	return nil
}

// rsvp answers the meeting on p's newest card.
func (d *driver) rsvp(ctx context.Context, p *person, title, label string) error {
	card, err := d.waitFor(ctx, p, 3*time.Minute, func(v view) bool {
		_, ok := v.button(label)
		return ok && strings.Contains(v.text, title)
	})
	if err != nil {
		return fmt.Errorf("meeting card for %s: %w", p.ID, err)
	}
	return d.press(ctx, p, card, label)
}

// joinVisit confirms the visit whose card is in area, as p.
func (d *driver) joinVisit(ctx context.Context, p *person, area string) error {
	card, err := d.waitFor(ctx, p, 3*time.Minute, func(v view) bool {
		_, ok := v.button(labelJoin)
		a, _ := field(reVisitCard, v.text, "area")
		return ok && a == area
	})
	if err != nil {
		return fmt.Errorf("visit card (%s) for %s: %w", area, p.ID, err)
	}
	return d.press(ctx, p, card, labelJoin)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// sleepUntil sleeps until the real time t.
func sleepUntil(ctx context.Context, t time.Time) bool { return sleepCtx(ctx, time.Until(t)) }
