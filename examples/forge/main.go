// Command forge is a small, working git forge built on package accesstoken:
// users, projects and repositories, git over HTTP through package httpauth,
// web pages and a JSON API to issue, list, rotate and revoke access tokens.
//
//	go run ./examples/forge
//
// starts it on 127.0.0.1:8080 with its data under ./forge-data and, the
// first time, sets up a demo user, project and repository and prints a
// ready `git clone` command.
//
// Usage:
//
//	forge [-data DIR] [-db URL] [serve [-addr HOST:PORT] [-demo=false]]
//	forge [-data DIR] [-db URL] user add NAME            (password: first line of stdin)
//	forge [-data DIR] [-db URL] project add -owner USER NAME
//	forge [-data DIR] [-db URL] project member PROJECT USER ROLE   (read, write, admin, none)
//	forge [-data DIR] [-db URL] repo add [-private] PROJECT/REPO
//
// -db postgres://… keeps the data in PostgreSQL instead of DIR/forge.db;
// repositories stay under DIR/repos.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitserve"
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

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg + " (run forge -h for help)" }

const usage = `Usage:
  forge [global flags] [serve [-addr HOST:PORT] [-demo=false]]
  forge [global flags] user add NAME                     (password: first line of stdin)
  forge [global flags] project add -owner USER NAME
  forge [global flags] project member PROJECT USER ROLE  (ROLE: read, write, admin, none)
  forge [global flags] repo add [-private] PROJECT/REPO

Names are [a-z0-9][a-z0-9._-]*, without "..".

Global flags:
`

type config struct {
	data, db, addr string
	demo           bool
	limits         gitserve.Limits // of git over HTTP; zero fields take gitserve's defaults
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c config
	global := flag.NewFlagSet("forge", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() { fmt.Fprint(stderr, usage); global.PrintDefaults() }
	global.StringVar(&c.data, "data", "forge-data", "`DIR` of the database and the repositories")
	global.StringVar(&c.db, "db", "", "PostgreSQL `URL` (postgres://…) to use instead of the SQLite file in DIR")
	// The serve flags are accepted here too, for `forge -addr …`.
	global.StringVar(&c.addr, "addr", "127.0.0.1:8080", "serve: `HOST:PORT` to listen on")
	global.BoolVar(&c.demo, "demo", true, "serve: set up a demo user, project and repository on an empty database")
	if err := global.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	args = global.Args()
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if cmd == "serve" {
		fs := subFlags("serve", stderr)
		fs.StringVar(&c.addr, "addr", c.addr, "`HOST:PORT` to listen on")
		fs.BoolVar(&c.demo, "demo", c.demo, "set up a demo user, project and repository on an empty database")
		fs.IntVar(&c.limits.MaxProcesses, "git-max-processes", 0, "git processes running at once (0: 4 per CPU, at least 8)")
		fs.IntVar(&c.limits.MaxPerClient, "git-max-per-client", 0, "git requests in flight from one address (0: 32)")
		fs.DurationVar(&c.limits.IdleTimeout, "git-idle-timeout", 0, "cut a git request whose body or response stops moving this long (0: 1m)")
		fs.DurationVar(&c.limits.MaxDuration, "git-max-duration", 0, "cut a git request after this long (0: never)")
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		return serve(ctx, c, stdout, stderr)
	}

	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	db, _, err := openDB(ctx, c.data, c.db)
	if err != nil {
		return err
	}
	defer db.Close()
	switch cmd + " " + sub {
	case "user add":
		if err := parse(subFlags("user add", stderr), args, 1); err != nil {
			return err
		}
		pw, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && (err != io.EOF || pw == "") {
			return errors.New("user add: give the password as the first line of standard input")
		}
		if err := db.AddUser(ctx, args[0], strings.TrimRight(pw, "\r\n")); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added user %s\n", args[0])
	case "project add":
		fs := subFlags("project add", stderr)
		owner := fs.String("owner", "", "the project's owner, an existing `USER`")
		if err := parse(fs, args, 1); err != nil {
			return err
		}
		if *owner == "" {
			return usageError{"project add: -owner USER is required"}
		}
		if err := db.AddProject(ctx, fs.Arg(0), *owner); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added project %s owned by %s\n", fs.Arg(0), *owner)
	case "project member":
		if err := parse(subFlags("project member", stderr), args, 3); err != nil {
			return err
		}
		role, err := parseRole(args[2])
		if err != nil {
			return err
		}
		if err := db.SetMember(ctx, args[0], args[1], role); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is now %s in project %s\n", args[1], role, args[0])
	case "repo add":
		fs := subFlags("repo add", stderr)
		private := fs.Bool("private", false, "only members may see and pull the repository")
		if err := parse(fs, args, 1); err != nil {
			return err
		}
		project, name, ok := strings.Cut(fs.Arg(0), "/")
		if !ok {
			return usageError{"repo add: want PROJECT/REPO"}
		}
		if _, err := createRepo(ctx, db, filepath.Join(c.data, "repos"), project, name, *private); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added repository %s/%s\n", project, name)
	default:
		return usageError{fmt.Sprintf("unknown command %q", strings.TrimSpace(cmd+" "+sub))}
	}
	return nil
}

func subFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses a subcommand's flags and checks the number of arguments.
func parse(fs *flag.FlagSet, args []string, n int) error {
	if err := fs.Parse(args); err != nil {
		return usageError{fs.Name() + ": " + err.Error()}
	}
	if fs.NArg() != n {
		return usageError{fmt.Sprintf("%s: want %d argument(s), got %d", fs.Name(), n, fs.NArg())}
	}
	return nil
}

// serve runs the forge until SIGINT or SIGTERM, then shuts down
// gracefully: it stops accepting connections and waits for requests in
// flight (a clone, a push) to finish.
func serve(ctx context.Context, c config, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, nil))

	db, store, err := openDB(ctx, c.data, c.db)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := accesstoken.New(store, perms{db},
		accesstoken.WithPrefix("forge"),
		accesstoken.WithEvents(accesstoken.SlogEvents(log)))
	if err != nil {
		return err
	}
	reposDir := filepath.Join(c.data, "repos")
	if err := os.MkdirAll(reposDir, 0o750); err != nil {
		return err
	}
	git, err := gitHandler(m, db, reposDir, log, c.limits)
	if err != nil {
		return err
	}
	apiH := (&api{db: db, m: m, log: log}).routes()
	webH := (&web{db: db, m: m, log: log}).routes()
	// Browsers must not be able to call the API or post the forms from
	// another site (on top of the forms' CSRF tokens).
	cop := http.NewCrossOriginProtection()
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

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	base := "http://" + displayAddr(ln.Addr().String())
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
	fmt.Fprintf(stdout, "forge listening on %s/\n", base)
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
// password, project demo and the public repository demo/hello with one
// commit, and prints how to sign in and clone with a pull-only token.
func setUpDemo(ctx context.Context, db *DB, m *accesstoken.Manager, reposDir, base string, stdout io.Writer) error {
	if empty, err := db.Empty(ctx); err != nil {
		return err
	} else if !empty {
		fmt.Fprintln(stdout, "The demo was set up on the first start, which printed its password and token; remove the data directory to set it up again.")
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
	repo, err := createRepo(ctx, db, reposDir, "demo", "hello", false)
	if err != nil {
		return err
	}
	readme := "# hello\n\nCloned from the forgekit/accesstoken example forge with an access token.\n"
	if err := addFirstCommit(filepath.Join(reposDir, filepath.FromSlash(repo.Dir())), readme); err != nil {
		return err
	}
	iss, err := m.Issue(ctx, accesstoken.IssueRequest{
		Owner: "demo", Description: "demo: pull-only project token",
		Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull},
	})
	if err != nil {
		return err
	}
	host := strings.TrimPrefix(base, "http://")
	fmt.Fprintf(stdout, `Demo set up (this is printed once):
  sign in at %[1]s/login as demo, password %[2]s
  pull-only token for project demo: %[3]s
  clone with it:
    git clone http://demo:%[3]s@%[4]s/demo/hello.git
`, base, password, iss.Secret.Reveal(), host)
	return nil
}
