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
)

// A newer copy supersedes the old one by an edit pinned to the old message: with several
// replicas the edit may be delivered after the new copy, when the copy's ref already names the
// new message, and it must not turn the new copy into "see below".
func TestSupersedeEditIsPinnedToTheOldCopy(t *testing.T) {
	ctx := context.Background()
	clock := bot.NewManualClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	st := memory.New(clock)
	cfg, err := config.Parse(bytes.NewReader(config.Example()), func(string) string { return "" })
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
