package main

import (
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGitbench runs every scenario but clones-64 (six bursts of 64 clones)
// once, so that the program the README's figures come from keeps working:
// it builds the forge, sets up the repositories, and checks that each
// scenario printed its row. It checks no time: the figures are the
// program's output, not the test's.
func TestGitbench(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git not found (CI=true: the test script must install it)")
		}
		t.Skip("git not found")
	}
	log.SetOutput(io.Discard) // gitkit's line for every request, as in main
	dir := t.TempDir()
	bin := filepath.Join(dir, "forge")
	if out, err := exec.Command("go", "build", "-o", bin, "../forge").CombinedOutput(); err != nil {
		t.Fatalf("building the forge: %v\n%s", err, out)
	}
	scenarios := []string{"clone-1000", "serve-clone", "gitkit-1000", "vs-gitkit", "noop-fetch", "clone-30mb", "push-1000", "push-protect", "held-40"}
	*forgeBin, *pairs, *only, *workIn = bin, 1, strings.Join(scenarios, ","), dir
	var out strings.Builder
	b := &bench{out: &out, work: dir, home: filepath.Join(dir, "home"), data: filepath.Join(dir, "data")}
	if err := os.MkdirAll(b.home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := b.run(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	for _, s := range scenarios {
		if !strings.Contains(out.String(), "\n"+s+" ") {
			t.Errorf("no row for %s", s)
		}
	}
	if !strings.Contains(out.String(), "40 connections held: 0 git processes") {
		t.Error("the held requests started git")
	}
}
