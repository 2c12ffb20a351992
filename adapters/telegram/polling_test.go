package telegram_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/telegram"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
)

// savedOffset reads the poll offset the adapter keeps in Records.
func (h *harness) savedOffset() int64 {
	h.t.Helper()
	data, _, err := h.mem.Get(h.ctx, "telegram/poll-offset")
	if err != nil {
		h.t.Fatalf("poll offset: %v", err)
	}
	var o struct {
		UpdateID int64 `json:"update_id"`
	}
	if err := json.Unmarshal(data, &o); err != nil {
		h.t.Fatal(err)
	}
	return o.UpdateID
}

func TestPollingOffsetSurvivesARestart(t *testing.T) {
	h := newHarness(t, options{link: []string{"giedre-s"}})
	var ids []int
	for range 3 {
		ids = append(ids, h.say("giedre-s", "/help"))
	}
	h.handledUpdate(ids[2])
	h.delivered() // what a stopped worker had taken would wait out the outbox's claim timeout
	h.rep.stop()
	if got := h.savedOffset(); got != int64(ids[2]) {
		t.Fatalf("saved offset %d, want %d", got, ids[2])
	}
	// Updates that arrive while no replica runs wait at Telegram.
	for range 2 {
		ids = append(ids, h.say("giedre-s", "/help"))
	}
	stopped := time.Now()
	h.newEngine()
	h.rep = h.start()
	h.handledUpdate(ids[4])
	h.delivered()
	for _, id := range ids {
		if n := h.timesHandled(id); n != 1 {
			t.Errorf("update %d handled %d times", id, n)
		}
	}
	if n := len(h.calls("sendMessage", h.user("giedre-s"))); n != 5 {
		t.Errorf("%d answers to 5 commands", n)
	}
	for _, c := range h.srv.Calls("getUpdates") {
		if c.Time.After(stopped) {
			if c.Params["offset"] != int64(ids[2]+1) {
				t.Errorf("the new replica polled from %v, want %d", c.Params["offset"], ids[2]+1)
			}
			break
		}
	}
	if got := h.savedOffset(); got != int64(ids[4]) {
		t.Errorf("saved offset %d, want %d", got, ids[4])
	}
}

func TestAnotherReplicaTakesOverPollingWhenTheHolderDies(t *testing.T) {
	const lease = 2 * time.Second
	h := newHarness(t, options{link: []string{"giedre-s"}, lease: lease})
	first := h.rep
	h.handledUpdate(h.say("giedre-s", "/help"))
	second := h.start()
	t.Cleanup(second.stop)
	// Both run for a while: only the lease holder polls, so Telegram never sees two pollers.
	time.Sleep(lease)
	h.handledUpdate(h.say("giedre-s", "/help"))

	// The holder dies without giving its leases up: it stops, and its leases are put back as a
	// crash would have left them. (Should the standby grab the poll lease in the instant
	// between, the handover was merely graceful, and the wait is not checked.)
	first.stop()
	crashed := true
	for _, name := range []string{telegram.PollLease, "inbound"} {
		ok, err := h.locker.Lock(h.ctx, name, first.owner, lease)
		if err != nil {
			t.Fatal(err)
		}
		crashed = crashed && ok
	}
	died := time.Now()
	id := h.say("giedre-s", "/help")
	h.handledUpdate(id)
	took := time.Since(died)
	t.Logf("the update sent when the poller died was handled after %v (lease %v)", took.Round(10*time.Millisecond), lease)
	h.seeFor("giedre-s", "Jūsų komandos")
	ctx, cancel := context.WithTimeout(h.ctx, hang)
	defer cancel()
	poll, err := h.srv.WaitFor(ctx, func(c telegramtest.Call) bool { return c.Method == "getUpdates" && c.Time.After(died) })
	if err != nil {
		t.Fatal(err)
	}
	if wait := poll.Time.Sub(died); crashed && wait < lease-100*time.Millisecond {
		t.Errorf("the standby polled %v after the holder died, before its lease of %v ran out", wait, lease)
	}
	for _, c := range h.srv.Calls("getUpdates") {
		if c.Code == 409 {
			t.Errorf("two replicas polled at once: %s at %v", c.Error, c.Time)
		}
	}
	if n := h.timesHandled(id); n != 1 {
		t.Errorf("handled %d times", n)
	}
}
