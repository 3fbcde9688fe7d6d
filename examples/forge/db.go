package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/forgekit/accesstoken/sqlstore"
)

// The forge's own data: users, projects, members, repositories and web
// sessions, in the same database as the token table that package sqlstore
// keeps. Every query is written with "?" placeholders and rewritten for
// PostgreSQL by q.

var (
	errNotFound = errors.New("not found")
	errExists   = errors.New("already exists")
	errInvalid  = errors.New("invalid")
)

// Role is a user's role in a project. The project's owner is an admin.
type Role int

// The roles, each allowing what the one before allows and more.
const (
	RoleNone Role = iota
	RoleRead
	RoleWrite
	RoleAdmin
)

// String returns the role as the command line and the pages spell it.
func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

func parseRole(s string) (Role, error) {
	for r := RoleNone; r <= RoleAdmin; r++ {
		if s == r.String() {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("%w role %q: want read, write, admin or none", errInvalid, s)
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// reserved are project names that would shadow the forge's own URLs.
var reserved = map[string]bool{"api": true, "static": true, "login": true, "logout": true}

// validName reports whether every s could name a user, project or
// repository. Lookups check it before querying: no such name exists, and
// PostgreSQL refuses some of the strings a URL or a header can carry
// (invalid UTF-8, NUL) with an error instead of no rows.
func validName(s ...string) bool {
	for _, n := range s {
		if len(n) > 64 || !nameRE.MatchString(n) || strings.Contains(n, "..") {
			return false
		}
	}
	return true
}

// checkName checks a user, project or repository name.
func checkName(kind, s string) error {
	if !validName(s) {
		return fmt.Errorf("%w %s name %q: use 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit, without '..'", errInvalid, kind, s)
	}
	if kind != "user" && strings.HasSuffix(s, ".git") {
		// A ".git" path segment is where git URLs end.
		return fmt.Errorf("%w %s name %q: must not end in .git", errInvalid, kind, s)
	}
	if kind == "project" && reserved[s] {
		return fmt.Errorf("%w project name %q: reserved", errInvalid, s)
	}
	return nil
}

// DB is the forge's database.
type DB struct {
	sql      *sql.DB
	postgres bool
	// statusLocks serialises the posts of statuses to one commit in this
	// process (AddStatus; PostgreSQL adds a lock across processes).
	statusLocks keyedMutex
}

// openDB opens the SQLite file under dataDir, or PostgreSQL when dbURL is a
// postgres:// URL, and creates or updates the forge's tables and the token
// table. With create false (every command but serve), the forge must
// exist already: a mistyped -data or -db is an error, not a new forge.
func openDB(ctx context.Context, dataDir, dbURL string, create bool) (*DB, *sqlstore.Store, error) {
	var (
		db      *sql.DB
		err     error
		dialect = sqlstore.SQLite
	)
	if !create {
		if fi, err := os.Stat(dataDir); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("no forge data directory %s: check -data, or start `forge serve` once to set a forge up", dataDir)
		}
	}
	switch {
	case dbURL == "":
		path := filepath.Join(dataDir, "forge.db")
		mode := "rwc"
		if !create {
			if _, err := os.Stat(path); err != nil {
				return nil, nil, fmt.Errorf("no forge in %s (it has no forge.db): check -data, or start `forge serve` once to set a forge up", dataDir)
			}
			mode = "rw" // and never create it
		} else if err := os.MkdirAll(dataDir, 0o700); err != nil {
			// The database holds password hashes and token digests:
			// keep it to the forge's user.
			return nil, nil, err
		}
		// A URI file name: escape what would end or alter the path.
		path = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
		db, err = sql.Open("sqlite", "file:"+path+"?mode="+mode+"&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		dialect = sqlstore.PostgreSQL
		db, err = sql.Open("pgx", dbURL)
	default:
		return nil, nil, fmt.Errorf("-db: want a postgres:// URL, or nothing for SQLite")
	}
	if err != nil {
		return nil, nil, err
	}
	d := &DB{sql: db, postgres: dialect == sqlstore.PostgreSQL}
	if !create {
		if err := d.exists(ctx); err != nil {
			db.Close()
			return nil, nil, err
		}
	}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("creating tables: %w", err)
	}
	store, err := sqlstore.New(db, dialect)
	if err == nil {
		err = store.Migrate(ctx)
	}
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("token table: %w", err)
	}
	return d, store, nil
}

// exists checks that the database holds a forge.
func (d *DB) exists(ctx context.Context) error {
	var n int
	err := d.queryRow(ctx, `SELECT COUNT(*) FROM forge_users`).Scan(&n)
	var pg interface{ SQLState() string }
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pg) && pg.SQLState() == "42P01", // undefined_table
		strings.Contains(err.Error(), "no such table"):
		return errors.New("the database holds no forge: check -db, or start `forge serve` once to set a forge up")
	}
	return fmt.Errorf("opening the database: %w", err)
}

// Close closes the database.
func (d *DB) Close() error { return d.sql.Close() }

var schema = []string{
	`CREATE TABLE IF NOT EXISTS forge_users (
		name          TEXT PRIMARY KEY,
		password_hash TEXT NOT NULL,
		created_at    BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS forge_projects (
		name       TEXT PRIMARY KEY,
		owner      TEXT NOT NULL REFERENCES forge_users (name),
		created_at BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS forge_members (
		project  TEXT NOT NULL REFERENCES forge_projects (name),
		username TEXT NOT NULL REFERENCES forge_users (name),
		role     TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
		PRIMARY KEY (project, username))`,
	`CREATE TABLE IF NOT EXISTS forge_repos (
		project    TEXT NOT NULL REFERENCES forge_projects (name),
		name       TEXT NOT NULL,
		private    INTEGER NOT NULL,
		created_at BIGINT NOT NULL,
		PRIMARY KEY (project, name))`,
	`CREATE TABLE IF NOT EXISTS forge_sessions (
		id         TEXT PRIMARY KEY, -- SHA-256 of the cookie, hex
		username   TEXT NOT NULL REFERENCES forge_users (name),
		csrf       TEXT NOT NULL,
		expires_at BIGINT NOT NULL)`,
	// What a page shows once after a form redirects to it (Post/Redirect/
	// Get): what happened to a token and, after creating or rotating one,
	// its secret, sealed with a key that only the browser's cookie holds,
	// so that this table alone reveals nothing. A row is deleted when the
	// page shows it, or 10 minutes after.
	`CREATE TABLE IF NOT EXISTS forge_flashes (
		id         TEXT PRIMARY KEY,
		session    TEXT NOT NULL, -- forge_sessions.id
		page       TEXT NOT NULL,
		kind       TEXT NOT NULL,
		token_id   TEXT NOT NULL,
		sealed     TEXT NOT NULL,
		expires_at BIGINT NOT NULL)`,
	// The token activity of each project: the library's events (issued,
	// rotated, revoked, rejected uses), newest first by (at, id).
	// Rejections of one kind repeated within a minute are one row with a
	// count.
	`CREATE TABLE IF NOT EXISTS forge_token_events (
		id             TEXT PRIMARY KEY,
		project        TEXT NOT NULL,
		at             BIGINT NOT NULL, -- microseconds since 1970, UTC
		last_at        BIGINT NOT NULL,
		count          BIGINT NOT NULL,
		kind           TEXT NOT NULL,
		token_id       TEXT NOT NULL,
		replaced_by    TEXT NOT NULL,
		owner          TEXT NOT NULL,
		actor          TEXT NOT NULL,
		target_project TEXT NOT NULL,
		target_repo    TEXT NOT NULL,
		resource       TEXT NOT NULL, -- the repository a use was for
		scope          TEXT NOT NULL,
		reason         TEXT NOT NULL) -- why a use was refused (a code), or the reason for a revocation`,
	`CREATE INDEX IF NOT EXISTS forge_token_events_project ON forge_token_events (project, at, id)`,
	// What CI reports about commits (POST /api/repos/…/statuses/SHA):
	// newest first by (created_at, id); at most 1,000 per commit.
	`CREATE TABLE IF NOT EXISTS forge_commit_statuses (
		id          TEXT PRIMARY KEY,
		project     TEXT NOT NULL,
		repo        TEXT NOT NULL,
		sha         TEXT NOT NULL,
		state       TEXT NOT NULL,
		context     TEXT NOT NULL,
		description TEXT NOT NULL,
		target_url  TEXT NOT NULL,
		creator     TEXT NOT NULL, -- the owner of the token that posted it
		created_at  BIGINT NOT NULL)`, // microseconds since 1970, UTC
	`CREATE INDEX IF NOT EXISTS forge_commit_statuses_sha ON forge_commit_statuses (project, repo, sha, created_at)`,
}

// migrate creates the tables, in one transaction that two processes
// starting at once on one database serialise (an advisory lock on
// PostgreSQL, an immediate transaction on SQLite).
func (d *DB) migrate(ctx context.Context) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if d.postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7411)`); err != nil {
			return err
		}
	}
	for _, s := range schema {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// q rewrites "?" placeholders as $1, $2, … for PostgreSQL.
func (d *DB) q(query string) string {
	if !d.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (d *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.sql.ExecContext(ctx, d.q(query), args...)
}

func (d *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return d.sql.QueryRowContext(ctx, d.q(query), args...)
}

// isUnique reports a unique violation in either database.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		return pg.SQLState() == "23505"
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// Users.

// minPassword is the shortest password accepted; bcrypt reads at most 72 bytes.
const minPassword, maxPassword = 8, 72

// AddUser adds a user with a bcrypt hash of the password.
func (d *DB) AddUser(ctx context.Context, name, password string) error {
	if err := checkName("user", name); err != nil {
		return err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	_, err = d.exec(ctx, `INSERT INTO forge_users (name, password_hash, created_at) VALUES (?, ?, ?)`,
		name, hash, time.Now().Unix())
	if isUnique(err) {
		return fmt.Errorf("user %q %w", name, errExists)
	}
	return err
}

// PasswordHash returns the bcrypt hash of name's password, or an error
// matching errNotFound.
func (d *DB) PasswordHash(ctx context.Context, name string) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("user %q %w", name, errNotFound)
	}
	var hash string
	err := d.queryRow(ctx, `SELECT password_hash FROM forge_users WHERE name = ?`, name).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("user %q %w", name, errNotFound)
	}
	return hash, err
}

// SetPassword replaces name's password and ends their web sessions.
func (d *DB) SetPassword(ctx context.Context, name, password string) error {
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	if ok, err := d.userExists(ctx, name); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("user %q %w", name, errNotFound)
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, d.q(`UPDATE forge_users SET password_hash = ? WHERE name = ?`), hash, name); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM forge_sessions WHERE username = ?`), name); err != nil {
		return err
	}
	return tx.Commit()
}

func hashPassword(password string) (string, error) {
	if len(password) < minPassword || len(password) > maxPassword {
		return "", fmt.Errorf("%w password: use %d to %d bytes", errInvalid, minPassword, maxPassword)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(hash), err
}

// User is a user as the command line lists them.
type User struct {
	Name    string
	Created time.Time
}

// Users lists every user by name.
func (d *DB) Users(ctx context.Context) ([]User, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT name, created_at FROM forge_users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		var u User
		var created int64
		if err := rows.Scan(&u.Name, &created); err != nil {
			return nil, err
		}
		u.Created = time.Unix(created, 0).UTC()
		us = append(us, u)
	}
	return us, rows.Err()
}

func (d *DB) userExists(ctx context.Context, name string) (bool, error) {
	if !validName(name) {
		return false, nil
	}
	var n int
	err := d.queryRow(ctx, `SELECT COUNT(*) FROM forge_users WHERE name = ?`, name).Scan(&n)
	return n > 0, err
}

// Empty reports whether the forge has no users yet: a new installation.
func (d *DB) Empty(ctx context.Context) (bool, error) {
	var n int
	err := d.queryRow(ctx, `SELECT COUNT(*) FROM forge_users`).Scan(&n)
	return n == 0, err
}

// Projects and members.

// Project is a project as its pages show it.
type Project struct {
	Name, Owner string
}

// AddProject adds a project owned by an existing user.
func (d *DB) AddProject(ctx context.Context, name, owner string) error {
	if err := checkName("project", name); err != nil {
		return err
	}
	if ok, err := d.userExists(ctx, owner); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("user %q %w", owner, errNotFound)
	}
	_, err := d.exec(ctx, `INSERT INTO forge_projects (name, owner, created_at) VALUES (?, ?, ?)`,
		name, owner, time.Now().Unix())
	if isUnique(err) {
		return fmt.Errorf("project %q %w", name, errExists)
	}
	return err
}

// Project returns a project, or an error matching errNotFound.
func (d *DB) Project(ctx context.Context, name string) (*Project, error) {
	if !validName(name) {
		return nil, fmt.Errorf("project %q %w", name, errNotFound)
	}
	p := &Project{}
	err := d.queryRow(ctx, `SELECT name, owner FROM forge_projects WHERE name = ?`, name).Scan(&p.Name, &p.Owner)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("project %q %w", name, errNotFound)
	}
	return p, err
}

// Projects lists every project by name.
func (d *DB) Projects(ctx context.Context) ([]Project, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT name, owner FROM forge_projects ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []Project
	for rows.Next() {
		var p Project
		if err := rows.Scan(&p.Name, &p.Owner); err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// SetMember gives user the role in project, or removes them with RoleNone.
// The owner's role cannot be changed: the owner is always an admin.
func (d *DB) SetMember(ctx context.Context, project, user string, role Role) error {
	p, err := d.Project(ctx, project)
	if err != nil {
		return err
	}
	if ok, err := d.userExists(ctx, user); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("user %q %w", user, errNotFound)
	}
	if user == p.Owner {
		return fmt.Errorf("%w: %s owns project %s and is always its admin", errInvalid, user, project)
	}
	if role == RoleNone {
		_, err = d.exec(ctx, `DELETE FROM forge_members WHERE project = ? AND username = ?`, project, user)
		return err
	}
	// An upsert both databases understand.
	_, err = d.exec(ctx, `INSERT INTO forge_members (project, username, role) VALUES (?, ?, ?)
		ON CONFLICT (project, username) DO UPDATE SET role = excluded.role`, project, user, role.String())
	return err
}

// DeleteProject forgets a project, its members and its repositories, in
// one transaction. The caller deletes the repositories' directories and
// the tokens (see deleteProject).
func (d *DB) DeleteProject(ctx context.Context, name string) error {
	if _, err := d.Project(ctx, name); err != nil {
		return err
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, table := range []string{"forge_members", "forge_repos", "forge_token_events", "forge_commit_statuses"} {
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM `+table+` WHERE project = ?`), name); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM forge_projects WHERE name = ?`), name); err != nil {
		return err
	}
	return tx.Commit()
}

// Member is a user's role in a project.
type Member struct {
	User string
	Role Role
}

// Members lists the members of project, not counting its owner.
func (d *DB) Members(ctx context.Context, project string) ([]Member, error) {
	if !validName(project) {
		return nil, nil
	}
	rows, err := d.sql.QueryContext(ctx, d.q(`SELECT username, role FROM forge_members WHERE project = ? ORDER BY username`), project)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []Member
	for rows.Next() {
		var m Member
		var role string
		if err := rows.Scan(&m.User, &role); err != nil {
			return nil, err
		}
		m.Role, _ = parseRole(role)
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// Role returns user's role in project: admin for the owner, RoleNone for a
// non-member or an anonymous user ("").
func (d *DB) Role(ctx context.Context, project, user string) (Role, error) {
	if user == "" || !validName(project, user) {
		return RoleNone, nil
	}
	var owner string
	var role sql.NullString
	err := d.queryRow(ctx, `SELECT p.owner, m.role FROM forge_projects p
		LEFT JOIN forge_members m ON m.project = p.name AND m.username = ?
		WHERE p.name = ?`, user, project).Scan(&owner, &role)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return RoleNone, nil
	case err != nil:
		return RoleNone, err
	case owner == user:
		return RoleAdmin, nil
	}
	r, _ := parseRole(role.String)
	return r, nil
}

// Repositories.

// Repo is a repository.
type Repo struct {
	Project, Name string
	Private       bool
}

// Dir is the repository's directory under the repositories root, which
// is also its URL path.
func (r *Repo) Dir() string { return r.Project + "/" + r.Name + ".git" }

// AddRepo records a repository of an existing project; see createRepo.
func (d *DB) AddRepo(ctx context.Context, project, name string, private bool) error {
	if err := checkName("project", project); err != nil {
		return err
	}
	if err := checkName("repository", name); err != nil {
		return err
	}
	if _, err := d.Project(ctx, project); err != nil {
		return err
	}
	priv := 0
	if private {
		priv = 1
	}
	_, err := d.exec(ctx, `INSERT INTO forge_repos (project, name, private, created_at) VALUES (?, ?, ?, ?)`,
		project, name, priv, time.Now().Unix())
	if isUnique(err) {
		return fmt.Errorf("repository %q %w", project+"/"+name, errExists)
	}
	return err
}

// DeleteRepo forgets a repository and its commit statuses, in one
// transaction (createRepo undoes AddRepo with it), or returns an error
// matching errNotFound.
func (d *DB) DeleteRepo(ctx context.Context, project, name string) error {
	if !validName(project, name) {
		return fmt.Errorf("repository %q %w", project+"/"+name, errNotFound)
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, d.q(`DELETE FROM forge_repos WHERE project = ? AND name = ?`), project, name)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("repository %q %w", project+"/"+name, errNotFound)
	}
	if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM forge_commit_statuses WHERE project = ? AND repo = ?`), project, name); err != nil {
		return err
	}
	return tx.Commit()
}

// Repo returns a repository, or an error matching errNotFound.
func (d *DB) Repo(ctx context.Context, project, name string) (*Repo, error) {
	if !validName(project, name) {
		return nil, fmt.Errorf("repository %q %w", project+"/"+name, errNotFound)
	}
	r := &Repo{Project: project, Name: name}
	var priv int
	err := d.queryRow(ctx, `SELECT private FROM forge_repos WHERE project = ? AND name = ?`, project, name).Scan(&priv)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("repository %q %w", project+"/"+name, errNotFound)
	}
	r.Private = priv != 0
	return r, err
}

// RepoAccess returns a repository and user's role in its project, in one
// query: what every permission check on a repository needs. A missing
// repository is an error matching errNotFound.
func (d *DB) RepoAccess(ctx context.Context, project, name, user string) (*Repo, Role, error) {
	if !validName(project, name) {
		return nil, RoleNone, fmt.Errorf("repository %q %w", project+"/"+name, errNotFound)
	}
	if user != "" && !validName(user) {
		user = "" // no such user: no role
	}
	r := &Repo{Project: project, Name: name}
	var priv int
	var owner string
	var role sql.NullString
	err := d.queryRow(ctx, `SELECT r.private, p.owner, m.role FROM forge_repos r
		JOIN forge_projects p ON p.name = r.project
		LEFT JOIN forge_members m ON m.project = r.project AND m.username = ?
		WHERE r.project = ? AND r.name = ?`, user, project, name).Scan(&priv, &owner, &role)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, RoleNone, fmt.Errorf("repository %q %w", project+"/"+name, errNotFound)
	case err != nil:
		return nil, RoleNone, err
	}
	r.Private = priv != 0
	switch {
	case user == "":
		return r, RoleNone, nil
	case owner == user:
		return r, RoleAdmin, nil
	}
	rl, _ := parseRole(role.String)
	return r, rl, nil
}

// Repos lists the repositories of a project by name.
func (d *DB) Repos(ctx context.Context, project string) ([]Repo, error) {
	if !validName(project) {
		return nil, nil
	}
	rows, err := d.sql.QueryContext(ctx, d.q(`SELECT name, private FROM forge_repos WHERE project = ? ORDER BY name`), project)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []Repo
	for rows.Next() {
		r := Repo{Project: project}
		var priv int
		if err := rows.Scan(&r.Name, &priv); err != nil {
			return nil, err
		}
		r.Private = priv != 0
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// Sessions of the web pages. The cookie holds a random value; the table
// holds its SHA-256, so a copy of the database signs nobody in.

const sessionLifetime = 12 * time.Hour

func sessionKey(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// NewSession records a session for the cookie value, and forgets expired ones.
func (d *DB) NewSession(ctx context.Context, cookie, user, csrf string) error {
	if _, err := d.exec(ctx, `DELETE FROM forge_sessions WHERE expires_at <= ?`, time.Now().Unix()); err != nil {
		return err
	}
	_, err := d.exec(ctx, `INSERT INTO forge_sessions (id, username, csrf, expires_at) VALUES (?, ?, ?, ?)`,
		sessionKey(cookie), user, csrf, time.Now().Add(sessionLifetime).Unix())
	return err
}

// Session returns the user and CSRF token of a live session, or "" for none.
func (d *DB) Session(ctx context.Context, cookie string) (user, csrf string, err error) {
	err = d.queryRow(ctx, `SELECT username, csrf FROM forge_sessions WHERE id = ? AND expires_at > ?`,
		sessionKey(cookie), time.Now().Unix()).Scan(&user, &csrf)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	return user, csrf, err
}

// DeleteSession ends the cookie's session (and forgets expired ones),
// with what its pages had still to show.
func (d *DB) DeleteSession(ctx context.Context, cookie string) error {
	if _, err := d.exec(ctx, `DELETE FROM forge_flashes WHERE session = ?`, sessionKey(cookie)); err != nil {
		return err
	}
	_, err := d.exec(ctx, `DELETE FROM forge_sessions WHERE id = ? OR expires_at <= ?`, sessionKey(cookie), time.Now().Unix())
	return err
}

// lockOwner takes, on PostgreSQL, a lock on issuing tokens for owner that
// every process sharing the database respects, until the returned
// function is called: a transaction holds an advisory lock. (On SQLite
// the forge runs as one process, whose own lock is enough.)
func (d *DB) lockOwner(ctx context.Context, owner string) (func(), error) {
	if !d.postgres {
		return func() {}, nil
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7412, hashtext($1))`, owner); err != nil {
		tx.Rollback()
		return nil, err
	}
	return func() { tx.Rollback() }, nil
}
