package config_test

import (
	"strings"
	"testing"

	"github.com/tiltas/tiltas/config"
)

func TestMeetingSeriesProblems(t *testing.T) {
	base := `
people:
  - {id: ona, name: Ona, institution: savivaldybe, roles: [coordinator, leader]}
institutions:
  - {id: savivaldybe, name: Savivaldybė, kind: municipality}
meetings:
`
	tests := []struct {
		name   string
		series string
		want   string // "" when valid
	}{
		{name: "the example's monthly meeting", series: `  - {id: m, title: M, rrule: "FREQ=MONTHLY;BYDAY=1TH", start: "2026-01-01 10:00", invitees: {roles: [leader]}, organizers: [ona]}`},
		{name: "a one-off meeting", series: `  - {id: m, title: M, rrule: "FREQ=DAILY;COUNT=1", start: "2026-01-01 10:00", invitees: {people: [ona]}, organizers: [ona]}`},
		{name: "more than once a day", series: `  - {id: m, title: M, rrule: "FREQ=HOURLY", start: "2026-01-01 10:00", invitees: {roles: [leader]}, organizers: [ona]}`,
			want: `meetings[0] (m).rrule: meet at most daily`},
		{name: "an unknown holiday rule", series: `  - {id: m, title: M, rrule: "FREQ=WEEKLY", start: "2026-01-01 10:00", invitees: {roles: [leader]}, organizers: [ona], holidays: sometimes}`,
			want: `meetings[0] (m).holidays: want move, skip or ignore`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse(strings.NewReader(base+tt.series+"\n"), func(string) string { return "" })
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("valid series refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want a problem %q", err, tt.want)
			}
		})
	}
}
