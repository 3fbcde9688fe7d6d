package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
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

// tab is a tab of a headless Chromium, with the checks every page
// passes.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func newPage(t *testing.T) *tab {
	t.Helper()
	bin := chromium(t)
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
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first Run starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancel = context.WithTimeout(ctx, 10*time.Minute) // a bound for a hung browser, not a speed test
	t.Cleanup(cancel)
	return &tab{t: t, ctx: ctx}
}

// stepTimeout bounds one step of the browser test (a page to load, an
// element to appear): a step that waits for what never comes fails with its
// name long before go test's own timeout ends the whole package. A step
// takes well under a second here; the bound is for a hung browser or a page
// that is wrong, not a speed test.
const stepTimeout = 2 * time.Minute

func (p *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

func (p *tab) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func eval[T any](p *tab, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

func (p *tab) location() string {
	p.t.Helper()
	u, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		p.t.Fatal(err)
	}
	return u
}

// widths are the window widths every page is checked at: a desktop's
// and a phone's (390 px, an iPhone 12 to 15).
var widths = []int64{1280, 390}

// check looks at the current page as a person would, at each width:
// nothing wider than the window (no sideways scrolling), the header and
// the skip link there, every text at WCAG AA contrast, and a
// screenshot (name-WIDTH.png).
func (p *tab) check(name string) {
	p.t.Helper()
	for _, w := range widths {
		p.do(fmt.Sprintf("%s at %d px", name, w), chromedp.EmulateViewport(w, 900))
		// Let the layout settle on the new width.
		eval[bool](p, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
		if over := eval[string](p, overflowJS); over != "" {
			p.t.Errorf("%s at %d px: wider than the window: %s", name, w, over)
		}
		if got := eval[string](p, headerJS); got != "" {
			p.t.Errorf("%s at %d px: header: %s", name, w, got)
		}
		if bad := eval[[]string](p, contrastJS); len(bad) > 0 {
			p.t.Errorf("%s at %d px: text below WCAG AA contrast:\n%s", name, w, strings.Join(bad, "\n"))
		}
		shot(p.t, p.ctx, fmt.Sprintf("%s-%d.png", name, w))
	}
	p.do("back to the desktop width", chromedp.EmulateViewport(1280, 900))
}

// overflowJS names what is wider than the window, or returns "".
const overflowJS = `(() => {
  const de = document.documentElement;
  if (de.scrollWidth <= de.clientWidth) return "";
  const wide = [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > de.clientWidth + 0.5)
    .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + String(e.className).replace(/ /g, ".") : ""));
  return "page " + de.scrollWidth + " px in a " + de.clientWidth + " px window: " + wide.slice(0, 8).join(", ");
})()`

// headerJS checks that the header shows the brand and the account links
// in full, inside the window.
const headerJS = `(() => {
  const w = document.documentElement.clientWidth;
  for (const sel of [".brand", ".top nav"]) {
    const e = document.querySelector(".top " + sel) || document.querySelector(sel);
    if (!e) return "no " + sel;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.left < 0 || r.right > w + 0.5) return sel + " is cut: " + r.left + "–" + r.right + " of " + w;
  }
  const skip = document.querySelector("a.skip");
  if (!skip || skip.getAttribute("href") !== "#main" || !document.getElementById("main")) return "no skip link to #main";
  return "";
})()`

// contrastJS returns the texts whose colour is below 4.5:1 against the
// background they are drawn on (3:1 for large text), as WCAG 2 computes
// it. The background is the nearest non-transparent one of the element
// or its ancestors, blended over white; disabled controls are exempt.
const contrastJS = `(() => {
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = c => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  const background = e => {
    const layers = [];
    for (let n = e; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const bad = [];
  for (const e of document.querySelectorAll("body *")) {
    const own = [...e.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim()).map(n => n.textContent.trim()).join(" ");
    if (!own) continue;
    const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    if (r.width <= 1 || r.height <= 1 || s.visibility === "hidden" || e.closest(".visually-hidden")) continue;
    if (e.closest(".skip") && document.activeElement !== e) continue; // off screen until focused
    if (e.disabled || e.closest("label.disabled")) continue;
    const bg = background(e), fg = over(parse(s.color), bg);
    const l1 = lum(fg), l2 = lum(bg), ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(s.fontSize), large = size >= 24 || size >= 18.66 && Number(s.fontWeight) >= 700;
    if (ratio < (large ? 3 : 4.5)) bad.push(ratio.toFixed(2) + ":1 " + s.color + " on rgb(" + bg.slice(0, 3).map(Math.round) + ") " + e.tagName.toLowerCase() + " “" + own.slice(0, 40) + "”");
  }
  return bad;
})()`

// accessibleNames returns the accessible names of the page's links and
// buttons, as a screen reader announces them (Chromium's accessibility
// tree).
func (p *tab) accessibleNames() []string {
	p.t.Helper()
	res, err := chromedp.Call(p.ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		p.t.Fatalf("accessibility tree: %v", err)
	}
	var names []string
	for _, n := range res.Nodes {
		if n.Ignored || n.Role == nil || n.Name == nil {
			continue
		}
		var role, name string
		json.Unmarshal(n.Role.Value, &role)
		json.Unmarshal(n.Name.Value, &name)
		if role == "link" || role == "button" {
			names = append(names, name)
		}
	}
	return names
}

// TestBrowser drives the token pages in Chromium, at 1280 and 390 px:
// signs in, creates a token (the secret is shown once, and reloading
// creates no second one), clones with it, keeps what was typed in a
// form with an error, picks an expiry date and sees that date, rotates
// and revokes after a confirmation that names the token (and, for a
// project token, says it stops working for every repository), sees the
// inactive tokens with who revoked them and the link to a successor, and
// the project's token activity.
func TestBrowser(t *testing.T) {
	t.Parallel()
	s, srv, g := lifeSite(t)
	// Revoke the token lifeSite pushed with, so that the lists start
	// with the browser's.
	for _, tok := range srv.list("alice", "alpha", "") {
		if code, b := srv.api("DELETE", "/api/projects/alpha/tokens/"+tok.ID, "alice", nil); code != 204 {
			t.Fatalf("revoking %s: %d %s", tok.ID, code, b)
		}
	}
	p := newPage(t)

	p.do("open the sign-in page", chromedp.Navigate(srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("username")))
	// The checks catch what they should: the warning colours of before
	// (#9a6700 on #dafbe1, 4.37:1), and something wider than a phone.
	eval[bool](p, `(() => { const e = document.createElement("p"); e.id = "probe";
		e.style.cssText = "color: #9a6700; background: #dafbe1; width: 600px"; e.textContent = "probe";
		document.querySelector("main").append(e); return true; })()`)
	if bad := eval[[]string](p, contrastJS); len(bad) != 1 || !strings.Contains(bad[0], "4.37:1") {
		t.Errorf("the contrast check on #9a6700 over #dafbe1: %q; want it refused at 4.37:1", bad)
	}
	p.do("narrow", chromedp.EmulateViewport(390, 900))
	if over := eval[string](p, overflowJS); !strings.Contains(over, "p#probe") {
		t.Errorf("the overflow check on a 600 px paragraph at 390 px: %q", over)
	}
	p.do("reload", chromedp.EmulateViewport(1280, 900), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("username")))
	p.check("login")
	p.do("sign in",
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), password("alice")),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS(".who")),
	)
	if got := p.text(".who"); got != "Signed in as alice" {
		t.Errorf("after signing in: %q", got)
	}

	p.do("open the project's page", chromedp.Navigate(srv.URL+"/alpha"), chromedp.WaitVisible(chromedp.ID("members")))
	// The skip link is the first thing the keyboard reaches.
	p.do("press Tab", chromedp.KeyEvent("\t"))
	if got := eval[string](p, `document.activeElement.className + " " + document.activeElement.getAttribute("href")`); got != "skip #main" {
		t.Errorf("the first Tab reaches %q; want the skip link", got)
	}
	p.check("project")
	p.do("open the project's tokens page",
		chromedp.Click(chromedp.ID("manage-tokens")),
		chromedp.WaitVisible(chromedp.ID("create-form")),
	)
	if !eval[bool](p, `document.getElementById("expiry-30").checked`) {
		t.Errorf("the expiry preselected is not 30 days")
	}
	p.check("tokens-empty")

	// Create a pull-only project token: the list shows it once.
	p.do("create a pull-only project token",
		chromedp.SendKeys(chromedp.ID("description"), "browser test"),
		chromedp.Click(chromedp.CSS(`input[name=scope][value="repository:pull"]`)),
		chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("secret")),
	)
	secret := p.text("#secret")
	if !strings.HasPrefix(secret, "forge_") {
		t.Fatalf("secret on the page: %q", secret)
	}
	if got := p.text("#created"); !strings.Contains(got, "it will not be shown again") {
		t.Errorf("the new token's box says %q; want the warning", got)
	}
	if loc := p.location(); !strings.HasSuffix(loc, "/alpha/-/tokens") {
		t.Errorf("after creating, the browser is at %s; want the list (Post/Redirect/Get)", loc)
	}
	p.check("tokens-created")
	// Reloading shows the list again: no second token, no secret.
	p.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("tokens")))
	if html := eval[string](p, `document.documentElement.outerHTML`); strings.Contains(html, secret) {
		t.Errorf("the secret is shown again after a reload")
	}
	if n := eval[int](p, `[...document.querySelectorAll("#tokens .desc")].filter(e => e.textContent === "browser test").length`); n != 1 {
		t.Errorf("after a reload, %d tokens named “browser test”; want 1", n)
	}
	if got := len(srv.list("alice", "alpha", "")); got != 1 {
		t.Errorf("after a reload, the project has %d active tokens; want 1", got)
	}

	u := srv.tokenURL("alice", secret, "alpha/one")
	g.mustClone(u, "clone with the token from the page")
	if out, err := g.run(g.workRepo(), "push", "-q", u, "main:refs/heads/x"); err == nil {
		t.Errorf("push with the pull-only token succeeded\n%s", out)
	}
	// The list shows the use once the library has written it
	// (accesstoken.LastUsedDelay after the clone; reloaded until then,
	// for up to 30 times that).
	for deadline := time.Now().Add(30 * accesstoken.LastUsedDelay); ; time.Sleep(accesstoken.LastUsedDelay / 4) {
		p.do("reload the tokens page", chromedp.Navigate(srv.URL+"/alpha/-/tokens"), chromedp.WaitVisible(chromedp.ID("tokens")))
		if strings.Contains(p.text("#tokens tbody tr .last-used"), "UTC") || time.Now().After(deadline) {
			break
		}
	}
	row := p.text("#tokens tbody tr")
	for _, want := range []string{"browser test", "alice", "Pull", "expires in 30 days"} {
		if !strings.Contains(row, want) {
			t.Errorf("token row %q lacks %q", row, want)
		}
	}
	if lu := p.text("#tokens tbody tr .last-used"); !strings.Contains(lu, "UTC") {
		t.Errorf("last used %q; want the time of the clone", lu)
	}

	// A form with an error keeps what was typed: the same description
	// again is refused.
	p.do("create a second token of the same description",
		chromedp.SendKeys(chromedp.ID("description"), "Browser  test"),
		chromedp.Click(chromedp.CSS(`input[name=scope][value="repository:push"]`)),
		chromedp.Click(chromedp.ID("expiry-7")),
		chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("description-error")),
	)
	if got := p.text("#description-error"); !strings.Contains(got, "already have an active token") {
		t.Errorf("duplicate description: %q", got)
	}
	if !eval[bool](p, `document.getElementById("description").value === "Browser  test" &&
		document.querySelector('input[value="repository:push"]').checked && document.getElementById("expiry-7").checked`) {
		t.Errorf("the form with an error lost what was typed")
	}
	p.check("tokens-error")

	// An expiry date: the list shows that date; 7 days or fewer left are
	// marked.
	day := time.Now().UTC().AddDate(0, 0, 5).Format(time.DateOnly)
	p.do("create a token expiring on a date",
		chromedp.SetValue(chromedp.ID("description"), "deploy key"),
		chromedp.SetValue(chromedp.ID("expires"), day),
		chromedp.Click(chromedp.ID("expiry-custom")),
		chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("secret")),
	)
	first := p.text("#tokens tbody tr:first-child")
	if !strings.Contains(first, "deploy key") || !strings.Contains(first, day+" 23:59 UTC") {
		t.Errorf("the newest token (listed first) %q; want “deploy key” expiring %s 23:59 UTC", first, day)
	}
	if soon := p.text("#tokens tbody tr:first-child .soon"); !strings.Contains(soon, "expires in 5 days") && !strings.Contains(soon, "expires in 4 days") {
		t.Errorf("a token with 5 days left: %q; want it marked", soon)
	}
	// Every Revoke and Rotate says, to a screen reader, which token.
	for _, name := range p.accessibleNames() {
		if (name == "Revoke" || name == "Rotate" || strings.HasPrefix(name, "Revoke ") || strings.HasPrefix(name, "Rotate ")) &&
			!strings.Contains(name, "“browser test”") && !strings.Contains(name, "“deploy key”") {
			t.Errorf("a button named %q: it does not say which token", name)
		}
	}

	// Rotate "deploy key", after a confirmation.
	p.do("ask to rotate", chromedp.Click(chromedp.CSS(`#tokens tbody tr:first-child a.rotate`)), chromedp.WaitVisible(chromedp.ID("confirm")))
	if got := p.text("#confirm"); !strings.Contains(got, "Rotate “deploy key”?") || !strings.Contains(got, "stops working at once") {
		t.Errorf("the rotate confirmation says %q", got)
	}
	if !eval[bool](p, `document.getElementById("expiry-keep").checked`) {
		t.Errorf("the rotate confirmation does not keep the expiry by default")
	}
	p.check("confirm-rotate")
	// A new expiry: 30 days instead of the 5 left.
	p.do("rotate for 30 days", chromedp.Click(chromedp.ID("expiry-30")), chromedp.Click(chromedp.ID("confirm-rotate")), chromedp.WaitVisible(chromedp.ID("secret")))
	if got := p.text("#created"); !strings.Contains(got, "New secret for “deploy key”") {
		t.Errorf("after rotating: %q", got)
	}
	if row := p.text("#tokens tbody tr:first-child"); !strings.Contains(row, "deploy key") || !strings.Contains(row, "expires in 30 days") {
		t.Errorf("the rotated token %q; want “deploy key”, expiring in 30 days", row)
	}
	p.check("tokens-rotated")

	// The repository's page lists the project token that covers it; a
	// revocation there asks first, saying it is for the whole project.
	// A CI job reports on the repository's HEAD with a token that has
	// the build status scope: the page shows its badges, the latest of
	// each context, linking to the build.
	ci := srv.issue("alice", "alpha", "repository:pull", "repository:build_status")
	head := g.head(srv, "ci", ci.Token, "alpha/one")
	for _, st := range []map[string]any{
		{"state": "pending", "context": "ci/build", "target_url": "https://ci.example.com/builds/7"},
		{"state": "success", "context": "ci/build", "description": "Build 7 passed", "target_url": "https://ci.example.com/builds/7"},
		{"state": "failure", "context": "ci/lint", "description": "2 warnings"},
	} {
		if code, b := srv.apiAuth("POST", statusesPath("alpha/one", head), bearer(ci.Token), st); code != 201 {
			t.Fatalf("posting a status: %d %s", code, b)
		}
	}
	p.do("open the repository's page", chromedp.Navigate(srv.URL+"/alpha/one"), chromedp.WaitVisible(chromedp.ID("clone-url")))
	badges := eval[[]string](p, `[...document.querySelectorAll("#commit-`+head+` .status")].map(e => e.textContent + " " + (e.getAttribute("href") || "-"))`)
	if strings.Join(badges, "|") != "ci/build: success https://ci.example.com/builds/7|ci/lint: failure -" {
		t.Errorf("the badges of HEAD: %q; want ci/build's success linking to the build, and ci/lint's failure", badges)
	}
	p.check("repo")
	p.do("open the repository's tokens page",
		chromedp.Click(chromedp.ID("manage-tokens")),
		chromedp.WaitVisible(chromedp.ID("tokens")),
	)
	projRow := "#" + eval[string](p, `[...document.querySelectorAll("#tokens tbody tr")].find(r => r.textContent.includes("browser test")).id`)
	if row := p.text(projRow); !strings.Contains(row, "browser test") || !strings.Contains(row, "project-wide") {
		t.Errorf("repository tokens page: %q; want the project token, marked project-wide", row)
	}
	p.check("repo-tokens")
	p.do("ask to revoke the project token from the repository's page",
		chromedp.Click(chromedp.CSS(projRow+` a.revoke`)),
		chromedp.WaitVisible(chromedp.ID("confirm")),
	)
	if got := p.text("#consequence"); !strings.Contains(got, "project token") || !strings.Contains(got, "every repository of project alpha") {
		t.Errorf("the confirmation says %q; want that it stops working for every repository of project alpha", got)
	}
	if got := p.text("#confirm h1"); got != "Revoke “browser test”?" {
		t.Errorf("the confirmation's title: %q", got)
	}
	p.check("confirm-revoke")
	g.mustClone(u, "clone while the revocation is only asked")
	p.do("cancel", chromedp.Click(chromedp.ID("cancel")), chromedp.WaitVisible(chromedp.ID("tokens")))
	g.mustClone(u, "clone after cancelling")
	p.do("revoke, saying why",
		chromedp.Click(chromedp.CSS(projRow+` a.revoke`)),
		chromedp.WaitVisible(chromedp.ID("confirm")),
		chromedp.SendKeys(chromedp.ID("reason"), "moved to the new CI"),
		chromedp.Click(chromedp.ID("confirm-revoke")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	)
	if got := p.text("#notice"); !strings.Contains(got, "Revoked “browser test”") || !strings.Contains(got, "any repository of project alpha") {
		t.Errorf("after revoking: %q", got)
	}
	g.mustNotClone(u, "clone after revoking in the page", "revoked")

	// The inactive tokens: who revoked them, and the rotated one's link
	// to its successor.
	p.do("open the project's tokens page", chromedp.Navigate(srv.URL+"/alpha/-/tokens"), chromedp.WaitVisible(chromedp.ID("inactive-tokens")))
	inactive := p.text("#inactive-tokens")
	for _, want := range []string{"browser test", "deploy key", "by alice", "moved to the new CI", "Rotated: see its replacement"} {
		if !strings.Contains(inactive, want) {
			t.Errorf("inactive tokens %q lack %q", inactive, want)
		}
	}
	p.check("tokens-inactive")
	p.do("follow the link to the successor", chromedp.Click(chromedp.CSS("a.successor")), chromedp.WaitVisible(chromedp.ID("token-facts")))
	if got := p.text("#token-title"); !strings.Contains(got, "deploy key") || !strings.Contains(got, "active") {
		t.Errorf("the successor link leads to %q; want the page of the active “deploy key”", got)
	}
	p.check("token")

	do := func(what, sel string) {
		p.t.Helper()
		p.do(what, chromedp.Click(chromedp.ID(sel)), chromedp.WaitVisible(chromedp.CSS("h1")))
	}
	do("open your tokens", "my-tokens")
	// Newest first: the CI token, then the rotated “deploy key”.
	if row := p.text("#tokens tbody tr:first-child"); !strings.Contains(row, "alpha (project)") || !strings.Contains(row, ci.Description) {
		t.Errorf("your tokens, the first row: %q; want the CI token %q, the newest", row, ci.Description)
	}
	if row := p.text("#tokens tbody tr:nth-child(2)"); !strings.Contains(row, "alpha (project)") || !strings.Contains(row, "deploy key") {
		t.Errorf("your tokens, the second row: %q; want “deploy key”", row)
	}
	p.check("your-tokens")

	// The activity: issued, rotated, revoked, and the refused clone
	// (refusals are written about a second after them).
	var activity string
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		p.do("open the activity", chromedp.Navigate(srv.URL+"/alpha/-/activity"), chromedp.WaitVisible(chromedp.ID("activity")))
		activity = p.text("#activity")
		if strings.Contains(activity, "the token was revoked") || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{"Issued", "Rotated", "Revoked", "Use refused", "To pull from alpha/one: the token was revoked."} {
		if !strings.Contains(activity, want) {
			t.Errorf("the activity lacks %q:\n%s", want, activity)
		}
	}
	if first := p.text("#activity tbody tr"); !strings.Contains(first, "Use refused") {
		t.Errorf("the newest activity (first) is %q; want the refused clone", first)
	}
	p.check("activity")

	// Push protection: a push of one of alice's live tokens to a public
	// repository is refused, and the token revoked; her tokens page says
	// by whom and why.
	s.must("", "repo add", "alpha/pub")
	pusher := srv.issue("alice", "alpha", "repository:pull", "repository:push")
	leaked := srv.issue("alice", "alpha/one", "repository:pull")
	if out, err := pushFile(t, g, srv.tokenURL("alice", pusher.Token, "alpha/pub"), ".env", "TOKEN="+leaked.Token+"\n"); err == nil || !strings.Contains(out, "has been revoked") {
		t.Errorf("a push of a live token to a public repository: %v\n%s", err, out)
	}
	p.do("open your tokens", chromedp.Navigate(srv.URL+"/-/tokens"), chromedp.WaitVisible(chromedp.ID("inactive-tokens")))
	if row := p.text("#token-" + leaked.ID); !strings.Contains(row, "by push protection") || !strings.Contains(row, "Pushed to alpha/pub by alice, found in commit") || !strings.Contains(row, "path .env, line 1") {
		t.Errorf("the leaked token on “Your tokens”: %q; want it revoked by push protection, saying where", row)
	}
	p.check("your-tokens-leaked")

	p.do("open the home page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("h1")))
	p.check("home")
	p.do("open a page that does not exist", chromedp.Navigate(srv.URL+"/alpha/nope"), chromedp.WaitVisible(chromedp.CSS("h1")))
	p.check("not-found")
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
