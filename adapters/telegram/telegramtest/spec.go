package telegramtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
)

// spec is the part of api.json the fake needs: methods and types with their fields.
type spec struct {
	Version string                 `json:"version"`
	Methods map[string]*specObject `json:"methods"`
	Types   map[string]*specObject `json:"types"`
}

// specObject is a method or a type. A type with subtypes is a union of them
// (ReplyMarkup-like unions are instead listed as several types on a field).
type specObject struct {
	Name     string      `json:"name"`
	Fields   []specField `json:"fields"`
	Subtypes []string    `json:"subtypes"`
	Returns  []string    `json:"returns"`

	byName map[string]*specField
	// discField and discValue hold a subtype's tag, e.g. type "chat" for
	// BotCommandScopeChat, so that a union picks its member by the tag.
	discField string
	discValue string
}

type specField struct {
	Name        string   `json:"name"`
	Types       []string `json:"types"`
	Required    bool     `json:"required"`
	Description string   `json:"description"`
}

func (o *specObject) field(name string) *specField { return o.byName[name] }

var primitives = map[string]bool{"Integer": true, "String": true, "Boolean": true, "Float": true}

// discPattern finds the constant in descriptions like `Scope type, must be chat`
// or `Type of the reaction, always "emoji"`.
var discPattern = regexp.MustCompile(`(?:must be|always) "?([a-z0-9_]+)"?$`)

type specEntry struct {
	once sync.Once
	spec *spec
	err  error
}

// specs caches parsed specs by path: api.json is ~1 MB and most tests start a server.
var specs sync.Map

// defaultSpecPath is the repository's copy, found from this file's location so
// that tests in any package work from a fresh clone.
func defaultSpecPath() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("testdata", "api.json")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", "api.json")
}

func loadSpec(path string) (*spec, error) {
	e, _ := specs.LoadOrStore(path, &specEntry{})
	entry := e.(*specEntry)
	entry.once.Do(func() { entry.spec, entry.err = parseSpecFile(path) })
	return entry.spec, entry.err
}

func parseSpecFile(path string) (*spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read bot api spec: %w", err)
	}
	var s spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode bot api spec %s: %w", path, err)
	}
	if len(s.Methods) == 0 || len(s.Types) == 0 {
		return nil, fmt.Errorf("bot api spec %s has no methods or types", path)
	}
	for _, objs := range []map[string]*specObject{s.Methods, s.Types} {
		for _, o := range objs {
			o.byName = make(map[string]*specField, len(o.Fields))
			for i := range o.Fields {
				o.byName[o.Fields[i].Name] = &o.Fields[i]
			}
		}
	}
	for _, t := range s.Types {
		if len(t.Fields) == 0 {
			continue
		}
		f := t.Fields[0]
		if (f.Name == "type" || f.Name == "source" || f.Name == "status") && f.Required {
			if m := discPattern.FindStringSubmatch(f.Description); m != nil {
				t.discField, t.discValue = f.Name, m[1]
			}
		}
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("bot api spec %s: %w", path, err)
	}
	return &s, nil
}

// check fails on a type reference the validator could not resolve, so a spec
// update that adds a new kind of type breaks loudly instead of accepting anything.
func (s *spec) check() error {
	var bad []string
	ref := func(where, t string) {
		base := strings.TrimSpace(t)
		for strings.HasPrefix(base, "Array of ") {
			base = strings.TrimPrefix(base, "Array of ")
		}
		if !primitives[base] && s.Types[base] == nil {
			bad = append(bad, where+": "+t)
		}
	}
	for _, objs := range []map[string]*specObject{s.Methods, s.Types} {
		for _, o := range objs {
			for _, f := range o.Fields {
				for _, t := range f.Types {
					ref(o.Name+"."+f.Name, t)
				}
			}
			for _, t := range o.Subtypes {
				ref(o.Name, t)
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("unknown types: %s", strings.Join(bad, ", "))
	}
	return nil
}
