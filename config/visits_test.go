package config_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/config"
)

// withVisits is the example config with its visits section replaced.
func withVisits(t *testing.T, visits string) []byte {
	t.Helper()
	ex := config.Example()
	i := bytes.Index(ex, []byte("\nvisits:"))
	if i < 0 {
		t.Fatal("example.yaml has no visits section")
	}
	return append(ex[:i+1], visits...)
}

func TestVisitsValidation(t *testing.T) {
	tests := []struct {
		name   string
		visits string
		want   []string
	}{
		{name: "the example's section", visits: "visits:\n  deadline: 24h\n"},
		{name: "settings out of range", visits: "visits:\n  deadline: 0s\n  outcome_nudge: 10m\n  note_max: 5\n", want: []string{
			"visits.deadline: want more than 0",
			"visits.outcome_nudge: must be at least 1h",
			"visits.note_max: want 20 to 2000",
		}},
		{name: "a series in no known area, too long", visits: `visits:
  series:
    - id: naktinis
      rrule: FREQ=WEEKLY;BYDAY=SA
      start: "2026-01-10 20:00"
      duration: 13h
      area: marsas
      required: {police: 1}
      invitees: {roles: [police]}
      organizer: ona-p
`, want: []string{
			`visits.series[0].area: unknown area "marsas"`,
			"visits.series[0].duration: want 30m to 12h",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse(bytes.NewReader(withVisits(t, tt.visits)), config.ExampleEnv)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected problems:\n%v", err)
				}
				return
			}
			var errs *config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want config.Errors, got %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, err)
				}
			}
			if len(errs.List) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", len(errs.List), len(tt.want), err)
			}
		})
	}
}
