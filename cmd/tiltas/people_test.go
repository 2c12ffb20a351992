package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tiltas people: IT imports a file of people (a diff first, -yes applies), lists and exports
// them, and -prune deactivates those added outside the config whom the file lacks.
func TestPeopleImportListExport(t *testing.T) {
	_, path := serveConfig(t)
	file := filepath.Join(t.TempDir(), "people.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`people:
  - {id: jonas-n, name: Jonas Naujokas, institution: vtas, roles: [child_rights]}
  - {id: ausra-k, name: Aušra Kalnienė, institution: saules-progimnazija, roles: [school], language: lt}
  - {id: tomas-k, name: Tomas Kazlauskas, institution: policija, roles: [police], areas: [centras], quiet_hours: "22:00-06:00"}
`)
	out, errs, code := runCLI(t, "", "people", "import", file, "-c", path)
	if code != 0 || !strings.Contains(out, "+ jonas-n (Jonas Naujokas, vtas)") || !strings.Contains(out, "~ tomas-k: areas, quiet_hours") ||
		!strings.Contains(out, "2 to add, 1 to change, 0 to deactivate.") || !strings.Contains(out, "run again with -yes") {
		t.Fatalf("diff: exit %d\n%s%s", code, out, errs)
	}
	out, _, _ = runCLI(t, "", "people", "list", "-c", path)
	if strings.Contains(out, "jonas-n") {
		t.Fatalf("the diff alone changed the people:\n%s", out)
	}
	if out, errs, code = runCLI(t, "", "people", "import", file, "-yes", "-c", path); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	out, _, _ = runCLI(t, "", "people", "list", "-c", path)
	for _, want := range []string{"jonas-n", "Jonas Naujokas", "chat", "active"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = runCLI(t, "", "people", "export", "-c", path)
	if !strings.Contains(out, "id: jonas-n") || !strings.Contains(out, "quiet_hours: 22:00-06:00") {
		t.Errorf("export:\n%s", out)
	}

	// Aušra left: the new file lacks her; -prune deactivates her, never the config's people.
	write(`people:
  - {id: jonas-n, name: Jonas Naujokas, institution: vtas, roles: [child_rights]}
`)
	out, _, code = runCLI(t, "", "people", "import", file, "-prune", "-yes", "-c", path)
	if code != 0 || !strings.Contains(out, "- ausra-k: deactivated") || strings.Contains(out, "- tomas-k") {
		t.Fatalf("prune: exit %d\n%s", code, out)
	}
	// A file with problems changes nothing and names each.
	write(`people:
  - {id: Bad ID, name: X, institution: vtas, roles: [child_rights]}
  - {id: ok-1, name: X, institution: nowhere, roles: [child_rights]}
  - {id: ok-2, name: Y, institution: vtas, roles: [wizard]}
`)
	_, errs, code = runCLI(t, "", "people", "import", file, "-yes", "-c", path)
	if code != 2 || !strings.Contains(errs, "people[0].id: want a person ID") || !strings.Contains(errs, "people[1] (ok-1): There is no such institution.") ||
		!strings.Contains(errs, "people[2] (ok-2): Choose at least one role.") {
		t.Errorf("bad file: exit %d\n%s", code, errs)
	}
	// invite finds someone added outside the config.
	if out, errs, code := runCLI(t, "", "invite", "jonas-n", "-c", path); code != 0 || !strings.Contains(out, "link ") && !strings.Contains(out, "code") {
		t.Errorf("invite jonas-n: exit %d\n%s%s", code, out, errs)
	}
}
