package bot_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// TestCatalogsComplete fails when a message exists in one language and not the other, or when a
// template placeholder differs between them.
func TestCatalogsComplete(t *testing.T) {
	c := bot.MustLoadCatalog()
	lt, en := c.IDs("lt"), c.IDs("en")
	if len(lt) == 0 {
		t.Fatal("no Lithuanian messages loaded")
	}
	for _, id := range lt {
		if !c.Has("en", id) {
			t.Errorf("message %q is in Lithuanian but not in English", id)
		}
	}
	for _, id := range en {
		if !c.Has("lt", id) {
			t.Errorf("message %q is in English but not in Lithuanian", id)
		}
	}
	ph := regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)
	for _, id := range lt {
		if !c.Has("en", id) {
			continue
		}
		a := ph.FindAllStringSubmatch(c.N("lt", id, 2), -1)
		b := ph.FindAllStringSubmatch(c.N("en", id, 2), -1)
		if len(a) != 0 || len(b) != 0 {
			t.Errorf("message %q left a placeholder unfilled: %v %v", id, a, b)
		}
	}
}

// TestCatalogHasEveryUsedID scans the Go sources for message IDs passed to the catalog and fails
// on any that no catalog defines, so that a user never sees "[some.id]".
func TestCatalogHasEveryUsedID(t *testing.T) {
	c := bot.MustLoadCatalog()
	root, _ := filepath.Abs("..")
	calls := map[string]int{"T": 0, "Say": 0, "Tell": 0, "N": 1}
	fset := token.NewFileSet()
	var used []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			name := ""
			switch fn := call.Fun.(type) {
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			case *ast.Ident:
				name = fn.Name
			}
			skip, ok := calls[name]
			if !ok {
				return true
			}
			// The ID is the first string literal among the first two arguments (after a language).
			for i, a := range call.Args {
				if i > skip+1 {
					break
				}
				if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					if regexp.MustCompile(`^[a-z_]+\.[a-z_.0-9]+[a-z0-9_]$`).MatchString(s) {
						used = append(used, s)
					}
					break
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 20 {
		t.Fatalf("found only %d message IDs in the sources; the scan is broken", len(used))
	}
	slices.Sort(used)
	for _, id := range slices.Compact(used) {
		for _, l := range bot.Languages {
			if !c.Has(l, id) {
				t.Errorf("message %q is used in code but missing from the %s catalog", id, l)
			}
		}
	}
}

func TestLithuanianPlurals(t *testing.T) {
	c := bot.MustLoadCatalog()
	tests := []struct {
		name string
		n    int
		want string
	}{
		{"one", 1, "1 asmuo"},
		{"twenty-one is singular", 21, "21 asmuo"},
		{"few", 2, "2 asmenys"},
		{"few up to nine", 9, "9 asmenys"},
		{"teens are other", 12, "12 asmenų"},
		{"ten is other", 10, "10 asmenų"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.N("lt", "people", tt.n); got != tt.want {
				t.Errorf("N(lt, people, %d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
	if got := c.N("en", "people", 1); got != "1 person" {
		t.Errorf("English singular = %q", got)
	}
}

func TestDatesWrittenTheLithuanianWay(t *testing.T) {
	c := bot.MustLoadCatalog()
	vilnius, _ := time.LoadLocation("Europe/Vilnius")
	at := time.Date(2026, 12, 3, 18, 5, 0, 0, vilnius)
	if got, want := c.DateTime("lt", at), "2026 m. gruodžio 3 d., ketvirtadienis, 18:05"; got != want {
		t.Errorf("lt = %q, want %q", got, want)
	}
	if got, want := c.DateTime("en", at), "Thursday, 3 December 2026, 18:05"; got != want {
		t.Errorf("en = %q, want %q", got, want)
	}
}
