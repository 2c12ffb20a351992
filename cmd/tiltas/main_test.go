package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	slackgo "github.com/slack-go/slack"
	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/keyring"
	"gopkg.in/yaml.v3"
)

func runCLI(t *testing.T, input string, args ...string) (string, string, int) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(input)
	defer func() { stdin = old }()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

var update = flag.Bool("update", false, "rewrite docs/demo-transcript.txt")

// TestDemoScript runs examples/demo.txt, which acts as several people, shows help, walks through
// dialogs with button, free-text and date steps, and moves the clock. Its transcript is
// docs/demo-transcript.txt (go test ./cmd/tiltas -run DemoScript -update rewrites it).

func TestDemoScript(t *testing.T) {
	script, err := os.ReadFile("../../examples/demo.txt")
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code := runCLI(t, string(script), "demo", "-start", "2026-12-02 16:00")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"(you are now giedre-s: Giedrė Sabaliauskienė",
		"(Įrašyta: dalyvausiu.", // a meeting answered by number
		"/concern — pranešti apie susirūpinimą",
		"→ Nepriežiūros požymiai",                       // a button step, answered by label
		"„Vaikas trečią dieną ateina be šiltų drabužių", // the free-text step, in the summary
		"išsiųstas: Aistė Rimkutė, Mindaugas Lukoševičius ir Rūta Grigaitė",
		"Aistė Rimkutė imasi šio atvejo.",
		"Su vaiku susijęs įvykis: 2026 m. gruodžio 1 d., antradienis, 21:30", // the date step
		"A1 (K-2026-117) vis dar neišspręstas",                               // the acknowledgement timeout
		"Rezultatas: „Šeima aplankyta, vaikui suteikta pagalba.“",
		"[12-03 08:00] → Vytautas Dambrauskas", // the notice escalates to the head at 08:00
		"Gavimą patvirtino Vytautas Dambrauskas",
		"Primename: posėdis po 1 valandos.",
		"Reidas patvirtintas — komanda surinkta",
		"V1 · 2026 m. gruodžio 11 d., penktadienis, 18:00–21:00 · centras — patvirtintas",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if strings.Contains(out, "    ! ") || strings.Contains(out, "Nesupratau") || strings.Contains(out, "Šis mygtukas ar veiksmas nebegalioja") {
		t.Errorf("the script went astray:\n%s", out)
	}
	if *update {
		if err := os.WriteFile("../../docs/demo-transcript.txt", []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, _ := os.ReadFile("../../docs/demo-transcript.txt")
	if string(golden) != out {
		t.Errorf("docs/demo-transcript.txt is out of date: run go test ./cmd/tiltas -run DemoScript -update")
	}
}

// TestRequestsDemoScript runs examples/requests.txt, an information request from question to
// answer on the console; its transcript is docs/requests-transcript.txt (-update rewrites it).
func TestRequestsDemoScript(t *testing.T) {
	script, err := os.ReadFile("../../examples/requests.txt")
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code := runCLI(t, string(script), "demo", "-start", "2026-12-01 09:00")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"Prašymas R1 išsiųstas: Saulės progimnazija. Atsakymo terminas: 2026 m. gruodžio 8 d., antradienis, 17:00.",
		"Aistė Rimkutė (Vaiko teisių apsaugos skyrius) klausia:",
		"Giedrė Sabaliauskienė prašo patikslinti jūsų prašymą:",
		"Klausimas: „Rudens ar viso mokslo metų?“ Atsakymas: „Rudens pusmečio.“",
		"Primename: dar neatsakėte",
		"Saulės progimnazija laiku neatsakė į Aistė Rimkutė prašymą",
		"VĖLUOJA",
		"„Rudens pusmetį nelankė 12 dienų, iš jų 9 be pateisinimo.“",
		"Saulės progimnazija: gauta 1, laiku atsakyta 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if strings.Contains(out, "    ! ") || strings.Contains(out, "Nesupratau") || strings.Contains(out, "nebegalioja") {
		t.Errorf("the script went astray:\n%s", out)
	}
	if *update {
		if err := os.WriteFile("../../docs/requests-transcript.txt", []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, _ := os.ReadFile("../../docs/requests-transcript.txt")
	if string(golden) != out {
		t.Errorf("docs/requests-transcript.txt is out of date: run go test ./cmd/tiltas -run RequestsDemoScript -update")
	}
}

func TestCheckConfig(t *testing.T) {
	t.Setenv("TILTAS_KEY_2026", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	out, _, code := runCLI(t, "", "check-config", "-c", "../../config/example.yaml")
	if code != 0 || !strings.Contains(out, "ok: 17 people in 7 institutions") {
		t.Fatalf("example: exit %d, %q", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("language: fr\npeople:\n  - {id: a, name: A, institution: nowhere, roles: [wizard]}\n"), 0o644)
	_, errs, code := runCLI(t, "", "check-config", "-c", bad)
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, want := range []string{"5 problems", `language: unknown language "fr"`, `people[0] (a).institution: unknown institution "nowhere"`, `people[0] (a).roles[0]: unknown role "wizard"`} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
}

// An adapter's own rules (here Telegram's webhook secret) are checked by the adapter, and
// check-config lists their problems among the config's own, each with its path.
func TestCheckConfigListsThePlatformsProblemsWithTheRest(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("language: fr\nhttp: {public_url: \"http://tiltas.example.lt\"}\n"+
		"telegram: {token: \"1:x\", mode: webhook, webhook_secret: short}\nslack: {bot_token: \"oops\", mode: socket}\n"), 0o644)
	_, errs, code := runCLI(t, "", "check-config", "-c", bad)
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, want := range []string{`language: unknown language "fr"`, "telegram.webhook_secret: webhook mode needs a secret of 16-256",
		"http.public_url: telegram webhook mode needs an https:// public URL", "slack.bot_token: want a bot token", "slack.app_token: socket mode needs"} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
}

func TestEverySubcommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		_, errs, code := runCLI(t, "", c.name, "--help")
		if code != 0 || !strings.Contains(errs, "Usage: tiltas "+c.name) {
			t.Errorf("%s --help: exit %d, %q", c.name, code, errs)
		}
	}
	if _, _, code := runCLI(t, "", "frobnicate"); code != 2 {
		t.Errorf("unknown command exit %d", code)
	}
}

// TestComposeFile checks docker-compose.yml's structure (no Docker engine runs here): Tiltas and
// Redis with AOF persistence, the config mounted, and config/compose.yaml kept equal to the
// example but for the Redis address.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image     string         `yaml:"image"`
			Build     any            `yaml:"build"`
			Command   []string       `yaml:"command"`
			DependsOn map[string]any `yaml:"depends_on"`
			Volumes   []string       `yaml:"volumes"`
			Ports     []string       `yaml:"ports"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	redis, tiltas := c.Services["redis"], c.Services["tiltas"]
	if cmd := strings.Join(redis.Command, " "); !strings.Contains(cmd, "--appendonly yes") {
		t.Errorf("redis runs without AOF: %q", cmd)
	}
	if _, ok := c.Volumes["redis-data"]; len(redis.Volumes) == 0 || !ok {
		t.Error("redis data is not on a volume")
	}
	if tiltas.Build == nil || tiltas.DependsOn["redis"] == nil || strings.Join(tiltas.Command, " ") != "serve -c /etc/tiltas/config.yaml" {
		t.Errorf("tiltas service: %+v", tiltas)
	}
	mounted := false
	for _, v := range tiltas.Volumes {
		if strings.HasPrefix(v, "./config/compose.yaml:/etc/tiltas/config.yaml") {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("config not mounted: %v", tiltas.Volumes)
	}
	example, _ := os.ReadFile("../../config/example.yaml")
	compose, _ := os.ReadFile("../../config/compose.yaml")
	strip := func(b []byte) string {
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "#") || strings.Contains(l, "url: redis://") {
				continue
			}
			keep = append(keep, l)
		}
		return strings.Join(keep, "\n")
	}
	if strip(example) != strip(compose) {
		t.Error("config/compose.yaml drifted from config/example.yaml (only the Redis URL and the header may differ)")
	}
	if !strings.Contains(string(compose), "url: redis://redis:6379/0") {
		t.Error("compose config does not point at the redis service")
	}
	// /metrics on its own port, published to the host only.
	cfg, err := config.LoadNoSecrets("../../config/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(cfg.HTTP.MetricsListen, ":")
	if port == "" || !slices.Contains(tiltas.Ports, "127.0.0.1:"+port+":"+port) {
		t.Errorf("metrics_listen %q is not published on the host's loopback: ports %v", cfg.HTTP.MetricsListen, tiltas.Ports)
	}
}

// TestDockerfileBuildsWhatTheTestsBuild keeps the image's build command and scripts/test's in step.
func TestDockerfileBuildsWhatTheTestsBuild(t *testing.T) {
	df, _ := os.ReadFile("../../Dockerfile")
	st, _ := os.ReadFile("../../scripts/test")
	want := "CGO_ENABLED=0 go build -trimpath -tags timetzdata"
	if !strings.Contains(string(df), want) || !strings.Contains(string(st), want) {
		t.Fatalf("both must build with %q", want)
	}
	if !regexp.MustCompile(`(?m)^USER nonroot`).Match(df) {
		t.Error("the image runs as root")
	}
	if !regexp.MustCompile(`(?m)^HEALTHCHECK .*"healthcheck"\]$`).Match(df) {
		t.Error("the image has no HEALTHCHECK running tiltas healthcheck")
	}
	if regexp.MustCompile(`(?m)^COPY config/`).Match(df) {
		t.Error("a config (with the example's people) is baked into the image: mount it instead")
	}
	if di, _ := os.ReadFile("../../.dockerignore"); !regexp.MustCompile(`(?m)^\.git$`).Match(di) {
		t.Error(".dockerignore does not keep .git out of the build context")
	}
	if testing.Short() {
		return
	}
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "timetzdata", "-o", filepath.Join(t.TempDir(), "tiltas"), ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
}

// The Prometheus rules in deploy/ are well formed and name only series Tiltas exports.
func TestPrometheusRulesNameRealSeries(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/prometheus-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	metrics, _ := os.ReadFile("../../adapters/httpapi/metrics.go")
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`Name: "(tiltas_[a-z_]+)"`).FindAllStringSubmatch(string(metrics), -1) {
		exported[m[1]] = true
	}
	n := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v lacks alert, expr, severity or summary", r)
			}
			for _, name := range regexp.MustCompile(`tiltas_[a-z_]+`).FindAllString(r.Expr, -1) {
				if !exported[strings.TrimSuffix(name, "_bucket")] {
					t.Errorf("%s: %s is not a series Tiltas exports", r.Alert, name)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d rules", n)
	}
}

// tiltas healthcheck exits 0 when /readyz answers ready, 1 when not or when nothing answers.
func TestHealthcheck(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, `{"redis":"ok"}`)
	}))
	addr := strings.TrimPrefix(srv.URL, "http://")
	if _, errs, code := runCLI(t, "", "healthcheck", "-addr", addr); code != 0 {
		t.Errorf("ready: exit %d: %s", code, errs)
	}
	ready = false
	if _, errs, code := runCLI(t, "", "healthcheck", "-addr", addr); code != 1 || !strings.Contains(errs, "not ready (503)") {
		t.Errorf("not ready: exit %d: %s", code, errs)
	}
	srv.Close()
	if _, _, code := runCLI(t, "", "healthcheck", "-addr", addr); code != 1 {
		t.Errorf("nothing answering: exit %d", code)
	}
}

// keygen prints a key the keyring takes, as the environment line the config names.
func TestKeygen(t *testing.T) {
	out, errs, code := runCLI(t, "", "keygen", "-id", "k2027")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var line string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "TILTAS_KEY_2027=") {
			line = l
		}
	}
	secret, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, "TILTAS_KEY_2027="))
	if err != nil {
		t.Fatalf("no key line in %q", out)
	}
	if _, err := keyring.New([]keyring.Key{{ID: "k2027", Secret: secret}}); err != nil {
		t.Errorf("the keyring refuses the key: %v", err)
	}
	again, _, _ := runCLI(t, "", "keygen", "-id", "k2027")
	if again == out {
		t.Error("two keys alike")
	}
}

// serve does not start without encryption keys unless the config says so explicitly.
func TestServeRefusesToStoreUnencryptedUnlessTold(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.yaml")
	raw := withoutExampleKeys(string(config.Example()))
	if err := os.WriteFile(plain, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs, code := runCLI(t, "", "serve", "-c", plain)
	if code != 2 || !strings.Contains(errs, "encryption.keys is empty") || !strings.Contains(errs, "tiltas keygen") {
		t.Errorf("serve without keys: exit %d: %s", code, errs)
	}
	_, errs, _ = runCLI(t, "", "check-config", "-c", plain)
	if !strings.Contains(errs, "warning: encryption.keys is empty") {
		t.Errorf("check-config does not warn: %s", errs)
	}
	disabled := filepath.Join(dir, "disabled.yaml")
	if err := os.WriteFile(disabled, []byte(raw+"encryption: {disabled: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := runCLI(t, "", "check-config", "-c", disabled); code != 0 || strings.Contains(errs, "encryption") {
		t.Errorf("disabled explicitly: exit %d: %s", code, errs)
	}
}

// slack-manifest prints a manifest that decodes strictly into slack-go's Manifest and names the
// scopes and events the adapter uses, the writable App Home messages tab, interactivity, the
// config's slash command, and the HTTP request URLs (or Socket Mode).
func TestSlackManifest(t *testing.T) {
	for _, mode := range []string{"socket", "http"} {
		t.Run(mode, func(t *testing.T) {
			raw := strings.Replace(string(config.Example()), "# slack:", "slack: {mode: "+mode+", command: /vaikai, bot_token_env: TILTAS_TEST_UNSET_SLACK}\n# slack:", 1)
			raw = strings.Replace(raw, "  # public_url: https://tiltas.savivaldybe.lt", "  public_url: https://tiltas.savivaldybe.lt", 1)
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
				t.Fatal(err)
			}
			out, errs, code := runCLI(t, "", "slack-manifest", "-c", path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var m slackgo.Manifest
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("not a slack-go Manifest: %v\n%s", err, out)
			}
			if !slices.Equal(m.OAuthConfig.Scopes.Bot, slack.BotScopes) || m.Settings.EventSubscriptions == nil || !slices.Equal(m.Settings.EventSubscriptions.BotEvents, slack.BotEvents) {
				t.Errorf("scopes %v, events %+v: want the adapter's", m.OAuthConfig.Scopes.Bot, m.Settings.EventSubscriptions)
			}
			if !m.Features.AppHome.MessagesTabEnabled || m.Features.AppHome.MessagesTabReadOnlyEnabled {
				t.Error("people cannot write to the bot in App Home")
			}
			if m.Settings.Interactivity == nil || !m.Settings.Interactivity.IsEnabled {
				t.Error("buttons need interactivity")
			}
			if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/vaikai" {
				t.Errorf("slash commands %+v, want /vaikai", m.Features.SlashCommands)
			}
			if mode == "http" {
				if m.Settings.SocketModeEnabled || m.Settings.EventSubscriptions.RequestUrl != "https://tiltas.savivaldybe.lt/slack/events" ||
					m.Settings.Interactivity.RequestUrl != "https://tiltas.savivaldybe.lt/slack/interactivity" || m.Features.SlashCommands[0].Url != "https://tiltas.savivaldybe.lt/slack/commands" {
					t.Errorf("http mode: %+v", m.Settings)
				}
			} else if !m.Settings.SocketModeEnabled {
				t.Error("socket mode not enabled")
			}
		})
	}
}
