package bot

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"
)

// Languages Tiltas speaks, Lithuanian first.
var Languages = []string{"lt", "en"}

//go:embed catalog/*.yaml
var catalogFS embed.FS

// Catalog holds every user-facing text in every language. Files are catalog/<part>.<lang>.yaml,
// one per flow, so that each flow keeps its own texts.
type Catalog struct {
	bundle *i18n.Bundle
	locs   map[string]*i18n.Localizer
	ids    map[string]map[string]bool // lang → message IDs

	mu      sync.Mutex
	missing map[string]bool
}

// LoadCatalog parses the embedded catalogs.
func LoadCatalog() (*Catalog, error) {
	b := i18n.NewBundle(language.Lithuanian)
	b.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
	c := &Catalog{bundle: b, locs: map[string]*i18n.Localizer{}, ids: map[string]map[string]bool{}, missing: map[string]bool{}}
	err := fs.WalkDir(catalogFS, "catalog", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := catalogFS.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := b.ParseMessageFileBytes(data, path.Base(p))
		if err != nil {
			return fmt.Errorf("catalog %s: %w", p, err)
		}
		lang := f.Tag.String()
		if c.ids[lang] == nil {
			c.ids[lang] = map[string]bool{}
		}
		for _, m := range f.Messages {
			if c.ids[lang][m.ID] {
				return fmt.Errorf("catalog %s: message %q defined twice", p, m.ID)
			}
			c.ids[lang][m.ID] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, l := range Languages {
		c.locs[l] = i18n.NewLocalizer(b, l)
	}
	return c, nil
}

// MustLoadCatalog is LoadCatalog for tests and main, where a broken embedded catalog is a bug.
func MustLoadCatalog() *Catalog {
	c, err := LoadCatalog()
	if err != nil {
		panic(err)
	}
	return c
}

// IDs returns the message IDs defined for lang, sorted.
func (c *Catalog) IDs(lang string) []string {
	var out []string
	for id := range c.ids[lang] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Has reports whether id exists in lang.
func (c *Catalog) Has(lang, id string) bool { return c.ids[lang][id] }

// Missing lists IDs asked for that no catalog has (tests fail on it).
func (c *Catalog) Missing() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id := range c.missing {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (c *Catalog) localizer(lang string) *i18n.Localizer {
	if l, ok := c.locs[lang]; ok {
		return l
	}
	return c.locs[Languages[0]]
}

// T returns message id in lang, filled from key/value pairs ("Name", "Ona", ...).
func (c *Catalog) T(lang, id string, kv ...any) string {
	return c.localize(lang, id, nil, kv)
}

// N returns the plural form of message id for n in lang; n is available as {{.Count}}.
func (c *Catalog) N(lang, id string, n int, kv ...any) string {
	return c.localize(lang, id, n, kv)
}

func (c *Catalog) localize(lang, id string, count any, kv []any) string {
	data := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		data[fmt.Sprint(kv[i])] = kv[i+1]
	}
	if count != nil {
		data["Count"] = count
	}
	s, err := c.localizer(lang).Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil {
		c.mu.Lock()
		c.missing[id] = true
		c.mu.Unlock()
		return "[" + id + "]"
	}
	return s
}

// Date writes a date the way lang writes it: "2026 m. gruodžio 3 d., ketvirtadienis" in
// Lithuanian, "Thursday, 3 December 2026" in English.
func (c *Catalog) Date(lang string, t time.Time) string {
	return c.T(lang, "date.long",
		"Year", t.Year(), "Day", t.Day(),
		"Month", c.T(lang, fmt.Sprintf("month.%d", int(t.Month()))),
		"Weekday", c.T(lang, fmt.Sprintf("weekday.%d", int(t.Weekday()))))
}

// DateTime writes a date and a 24-hour time.
func (c *Catalog) DateTime(lang string, t time.Time) string {
	return c.T(lang, "datetime.long", "Date", c.Date(lang, t), "Time", t.Format("15:04"))
}

// Span writes a time window on one day: "… 18:00–21:00".
func (c *Catalog) Span(lang string, from, to time.Time) string {
	if from.YearDay() == to.YearDay() && from.Year() == to.Year() {
		return c.DateTime(lang, from) + "–" + to.Format("15:04")
	}
	return c.DateTime(lang, from) + " – " + c.DateTime(lang, to)
}

// Join lists items the way lang does ("a, b ir c").
func (c *Catalog) Join(lang string, items []string) string {
	switch len(items) {
	case 0:
		return c.T(lang, "list.none")
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + c.T(lang, "list.and") + " " + items[len(items)-1]
}
