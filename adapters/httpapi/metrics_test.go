package httpapi_test

import (
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/adapters/httpapi"
	"github.com/tiltas/tiltas/bot"
)

// Every counter the service declares is on /metrics from the start, at 0, so that a dashboard or
// an alert on a rate sees the series before the first event (an absent series alerts on nothing).
func TestEveryCounterIsExportedAtZeroFromTheStart(t *testing.T) {
	src, err := os.ReadFile("metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`Name: "(tiltas_[a-z_]+_total)"`).FindAllStringSubmatch(string(src), -1)
	if len(names) < 5 {
		t.Fatalf("found only %d counters in metrics.go", len(names))
	}
	m := httpapi.NewMetrics(nil)
	m.Platforms(bot.Telegram, bot.Slack)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	scrape := string(body)
	for _, n := range names {
		if !regexp.MustCompile(`(?m)^` + n[1] + `(\{[^}]*\})? 0$`).MatchString(scrape) {
			t.Errorf("%s has no series at 0", n[1])
		}
	}
	for _, k := range bot.ObservedKinds {
		if !strings.Contains(scrape, `tiltas_events_total{kind="`+k+`"} 0`) {
			t.Errorf("tiltas_events_total{kind=%q} missing", k)
		}
	}
	for _, o := range []string{"sent", "expired", "failed"} {
		if !strings.Contains(scrape, `tiltas_messages_sent_total{outcome="`+o+`",platform="slack"} 0`) {
			t.Errorf("tiltas_messages_sent_total{outcome=%q} missing", o)
		}
	}
}

// Tiltas's own series keep the tiltas_ prefix; the Go and process collectors keep their
// standard names, which ready-made dashboards look for.
func TestStandardCollectorsKeepTheirNames(t *testing.T) {
	m := httpapi.NewMetrics(nil)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	scrape := rec.Body.String()
	for _, want := range []string{"\ngo_goroutines ", "\nprocess_cpu_seconds_total ", "\nprocess_resident_memory_bytes "} {
		if !strings.Contains(scrape, want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
	if strings.Contains(scrape, "tiltas_process_") || strings.Contains(scrape, "tiltas_go_") {
		t.Error("a standard series is renamed with the tiltas_ prefix")
	}
}
