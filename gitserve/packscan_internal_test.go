package gitserve

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
)

// gitIn runs git in dir and returns its output.
func gitIn(t testing.TB, dir string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(inheritedEnvOf(os.LookupEnv), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir(),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// leakyRepo makes a repository whose history holds tokens of m in files
// that change from commit to commit (so that its pack has delta chains),
// in a commit message, a binary file and a file over 64 KiB; and returns
// it, packed.
func leakyRepo(t testing.TB, m *accesstoken.Manager) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git not found; CI must have it")
		}
		t.Skip("git not found")
	}
	issued := 0
	issue := func() string {
		issued++ // descriptions are unique among a user's active tokens of a target
		iss, err := m.Issue(context.Background(), accesstoken.IssueRequest{Owner: "carol", Description: fmt.Sprintf("leaked %d", issued), Target: accesstoken.ProjectTarget("p"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
		if err != nil {
			t.Fatal(err)
		}
		return iss.Secret.Reveal()
	}
	dir := filepath.Join(t.TempDir(), "repo")
	gitIn(t, "", "", "init", "-q", "-b", "main", dir)
	var lines []string
	for i := range 80 {
		lines = append(lines, fmt.Sprintf("line %02d of a file that changes a little in every commit", i))
	}
	for c := range 30 {
		lines[c] = fmt.Sprintf("line %02d changed in commit %d", c, c)
		body := slices.Clone(lines)
		if c%7 == 3 {
			body[40] = "token = " + issue()
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", c%3)), []byte(strings.Join(body, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("commit %d", c)
		if c == 11 {
			msg += "\n\nwith " + issue()
		}
		if c == 12 {
			os.WriteFile(filepath.Join(dir, "bin.dat"), []byte("\x00"+issue()), 0o644)
			os.WriteFile(filepath.Join(dir, "big.txt"), []byte(issue()+"\n"+strings.Repeat("x", 70<<10)), 0o644)
		}
		gitIn(t, dir, "", "add", "-A")
		gitIn(t, dir, "", "commit", "-q", "-m", msg)
	}
	gitIn(t, dir, "", "repack", "-adq", "--depth=10")
	return dir
}

// findingKeys describes findings for comparison.
func findingKeys(found []objectFinding) []string {
	var keys []string
	for _, f := range found {
		keys = append(keys, fmt.Sprintf("%s %s %s %d:%d secret=%v", f.oid, f.typ, f.f.Kind, f.f.Line, f.f.Column, f.secret.Reveal() != ""))
	}
	slices.Sort(keys)
	return keys
}

// TestQuarantineReaderMatchesGit: reading a pack, or loose objects,
// in-process finds what git rev-list and cat-file find, with deltas,
// binary and large files, commit messages; and so it does when delta
// bases do not fit in memory and git reads what they are the bases of.
func TestQuarantineReaderMatchesGit(t *testing.T) {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if err != nil {
		t.Fatal(err)
	}
	repo := leakyRepo(t, m)
	objects := filepath.Join(repo, ".git", "objects")
	newScanner := func() *lockedScanner {
		return newLockedScanner(m.NewScanner(accesstoken.ScanOptions{IncludeRevoked: true}))
	}
	env := append(inheritedEnvOf(os.LookupEnv), "GIT_CONFIG_NOSYSTEM=1")
	o := &objectScan{git: "git", env: env, dir: repo, maxSize: 64 << 10, scanner: newScanner()}
	want, wst, err := o.scan(context.Background(), "", "--all")
	if err != nil {
		t.Fatal(err)
	}
	// (git rev-list does not even list the large file.)
	if len(want) != 5 || wst.binary != 1 {
		t.Fatalf("git found %d tokens (binary %d); the test repository should hold 5 to find and 1 binary file", len(want), wst.binary)
	}
	noExisting := func(context.Context, []string) (map[string]bool, error) { return nil, nil }
	read := func(t *testing.T, dir string) ([]objectFinding, scanStats) {
		q := &quarantineReader{dir: dir, hashLen: 20, maxSize: 64 << 10, scanner: newScanner(), exists: noExisting}
		if err := q.scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		found := q.found
		if len(q.leftover) > 0 {
			o := &objectScan{git: "git", env: env, dir: repo, maxSize: 64 << 10, scanner: q.scanner}
			more, st, err := o.readObjects(context.Background(), q.leftover)
			if err != nil {
				t.Fatal(err)
			}
			found = append(found, more...)
			q.st.add(st)
		}
		return found, q.st
	}
	check := func(t *testing.T, got []objectFinding, st scanStats) {
		t.Helper()
		if g, w := strings.Join(findingKeys(got), "\n"), strings.Join(findingKeys(want), "\n"); g != w {
			t.Fatalf("found:\n%s\nwant (git):\n%s", g, w)
		}
		if st.binary != 1 || st.large != 1 {
			t.Errorf("skipped %d binary, %d large; want 1, 1", st.binary, st.large)
		}
	}

	t.Run("pack", func(t *testing.T) {
		got, st := read(t, objects)
		check(t, got, st)
	})
	t.Run("pack, bases too large to keep", func(t *testing.T) {
		old := maxBaseMemory
		maxBaseMemory = 100
		defer func() { maxBaseMemory = old }()
		q := &quarantineReader{dir: objects, hashLen: 20, maxSize: 64 << 10, scanner: newScanner(), exists: noExisting}
		if err := q.scan(context.Background()); err != nil || len(q.leftover) == 0 {
			t.Fatalf("%v, %d objects left to git; want some, when no base fits", err, len(q.leftover))
		}
		got, st := read(t, objects)
		check(t, got, st)
	})
	t.Run("loose", func(t *testing.T) {
		loose := filepath.Join(t.TempDir(), "loose")
		gitIn(t, "", "", "init", "-q", "--bare", loose)
		packs, _ := filepath.Glob(filepath.Join(objects, "pack", "*.pack"))
		data, err := os.ReadFile(packs[0])
		if err != nil {
			t.Fatal(err)
		}
		gitIn(t, loose, string(data), "unpack-objects", "-q")
		got, st := read(t, filepath.Join(loose, "objects"))
		check(t, got, st)
	})
	t.Run("existing objects", func(t *testing.T) {
		// Objects the repository has are skipped when they are the base
		// of a thin pack's delta; here, none is (the pack is whole).
		q := &quarantineReader{dir: objects, hashLen: 20, maxSize: 64 << 10, scanner: newScanner(),
			exists: func(context.Context, []string) (map[string]bool, error) {
				t.Fatal("asked about a whole pack")
				return nil, nil
			}}
		if err := q.scan(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestQuarantineReaderGivesUp: what the reader does not understand makes
// it give up (errNotReadable), for git to read the push.
func TestQuarantineReaderGivesUp(t *testing.T) {
	m, _ := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	repo := leakyRepo(t, m)
	objects := filepath.Join(repo, ".git", "objects")
	idxs, _ := filepath.Glob(filepath.Join(objects, "pack", "*.idx"))
	idx, _ := os.ReadFile(idxs[0])
	pack, _ := os.ReadFile(strings.TrimSuffix(idxs[0], ".idx") + ".pack")
	q := func() *quarantineReader {
		return &quarantineReader{hashLen: 20, maxSize: 64 << 10, scanner: newLockedScanner(m.NewScanner(accesstoken.ScanOptions{})),
			exists: func(context.Context, []string) (map[string]bool, error) { return nil, nil }}
	}
	if err := q().scanPackData(context.Background(), idx, pack); err != nil {
		t.Fatalf("the real pack: %v", err)
	}
	bad := func(b []byte, at int, v byte) []byte { c := slices.Clone(b); c[at] = v; return c }
	for _, tt := range []struct {
		name      string
		idx, pack []byte
	}{
		{"index version 1", bad(idx, 7, 1), pack},
		{"index cut", idx[:len(idx)/2], pack},
		{"not a pack", idx, bad(pack, 0, 'X')},
		{"pack version 4", idx, bad(pack, 7, 4)},
		{"pack cut", idx, pack[:len(pack)/2]},
		{"SHA-256 index for SHA-1 pack", idx, pack},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := q()
			if tt.name == "SHA-256 index for SHA-1 pack" {
				r.hashLen = 32
			}
			if err := r.scanPackData(context.Background(), tt.idx, tt.pack); err == nil {
				t.Fatal("no error")
			} else if !strings.Contains(err.Error(), errNotReadable.Error()) {
				t.Fatalf("error %v does not match errNotReadable", err)
			}
		})
	}
	t.Run("pack over the limit", func(t *testing.T) {
		defer SetMaxPackInMemory(int64(len(pack) - 1))()
		if err := q().scanPack(context.Background(), idxs[0]); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestApplyDelta(t *testing.T) {
	base := []byte("0123456789abcdef")
	tests := []struct {
		name  string
		delta []byte
		want  string // "" for an error
	}{
		{"copy and insert", []byte{16, 7, 0x91, 2, 4, 3, 'X', 'Y', 'Z'}, "2345XYZ"},
		{"copy all", []byte{16, 16, 0x90, 16}, "0123456789abcdef"},
		{"wrong base size", []byte{15, 4, 0x90, 4}, ""},
		{"copy past the base", []byte{16, 4, 0x91, 14, 4}, ""},
		{"insert past the delta", []byte{16, 4, 4, 'a'}, ""},
		{"result too long", []byte{16, 2, 3, 'a', 'b', 'c'}, ""},
		{"result too short", []byte{16, 4, 2, 'a', 'b'}, ""},
		{"opcode 0", []byte{16, 1, 0}, ""},
		{"truncated copy", []byte{16, 4, 0x91}, ""},
		{"truncated header", []byte{0x80}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size, err := deltaResultSize(tt.delta, len(base))
			var got []byte
			if err == nil {
				got, err = applyDelta(make([]byte, 0, size), base, tt.delta, size)
			}
			if tt.want == "" {
				if err == nil {
					t.Fatalf("applied: %q; want an error", got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// FuzzApplyDelta: any delta on any base fails cleanly or makes exactly
// the size it announces.
func FuzzApplyDelta(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte{16, 7, 0x91, 2, 4, 3, 'X', 'Y', 'Z'})
	f.Add([]byte("x"), []byte{1, 0x80, 0x80, 1})
	f.Add([]byte{}, []byte{0, 0xff, 0xff, 0xff, 0x7f, 0x80})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		size, err := deltaResultSize(delta, len(base))
		if err != nil || size > 1<<20 {
			return
		}
		got, err := applyDelta(make([]byte, 0, size), base, delta, size)
		if err == nil && int64(len(got)) != size {
			t.Fatalf("%d bytes; announced %d", len(got), size)
		}
	})
}

// FuzzPackData: any index and pack never panic the reader, and what it
// finds is in the pack's objects.
func FuzzPackData(f *testing.F) {
	m, _ := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if _, err := exec.LookPath("git"); err == nil {
		repo := leakyRepo(f, m)
		idxs, _ := filepath.Glob(filepath.Join(repo, ".git", "objects", "pack", "*.idx"))
		idx, _ := os.ReadFile(idxs[0])
		pack, _ := os.ReadFile(strings.TrimSuffix(idxs[0], ".idx") + ".pack")
		f.Add(idx, pack)
		f.Add(idx[:len(idx)-1], pack[:len(pack)-1])
	}
	f.Add([]byte("\xfftOc\x00\x00\x00\x02"), []byte("PACK\x00\x00\x00\x02\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, idx, pack []byte) {
		q := &quarantineReader{hashLen: 20, maxSize: 64 << 10, scanner: newLockedScanner(m.NewScanner(accesstoken.ScanOptions{IncludeUnknown: true})),
			exists: func(context.Context, []string) (map[string]bool, error) { return map[string]bool{}, nil }}
		_ = q.scanPackData(context.Background(), idx, pack)
		for _, of := range q.found {
			if !isObjectID(of.oid) || of.f.Offset < 0 {
				t.Fatalf("finding %+v", of)
			}
		}
	})
}
