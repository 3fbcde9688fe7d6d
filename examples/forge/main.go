// Command forge is a small, working git forge built on package accesstoken:
// users, projects and repositories, git over HTTP through package httpauth,
// web pages and a JSON API to issue, list, rotate and revoke access tokens.
//
//	go run ./examples/forge
//
// starts it on 127.0.0.1:8080 with its data under ./forge-data and, the
// first time, sets up a demo user, a private repository and two tokens,
// and prints the `git clone` and `git push` commands that use them.
//
// Usage:
//
//	forge [-data DIR] [-db URL] [serve [-addr HOST:PORT] [-public-url URL] [-trusted-proxy LIST] [-demo=false] [-max-token-lifetime D] [-max-tokens-per-user N] [-token-retention D] [-push-protection=false] [-git-… limits]]
//	forge [-data DIR] [-db URL] user add|passwd NAME     (password: first line of stdin)
//	forge [-data DIR] [-db URL] user list
//	forge [-data DIR] [-db URL] project add -owner USER NAME
//	forge [-data DIR] [-db URL] project list
//	forge [-data DIR] [-db URL] project member PROJECT USER ROLE   (read, write, admin, none)
//	forge [-data DIR] [-db URL] project delete PROJECT
//	forge [-data DIR] [-db URL] repo add [-private] PROJECT/REPO
//	forge [-data DIR] [-db URL] repo list [PROJECT]
//	forge [-data DIR] [-db URL] repo delete PROJECT/REPO
//	forge [-data DIR] [-db URL] token list [-owner USER] [PROJECT | PROJECT/REPO] [-expiring 7d] [-all]
//	forge [-data DIR] [-db URL] token revoke [-reason TEXT] ID
//	forge [-data DIR] [-db URL] scan [PROJECT[/REPO]]
//	forge help [COMMAND]
//
// -db postgres://… keeps the data in PostgreSQL instead of DIR/forge.db;
// repositories stay under DIR/repos. Only serve creates a forge; the other
// commands work on an existing one.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/forgekit/accesstoken"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "forge:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// publicBase returns the forge's URL as clients reach it, without a
// trailing slash: -public-url if set, otherwise http:// and the address
// it listens on. Clone URLs start with it; the request's Host header,
// which the client chooses, is never used.
func publicBase(publicURL string, ln net.Addr) (base string, secure bool, err error) {
	if publicURL == "" {
		return "http://" + displayAddr(ln.String()), false, nil
	}
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", false, fmt.Errorf("-public-url %q: want http:// or https:// and a host, such as https://git.example.com (the forge serves from the root of its host)", publicURL)
	}
	return u.Scheme + "://" + u.Host, u.Scheme == "https", nil
}

// serve runs the forge until SIGINT or SIGTERM, then shuts down
// gracefully: it stops accepting connections and waits for requests in
// flight (a clone, a push) to finish.
func serve(ctx context.Context, c config, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	trusted, err := parseProxies(c.trustedProxy)
	if err != nil {
		return usageError{err.Error(), "forge help serve"}
	}
	if c.publicURL != "" {
		if _, _, err := publicBase(c.publicURL, nil); err != nil {
			return usageError{err.Error(), "forge help serve"}
		}
	}
	var maxLifetime time.Duration
	if c.maxLifetime != "" {
		d, err := parseDays(c.maxLifetime)
		if err != nil {
			return usageError{"-max-token-lifetime: " + err.Error(), "forge help serve"}
		}
		maxLifetime = d
	}
	if c.maxActive < 0 {
		return usageError{"-max-tokens-per-user: want 0 (no limit) or more", "forge help serve"}
	}
	var retention time.Duration
	if c.retention != "0" {
		d, err := parseDays(c.retention)
		if err != nil {
			return usageError{"-token-retention: " + err.Error() + ", or 0 to keep everything", "forge help serve"}
		}
		retention = d
	}

	db, store, err := openDB(ctx, c.data, c.db, true)
	if err != nil {
		return err
	}
	defer db.Close()
	// Every token event goes to the log (standard error); issued,
	// rotated and revoked tokens and refused uses also go to the
	// projects' token activity, in the database.
	activity := newEventLog(db, log)
	logEvent := accesstoken.SlogEvents(log)
	opts := []accesstoken.Option{
		accesstoken.WithPrefix("forge"),
		accesstoken.WithEvents(func(ctx context.Context, ev accesstoken.Event) {
			if ev.Kind != accesstoken.EventPurged || ev.Count > 0 { // runRetention logs its runs
				logEvent(ctx, ev)
			}
			activity.record(ctx, ev)
		}),
	}
	if maxLifetime > 0 {
		opts = append(opts, accesstoken.WithMaxLifetime(maxLifetime))
	}
	m, err := accesstoken.New(store, perms{db}, opts...)
	if err != nil {
		return err
	}
	activity.start()
	defer activity.close()
	pol := &policy{m: m, db: db, maxLifetime: maxLifetime, maxActive: c.maxActive}
	reposDir := filepath.Join(c.data, "repos")
	if err := os.MkdirAll(reposDir, 0o750); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	base, secure, err := publicBase(c.publicURL, ln.Addr())
	if err != nil {
		ln.Close()
		return err
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); c.publicURL == "" && net.ParseIP(host).IsUnspecified() {
		log.Warn("listening on every interface without -public-url: pages show clone URLs of " + base + "; set -public-url to the URL clients use")
	}

	limits := c.limits
	limits.ClientKey = trusted.clientOf // the same client as the sign-in limits see
	git, err := gitHandler(m, db, reposDir, log, gitOptions{limits: limits, protect: c.pushProtection, tokensURL: base + "/-/tokens", packCache: int64(c.packCacheMiB) << 20})
	if err != nil {
		ln.Close()
		return err
	}

	pw := newPasswords(db, trusted)
	apiH, err := (&api{db: db, m: m, pw: pw, pol: pol, log: log, reposDir: reposDir}).routes()
	if err != nil {
		ln.Close()
		return err
	}
	webH := (&web{db: db, m: m, pw: pw, pol: pol, log: log, base: base, secure: secure, reposDir: reposDir}).routes()
	// Browsers must not be able to call the API or post the forms from
	// another site (on top of the forms' CSRF tokens).
	cop := http.NewCrossOriginProtection()
	if c.publicURL != "" {
		if err := cop.AddTrustedOrigin(base); err != nil {
			ln.Close()
			return err
		}
	}
	apiH, webH = cop.Handler(apiH), cop.Handler(webH)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case repoPageOf(p) != "":
			// A clone URL pasted into a browser: show the repository.
			http.Redirect(w, r, repoPageOf(p), http.StatusFound)
		case isGitPath(p):
			git.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/api/"):
			apiH.ServeHTTP(w, r)
		default:
			webH.ServeHTTP(w, r)
		}
	})

	if c.demo {
		if err := setUpDemo(ctx, db, m, reposDir, base, stdout); err != nil {
			ln.Close()
			return fmt.Errorf("setting up the demo: %w", err)
		}
	}
	srv := &http.Server{
		Handler: handler,
		// No ReadTimeout or WriteTimeout: they would cut long clones and
		// pushes off. Bound only the headers and idle connections.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if c.publicURL != "" {
		fmt.Fprintf(stdout, "public URL %s/\n", base)
	}
	fmt.Fprintf(stdout, "forge listening on http://%s/\n", displayAddr(ln.Addr().String()))
	if retention > 0 {
		rctx, stopRetention := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); runRetention(rctx, m, db, retention, log) }()
		defer func() { stopRetention(); <-done }()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills at once
	log.Info("shutting down: waiting for requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Last uses are written a second after the verification: write those
	// still waiting, so that a restart loses none.
	if err := m.Flush(sctx); err != nil {
		log.Error("recording last uses of tokens", "err", err)
	}
	log.Info("stopped")
	return nil
}

// displayAddr turns a listening address into one a client can use.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// setUpDemo sets up, on an empty database, user demo with a random
// password, project demo and the private repository demo/hello with one
// commit, a pull-only token for the project and a pull-and-push token
// for the repository, and prints how to sign in, clone and push with
// them. The repository is private so that git has to send the token:
// git sends no credentials until the server asks (401), and it never
// asks for a public repository's clone.
func setUpDemo(ctx context.Context, db *DB, m *accesstoken.Manager, reposDir, base string, stdout io.Writer) error {
	if empty, err := db.Empty(ctx); err != nil {
		return err
	} else if !empty {
		fmt.Fprintln(stdout, "The demo was set up on the first start, which printed its password and tokens; remove the data directory to set it up again.")
		return nil
	}
	password := rand.Text()[:16]
	if err := db.AddUser(ctx, "demo", password); errors.Is(err, errExists) {
		return nil // another process sharing the database got there first
	} else if err != nil {
		return err
	}
	if err := db.AddProject(ctx, "demo", "demo"); err != nil {
		return err
	}
	repo, err := createRepo(ctx, db, reposDir, "demo", "hello", true)
	if err != nil {
		return err
	}
	readme := "# hello\n\nCloned from the forgekit/accesstoken example forge with an access token.\n"
	if err := addFirstCommit(filepath.Join(reposDir, filepath.FromSlash(repo.Dir())), readme); err != nil {
		return err
	}
	pull, err := m.Issue(ctx, accesstoken.IssueRequest{
		Owner: "demo", Description: "demo: pull-only project token",
		Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull},
	})
	if err != nil {
		return err
	}
	push, err := m.Issue(ctx, accesstoken.IssueRequest{
		Owner: "demo", Description: "demo: pull and push token for demo/hello",
		Target: accesstoken.RepositoryTarget("demo", "hello"), Scopes: []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush},
	})
	if err != nil {
		return err
	}
	scheme, host, _ := strings.Cut(base, "://")
	fmt.Fprintf(stdout, `Demo set up (this is printed once):
  sign in at %[1]s/login as demo, password %[2]s
  demo/hello is private: git needs a token for it.
  pull-only token for project demo: %[3]s
  clone with it:
    git clone %[5]s://demo:%[3]s@%[6]s/demo/hello.git
  pull and push token for demo/hello: %[4]s
  push with it, from the clone:
    cd hello
    git commit --allow-empty -m "My first push"
    git push %[5]s://demo:%[4]s@%[6]s/demo/hello.git main
`, base, password, pull.Secret.Reveal(), push.Secret.Reveal(), scheme, host)
	return nil
}
