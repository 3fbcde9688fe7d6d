package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs the forge as a newcomer does on an empty data directory
// and runs the `git clone` command it prints, as printed.
func TestDemo(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := s.start("-demo")
	out := srv.output()
	for _, want := range []string{"as demo, password ", "pull-only token for project demo: forge_", "git clone http://demo:forge_"} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`git clone (http://\S+)`).FindStringSubmatch(out)
	g := newGit(t)
	dst := filepath.Join(t.TempDir(), "hello")
	if out, err := g.run("", "clone", m[1], dst); err != nil {
		t.Fatalf("the printed clone command failed: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "README.md")); err != nil || !strings.HasPrefix(string(b), "# hello") {
		t.Errorf("README.md of the clone: %q, %v", b, err)
	}
	// The password printed signs in to the API.
	pw := regexp.MustCompile(`password (\S+)`).FindStringSubmatch(out)[1]
	code, body := srv.apiAuth("GET", "/api/projects/demo/tokens", func(r *http.Request) { r.SetBasicAuth("demo", pw) }, nil)
	if code != 200 || !strings.Contains(string(body), `"demo: pull-only project token"`) {
		t.Errorf("listing the demo tokens: %d %s", code, body)
	}
	srv.stop()

	// A second start sets nothing up again.
	srv = s.start("-demo")
	if out := srv.output(); strings.Contains(out, "Demo set up") || !strings.Contains(out, "remove the data directory") {
		t.Errorf("second start:\n%s", out)
	}
}

func TestDemoOff(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := s.start("-demo=false")
	if strings.Contains(srv.output(), "Demo") {
		t.Errorf("-demo=false set up a demo:\n%s", srv.output())
	}
	// Neither the demo user nor the demo project exists.
	if out, code := s.cli("", "project add", "-owner", "demo", "x"); code == 0 || !strings.Contains(out, "demo") {
		t.Errorf("project add -owner demo with -demo=false: exit %d; want a failure naming the missing user demo\n%s", code, out)
	}
	if out, code := s.cli("", "repo add", "demo/hello"); code == 0 || !strings.Contains(out, "demo") {
		t.Errorf("repo add demo/hello with -demo=false: exit %d; want a failure naming the missing project demo\n%s", code, out)
	}
}

// TestCLI checks the set-up commands and their errors.
func TestCLI(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	s.addUser("bob")
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "repo add", "alpha/one")
	s.must("", "repo add", "-private", "alpha/secret")
	s.must("", "project member", "alpha", "bob", "write")
	s.must("", "project member", "alpha", "bob", "read")
	s.must("", "project member", "alpha", "bob", "none")
	if _, err := os.Stat(filepath.Join(s.data, "repos", "alpha", "secret.git", "HEAD")); err != nil {
		t.Errorf("repo add did not create a bare repository: %v", err)
	}

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"duplicate user", "password1\n", []string{"user add", "alice"}, `user "alice" already exists`},
		{"short password", "short\n", []string{"user add", "carol"}, "password"},
		{"no password", "", []string{"user add", "carol"}, "first line of standard input"},
		{"invalid user name", "password1\n", []string{"user add", "Carol"}, "invalid user name"},
		{"dot-dot user name", "password1\n", []string{"user add", "a..b"}, "invalid user name"},
		{"unknown owner", "", []string{"project add", "-owner", "nobody", "beta"}, `user "nobody" not found`},
		{"no owner", "", []string{"project add", "beta"}, "-owner USER is required"},
		{"duplicate project", "", []string{"project add", "-owner", "alice", "alpha"}, `project "alpha" already exists`},
		{"invalid project name", "", []string{"project add", "-owner", "alice", "_beta"}, "invalid project name"},
		{".git project name", "", []string{"project add", "-owner", "alice", "beta.git"}, "must not end in .git"},
		{".git repository name", "", []string{"repo add", "alpha/x.git"}, "must not end in .git"},
		{"reserved project name", "", []string{"project add", "-owner", "alice", "api"}, "reserved"},
		{"dot-dot repository", "", []string{"repo add", "alpha/.."}, "invalid repository name"},
		{"slash in repository", "", []string{"repo add", "alpha/a/b"}, "invalid repository name"},
		{"repository without project", "", []string{"repo add", "one"}, "PROJECT/REPO"},
		{"repository of unknown project", "", []string{"repo add", "nope/one"}, `project "nope" not found`},
		{"duplicate repository", "", []string{"repo add", "alpha/one"}, "already exists"},
		{"member of unknown project", "", []string{"project member", "nope", "bob", "read"}, `project "nope" not found`},
		{"unknown member", "", []string{"project member", "alpha", "nobody", "read"}, `user "nobody" not found`},
		{"bad role", "", []string{"project member", "alpha", "bob", "owner"}, "want read, write, admin or none"},
		{"owner's role", "", []string{"project member", "alpha", "alice", "read"}, "always its admin"},
		{"unknown command", "", []string{"frobnicate"}, "unknown command"},
		{"missing argument", "", []string{"repo add"}, "want 1 argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := s.cli(tt.stdin, tt.args...)
			if code == 0 {
				t.Fatalf("exit status 0; want non-zero\n%s", out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("got %q; want it to contain %q", out, tt.want)
			}
		})
	}
}

// TestDataDirName: the database lands in the data directory whatever
// characters its name has (it is passed to SQLite as a URI).
func TestDataDirName(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.data = filepath.Join(s.data, "a b#c?d%41")
	s.addUser("alice")
	if _, err := os.Stat(filepath.Join(s.data, "forge.db")); err != nil {
		t.Errorf("database not in the data directory: %v", err)
	}
	s.must("", "project add", "-owner", "alice", "alpha") // the same database
}
