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

// /press LABEL: an exact label wins over one that merely contains it ("Dalyvausiu" is in
// "Nedalyvausiu"), two different labels containing the text are asked about, and a button on a
// message edited while someone else was watching is found without /inbox. /as with an unknown ID
// says so and suggests IDs, and you stay who you were.
func TestShellPressesTheButtonMeant(t *testing.T) {
	var out bytes.Buffer
	clock := bot.NewManualClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	c := console.New(&out, clock, func(chat string) string { return chat })
	var pressed []string
	known := map[string]bool{"ona-p": true, "jonas-k": true}
	ctx := context.Background()
	sh := &console.Shell{Console: c, Clock: clock, Out: &out, People: []string{"jonas-k", "ona-p"},
		Who:    func(id string) (string, bool) { return id, known[id] },
		Settle: func(context.Context) error { return nil },
		Handle: func(ctx context.Context, in bot.Incoming) (bot.Response, error) {
			if in.Button != "" {
				pressed = append(pressed, in.From.User+":"+in.Button)
			}
			return bot.Response{}, nil
		}}
	sh.Start("ona-p")
	rsvp := [][]bot.Button{{{Label: "Dalyvausiu", Token: "yes"}, {Label: "Nedalyvausiu", Token: "no"}, {Label: "Dalyvaus pavaduotojas", Token: "deputy"}}}
	if _, err := c.Send(ctx, console.DM("ona-p"), bot.Message{Lines: []string{"Posėdis"}, Buttons: rsvp}); err != nil {
		t.Fatal(err)
	}
	// jonas-k's card is edited while ona-p watches: its new buttons are not printed to her.
	ref, err := c.Send(ctx, console.DM("jonas-k"), bot.Message{Lines: []string{"Kortelė"}, Buttons: [][]bot.Button{{{Label: "Mačiau", Token: "seen1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Edit(ctx, ref, bot.Message{Lines: []string{"Kortelė (atnaujinta)"}, Buttons: [][]bot.Button{{{Label: "Imuosi", Token: "take2"}}}}); err != nil {
		t.Fatal(err)
	}
	script := "/press Dalyvausiu\n/press dalyv\n/as ona\n/press Nedalyvausiu\n/as jonas-k\n/press Imuosi\n/press Mačiau\n"
	if err := sh.Run(ctx, strings.NewReader(script), true); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(pressed, ","); got != "ona-p:yes,ona-p:no,jonas-k:take2" {
		t.Errorf("pressed %s, want ona-p:yes,ona-p:no,jonas-k:take2", got)
	}
	for _, want := range []string{
		`"dalyv" could be any of: Dalyvaus pavaduotojas, Dalyvausiu, Nedalyvausiu; say which`,
		`nobody in the directory is "ona"; try ona-p, jonas-k (or /stranger`,
		`no button of yours says "Mačiau"`, // the edit replaced it
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}
