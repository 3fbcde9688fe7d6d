package accesstoken_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitserve"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/stretchr/testify/require"
)

// The README's claims, kept true by tests: the figures it gives are the
// code's (TestREADMEDefaults), every test, fuzz target and benchmark it
// and SECURITY.md name exists and every fuzz target is in its list
// (TestREADMENames), its sample token is one (TestREADMEToken), and its
// SQLite settings are those the sqlstore tests run (TestREADMESQLite).
// Measured figures (the Performance tables) name the benchmark that
// measures them.

// readme returns README.md with every run of white space made one space,
// so that a phrase is found wherever its lines break.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	return strings.Join(strings.Fields(string(b)), " ")
}

// TestREADMEDefaults: each phrase of the README that states a default or
// a limit is there, and the code has that value. Change one, change both.
func TestREADMEDefaults(t *testing.T) {
	text := readme(t)
	lim, err := gitserve.NewLimiter(gitserve.Limits{})
	require.NoError(t, err)
	limits := lim.Limits()
	for _, c := range []struct {
		phrase string
		holds  bool
	}{
		{"at most once per token per 10 minutes", accesstoken.DefaultLastUsedInterval == 10*time.Minute},
		{"(10 minutes by default, as Launchpad; `WithLastUsedInterval`)", accesstoken.DefaultLastUsedInterval == 10*time.Minute},
		{"about a second later (`LastUsedDelay`)", accesstoken.LastUsedDelay == time.Second},
		{"(to within 10 ms, see `WithClock`)", accesstoken.ClockResolution == 10*time.Millisecond},
		{"refreshes every 10 ms", accesstoken.ClockResolution == 10*time.Millisecond},
		{"`Limit` (100 by default, at most 1,000)", accesstoken.DefaultPageSize == 100 && accesstoken.MaxPageSize == 1000},
		{"description (required, ≤ 255 characters", accesstoken.MaxDescriptionLen == 255},
		{"(`MaxLookups`, 1,000 by default;", accesstoken.DefaultMaxLookups == 1000},
		{"`gat` by default", accesstoken.DefaultPrefix == "gat"},
		{"gat_… (53 characters)", accesstoken.DefaultFormat().Len() == 53},
		{"(a lower-case letter and up to 15 lower-case letters or digits)", accesstoken.MaxPrefixLen == 16},
		{"(43 characters, 256 bits)", accesstoken.DefaultFormat().Len() == len("gat_")+43+6},
		{"at most once a second (`WithRecheckInterval`)", httpauth.DefaultRecheckInterval == time.Second},
		{"`MaxObjectSize` (1 MiB)", gitserve.DefaultMaxObjectSize == 1<<20},
		{"up to 10 MiB as git http-backend's default", gitserve.DefaultMaxRequestBody == 10<<20},
		{"(packs and ref listings, 128 MiB by default,", gitserve.DefaultPackCache == 128<<20},
		{"`MaxProcesses` git processes at once (default 4 per CPU, at least 8)", limits.MaxProcesses == max(4*runtime.GOMAXPROCS(0), 8)},
		{"`MaxWaiting` requests (default 8 times that)", limits.MaxWaiting == 8*limits.MaxProcesses},
		{"`MaxWait` (30 s)", limits.MaxWait == 30*time.Second},
		{"per client address (default 32)", limits.MaxPerClient == 32},
		{"`IdleTimeout` (1 minute)", limits.IdleTimeout == time.Minute},
		{"`MaxDuration` (default none)", limits.MaxDuration == 0},
	} {
		if !strings.Contains(text, c.phrase) {
			t.Errorf("README.md does not say %q", c.phrase)
		} else if !c.holds {
			t.Errorf("README.md says %q, which the code no longer does", c.phrase)
		}
	}
}

// testNames lists the tests, fuzz targets, benchmarks and examples
// declared in the repository's test files (every module's).
func testNames(t *testing.T) map[string]bool {
	t.Helper()
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark|Example)\w*)\(`)
	names := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, "_test.go"):
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		return nil
	})
	require.NoError(t, err)
	return names
}

// TestREADMENames: every test, fuzz target and benchmark that README.md
// and SECURITY.md name exists, and README.md's fuzzing list names every
// fuzz target.
func TestREADMENames(t *testing.T) {
	names := testNames(t)
	mention := regexp.MustCompile("`((?:Test|Fuzz|Benchmark)[A-Z0-9]\\w*)")
	for _, doc := range []string{"README.md", "SECURITY.md"} {
		b, err := os.ReadFile(doc)
		require.NoError(t, err)
		for _, m := range mention.FindAllStringSubmatch(string(b), -1) {
			if !names[m[1]] {
				t.Errorf("%s names %s, which no test file declares", doc, m[1])
			}
		}
	}
	text := readme(t)
	var fuzz []string
	for n := range names {
		if strings.HasPrefix(n, "Fuzz") {
			fuzz = append(fuzz, n)
		}
	}
	slices.Sort(fuzz)
	for _, n := range fuzz {
		if !strings.Contains(text, n) {
			t.Errorf("README.md's fuzzing list lacks %s", n)
		}
	}
}

// TestREADMEToken: the README's sample token is a well-formed one, and
// the regular expression it gives scanners matches it.
func TestREADMEToken(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	found := accesstoken.DefaultFormat().FindAll(string(b))
	require.Len(t, found, 1, "README should show one well-formed sample token")
	re := regexp.MustCompile(`\\bgat_\[0-9A-Za-z\]\{(\d+)\}\\b`).FindStringSubmatch(string(b))
	require.NotNil(t, re, "README gives scanners a regular expression")
	require.Regexp(t, `\bgat_[0-9A-Za-z]{`+re[1]+`}\b`, found[0], "the regular expression the README gives scanners")
}

// TestREADMESQLite: the SQLite settings the README recommends are those of
// sqlstore's documentation, and those sqlstore's tests run (package
// drivertest's sqliteDSN).
func TestREADMESQLite(t *testing.T) {
	settings := regexp.MustCompile(`file:[^"?]*\?(_pragma=busy_timeout[^"\s]*)`)
	find := func(path string) []string {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var out []string
		for _, m := range settings.FindAllStringSubmatch(string(b), -1) {
			out = append(out, m[1])
		}
		return out
	}
	inREADME := find("README.md")
	require.Len(t, inREADME, 1, "README.md shows one SQLite DSN")
	want := inREADME[0]
	for _, path := range []string{"sqlstore/doc.go", "sqlstore/example_test.go"} {
		for _, got := range find(path) {
			require.Equal(t, want, got, "the SQLite settings of %s", path)
		}
	}
	b, err := os.ReadFile("sqlstore/drivertest/helpers_test.go")
	require.NoError(t, err)
	require.Contains(t, string(b), `"?`+want+`"`, "the SQLite settings sqlstore's tests run (drivertest's sqliteDSN)")
}
