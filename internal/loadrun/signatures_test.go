//go:build loadrun

package loadrun

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/bot"
)

// Signatures are built from the catalog the replicas speak (Lithuanian), with the IDs and case
// codes in them as capture groups, so that each logical message is recognised whatever else it
// says and whatever its wording becomes.

var catalog = bot.MustLoadCatalog()

// groups are the fields the run reads out of a message; every other field matches anything.
var groups = map[string]string{
	"ID":    `(?P<id>[AN]\d+)`,
	"Case":  `(?P<case>K-\d{4}-\d+)`,
	"Visit": `(?P<visit>V\d+)`,
	"Area":  `(?P<area>\S+)`,
	"Count": `(?P<count>\d+)`,
}

var fields = []string{"ID", "Case", "Visit", "Area", "Icon", "Urgency", "Group", "Names", "Name", "Institution",
	"Team", "When", "Missing", "Needs", "Deadline", "Title", "Minutes", "Count"}

// pattern renders catalog entry id with a marker in every field and turns it into a regular
// expression: the marked fields in groups become capture groups, the others match anything.
func pattern(id string) string {
	var kv []any
	for _, f := range fields {
		kv = append(kv, f, "\x01"+f+"\x01")
	}
	return markers(regexp.QuoteMeta(catalog.T("lt", id, kv...)))
}

func markers(s string) string {
	for _, f := range fields {
		g, ok := groups[f]
		if !ok {
			g = `.*?`
		}
		s = strings.ReplaceAll(s, "\x01"+f+"\x01", g)
	}
	return s
}

// plural matches every plural form of id, its count captured.
func plural(id string) string {
	seen := map[string]bool{}
	var alts []string
	for _, n := range []int{1, 2, 3, 5, 10, 11, 12, 21, 22, 25, 30, 45} {
		var kv []any
		for _, f := range fields {
			kv = append(kv, f, "\x01"+f+"\x01")
		}
		s := catalog.N("lt", id, n, kv...)
		s = strings.Replace(s, strconv.Itoa(n), "\x01Count\x01", 1)
		p := markers(regexp.QuoteMeta(s))
		if !seen[p] {
			seen[p] = true
			alts = append(alts, p)
		}
	}
	return "(?:" + strings.Join(alts, "|") + ")"
}

func re(parts ...string) *regexp.Regexp {
	return regexp.MustCompile("(?s)" + strings.Join(parts, ".*"))
}

var (
	reCard       = re(pattern("alert.title.concern"))
	reSentOK     = re(pattern("alert.sent"))
	reSenderAck  = re(pattern("alert.sender.acked"))
	reGroupNew   = re(pattern("alert.group.new"))
	reExhausted  = re(pattern("alert.exhausted"))
	rePrompt     = re(pattern("alert.ask.confirm"), pattern("alert.summary.case"))
	reInHours    = re(plural("meetings.head.in_hours"))
	reInMinutes  = re(plural("meetings.head.in_minutes"))
	reVisitCard  = re("^"+pattern("visits.title"), pattern("visits.card.area"))
	reVisitDone  = re("^"+pattern("visits.title"), "(?:"+pattern("visits.told.confirmed_in")+"|"+pattern("visits.told.confirmed")+"|"+pattern("visits.told.full")+")")
	reVisitRem   = re("^"+pattern("visits.title"), pattern("visits.remind.text"))
	reAckedState = re(pattern("alert.state.acked"))
	reMeetWhen   = re(pattern("meetings.card.when"))

	labelConfirm = catalog.T("lt", "dialog.confirm")
	labelAck     = catalog.T("lt", "alert.btn.ack")
	labelYes     = catalog.T("lt", "meetings.btn.yes")
	labelNo      = catalog.T("lt", "meetings.btn.no")
	labelJoin    = catalog.T("lt", "visits.btn.confirm")
)

// field returns the named capture of re in s.
func field(re *regexp.Regexp, s, name string) (string, bool) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	for i, n := range re.SubexpNames() { // alternatives repeat a name: the one that matched
		if n == name && m[i] != "" {
			return m[i], true
		}
	}
	return "", true
}

// TestSignatures checks the signatures against messages rendered from the catalog, so that a
// change of wording that breaks them fails here rather than as messages "lost" in a run.
func TestSignatures(t *testing.T) {
	T := func(id string, kv ...any) string { return catalog.T("lt", id, kv...) }
	tests := []struct {
		name  string
		re    *regexp.Regexp
		text  string
		group string
		want  string
	}{
		{"card", reCard, T("alert.title.concern", "Icon", "🔴", "ID", "A12", "Case", "K-2026-1012") + "\nx", "case", "K-2026-1012"},
		{"sent", reSentOK, T("alert.sent", "ID", "A12", "Case", "K-2026-1012", "Names", "Ona ir Jonas"), "id", "A12"},
		{"sender acked", reSenderAck, T("alert.sender.acked", "ID", "A12", "Case", "K-2026-1012", "Name", "Ona", "Institution", "VTAS"), "case", "K-2026-1012"},
		{"group", reGroupNew, T("alert.group.new", "Icon", "🔴", "Urgency", "skubu", "Group", "G", "Case", "K-2026-1012", "ID", "A12"), "id", "A12"},
		{"exhausted", reExhausted, T("alert.exhausted", "ID", "A12", "Case", "K-2026-1012"), "case", "K-2026-1012"},
		{"prompt", rePrompt, "Naujas\n" + T("alert.ask.confirm") + "\n" + T("alert.summary.case", "Case", "K-2026-1012"), "case", "K-2026-1012"},
		{"in hours", reInHours, "Title\n" + catalog.N("lt", "meetings.head.in_hours", 2), "count", "2"},
		{"in minutes", reInMinutes, "Title\n" + catalog.N("lt", "meetings.head.in_minutes", 29), "count", "29"},
		{"visit card", reVisitCard, T("visits.title", "Visit", "V3") + "\n" + T("visits.card.area", "Area", "pietus"), "area", "pietus"},
		{"visit confirmed", reVisitDone, T("visits.title", "Visit", "V3") + "\n" + T("visits.told.full", "Visit", "V3"), "visit", "V3"},
		{"visit reminder", reVisitRem, T("visits.title", "Visit", "V3") + "\n" + T("visits.remind.text", "When", "šiandien 17:00"), "visit", "V3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := field(tt.re, tt.text, tt.group); !ok || got != tt.want {
				t.Errorf("%s in %q = %q, %v; want %q (pattern %s)", tt.group, tt.text, got, ok, tt.want, tt.re)
			}
		})
	}
}
