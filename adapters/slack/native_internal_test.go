package slack

import "testing"

func TestNativeCommandsRewritesOnlyTheBotsCommands(t *testing.T) {
	native := nativeCommands("/tiltas", []string{"concern", "cancel", "meeting"})
	for in, want := range map[string]string{
		"Nutraukti: /cancel":                       "Nutraukti: /tiltas cancel",
		"/concern K-2026-1 skubu":                  "/tiltas concern K-2026-1 skubu",
		"gaukite nuorodą: /meeting calendar":       "gaukite nuorodą: /tiltas meeting calendar",
		"(pvz., /concern K-1)":                     "(pvz., /tiltas concern K-1)",
		"https://tiltas.example.lt/calendar/x.ics": "https://tiltas.example.lt/calendar/x.ics",
		"ir/arba /unknown":                         "ir/arba /unknown",
		"/tiltas help":                             "/tiltas help",
	} {
		if got := native(in); got != want {
			t.Errorf("native(%q) = %q, want %q", in, got, want)
		}
	}
}
