package accesstoken_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// libraryModule is this module's path.
const libraryModule = "github.com/forgekit/accesstoken"

// libraryPackages are the packages an importer may use. TestModuleGraph
// imports these and any other importable package it finds in the module.
var libraryPackages = []string{
	libraryModule,
	libraryModule + "/gitreq",
	libraryModule + "/gitserve",
	libraryModule + "/httpauth",
	libraryModule + "/memstore",
	libraryModule + "/sqlstore",
	libraryModule + "/storetest",
}

// buildModules are the only modules whose code an importer's build may
// compile.
var buildModules = []string{libraryModule, "github.com/google/uuid"}

// forbiddenModules are modules that only the example forge and the tests
// with real database drivers need, and must not be in an importer's module
// graph: the browser driver, the database drivers, bcrypt, and the modules
// they bring. A path ending in "/" forbids every module under it. On top of
// these, TestModuleGraph forbids whatever the go.mod files of the
// repository's other modules require and the library's does not (see
// otherModulesRequirements).
var forbiddenModules = []string{
	"github.com/chromedp/",               // chromedp, cdproto
	"github.com/go-json-experiment/json", // chromedp's
	"github.com/jackc/",                  // pgx, puddle, pgpassfile, pgservicefile
	"modernc.org/",                       // sqlite, libc, mathutil, memory
	"github.com/dustin/go-humanize",      // modernc.org/sqlite's and libc's, as the next three
	"github.com/mattn/go-isatty",
	"github.com/ncruces/go-strftime",
	"github.com/remyoudompheng/bigfft",
	"golang.org/x/crypto", // bcrypt, for the forge's passwords
	"golang.org/x/sync",   // pgx's and modernc.org/libc's
	"golang.org/x/sys",    // modernc.org/sqlite's and libc's
	"golang.org/x/text",   // pgx's
}

// TestModuleGraph checks what a program that imports every package of the
// library gets from it: in its module graph (go list -m all, which module
// scanners read and which sets its minimum versions), nothing that only the
// example forge or the driver-backed tests need; in its build (go list
// -deps), no module but the library and github.com/google/uuid.
//
// It makes a module in a temporary directory whose main package imports
// them all, with a replace directive to this directory, and runs the go
// command there with GOWORK=off, since an importer's build never reads the
// repository's go.work. It needs the Go module proxy, or a module cache that
// holds the library's requirements.
func TestModuleGraph(t *testing.T) {
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// In the library's directory, read-only: the test must not tidy the
	// library's go.mod. In the importer's, -mod=mod lets go mod tidy and
	// go list resolve whatever they need.
	inLibrary := goCommand(t, root, "GOWORK=off", "GOFLAGS=-mod=readonly")

	// Every importable package of the library's module: those named
	// above, and any added since.
	listed := strings.Fields(inLibrary("list", "-f", `{{if ne .Name "main"}}{{.ImportPath}}{{end}}`, "./..."))
	for _, p := range libraryPackages {
		if !slices.Contains(listed, p) {
			t.Fatalf("go list ./... in the library's module: got %v; want %s among them", listed, p)
		}
	}
	pkgs := slices.Clone(libraryPackages)
	for _, p := range listed {
		if !slices.Contains(pkgs, p) && !strings.Contains(p+"/", "/internal/") {
			pkgs = append(pkgs, p)
		}
	}

	dir := t.TempDir()
	var src strings.Builder
	src.WriteString("// Command importer imports every package of the library.\npackage main\n\nimport (\n")
	for _, p := range pkgs {
		src.WriteString("\t_ \"" + p + "\"\n")
	}
	src.WriteString(")\n\nfunc main() {}\n")
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	inImporter := goCommand(t, dir, "GOWORK=off", "GOFLAGS=-mod=mod")
	inImporter("mod", "init", "example.com/importer")
	inImporter("mod", "edit", "-require="+libraryModule+"@v0.0.0", "-replace="+libraryModule+"="+root)
	inImporter("mod", "tidy")

	forbidden := slices.Concat(forbiddenModules, otherModulesRequirements(t, root))
	graph := strings.Fields(inImporter("list", "-m", "-f", "{{.Path}}", "all"))
	var bad []string
	for _, m := range graph {
		if slices.ContainsFunc(forbidden, func(f string) bool {
			return m == f || strings.HasSuffix(f, "/") && strings.HasPrefix(m, f)
		}) {
			bad = append(bad, m)
		}
	}
	if len(bad) > 0 {
		t.Errorf("go list -m all of a module that imports every library package lists modules that only the examples or the driver-backed tests need:\n\t%s\nits whole graph (%d modules):\n\t%s",
			strings.Join(bad, "\n\t"), len(graph), strings.Join(graph, "\n\t"))
	}

	built := strings.Fields(inImporter("list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", "."))
	slices.Sort(built)
	built = slices.Compact(built)
	var extra []string
	for _, m := range built {
		if m != "example.com/importer" && !slices.Contains(buildModules, m) {
			extra = append(extra, m)
		}
	}
	if len(extra) > 0 {
		t.Errorf("go list -deps of a module that imports every library package: it compiles %v; want no module but %v", extra, buildModules)
	}
	t.Logf("go list -m all: %v\nmodules compiled: %v", graph, built)
	if !slices.Contains(built, libraryModule) {
		t.Errorf("go list -deps of a module that imports every library package: got modules %v; want %s among them", built, libraryModule)
	}
}

// goCommand returns a function that runs the go command in dir with the
// environment variables env added, and returns its standard output. It
// fails the test if the command fails.
func goCommand(t *testing.T, dir string, env ...string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.Bytes())
		}
		return string(out)
	}
}

// otherModulesRequirements returns the modules that the go.mod files of the
// repository's other modules (the examples, the driver-backed tests)
// require and the library's own go.mod does not.
func otherModulesRequirements(t *testing.T, root string) []string {
	t.Helper()
	own := modRequires(t, root)
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != "go.mod" || filepath.Dir(path) == root {
			return nil
		}
		for _, m := range modRequires(t, filepath.Dir(path)) {
			if m != libraryModule && !slices.Contains(own, m) && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// modRequires lists the modules that the go.mod file in dir requires.
func modRequires(t *testing.T, dir string) []string {
	t.Helper()
	var mod struct {
		Require []struct{ Path string }
	}
	out := goCommand(t, dir, "GOWORK=off")("mod", "edit", "-json")
	if err := json.Unmarshal([]byte(out), &mod); err != nil {
		t.Fatalf("go mod edit -json in %s: %v", dir, err)
	}
	var paths []string
	for _, r := range mod.Require {
		paths = append(paths, r.Path)
	}
	return paths
}
