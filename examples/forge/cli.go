package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitserve"
	"github.com/forgekit/accesstoken/sqlstore"
)

// The command line: `forge [flags] COMMAND [SUBCOMMAND] [arguments]`, with
// flags before or after the arguments. Every command but serve works on
// an existing forge only.

// usageError is a mistake in the command line: exit status 2.
type usageError struct {
	msg  string
	help string // the help to point to: "forge help user add"
}

func (e usageError) Error() string {
	if e.help == "" {
		e.help = "forge -h"
	}
	return e.msg + " (see " + e.help + ")"
}

// config is what the flags say.
type config struct {
	data, db string
	// serve's
	addr, publicURL, trustedProxy string
	demo                          bool
	limits                        gitserve.Limits // of git over HTTP; zero fields take gitserve's defaults
	pushProtection                bool
	packCacheMiB                  int    // -git-pack-cache
	maxLifetime                   string // -max-token-lifetime: "" for none
	maxActive                     int    // -max-tokens-per-user: 0 for no limit
	retention                     string // -token-retention: "0" keeps everything
}

// env is what a command other than serve runs with.
type env struct {
	c              *config
	stdin          io.Reader
	stdout, stderr io.Writer
	db             *DB
	m              *accesstoken.Manager
}

// command is one command of the command line, other than serve.
type command struct {
	name  string // "repo add"
	args  string // its arguments and flags, as help shows them
	help  string // what it does, in one line
	nargs [2]int // the least and the most arguments
	// setup defines the command's own flags on fs and returns its code.
	setup func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error
}

func noFlags(run func(ctx context.Context, e *env, args []string) error) func(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(*flag.FlagSet) func(context.Context, *env, []string) error { return run }
}

var commands = []command{
	{"user add", "NAME", "add a user; the password is the first line of standard input", [2]int{1, 1}, noFlags(userAdd)},
	{"user passwd", "NAME", "change a user's password (first line of standard input) and end their web sessions", [2]int{1, 1}, noFlags(userPasswd)},
	{"user list", "", "list the users", [2]int{0, 0}, noFlags(userList)},
	{"project add", "-owner USER NAME", "add a project owned by USER, who is its admin", [2]int{1, 1}, projectAdd},
	{"project list", "", "list the projects", [2]int{0, 0}, noFlags(projectList)},
	{"project member", "PROJECT USER ROLE", "give USER the role read, write or admin in PROJECT, or none to remove them", [2]int{3, 3}, noFlags(projectMember)},
	{"project delete", "PROJECT", "delete a project, its repositories and every token of them", [2]int{1, 1}, noFlags(projectDelete)},
	{"repo add", "[-private] PROJECT/REPO", "add an empty repository (public unless -private)", [2]int{1, 1}, repoAdd},
	{"repo list", "[PROJECT]", "list the repositories, of one project or of all", [2]int{0, 1}, noFlags(repoList)},
	{"repo delete", "PROJECT/REPO", "delete a repository and its tokens", [2]int{1, 1}, noFlags(repoDelete)},
	{"token list", "[-owner USER] [PROJECT | PROJECT/REPO] [-expiring DURATION] [-all]", "list active tokens, newest first: all, a user's, a project's (its repositories' too) or those usable on a repository", [2]int{0, 1}, tokenList},
	{"token revoke", "[-reason TEXT] ID", "revoke a token; it fails from the next request on", [2]int{1, 1}, tokenRevoke},
	{"scan", "[PROJECT[/REPO]]", "find live tokens in every object of the repositories (all by default); revoke those found in public ones", [2]int{0, 1}, scanCmd},
}

const serveArgs = "[-addr HOST:PORT] [-public-url URL] [-trusted-proxy LIST] [-demo=false] [-max-token-lifetime D] [-max-tokens-per-user N] [-token-retention D] [-push-protection=false] [-git-… limits]"

// groups are the first words of the commands of two words, in order
// (a command of one word, such as scan, stands alone).
func groups() []string {
	var gs []string
	for _, c := range commands {
		if g, _, ok := strings.Cut(c.name, " "); ok && !slices.Contains(gs, g) {
			gs = append(gs, g)
		}
	}
	return gs
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// globalFlags defines the flags every command takes.
func globalFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.data, "data", c.data, "`DIR` of the forge's database and repositories")
	fs.StringVar(&c.db, "db", c.db, "PostgreSQL `URL` (postgres://…) holding the database instead of DIR/forge.db; the repositories stay in DIR")
}

func serveFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.addr, "addr", c.addr, "`HOST:PORT` to listen on")
	fs.StringVar(&c.publicURL, "public-url", c.publicURL, "the forge's `URL` as clients reach it, such as https://git.example.com behind a TLS proxy: clone URLs use it, and https makes cookies Secure (default http://HOST:PORT of -addr)")
	fs.StringVar(&c.trustedProxy, "trusted-proxy", c.trustedProxy, "comma-separated `LIST` of proxy addresses or CIDR prefixes whose X-Forwarded-For names the client, for the per-client limits")
	fs.BoolVar(&c.demo, "demo", c.demo, "set up a demo user, project and repository on an empty database")
	fs.IntVar(&c.limits.MaxProcesses, "git-max-processes", c.limits.MaxProcesses, "git processes running at once, all clients together (0: 4 per CPU, at least 8)")
	fs.IntVar(&c.limits.MaxPerClient, "git-max-per-client", c.limits.MaxPerClient, "git requests in flight from one client address (0: 32)")
	fs.DurationVar(&c.limits.IdleTimeout, "git-idle-timeout", c.limits.IdleTimeout, "cut a git request whose body or response stops moving for this `DURATION` (0: 1m)")
	fs.DurationVar(&c.limits.MaxDuration, "git-max-duration", c.limits.MaxDuration, "cut a git request after this `DURATION` (0: never)")
	fs.IntVar(&c.packCacheMiB, "git-pack-cache", c.packCacheMiB, "`MiB` of recent fetch answers kept in memory, to answer the same fetch of unchanged refs without running git (0: off)")
	fs.BoolVar(&c.pushProtection, "push-protection", c.pushProtection, "refuse pushes that add a live access token (and revoke the token when the repository is public)")
	fs.StringVar(&c.maxLifetime, "max-token-lifetime", c.maxLifetime, "the longest a token may live, such as 90d or 36h: every token expires within it, and a token asked for without an expiry gets it (default: no limit)")
	fs.IntVar(&c.maxActive, "max-tokens-per-user", c.maxActive, "active tokens one user may hold (0: no limit)")
	fs.StringVar(&c.retention, "token-retention", c.retention, "how long the records of revoked and expired tokens, and the token activity, are kept, such as 90d; checked at start and daily (0: for ever)")
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by run
	fs.Usage = func() {}
	return fs
}

// parseArgs parses flags before, between and after the arguments ("repo
// add alpha/x -private") and returns the arguments; after "--", all are
// arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// run runs the command line args.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &config{data: "forge-data", addr: "127.0.0.1:8080", demo: true, pushProtection: true, maxActive: defaultMaxActive, retention: defaultRetention, packCacheMiB: gitserve.DefaultPackCache >> 20}
	global := newFlagSet("forge")
	globalFlags(global, c)
	serveFlags(global, c) // `forge -addr …` is `forge serve -addr …`
	if err := global.Parse(args); errors.Is(err, flag.ErrHelp) {
		printUsage(stdout)
		return nil
	} else if err != nil {
		return usageError{msg: err.Error()}
	}
	args = global.Args()
	if len(args) == 0 {
		args = []string{"serve"}
	}
	word, args := args[0], args[1:]
	switch word {
	case "help":
		return help(stdout, args)
	case "serve":
		fs := newFlagSet("serve")
		globalFlags(fs, c)
		serveFlags(fs, c)
		pos, err := parseArgs(fs, args)
		if errors.Is(err, flag.ErrHelp) {
			printServe(stdout)
			return nil
		} else if err != nil {
			return usageError{"serve: " + err.Error(), "forge help serve"}
		}
		if len(pos) > 0 {
			return usageError{fmt.Sprintf("serve takes no arguments, got %q", pos[0]), "forge help serve"}
		}
		return serve(ctx, *c, stdout, stderr)
	}
	cmd := findCommand(word) // a command of one word
	if cmd == nil {
		if !slices.Contains(groups(), word) {
			return usageError{msg: fmt.Sprintf("unknown command %q", word)}
		}
		if len(args) == 0 || isHelp(args[0]) {
			printGroup(stdout, word)
			return nil
		}
		if cmd = findCommand(word + " " + args[0]); cmd == nil {
			return usageError{fmt.Sprintf("unknown command %q; %s", word+" "+args[0], subcommands(word)), "forge help " + word}
		}
		args = args[1:]
	}
	fs := newFlagSet(cmd.name)
	globalFlags(fs, c)
	runCmd := cmd.setup(fs)
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printCommand(stdout, cmd)
		return nil
	} else if err != nil {
		return usageError{cmd.name + ": " + err.Error(), "forge help " + cmd.name}
	}
	if len(pos) < cmd.nargs[0] || len(pos) > cmd.nargs[1] {
		return usageError{fmt.Sprintf("%s: want %s, got %d: forge %s %s", cmd.name, argCount(cmd.nargs), len(pos), cmd.name, cmd.args), "forge help " + cmd.name}
	}

	db, store, err := openDB(ctx, c.data, c.db, false)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := cliManager(store, db, stderr)
	if err != nil {
		return err
	}
	return runCmd(ctx, &env{c: c, stdin: stdin, stdout: stdout, stderr: stderr, db: db, m: m}, pos)
}

func argCount(n [2]int) string {
	switch {
	case n[0] == n[1] && n[0] == 1:
		return "1 argument"
	case n[0] == n[1]:
		return strconv.Itoa(n[0]) + " arguments"
	case n[0] == 0 && n[1] == 1:
		return "at most 1 argument"
	}
	return fmt.Sprintf("%d to %d arguments", n[0], n[1])
}

func subcommands(group string) string {
	var subs []string
	for _, c := range commands {
		if g, sub, _ := strings.Cut(c.name, " "); g == group {
			subs = append(subs, sub)
		}
	}
	return fmt.Sprintf("%q has %s", group, strings.Join(subs, ", "))
}

// Help.

func help(stdout io.Writer, args []string) error {
	switch name := strings.Join(args, " "); {
	case name == "":
		printUsage(stdout)
	case name == "serve":
		printServe(stdout)
	case findCommand(name) != nil && !strings.Contains(name, " "):
		printCommand(stdout, findCommand(name))
	case slices.Contains(groups(), name):
		printGroup(stdout, name)
	case findCommand(name) != nil:
		printCommand(stdout, findCommand(name))
	default:
		return usageError{msg: fmt.Sprintf("help: unknown command %q", name)}
	}
	return nil
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `forge is a small git forge with scoped access tokens.

Usage: forge [-data DIR] [-db URL] COMMAND [ARGUMENTS]

`)
	fmt.Fprintf(w, "  serve %s\n    \trun the forge (the default command); it sets the forge up on its first start\n", serveArgs)
	for _, c := range commands {
		printEntry(w, c)
	}
	fmt.Fprint(w, `
Flags go before or after the arguments. Every command but serve needs an
existing forge: it never creates one. Names are 1 to 64 of a-z, 0-9, '.',
'_', '-', starting with a letter or digit, without "..", and project and
repository names do not end in ".git".

Flags of every command:
`)
	printFlags(w, func(fs *flag.FlagSet) { globalFlags(fs, &config{data: "forge-data"}) })
	fmt.Fprint(w, "\nRun \"forge help COMMAND\" for a command's own flags.\n")
}

func printServe(w io.Writer) {
	fmt.Fprintf(w, "Usage: forge [-data DIR] [-db URL] serve %s\n\n", serveArgs)
	fmt.Fprint(w, "Runs the forge until SIGINT or SIGTERM, then waits for requests in flight.\nOn its first start it creates DIR and the database.\n\n")
	printFlags(w, func(fs *flag.FlagSet) {
		c := &config{data: "forge-data", addr: "127.0.0.1:8080", demo: true, pushProtection: true, maxActive: defaultMaxActive, retention: defaultRetention, packCacheMiB: gitserve.DefaultPackCache >> 20}
		globalFlags(fs, c)
		serveFlags(fs, c)
	})
}

func printGroup(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage: forge %s SUBCOMMAND [ARGUMENTS]\n\nSubcommands:\n", group)
	for _, c := range commands {
		if g, _, _ := strings.Cut(c.name, " "); g == group {
			printEntry(w, c)
		}
	}
	fmt.Fprintf(w, "\nRun \"forge help %s SUBCOMMAND\" for its flags.\n", group)
}

// printEntry prints a command and what it does, as flag.PrintDefaults
// prints a flag.
func printEntry(w io.Writer, c command) {
	fmt.Fprintf(w, "  %s\n    \t%s\n", strings.TrimSpace(c.name+" "+c.args), c.help)
}

func printCommand(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: forge [-data DIR] [-db URL] %s %s\n\n%s.\n\n", c.name, c.args, strings.ToUpper(c.help[:1])+c.help[1:])
	printFlags(w, func(fs *flag.FlagSet) {
		globalFlags(fs, &config{data: "forge-data"})
		c.setup(fs)
	})
}

func printFlags(w io.Writer, define func(*flag.FlagSet)) {
	fs := newFlagSet("")
	define(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// The token store as the command line uses it.

// cliActor is who the command line acts as in the token store (a
// revocation records it). It is not a valid user name, so no user is it.
const cliActor = "(command line)"

// cliPerms lets the command line manage every token; tokens themselves
// follow the forge's rules as always.
type cliPerms struct{ perms }

func (p cliPerms) CanManage(ctx context.Context, user string, t accesstoken.Target) (bool, error) {
	if user == cliActor {
		return true, nil
	}
	return p.perms.CanManage(ctx, user, t)
}

func cliManager(store *sqlstore.Store, db *DB, stderr io.Writer) (*accesstoken.Manager, error) {
	// Revocations and deletions go to the audit log on standard error,
	// as the server's do.
	// (Not the deletions of nothing that repo add and project add make.)
	// A revocation also goes to the project's token activity.
	log := slog.New(slog.NewTextHandler(stderr, nil))
	logEvent := accesstoken.SlogEvents(log)
	activity := newEventLog(db, log)
	return accesstoken.New(store, cliPerms{perms{db}},
		accesstoken.WithPrefix("forge"),
		accesstoken.WithEvents(func(ctx context.Context, ev accesstoken.Event) {
			if ev.Kind != accesstoken.EventDeleted || ev.Count > 0 {
				logEvent(ctx, ev)
			}
			activity.record(ctx, ev)
		}))
}

// Users.

// readPassword reads the first line of standard input.
func readPassword(stdin io.Reader, cmd string) (string, error) {
	pw, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && (err != io.EOF || pw == "") {
		return "", fmt.Errorf("%s: give the password as the first line of standard input", cmd)
	}
	return strings.TrimRight(pw, "\r\n"), nil
}

func userAdd(ctx context.Context, e *env, args []string) error {
	pw, err := readPassword(e.stdin, "user add")
	if err != nil {
		return err
	}
	if err := e.db.AddUser(ctx, args[0], pw); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added user %s\n", args[0])
	return nil
}

func userPasswd(ctx context.Context, e *env, args []string) error {
	pw, err := readPassword(e.stdin, "user passwd")
	if err != nil {
		return err
	}
	if err := e.db.SetPassword(ctx, args[0], pw); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "changed the password of %s and ended their web sessions\n", args[0])
	return nil
}

func userList(ctx context.Context, e *env, _ []string) error {
	users, err := e.db.Users(ctx)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		fmt.Fprintln(e.stdout, "no users")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tCREATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\n", u.Name, u.Created.Format(timeFormat))
	}
	return tw.Flush()
}

// Projects.

func projectAdd(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	owner := fs.String("owner", "", "the project's owner, an existing `USER`")
	return func(ctx context.Context, e *env, args []string) error {
		if *owner == "" {
			return usageError{"project add: -owner USER is required", "forge help project add"}
		}
		name := args[0]
		if err := dropLeftoverTokens(ctx, e, accesstoken.ProjectTarget(name), func() error {
			_, err := e.db.Project(ctx, name)
			return err
		}); err != nil {
			return err
		}
		if err := e.db.AddProject(ctx, name, *owner); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added project %s owned by %s\n", name, *owner)
		return nil
	}
}

// dropLeftoverTokens deletes the tokens of target before a project or
// repository of that name is created, if it does not exist (lookup says
// errNotFound): tokens of one deleted earlier whose deletion stopped
// half-way, or that were issued while it was being deleted. A new
// project or repository inherits no token.
func dropLeftoverTokens(ctx context.Context, e *env, target accesstoken.Target, lookup func() error) error {
	if !validName(target.Project) || target.Repository != "" && !validName(target.Repository) {
		return nil // the name is refused with a clear error right after
	}
	if err := lookup(); !errors.Is(err, errNotFound) {
		return err // exists (refused right after), or a failure
	}
	_, err := e.m.DeleteTarget(ctx, target)
	return err
}

func projectList(ctx context.Context, e *env, _ []string) error {
	ps, err := e.db.Projects(ctx)
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		fmt.Fprintln(e.stdout, "no projects")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tOWNER")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\n", p.Name, p.Owner)
	}
	return tw.Flush()
}

func projectMember(ctx context.Context, e *env, args []string) error {
	role, err := parseRole(args[2])
	if err != nil {
		return err
	}
	if err := e.db.SetMember(ctx, args[0], args[1], role); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s is now %s in project %s\n", args[1], role, args[0])
	return nil
}

// projectDelete deletes the project (members and repositories with it),
// then its tokens, then its repositories' directories. Once the project
// is gone from the database no token of it works and none can be issued.
func projectDelete(ctx context.Context, e *env, args []string) error {
	name := args[0]
	repos, err := e.db.Repos(ctx, name)
	if err != nil {
		return err
	}
	if err := e.db.DeleteProject(ctx, name); err != nil {
		return err
	}
	n, err := e.m.DeleteTarget(ctx, accesstoken.ProjectTarget(name))
	if err != nil {
		return fmt.Errorf("deleted project %s, but not its tokens (they work nowhere, and a new project %s deletes them first): %w", name, name, err)
	}
	if err := os.RemoveAll(filepath.Join(e.c.data, "repos", name)); err != nil {
		return fmt.Errorf("deleted project %s and its tokens, but not all of its repositories' files: %w", name, err)
	}
	fmt.Fprintf(e.stdout, "deleted project %s, %s and %s\n", name, plural(len(repos), "repository", "repositories"), plural(n, "token", "tokens"))
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// Repositories.

// splitRepoArg splits PROJECT/REPO.
func splitRepoArg(cmd, arg string) (project, name string, err error) {
	project, name, ok := strings.Cut(arg, "/")
	if !ok {
		return "", "", usageError{fmt.Sprintf("%s: want PROJECT/REPO, got %q", cmd, arg), "forge help " + cmd}
	}
	return project, name, nil
}

func repoAdd(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	private := fs.Bool("private", false, "only the project's members may see and pull the repository")
	return func(ctx context.Context, e *env, args []string) error {
		project, name, err := splitRepoArg("repo add", args[0])
		if err != nil {
			return err
		}
		if err := dropLeftoverTokens(ctx, e, accesstoken.RepositoryTarget(project, name), func() error {
			_, err := e.db.Repo(ctx, project, name)
			return err
		}); err != nil {
			return err
		}
		if _, err := createRepo(ctx, e.db, filepath.Join(e.c.data, "repos"), project, name, *private); err != nil {
			return err
		}
		vis := "public"
		if *private {
			vis = "private"
		}
		fmt.Fprintf(e.stdout, "added %s repository %s/%s\n", vis, project, name)
		return nil
	}
}

func repoList(ctx context.Context, e *env, args []string) error {
	var projects []string
	if len(args) == 1 {
		if _, err := e.db.Project(ctx, args[0]); err != nil {
			return err
		}
		projects = args
	} else {
		ps, err := e.db.Projects(ctx)
		if err != nil {
			return err
		}
		for _, p := range ps {
			projects = append(projects, p.Name)
		}
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
	n := 0
	for _, p := range projects {
		repos, err := e.db.Repos(ctx, p)
		if err != nil {
			return err
		}
		for _, r := range repos {
			if n++; n == 1 {
				fmt.Fprintln(tw, "REPOSITORY\tVISIBILITY")
			}
			vis := "public"
			if r.Private {
				vis = "private"
			}
			fmt.Fprintf(tw, "%s/%s\t%s\n", r.Project, r.Name, vis)
		}
	}
	if n == 0 {
		fmt.Fprintln(e.stdout, "no repositories")
		return nil
	}
	return tw.Flush()
}

// repoDelete deletes the repository from the database, then its tokens,
// then its directory. Once it is gone from the database no token of it
// works and none can be issued.
func repoDelete(ctx context.Context, e *env, args []string) error {
	project, name, err := splitRepoArg("repo delete", args[0])
	if err != nil {
		return err
	}
	repo, err := e.db.Repo(ctx, project, name)
	if err != nil {
		return err
	}
	if err := e.db.DeleteRepo(ctx, project, name); err != nil {
		return err
	}
	n, err := e.m.DeleteTarget(ctx, accesstoken.RepositoryTarget(project, name))
	if err != nil {
		return fmt.Errorf("deleted repository %s/%s, but not its tokens (they work nowhere, and a new repository %s/%s deletes them first): %w", project, name, project, name, err)
	}
	if err := os.RemoveAll(filepath.Join(e.c.data, "repos", filepath.FromSlash(repo.Dir()))); err != nil {
		return fmt.Errorf("deleted repository %s/%s and its tokens, but not all of its files: %w", project, name, err)
	}
	fmt.Fprintf(e.stdout, "deleted repository %s/%s and %s\n", project, name, plural(n, "token", "tokens"))
	return nil
}

// Tokens.

const timeFormat = "2006-01-02 15:04 UTC"

func tokenList(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	owner := fs.String("owner", "", "only the tokens of `USER`")
	expiring := fs.String("expiring", "", "only the active tokens that expire within `DURATION`, such as 7d, 36h or 90m")
	all := fs.Bool("all", false, "also list revoked and expired tokens")
	return func(ctx context.Context, e *env, args []string) error {
		var within time.Duration
		if *expiring != "" {
			d, err := parseDays(*expiring)
			if err != nil {
				return usageError{"token list: -expiring: " + err.Error(), "forge help token list"}
			}
			if *all {
				return usageError{"token list: -expiring lists active tokens only: leave -all out", "forge help token list"}
			}
			within = d
		}
		opts := accesstoken.ListOptions{Order: listOrder}
		if *all {
			opts.State = accesstoken.StateAll
		}
		now := time.Now()
		if within > 0 {
			opts.ExpiringBefore = now.Add(within)
		}
		toks, err := listTokens(ctx, e, *owner, args, opts)
		if err != nil {
			return err
		}
		if len(toks) == 0 {
			fmt.Fprintln(e.stdout, "no tokens")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
		fmt.Fprint(tw, "ID\tTARGET\tOWNER\tSCOPES\tCREATED\tLAST USED\tEXPIRES\t")
		if *all {
			fmt.Fprint(tw, "STATE\t")
		}
		fmt.Fprintln(tw, "DESCRIPTION")
		for _, t := range toks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t", t.ID, targetName(t.Target), t.Owner,
				strings.Join(scopeNames(t.Scopes.List()), ","), t.CreatedAt.Format(timeFormat),
				orNever(t.LastUsedAt), orNever(t.ExpiresAt))
			if *all {
				fmt.Fprint(tw, tokenState(t, now)+"\t")
			}
			fmt.Fprintln(tw, t.Description)
		}
		return tw.Flush()
	}
}

// listTokens lists the tokens the arguments of token list select, in the
// order of opts (the forge's listOrder, newest first), a page at a time
// through the library's operator listing (Manager.PageAll): every token,
// or those of one owner, of one target, or usable on a repository (its
// own and its project's).
func listTokens(ctx context.Context, e *env, owner string, args []string, opts accesstoken.ListOptions) ([]accesstoken.Token, error) {
	if owner != "" {
		if ok, err := e.db.userExists(ctx, owner); err != nil {
			return nil, err
		} else if !ok {
			return nil, fmt.Errorf("user %q %w", owner, errNotFound)
		}
	}
	filters := []accesstoken.TokenFilter{{Owner: owner}}
	switch {
	case len(args) == 0: // everyone's, or owner's
	case strings.Contains(args[0], "/"): // those usable on a repository
		project, name, _ := strings.Cut(args[0], "/")
		if _, err := e.db.Repo(ctx, project, name); err != nil {
			return nil, err
		}
		t := accesstoken.RepositoryTarget(project, name)
		filters[0].Target, filters[0].Covering = &t, true
	default: // a project's and its repositories'
		project := args[0]
		if _, err := e.db.Project(ctx, project); err != nil {
			return nil, err
		}
		repos, err := e.db.Repos(ctx, project)
		if err != nil {
			return nil, err
		}
		t := accesstoken.ProjectTarget(project)
		filters[0].Target = &t
		for _, r := range repos {
			rt := accesstoken.RepositoryTarget(project, r.Name)
			filters = append(filters, accesstoken.TokenFilter{Owner: owner, Target: &rt})
		}
	}
	var toks []accesstoken.Token
	for _, f := range filters {
		err := allPages(opts, func(o accesstoken.ListOptions) (accesstoken.Page, error) {
			return e.m.PageAll(ctx, f, o)
		}, func(page []accesstoken.Token) error {
			toks = append(toks, page...)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(filters) > 1 {
		// One order for the project's tokens and its repositories': the
		// library's (by creation time, then by the bytes of the ID), in
		// the order asked.
		slices.SortFunc(toks, func(a, b accesstoken.Token) int {
			c := a.CreatedAt.Compare(b.CreatedAt)
			if c == 0 {
				c = bytes.Compare(a.ID[:], b.ID[:])
			}
			if opts.Order == accesstoken.NewestFirst {
				return -c
			}
			return c
		})
	}
	return toks, nil
}

// parseDays parses a duration, with "d" for days ("7d").
func parseDays(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, fmt.Errorf("%q: want a duration such as 7d, 36h or 90m", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			return 0, fmt.Errorf("%q: want a duration such as 7d, 36h or 90m", s)
		}
	}
	return d, nil
}

func targetName(t accesstoken.Target) string {
	if t.IsProject() {
		return t.Project + " (project)"
	}
	return t.Project + "/" + t.Repository
}

func scopeNames(ss []accesstoken.Scope) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func orNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(timeFormat)
}

func tokenState(t accesstoken.Token, now time.Time) string {
	switch {
	case t.Revoked():
		return "revoked"
	case t.Expired(now):
		return "expired"
	}
	return "active"
}

func tokenRevoke(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	reasonFlag := fs.String("reason", "", "why, in `TEXT` shown with the revoked token on the pages, in the API and in the project's activity")
	return func(ctx context.Context, e *env, args []string) error {
		id, err := uuid.Parse(args[0])
		if err != nil {
			return usageError{fmt.Sprintf("token revoke: %q is not a token ID (forge token list shows them)", args[0]), "forge help token revoke"}
		}
		reason, err := checkReason(*reasonFlag)
		if err == nil {
			err = refuseLiveTokens(ctx, e.m, "reason", "The reason", reason)
		}
		var fe *fieldError
		if errors.As(err, &fe) {
			return usageError{"token revoke: -reason: " + fe.Msg, "forge help token revoke"}
		} else if err != nil {
			return err
		}
		tok, err := e.m.Get(ctx, cliActor, id)
		if errors.Is(err, accesstoken.ErrNotFound) {
			return fmt.Errorf("token revoke: no token has the ID %s", id)
		} else if err != nil {
			return err
		}
		if tok.Revoked() {
			fmt.Fprintf(e.stdout, "token %s (%s's, for %s) was already revoked on %s\n", id, tok.Owner, targetName(tok.Target), tok.RevokedAt.Format(timeFormat))
			return nil
		}
		if _, err := e.m.RevokeWithReason(ctx, cliActor, id, reason); errors.Is(err, accesstoken.ErrBadReason) {
			return usageError{"token revoke: -reason: " + textProblem("The reason", reason), "forge help token revoke"}
		} else if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked token %s (%s's, for %s)\n", id, tok.Owner, targetName(tok.Target))
		return nil
	}
}
