package delivery_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/delivery"
	"github.com/tiltas/tiltas/internal/redistest"
)

// recordingLimiter lets everything through at once and records what it was asked.
type recordingLimiter struct {
	mu    sync.Mutex
	to    []bot.Address
	waits []time.Duration
	// wait, when set, is how long the first reservation asks to wait.
	wait time.Duration
}

func (l *recordingLimiter) Reserve(_ context.Context, to bot.Address, _ bot.Op, maxWait time.Duration) (time.Duration, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.to = append(l.to, to)
	l.waits = append(l.waits, maxWait)
	if len(l.to) == 1 && l.wait > 0 {
		return l.wait, l.wait <= maxWait, nil
	}
	return 0, true, nil
}

func (l *recordingLimiter) Block(context.Context, bot.Address, bot.Op, time.Duration) error {
	return nil
}

func (l *recordingLimiter) Held(context.Context, bot.Address, bot.Op) (time.Duration, error) {
	return 0, nil
}

func (l *recordingLimiter) Hold(context.Context, bot.Address, bot.Op) error { return nil }

// An edit counts in the rate-limit window of the conversation the flow addressed: a group's edit
// in the group's window, although the ref it edits does not say it is a group.
func TestGroupEditIsLimitedAsAGroup(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, redistest.Prefix(t, redistest.Client(t)))
	group := bot.Address{Platform: bot.Telegram, Chat: "-1001", Group: true}
	if _, err := s.Write(ctx, bot.Write{Key: "ref/alert/A1/group/g", Data: []byte(`{"platform":"telegram","chat":"-1001","id":"7"}`), Version: bot.Any}); err != nil {
		t.Fatal(err)
	}
	edit := bot.Outgoing{ID: "e1", Op: bot.OpEdit, To: group, RefKey: "alert/A1/group/g", Msg: bot.Message{Lines: []string{"acknowledged"}}, Queued: time.Now()}
	if err := s.Enqueue(ctx, edit); err != nil {
		t.Fatal(err)
	}
	l := &recordingLimiter{}
	w := worker(s, newPlatform(), nil)
	w.Limiter = l
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(l.to) != 1 || !l.to[0].Group || l.to[0].Key() != group.Key() {
		t.Errorf("edit reserved as %+v, want the group %+v", l.to, group)
	}
}

// A pressed button's edit in a Slack DM (the update names the DM's channel and its user) counts
// in the same window, and waits out the same 429, as the messages sent to that person (addressed
// by user): a 429 on one holds the other back.
func TestSlackDMEditIsLimitedAsThePerson(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, redistest.Prefix(t, redistest.Client(t)))
	person := bot.Address{Platform: bot.Slack, Team: "T1", User: "U1"}
	pressedIn := bot.Address{Platform: bot.Slack, Team: "T1", Chat: "D1", User: "U1"}
	send := bot.Outgoing{ID: "s1", Op: bot.OpSend, To: person, Msg: bot.Message{Lines: []string{"card"}}, Queued: time.Now()}
	edit := bot.Outgoing{ID: "e1", Op: bot.OpEdit, To: pressedIn, Ref: &bot.MessageRef{Platform: bot.Slack, Team: "T1", Chat: "D1", ID: "1.2"},
		Msg: bot.Message{Lines: []string{"acknowledged"}}, Queued: time.Now()}
	if err := s.Enqueue(ctx, send, edit); err != nil {
		t.Fatal(err)
	}
	l := &recordingLimiter{}
	w := worker(s, newPlatform(), nil)
	w.Platform, w.Limiter = bot.Slack, l
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(l.to) != 2 || l.to[0].Key() != person.Key() || l.to[1].Key() != person.Key() {
		t.Errorf("reserved as %+v, want both under the person %s", l.to, person.Key())
	}
}

// A worker waits for a rate limit only as long as its claim on the message lasts: past that,
// another worker may take the message over and send it too.
func TestRateLimitWaitEndsBeforeTheClaim(t *testing.T) {
	ctx := context.Background()
	s, err := redis.New(redis.Options{Client: redistest.Client(t), Prefix: redistest.Prefix(t, redistest.Client(t)), ClaimTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, msg(1, "a")); err != nil {
		t.Fatal(err)
	}
	// The limiter asks the first send to wait 3s: longer than the claim (2s) allows.
	l := &recordingLimiter{wait: 3 * time.Second}
	p := newPlatform()
	w := &delivery.Worker{Platform: bot.Telegram, Queue: s, Messenger: p, Records: s, Limiter: l, MaxWait: 10 * time.Second}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waits) == 0 || l.waits[0] > 1500*time.Millisecond {
		t.Fatalf("first reservation allowed a wait of %v, want at most three quarters of the 2s claim", l.waits)
	}
	if p.total() != 0 {
		t.Errorf("sent %d times: the message should have gone back to the queue", p.total())
	}
}
