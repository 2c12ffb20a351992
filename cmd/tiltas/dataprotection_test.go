package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/bot/visits"
	"github.com/tiltas/tiltas/config"
	"github.com/tiltas/tiltas/internal/flowtest"
	"github.com/tiltas/tiltas/internal/redistest"
	"github.com/tiltas/tiltas/keyring"
)

// Details planted in a story, which must never be stored in clear. Each carries "Jonuk", so that
// one search finds any of them, and a tag of its own.
const (
	plantedDesc     = "Jonukas DESC-4417 ateina alkanas"
	plantedOutcome  = "Jonukas OUTC-5521 aplankytas"
	plantedAddress  = "Jonuko ADDR-6630 g. 5-3"
	plantedNote     = "Jonukas NOTE-7742 namie vienas"
	plantedDecline  = "Jonuko DECL-2286 kaimynas esu"
	plantedAgenda   = "Jonukas AGND-1175 klausimas"
	plantedQueued   = "Jonukas QUEU-9964 naktį"
	plantedDialog   = "Jonukas DLGA-8853 be striukės"
	plantedEveryone = "Jonuk"
)

var planted = []string{plantedDesc, plantedOutcome, plantedAddress, plantedNote, plantedDecline, plantedAgenda, plantedQueued, plantedDialog}

const storyCase = "K-2026-117"

// story is a municipality's few days with every kind of detail in it.
type story struct {
	*flowtest.Harness
	visit string
}

// newStory runs the engine with every flow, as serve wires them, over st (memory when nil).
// stores, when set, builds the stores from the harness's clock.
func newStory(t *testing.T, stores func(clock bot.Clock) *flowtest.Stores) *story {
	t.Helper()
	s := &story{}
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, flowtest.Vilnius)
	o := flowtest.Options{Start: start, AllFlows: true}
	if stores != nil {
		o.Stores = stores(bot.ClockFunc(func() time.Time {
			if s.Harness == nil {
				return start
			}
			return s.Clock.Now()
		}))
	}
	s.Harness = flowtest.New(t, o)
	if err := s.App.Plan(s.Ctx); err != nil {
		t.Fatal(err)
	}
	s.Settle()
	return s
}

func (s *story) sayAll(person string, texts ...string) {
	s.T.Helper()
	for _, text := range texts {
		s.Say(person, text)
	}
}

// tell plays the story: an agenda item; a case with a child-rights specialist assigned; an urgent
// concern, acknowledged and resolved with an outcome note; a joint visit to the case's address
// with a decline, a team and an outcome report; a routine concern at 23:00 still waiting out
// quiet hours in the outbox; and a concern dialog left half-answered.
func (s *story) tell() {
	s.T.Helper()
	s.Say("dalia-s", "/meeting agenda")
	s.Say("dalia-s", plantedAgenda)
	s.MustSee("dalia-s", "(Nr. 1)")
	s.Press("dalia-s", "Dalyvausiu")

	s.Say("egle-v", "/case new "+storyCase)
	s.Say("egle-v", "/case assign "+storyCase+" aiste-r child_rights")

	s.Say("giedre-s", "/concern "+storyCase+" skubu nepriežiūra "+plantedDesc)
	s.Press("giedre-s", "Išsaugoti")
	s.Press("aiste-r", "Mačiau")
	s.Press("aiste-r", "Išspręsta")
	s.Say("aiste-r", plantedOutcome)
	s.MustSee("giedre-s", "išspręstas")

	s.sayAll("jurate-z", "/reidas", "2026-12-03 18:00", "21:00", "1", "Komisariato kiemas", storyCase, plantedAddress, "2", "1", "1", "1", "1", "taip")
	m := rePlannedVisit.FindStringSubmatch(s.MustSee("jurate-z", "suplanuotas").Text())
	s.visit = m[1]
	s.Press("algirdas-p", "Negalėsiu")
	s.sayAll("algirdas-p", "4", plantedDecline)
	s.Press("tomas-k", "Dalyvausiu")
	s.Press("ona-p", "Dalyvausiu")
	s.MustSee("tomas-k", plantedAddress)
	s.AdvanceTo(time.Date(2026, 12, 3, 21, 31, 0, 0, flowtest.Vilnius))
	s.Press("tomas-k", "Ataskaita: "+storyCase)
	s.sayAll("tomas-k", "1", "1", plantedNote, "taip")
	s.MustSee("aiste-r", plantedNote)

	s.AdvanceTo(time.Date(2026, 12, 3, 23, 0, 0, 0, flowtest.Vilnius))
	s.Say("giedre-s", "/concern K-2026-119 iprasta nelankymas "+plantedQueued)
	s.Press("giedre-s", "Išsaugoti")
	s.MustNotSee("jurgis-b", plantedQueued) // quiet hours: it waits in the outbox

	s.sayAll("giedre-s", "/concern", storyCase, "1", "1", plantedDialog)
	s.MustSee("giedre-s", "Ar jau kam nors skambinote?")
}

var rePlannedVisit = regexp.MustCompile(`Reidas (V\d+) suplanuotas`)

// keys are two AES-256 keys as config holds them (base64).
var (
	key1 = keyring.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}
	key2 = keyring.Key{ID: "k2", Secret: []byte("fedcba9876543210fedcba9876543210")}
)

func newKeyring(t testing.TB, keys ...keyring.Key) *keyring.Keyring {
	t.Helper()
	k, err := keyring.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// redisStores builds the stores on the test Redis under prefix, sealed by k.
func redisStores(t testing.TB, c goredis.UniversalClient, prefix string, k *keyring.Keyring, clock bot.Clock) (*redis.Store, *flowtest.Stores) {
	t.Helper()
	st, err := redis.New(redis.Options{Client: c, Prefix: prefix, Sealer: k, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return st, &flowtest.Stores{Records: st, Marks: st, Audit: st.Audit(), Timers: st, Queue: st}
}

// rawValues reads every key under prefix with the command its type takes and returns, by key,
// everything it holds: its name, and its members, fields, values, scores and entries.
func rawValues(t *testing.T, c goredis.UniversalClient, prefix string) map[string][]byte {
	t.Helper()
	ctx := t.Context()
	out := map[string][]byte{}
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	types := map[string]int{}
	for iter.Next(ctx) {
		k := iter.Val()
		raw := []byte(k + "\n")
		typ, err := c.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		types[typ]++
		add := func(ss ...string) {
			for _, s := range ss {
				raw = append(raw, s...)
				raw = append(raw, '\n')
			}
		}
		switch typ {
		case "string":
			add(c.Get(ctx, k).Val())
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				add(f, v)
			}
		case "set":
			add(c.SMembers(ctx, k).Val()...)
		case "zset":
			for _, z := range c.ZRangeWithScores(ctx, k, 0, -1).Val() {
				add(z.Member.(string))
			}
		case "list":
			add(c.LRange(ctx, k, 0, -1).Val()...)
		case "stream":
			for _, m := range c.XRange(ctx, k, "-", "+").Val() {
				add(m.ID)
				for f, v := range m.Values {
					add(f, v.(string))
				}
			}
		case "none":
			continue // expired between SCAN and TYPE
		default:
			t.Fatalf("%s: type %s not read", k, typ)
		}
		out[k] = raw
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d keys by type: %v", len(out), types)
	return out
}

// TestPlantedDetailsAreNeverInClearInRedis plays the story on Redis with encryption on, then
// reads every key of every type under the prefix: no planted detail may appear in key names,
// values, index members, timers, queued messages or audit entries. Every detail must still be
// there, sealed: the export of the case and the outbox read them back. The same story without
// a key shows that the search finds what it looks for.
func TestPlantedDetailsAreNeverInClearInRedis(t *testing.T) {
	c := redistest.Client(t)
	for _, tt := range []struct {
		name   string
		sealer *keyring.Keyring
	}{
		{"sealed with a key", newKeyring(t, key1)},
		{"without a key the search finds every detail", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prefix := redistest.Prefix(t, c)
			var store *redis.Store
			s := newStory(t, func(clock bot.Clock) *flowtest.Stores {
				var sealer bot.Sealer
				if tt.sealer != nil {
					sealer = tt.sealer
				}
				st, err := redis.New(redis.Options{Client: c, Prefix: prefix, Sealer: sealer, Clock: clock})
				if err != nil {
					t.Fatal(err)
				}
				store = st
				return &flowtest.Stores{Records: st, Marks: st, Audit: st.Audit(), Timers: st, Queue: st}
			})
			s.tell()

			found := map[string]bool{}
			for key, raw := range rawValues(t, c, prefix) {
				for _, p := range append([]string{plantedEveryone}, planted...) {
					if bytes.Contains(raw, []byte(p)) {
						found[p] = true
						if tt.sealer != nil {
							t.Errorf("%s holds %q in clear", key, p)
						}
					}
				}
				for _, p := range planted {
					if tag := strings.Fields(p)[1]; bytes.Contains(raw, []byte(tag)) && tt.sealer != nil {
						t.Errorf("%s holds %q in clear", key, tag)
					}
				}
			}
			if tt.sealer == nil {
				for _, p := range planted {
					if !found[p] {
						t.Errorf("unsealed, %q is nowhere to be found: the search misses it", p)
					}
				}
				return
			}

			// Sealed, not lost: the case's export reads back what was said about it...
			x, err := s.Engine.Export(s.Ctx, bot.Subject{Case: storyCase}, "test")
			if err != nil {
				t.Fatal(err)
			}
			doc, _ := json.Marshal(x)
			for _, p := range []string{plantedDesc, plantedOutcome, plantedAddress, plantedNote, plantedDialog} {
				if !bytes.Contains(doc, []byte(p)) {
					t.Errorf("the case's export lacks %q", p)
				}
			}
			// ...and the queued message, the decline note and the agenda item are in their records.
			if depth, _, err := store.Stats(s.Ctx); err != nil || depth == 0 {
				t.Errorf("outbox depth %d, %v: the routine concern should be waiting", depth, err)
			}
			if !openedBodiesContain(t, c, prefix, tt.sealer, plantedQueued) {
				t.Error("no queued message holds the routine concern")
			}
			pdoc, err := s.Engine.Export(s.Ctx, bot.Subject{Person: "dalia-s"}, "test")
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := json.Marshal(pdoc); !bytes.Contains(b, []byte(plantedAgenda)) {
				t.Error("dalia-s's export lacks her agenda item")
			}
			if v := loadVisit(t, s); v.Replies["algirdas-p"].Note != plantedDecline {
				t.Errorf("decline note %q", v.Replies["algirdas-p"].Note)
			}
		})
	}
}

// openedBodiesContain opens every queued message body with k and reports whether one holds text.
func openedBodiesContain(t *testing.T, c goredis.UniversalClient, prefix string, k *keyring.Keyring, text string) bool {
	t.Helper()
	found := false
	iter := c.Scan(t.Context(), 0, prefix+":{out}:b:*", 1000).Iterator()
	for iter.Next(t.Context()) {
		b, err := c.HGet(t.Context(), iter.Val(), "b").Bytes()
		if err != nil {
			t.Fatal(err)
		}
		plain, err := k.Open(b)
		if err != nil {
			t.Fatalf("%s: %v", iter.Val(), err)
		}
		found = found || bytes.Contains(plain, []byte(text))
	}
	return found
}

func loadVisit(t *testing.T, s *story) visits.Visit {
	t.Helper()
	v, _, err := bot.Load[visits.Visit](s.Ctx, s.Engine.Records, "visit/"+s.visit)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// everyRecordReads reads every record and queued message with a store sealed by k, and reports
// the values not sealed with k's newest key.
func everyRecordReads(t *testing.T, c goredis.UniversalClient, prefix string, k *keyring.Keyring) (stale int) {
	t.Helper()
	st, _ := redisStores(t, c, prefix, k, bot.SystemClock)
	n := 0
	err := st.Scan(t.Context(), "", func(key string) error {
		n++
		_, _, err := st.Get(t.Context(), key)
		return err
	})
	if err != nil {
		t.Fatalf("reading records: %v", err)
	}
	if n < 50 {
		t.Fatalf("only %d records", n)
	}
	if !openedBodiesContain(t, c, prefix, k, plantedQueued) {
		t.Error("the queued routine concern is gone")
	}
	for _, pattern := range []string{prefix + ":{rec}:r:*", prefix + ":{out}:b:*"} {
		field := map[bool]string{true: "d", false: "b"}[strings.Contains(pattern, "{rec}")]
		iter := c.Scan(t.Context(), 0, pattern, 1000).Iterator()
		for iter.Next(t.Context()) {
			if b, err := c.HGet(t.Context(), iter.Val(), field).Bytes(); err == nil && !k.Current(b) {
				stale++
			}
		}
	}
	return stale
}

// rotationConfig writes a config for the story's Redis prefix with keys, newest first.
func rotationConfig(t *testing.T, prefix string, keys ...keyring.Key) string {
	t.Helper()
	raw := withoutExampleKeys(string(config.Example()))
	raw = strings.Replace(raw, "url: redis://127.0.0.1:6379/0", "url: "+os.Getenv("TILTAS_TEST_REDIS_URL"), 1)
	raw = strings.Replace(raw, "prefix: tiltas", "prefix: "+prefix, 1)
	// The platforms' and the integration's secrets are not set where the admin commands run:
	// they use Redis and the keys only.
	raw += "telegram: {token_env: TILTAS_TEST_UNSET_TELEGRAM, bot_username: tiltas_rajonas_bot}\n"
	raw += "integrations: [{id: registras, institution: policija, token_env: TILTAS_TEST_UNSET_API}]\n"
	raw += "encryption:\n  keys:\n"
	for _, k := range keys {
		raw += "    - {id: " + k.ID + ", key: \"" + base64.StdEncoding.EncodeToString(k.Secret) + "\"}\n"
	}
	path := t.TempDir() + "/tiltas.yaml"
	if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKeyRotation seals the story with k1, rotates to [k2, k1] (everything still reads), runs
// tiltas rekey (everything is sealed with k2; a second run finds nothing to do), and then reads
// everything with k2 alone.
func TestKeyRotation(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	s := newStory(t, func(clock bot.Clock) *flowtest.Stores {
		_, st := redisStores(t, c, prefix, newKeyring(t, key1), clock)
		return st
	})
	s.tell()

	both := newKeyring(t, key2, key1)
	if stale := everyRecordReads(t, c, prefix, both); stale == 0 {
		t.Fatal("nothing sealed with k1 before the rotation")
	}
	path := rotationConfig(t, prefix, key2, key1)
	out, errs, code := runCLI(t, "", "rekey", "-c", path)
	if code != 0 {
		t.Fatalf("rekey: exit %d: %s%s", code, out, errs)
	}
	if !strings.Contains(out, "records:") || !strings.Contains(out, "re-sealed with k2") || strings.Contains(out, " 0 re-sealed") {
		t.Errorf("rekey output:\n%s", out)
	}
	again, _, code := runCLI(t, "", "rekey", "-c", path)
	if code != 0 || strings.Count(again, " 0 re-sealed with k2") != 2 {
		t.Errorf("a second rekey re-sealed something (exit %d):\n%s", code, again)
	}
	only2 := newKeyring(t, key2)
	if stale := everyRecordReads(t, c, prefix, only2); stale != 0 {
		t.Errorf("%d values still sealed with an older key after rekey", stale)
	}

	// With k2 alone the service still reads the case whole.
	path2 := rotationConfig(t, prefix, key2)
	out, errs, code = runCLI(t, "", "export", "-case", storyCase, "-c", path2)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	for _, p := range []string{plantedDesc, plantedOutcome, plantedAddress, plantedNote, plantedDialog} {
		if !strings.Contains(out, p) {
			t.Errorf("export with k2 alone lacks %q", p)
		}
	}
}

// TestRekeyWithoutKeysRefuses: rekey needs a key to seal with.
func TestRekeyWithoutKeysRefuses(t *testing.T) {
	c := redistest.Client(t)
	path := rotationConfig(t, redistest.Prefix(t, c))
	_, errs, code := runCLI(t, "", "rekey", "-c", path)
	if code != 2 || !strings.Contains(errs, "encryption.keys is empty") {
		t.Errorf("exit %d: %s", code, errs)
	}
}

// TestAuditExportEraseCommands runs the operators' commands on Redis: the audit stream as JSON
// lines within -since/-until, an export of a case, an erase refused at the prompt and one done
// with -yes, and the audit events both leave.
func TestAuditExportEraseCommands(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	k := newKeyring(t, key1)
	s := newStory(t, func(clock bot.Clock) *flowtest.Stores {
		_, st := redisStores(t, c, prefix, k, clock)
		return st
	})
	s.tell()
	path := rotationConfig(t, prefix, key1)

	if out, errs, code := runCLI(t, "", "invite", "ona-p", "-c", path); code != 0 || !strings.Contains(out, "link ") {
		t.Errorf("invite with only Redis and the keys set: exit %d: %s%s", code, out, errs)
	}
	out, errs, code := runCLI(t, "", "audit", "-since", "2026-12-01", "-until", "2026-12-01", "-c", path)
	if code != 0 {
		t.Fatalf("audit: exit %d: %s", code, errs)
	}
	var first []bot.AuditEvent
	for line := range strings.Lines(out) {
		var ev bot.AuditEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		if ev.At.Format(time.DateOnly) != "2026-12-01" {
			t.Errorf("event of %v outside 2026-12-01", ev.At)
		}
		first = append(first, ev)
	}
	kinds := map[string]bool{}
	for _, ev := range first {
		kinds[ev.Kind] = true
	}
	for _, want := range []string{"case.created", "alert.created", "case.shared", "alert.resolved", "visit.declined"} {
		if !kinds[want] {
			t.Errorf("no %s event on the first day; kinds: %v", want, kinds)
		}
	}
	if strings.Contains(out, plantedEveryone) {
		t.Error("the audit stream holds a planted detail")
	}
	for _, tt := range []struct {
		name, since, until string
		ok                 bool
	}{
		{"RFC 3339 window", "2026-12-03T21:00:00+02:00", "2026-12-03T22:00:00+02:00", true},
		{"until before since", "2026-12-04", "2026-12-01", true},
		{"bad since", "yesterday", "", false},
		{"bad until", "", "3.12.2026", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"audit", "-c", path}
			if tt.since != "" {
				args = append(args, "-since", tt.since)
			}
			if tt.until != "" {
				args = append(args, "-until", tt.until)
			}
			out, errs, code := runCLI(t, "", args...)
			if !tt.ok {
				if code != 2 || !strings.Contains(errs, "want RFC 3339") {
					t.Errorf("exit %d, %q", code, errs)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if tt.name == "RFC 3339 window" && !strings.Contains(out, `"kind":"visit.outcome"`) {
				t.Errorf("the report at 21:31 is not in the window:\n%s", out)
			}
			if tt.name == "until before since" && out != "" {
				t.Errorf("an empty window printed %q", out)
			}
		})
	}

	out, errs, code = runCLI(t, "", "export", "-person", "aiste-r", "-c", path)
	if code != 0 || !json.Valid([]byte(out)) || !strings.Contains(out, `"acknowledger"`) {
		t.Fatalf("export: exit %d %s\n%s", code, errs, out)
	}
	if strings.Contains(out, plantedDesc) {
		t.Error("a person's export carries a case's details")
	}
	if _, errs, code := runCLI(t, "", "export", "-person", "aiste-r", "-case", storyCase, "-c", path); code != 2 || !strings.Contains(errs, "exactly one") {
		t.Errorf("both subjects: exit %d %q", code, errs)
	}

	out, errs, code = runCLI(t, "no\n", "erase", "-case", storyCase, "-c", path)
	if code != 1 || !strings.Contains(errs, "Type yes") || !strings.Contains(errs, "Nothing erased") {
		t.Fatalf("erase answered no: exit %d: %s %s", code, out, errs)
	}
	if _, err := s.Engine.Case(s.Ctx, storyCase); err != nil {
		t.Fatalf("the case went after a no: %v", err)
	}
	out, errs, code = runCLI(t, "", "erase", "-case", storyCase, "-yes", "-c", path)
	if code != 0 {
		t.Fatalf("erase: exit %d: %s", code, errs)
	}
	for _, want := range []string{"Erased case " + storyCase, "alerts:", "deleted alert/A1", "changed visit/" + s.visit, "case/" + storyCase, "records deleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("erase output lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = runCLI(t, "", "audit", "-c", path, "-until", "2027-01-01")
	for _, want := range []string{`"kind":"subject.exported","to":"aiste-r"`, `"kind":"subject.erased","case":"` + storyCase + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("audit lacks %s", want)
		}
	}
	for _, key := range []string{"alert/A1", "case/" + storyCase} {
		if _, _, err := s.Engine.Records.Get(s.Ctx, key); err == nil {
			t.Errorf("%s survived the erasure", key)
		}
	}
}

// removed is the line an erased record's messages are edited to.
func removed(s *story) string { return s.Engine.Texts.T("lt", "copies.removed") }

// TestEraseCase erases the story's case: its alerts, its place in the visit, its assignments and
// the dialog about it go; every copy in people's chats and the group becomes the "removed" line;
// the audit stream keeps its entries and records the erasure.
func TestEraseCase(t *testing.T) {
	s := newStory(t, nil)
	s.tell()
	shares := len(s.Audit("case.shared"))
	parts, err := s.Engine.Erase(s.Ctx, bot.Subject{Case: storyCase}, "dpo")
	if err != nil {
		t.Fatal(err)
	}
	s.Settle()
	got := map[string][]string{}
	for _, x := range parts {
		got[x.Part] = append(x.Deleted, x.Changed...)
	}
	for _, tt := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"each part says what it erased", func(t *testing.T) {
			want := map[string][]string{"alerts": {"alert/A1"}, "visits": {"visit/" + s.visit}, "meetings": nil,
				"core": {"dialog/console::dm:giedre-s/console::giedre-s", "case/" + storyCase}}
			for part, keys := range want {
				if !slices.Equal(got[part], keys) {
					t.Errorf("%s erased %v, want %v", part, got[part], keys)
				}
			}
		}},
		{"the concern's copies are removed from every chat", func(t *testing.T) {
			for _, p := range []string{"aiste-r", "mindaugas-l", "ruta-g"} {
				s.MustNotSee(p, plantedDesc)
				s.MustNotSee(p, plantedOutcome)
				s.MustSee(p, removed(s))
			}
		}},
		{"the group notice is removed", func(t *testing.T) {
			msgs := s.Chats.Chat("group:vtas-grupe")
			if len(msgs) == 0 {
				t.Fatal("the group never had a notice")
			}
			for _, m := range msgs {
				if strings.Contains(m.Text(), storyCase) {
					t.Errorf("the group still reads %q", m.Text())
				}
			}
		}},
		{"the visit report is removed from the case's people", func(t *testing.T) {
			for _, p := range []string{"aiste-r", "egle-v"} {
				s.MustNotSee(p, plantedNote)
			}
			s.MustNotSee("tomas-k", plantedAddress)
		}},
		{"the visit stays without the case", func(t *testing.T) {
			v := loadVisit(t, s)
			if len(v.Cases) != 0 || v.Status != visits.Closed || len(v.Participants()) != 2 {
				t.Errorf("cases %v, status %s, team %v", v.Cases, v.Status, v.Participants())
			}
		}},
		{"nothing is left to export", func(t *testing.T) {
			x, err := s.Engine.Export(s.Ctx, bot.Subject{Case: storyCase}, "dpo")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(x.Parts)
			for _, p := range planted {
				if bytes.Contains(b, []byte(p)) {
					t.Errorf("export after erasure still holds %q", p)
				}
			}
			if strings.Contains(string(b), `"case":{`) || !strings.Contains(string(b), `"alerts":[]`) || !strings.Contains(string(b), `"visits":[]`) {
				t.Errorf("export after erasure: %s", b)
			}
		}},
		{"assignments go with the case", func(t *testing.T) {
			if codes, _ := s.Engine.CasesOf(s.Ctx, "aiste-r"); len(codes) != 0 {
				t.Errorf("aiste-r still assigned to %v", codes)
			}
			if _, err := s.Engine.Case(s.Ctx, storyCase); err == nil {
				t.Error("the case is still there")
			}
		}},
		{"the audit stream keeps its entries and records the erasure", func(t *testing.T) {
			if n := len(s.Audit("case.shared")); n != shares {
				t.Errorf("%d shares recorded, %d before", n, shares)
			}
			ev := s.Audit("subject.erased")
			if len(ev) != 1 || ev[0].Case != storyCase || ev[0].Actor != "dpo" {
				t.Errorf("subject.erased: %+v", ev)
			}
		}},
		{"asking for an erased alert is refused", func(t *testing.T) {
			s.Say("aiste-r", "/alert A1")
			refused := false
			for _, ev := range s.Audit("access.refused") {
				refused = refused || ev.Actor == "aiste-r" && ev.Record == "alert/A1"
			}
			if !refused {
				t.Error("asking for an erased alert was not recorded as refused")
			}
		}},
	} {
		t.Run(tt.name, tt.check)
	}
}

// TestErasePerson erases one member of staff at a time: their account, preferences, dialogs,
// feed and assignments go, and what they wrote about themselves; records about cases keep their ID.
func TestErasePerson(t *testing.T) {
	for _, tt := range []struct {
		name, person string
		check        func(t *testing.T, s *story)
	}{
		{"a child-rights specialist keeps her ID on the alert but loses her case", "aiste-r", func(t *testing.T, s *story) {
			a, _, err := bot.Load[alerts.Alert](s.Ctx, s.Engine.Records, "alert/A1")
			if err != nil || a.AckBy != "aiste-r" || a.ResolvedBy != "aiste-r" || a.Outcome != plantedOutcome {
				t.Errorf("alert after erasure: %+v, %v", a, err)
			}
			c, err := s.Engine.Case(s.Ctx, storyCase)
			if err != nil || c.Has("aiste-r") {
				t.Errorf("case after erasure: %+v, %v", c, err)
			}
			_ = s.Engine.Records.Scan(s.Ctx, "ref/", func(k string) error {
				if strings.HasSuffix(k, "/aiste-r") {
					t.Errorf("%s kept", k)
				}
				return nil
			})
		}},
		{"a police officer's reason for declining goes, his answer stays", "algirdas-p", func(t *testing.T, s *story) {
			r := loadVisit(t, s).Replies["algirdas-p"]
			if r.State != visits.Declined || r.Note != "" || r.Reason != "" {
				t.Errorf("reply after erasure: %+v", r)
			}
		}},
		{"a head's meeting answer goes, her agenda item stays", "dalia-s", func(t *testing.T, s *story) {
			x, err := s.Engine.Export(s.Ctx, bot.Subject{Person: "dalia-s"}, "dpo")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(x.Parts["meetings"])
			if !strings.Contains(string(b), `"rsvps":[]`) || !strings.Contains(string(b), plantedAgenda) {
				t.Errorf("meetings after erasure: %s", b)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStory(t, nil)
			s.tell()
			if _, err := s.Engine.Export(s.Ctx, bot.Subject{Person: tt.person}, "dpo"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Engine.Erase(s.Ctx, bot.Subject{Person: tt.person}, "dpo"); err != nil {
				t.Fatal(err)
			}
			s.Settle()
			if p, _ := s.Engine.PersonFor(s.Ctx, flowtest.Identity(tt.person)); p != nil {
				t.Error("the chat account still links to the person")
			}
			x, err := s.Engine.Export(s.Ctx, bot.Subject{Person: tt.person}, "dpo")
			if err != nil {
				t.Fatal(err)
			}
			core, _ := json.Marshal(x.Parts["core"])
			for _, gone := range []string{`"account"`, `"dialogs"`, `"cases"`, `"buttons"`} {
				if strings.Contains(string(core), gone) {
					t.Errorf("core still holds %s: %s", gone, core)
				}
			}
			if ev := s.Audit("subject.erased"); len(ev) != 1 || ev[0].To != tt.person {
				t.Errorf("subject.erased: %+v", ev)
			}
			if ev := s.Audit("subject.exported"); len(ev) != 2 || ev[0].To != tt.person {
				t.Errorf("subject.exported: %+v", ev)
			}
			tt.check(t, s)
		})
	}
}

// TestExportHoldsTheSubjectsData: a case's export has its details from every flow; a person's has
// their directory entry, account, assignments and involvement, and no case details.
func TestExportHoldsTheSubjectsData(t *testing.T) {
	s := newStory(t, nil)
	s.tell()
	for _, tt := range []struct {
		name      string
		subject   bot.Subject
		want, not []string
	}{
		{"case", bot.Subject{Case: storyCase},
			[]string{plantedDesc, plantedOutcome, plantedAddress, plantedNote, plantedDialog, `"members":[{"by":"egle-v","person":"egle-v"`, `"kind":"case.shared"`, `"wait":"10m"`},
			[]string{plantedAgenda, plantedDecline, plantedQueued}},
		{"school social pedagogue", bot.Subject{Person: "giedre-s"},
			[]string{`"name":"Giedrė Sabaliauskienė"`, `"account":{`, `"as":["sender"]`, plantedDialog},
			[]string{plantedDesc, plantedOutcome, plantedAddress}},
		{"police officer", bot.Subject{Person: "algirdas-p"},
			[]string{plantedDecline, `"state":"declined"`, `"visits":[{`},
			[]string{plantedAddress, plantedNote}},
		{"specialist assigned to the case", bot.Subject{Person: "aiste-r"},
			[]string{`"cases":[{"case":"` + storyCase + `","role":"child_rights"}]`, `"acknowledger"`, `"resolver"`},
			[]string{plantedDesc, plantedOutcome, plantedNote}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x, err := s.Engine.Export(s.Ctx, tt.subject, "dpo")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(x)
			// In a person's terms: one key style, durations as text, no zero times.
			if m := regexp.MustCompile(`"[A-Z][A-Za-z]*":`).Find(b); m != nil {
				t.Errorf("a key in another style: %s", m)
			}
			if bytes.Contains(b, []byte("0001-01-01")) {
				t.Error("a zero time")
			}
			if m := regexp.MustCompile(`"(wait|timeout|grace|after|before|every)":\d`).Find(b); m != nil {
				t.Errorf("a duration as a number: %s", m)
			}
			for _, w := range tt.want {
				if !bytes.Contains(b, []byte(w)) {
					t.Errorf("lacks %s in %s", w, b)
				}
			}
			for _, n := range tt.not {
				if bytes.Contains(b, []byte(n)) {
					t.Errorf("holds %s", n)
				}
			}
		})
	}
}

// TestUndoBySomeoneElseIsRefusedAndAudited: a stale "undo" of an acknowledgement that someone
// else now holds changes nothing and is an access refused.
func TestUndoBySomeoneElseIsRefusedAndAudited(t *testing.T) {
	s := newStory(t, nil)
	s.Say("giedre-s", "/concern K-2026-140 skubu nepriežiūra Aprašymas")
	s.Press("giedre-s", "Išsaugoti")
	s.Press("aiste-r", "Mačiau")
	var token string
	for _, row := range s.Last("aiste-r").Message.Buttons {
		for _, b := range row {
			if strings.Contains(b.Label, "Atšaukti „Mačiau“") {
				token = b.Token
			}
		}
	}
	if token == "" {
		t.Fatalf("no undo button:\n%s", s.Chats.Dump("dm:aiste-r"))
	}
	s.PressToken("aiste-r", token)
	s.Press("mindaugas-l", "Mačiau")
	s.PressToken("aiste-r", token)
	a, _, _ := bot.Load[alerts.Alert](s.Ctx, s.Engine.Records, "alert/A1")
	if a.AckBy != "mindaugas-l" {
		t.Errorf("acknowledged by %q", a.AckBy)
	}
	found := false
	for _, ev := range s.Audit("access.refused") {
		found = found || ev.Actor == "aiste-r" && ev.Reason == "not_acknowledger"
	}
	if !found {
		t.Errorf("refusals: %+v", s.Audit("access.refused"))
	}
}

// TestExportAndEraseRefuseWhatIsNotAnID: a name typed instead of a case code is refused before it
// could reach the audit stream.
func TestExportAndEraseRefuseWhatIsNotAnID(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	path := rotationConfig(t, prefix, key1)
	for _, args := range [][]string{
		{"export", "-case", "Jonas Jonaitis"},
		{"erase", "-yes", "-case", "Jonas"},
		{"export", "-person", "Ona Petraitienė"},
	} {
		_, errs, code := runCLI(t, "", append(args, "-c", path)...)
		if code != 2 || !strings.Contains(errs, "nothing done") {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}
	out, _, _ := runCLI(t, "", "audit", "-c", path)
	if strings.Contains(strings.ToLower(out), "jonas") || strings.Contains(out, "Ona Petraitienė") {
		t.Errorf("a refused name reached the audit stream:\n%s", out)
	}
}
