package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/forgekit/accesstoken"
)

// chromium returns Debian's chromium, or skips (fails under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found (CI=true: the test script must install Debian's chromium)")
	}
	t.Skip("chromium not found (apt-get install chromium)")
	return ""
}

// TestBrowser signs in with a real browser, creates a pull-only project
// token, reads the secret off the page, clones a private repository with
// it, revokes it on the page and sees the next clone fail.
func TestBrowser(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	_, srv, g := lifeSite(t)
	// Revoke the token lifeSite pushed with, so that the pages show only
	// the browser's.
	for _, tok := range srv.list("alice", "alpha", "") {
		if code, b := srv.api("DELETE", "/api/projects/alpha/tokens/"+tok.ID, "alice", nil); code != 204 {
			t.Fatalf("revoking %s: %d %s", tok.ID, code, b)
		}
	}

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first Run starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancel = context.WithTimeout(ctx, 5*time.Minute) // a bound for a hung browser, not a speed test
	defer cancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	do("sign in",
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), password("alice")),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS(".who")),
	)
	if got := text(".who"); got != "Signed in as alice" {
		t.Errorf("after signing in: %q", got)
	}

	do("open the project's page", chromedp.Navigate(srv.URL+"/alpha"), chromedp.WaitVisible(chromedp.ID("members")))
	shot(t, ctx, "project.png")
	do("open the project's tokens page",
		chromedp.Click(chromedp.ID("manage-tokens")),
		chromedp.WaitVisible(chromedp.ID("create-form")),
	)
	do("create a pull-only project token",
		chromedp.SendKeys(chromedp.ID("description"), "browser test"),
		chromedp.Click(chromedp.CSS(`input[name=scope][value="repository:pull"]`)),
		chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("secret")),
	)
	secret := text("#secret")
	if !strings.HasPrefix(secret, "forge_") {
		t.Fatalf("secret on the page: %q", secret)
	}
	if got := text("#created"); !strings.Contains(got, "it will not be shown again") {
		t.Errorf("the new token's box says %q; want the warning", got)
	}
	shot(t, ctx, "tokens-created.png")

	u := srv.tokenURL("alice", secret, "alpha/one")
	g.mustClone(u, "clone with the token from the page")
	if out, err := g.run(g.workRepo(), "push", "-q", u, "main:refs/heads/x"); err == nil {
		t.Errorf("push with the pull-only token succeeded\n%s", out)
	}

	// Reloaded, the page no longer shows the secret, and shows the use
	// once the library has written it (accesstoken.LastUsedDelay after the
	// clone; reloaded until then, for up to 30 times that).
	for deadline := time.Now().Add(30 * accesstoken.LastUsedDelay); ; time.Sleep(accesstoken.LastUsedDelay / 4) {
		do("reload the tokens page", chromedp.Navigate(srv.URL+"/alpha/-/tokens"), chromedp.WaitVisible(chromedp.ID("tokens")))
		if strings.Contains(text("#tokens tbody tr .last-used"), "UTC") || time.Now().After(deadline) {
			break
		}
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, secret) {
		t.Errorf("the secret is shown again")
	}
	row := text("#tokens tbody tr")
	for _, want := range []string{"browser test", "alice", "Pull", "Never"} {
		if !strings.Contains(row, want) {
			t.Errorf("token row %q lacks %q", row, want)
		}
	}
	if lu := text("#tokens tbody tr .last-used"); !strings.Contains(lu, "UTC") {
		t.Errorf("last used %q; want the time of the clone", lu)
	}
	shot(t, ctx, "tokens.png")
	do("open your tokens", chromedp.Click(chromedp.ID("my-tokens")), chromedp.WaitVisible(chromedp.ID("tokens")))
	if row := text("#tokens tbody tr"); !strings.Contains(row, "alpha (project)") {
		t.Errorf("your tokens: %q", row)
	}
	shot(t, ctx, "your-tokens.png")

	// The repository's page lists the project token that covers it.
	do("open the repository's page", chromedp.Navigate(srv.URL+"/alpha/one"), chromedp.WaitVisible(chromedp.ID("clone-url")))
	shot(t, ctx, "repo.png")
	do("open the repository's tokens page",
		chromedp.Click(chromedp.ID("manage-tokens")),
		chromedp.WaitVisible(chromedp.ID("tokens")),
	)
	if row := text("#tokens tbody tr"); !strings.Contains(row, "browser test") || !strings.Contains(row, "project-wide") {
		t.Errorf("repository tokens page: %q; want the project token, marked project-wide", row)
	}

	do("revoke the token",
		chromedp.Navigate(srv.URL+"/alpha/-/tokens"),
		chromedp.Click(chromedp.CSS("#tokens button.revoke")),
		chromedp.WaitVisible(chromedp.ID("no-tokens")),
	)
	g.mustNotClone(u, "clone after revoking in the page", "revoked")
}

// shot saves a screenshot of the page to ACCESSTOKEN_SCREENSHOT_DIR, or to
// the test's temporary directory.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("ACCESSTOKEN_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
