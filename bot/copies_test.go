package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/memory"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/flowtest"
)

// A newer copy supersedes the old one by an edit pinned to the old message: with several
// replicas the edit may be delivered after the new copy, when the copy's ref already names the
// new message, and it must not turn the new copy into "see below".
func TestSupersedeEditIsPinnedToTheOldCopy(t *testing.T) {
	ctx := context.Background()
	clock := bot.NewManualClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	st := memory.New(clock)
	cfg, err := config.Parse(bytes.NewReader(config.Example()), config.ExampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	e := bot.NewEngine(bot.Deps{Clock: clock, Records: st, Marks: st, Outbox: st, Timers: st, Audit: st.Audit(), Texts: bot.MustLoadCatalog()}, cfg.Settings(), cfg.Directory())
	dm := bot.Address{Platform: bot.Telegram, Chat: "42"}
	if err := e.Link(ctx, "ona-p", bot.Identity{Platform: bot.Telegram, User: "42"}, dm); err != nil {
		t.Fatal(err)
	}
	build := func(text string) func(*bot.Person, string) bot.Message {
		return func(*bot.Person, string) bot.Message { return bot.Message{Lines: []string{text}} }
	}
	copies := e.Copies("visit/V1")
	if _, err := copies.Send(ctx, "first", []string{"ona-p"}, bot.Notice{}, build("first")); err != nil {
		t.Fatal(err)
	}
	// The worker sends the first copy and keeps its ref.
	ds, err := st.Take(ctx, bot.Telegram, 10, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("take = %d, %v", len(ds), err)
	}
	first := bot.MessageRef{Platform: bot.Telegram, Chat: "42", ID: "100"}
	data, _ := json.Marshal(first)
	if _, err := st.Write(ctx, bot.Write{Key: "ref/" + ds[0].RefKey, Data: data, Version: bot.Any}); err != nil {
		t.Fatal(err)
	}
	if err := st.Done(ctx, ds[0], first); err != nil {
		t.Fatal(err)
	}
	if _, err := copies.Send(ctx, "second", []string{"ona-p"}, bot.Notice{}, build("second")); err != nil {
		t.Fatal(err)
	}
	ds, err = st.Take(ctx, bot.Telegram, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	edits := 0
	for _, d := range ds {
		if d.Op != bot.OpEdit {
			continue
		}
		edits++
		if d.Ref == nil || *d.Ref != first {
			t.Errorf("supersede edit targets %+v, want the first copy %+v", d.Ref, first)
		}
	}
	if edits != 1 || len(ds) != 2 {
		t.Errorf("took %d messages with %d edits, want the new copy and one edit", len(ds), edits)
	}
}

// TestRemovedCopyHeldForQuietHoursNeverArrives: copies of a case's message go out at 23:00; one
// reader's waits out his quiet hours. The case is erased and the copies removed that night: the
// reader who had it sees the "removed" line, and when the quiet hours end nothing about the case
// arrives for the other.
func TestRemovedCopyHeldForQuietHoursNeverArrives(t *testing.T) {
	h := flowtest.New(t, flowtest.Options{Start: time.Date(2026, 12, 1, 23, 0, 0, 0, flowtest.Vilnius)})
	const detail = "K-2026-009: vaikas trečią savaitę nelanko mokyklos"
	copies := h.Engine.Copies("alert/A9")
	_, err := copies.Send(h.Ctx, "a9", []string{"aiste-r", "mindaugas-l"}, bot.Notice{Priority: bot.Routine},
		func(*bot.Person, string) bot.Message { return bot.Message{Lines: []string{detail}} })
	if err != nil {
		t.Fatal(err)
	}
	h.Settle()
	h.MustSee("aiste-r", detail)
	h.MustNotSee("mindaugas-l", detail) // quiet hours 22:00-07:00
	if err := copies.Remove(h.Ctx); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	h.MustNotSee("aiste-r", detail)
	h.MustSee("aiste-r", h.Engine.Texts.T("lt", "copies.removed"))
	h.Advance(10 * time.Hour) // 09:00
	h.MustNotSee("mindaugas-l", detail)
}
