package console_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/adapters/console"
	"github.com/tiltas/tiltas/bot"
)

func TestConsoleShowsTheViewerWholeAndOthersInOneLine(t *testing.T) {
	var out bytes.Buffer
	clock := bot.NewManualClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	c := console.New(&out, clock, func(chat string) string { return chat })
	c.SetViewer("ona")
	ctx := context.Background()
	m := bot.Message{Title: "Reidas V1", Lines: []string{"Laikas: 18:00"}, Buttons: [][]bot.Button{{{Label: "Dalyvausiu", Token: "t1"}, {Label: "Negalėsiu", Token: "t2"}}}}
	ref, err := c.Send(ctx, console.DM("ona"), m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, console.DM("tomas"), m); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"→ dm:ona  #1\n", "** Reidas V1 **", "[1] Dalyvausiu   [2] Negalėsiu", "→ dm:tomas  #2: Reidas V1\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if strings.Count(text, "Dalyvausiu") != 1 {
		t.Errorf("someone else's message was shown whole:\n%s", text)
	}
	out.Reset()
	if err := c.Edit(ctx, ref, bot.Message{Lines: []string{"Jūs dalyvaujate."}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "#1 (edited)") || !strings.Contains(out.String(), "Jūs dalyvaujate.") {
		t.Errorf("edit shown as:\n%s", out.String())
	}
	// Switching to Tomas shows what he received meanwhile, with buttons of his own.
	out.Reset()
	c.SetViewer("tomas")
	if got := out.String(); !strings.Contains(got, "(1 new for tomas:)") || !strings.Contains(got, "[3] Dalyvausiu") {
		t.Errorf("switch showed:\n%s", got)
	}
}

func TestShellPressesByNumberAndLabelAndMovesTheClock(t *testing.T) {
	var out bytes.Buffer
	clock := bot.NewManualClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	c := console.New(&out, clock, func(chat string) string { return chat })
	var pressed []string
	settles := 0
	sh := &console.Shell{Console: c, Clock: clock, Out: &out, Who: func(id string) (string, bool) { return id, true },
		Settle: func(context.Context) error { settles++; return nil },
		Handle: func(ctx context.Context, in bot.Incoming) (bot.Response, error) {
			if in.Button != "" {
				pressed = append(pressed, in.Button)
				return bot.Response{Toast: "ok"}, nil
			}
			_, err := c.Send(ctx, console.DM("ona"), bot.Message{Lines: []string{"Kalba?"}, Buttons: [][]bot.Button{{{Label: "Lietuvių", Token: "lt"}, {Label: "English", Token: "en"}}}})
			return bot.Response{}, err
		}}
	sh.Start("ona")
	script := "/lang\n2\n/lang\n/press Lietuvių\n/clock +1h\n/press Nėra\n"
	if err := sh.Run(context.Background(), strings.NewReader(script), true); err != nil {
		t.Fatal(err)
	}
	if strings.Join(pressed, ",") != "en,lt" {
		t.Errorf("pressed %v", pressed)
	}
	if !clock.Now().Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("clock at %v", clock.Now())
	}
	if settles < 60 {
		t.Errorf("the clock moved in %d steps, want one per minute", settles)
	}
	if !strings.Contains(out.String(), `no button of yours says "Nėra"`) {
		t.Errorf("a missing label was not reported:\n%s", out.String())
	}
}
