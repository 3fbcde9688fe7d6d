package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// DefaultTable is the table name used unless [WithTable] sets another.
const DefaultTable = "access_tokens"

// Store is an [accesstoken.Store] in a SQL database. Build one with [New]
// and create its table with [Store.Migrate]. It is safe for concurrent use,
// and any number of Stores, in any number of processes, may share one
// database: every write is one statement (Revoke, RevokeOwner,
// TouchLastUsed, DeleteTarget, DeleteInactive, and Insert of a token
// without a description or not active) or one transaction (Rotate, and
// Insert of an active token with a description, whose uniqueness it
// checks), and nothing is cached.
type Store struct {
	db       *sql.DB
	dialect  Dialect
	dl       dialect // what the database needs that others do not
	table    string  // as written in FROM: "name" or "schema.name"
	tableRef string  // the table in CREATE INDEX ... ON: unqualified on SQLite
	schema   string  // "" unless the table name is qualified
	name     string  // the table name without the schema

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt

	qByDigest, qByID, qInsert, qRevoke, qRevokeOwner, qRotateRevoke, qState, qTouch, qDescTaken, qDeleteInactive string
}

// Option configures a [Store]: pass options to [New], which applies them in
// order and returns an error for an option given an invalid value, and for
// a nil Option; none is ignored or corrected silently. This is the
// convention of every package of this module that takes options.
type Option func(*Store) error

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// WithTable sets the table name; the default is [DefaultTable]. The
// migrations table is the same name with "_migrations" appended, and the
// indexes and constraints are named after it too. The name may be
// qualified with a schema ("forge.access_tokens"): a PostgreSQL schema, or
// on SQLite the name of an ATTACHed database. Names are lower-case letters,
// digits and underscores, and are not quoted.
func WithTable(name string) Option {
	return func(s *Store) error {
		schema, table, qualified := strings.Cut(name, ".")
		if !qualified {
			schema, table = "", name
		}
		if !identRE.MatchString(table) || (qualified && !identRE.MatchString(schema)) {
			return fmt.Errorf("sqlstore: invalid table name %q: want [schema.]name, each lower-case letters, digits and underscores", name)
		}
		s.schema, s.name = schema, table
		return nil
	}
}

// dialects are the supported databases.
var dialects = map[Dialect]dialect{
	SQLite:     sqliteDialect{},
	PostgreSQL: postgresDialect{},
}

// New returns a Store over db in the given dialect. It does not touch the
// database; call [Store.Migrate] before using the Store. The Store does not
// own db: [Store.Close] closes its prepared statements, not db.
func New(db *sql.DB, dialect Dialect, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	dl, ok := dialects[dialect]
	if !ok {
		return nil, fmt.Errorf("sqlstore: unknown dialect %q", dialect)
	}
	s := &Store{db: db, dialect: dialect, dl: dl, name: DefaultTable, stmts: map[string]*sql.Stmt{}}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("sqlstore: option %d is nil", i)
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	s.table = s.name
	if s.schema != "" {
		s.table = s.schema + "." + s.name
	}
	s.tableRef = dl.indexOn(s.schema, s.name)
	s.buildQueries()
	return s, nil
}

var _ accesstoken.Store = (*Store)(nil)

// indexName returns the name of the index n in CREATE INDEX.
func (s *Store) indexName(n string) string { return s.dl.indexName(s.schema, s.name, n) }

const columns = "id, digest, owner, description, project, repository, scopes, created_at, expires_at, last_used_at, revoked_at, revoked_by, replaced_by, revocation_reason"

func (s *Store) buildQueries() {
	t := s.table
	s.qByDigest = s.rebind("SELECT " + columns + " FROM " + t + " WHERE " + s.dl.lookupWhere())
	keys := s.dl.keyColumns()
	s.qInsert = s.rebind("INSERT INTO " + t + " (" + columns + ", target_kind" + keys + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?" + strings.Repeat(", ?", strings.Count(keys, ",")) + ")")
	s.qByID = s.rebind("SELECT " + columns + " FROM " + t + " WHERE id = ?")
	s.qRevoke = s.rebind("UPDATE " + t + " SET revoked_at = ?, revoked_by = ?, revocation_reason = ? WHERE id = ? AND revoked_at IS NULL RETURNING " + columns)
	s.qRevokeOwner = s.rebind("UPDATE " + t + " SET revoked_at = ?, revoked_by = ?, revocation_reason = ? WHERE owner = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) RETURNING " + columns)
	s.qRotateRevoke = s.rebind("UPDATE " + t + " SET revoked_at = ?, revoked_by = ?, revocation_reason = ?, replaced_by = ? WHERE id = ? AND revoked_at IS NULL")
	// Over the partial index on (owner, project, repository, description)
	// of the tokens not revoked.
	s.qDescTaken = s.rebind("SELECT count(*) FROM " + t + " WHERE owner = ? AND project = ? AND repository = ? AND description = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)")
	s.qDeleteInactive = s.rebind("DELETE FROM " + t + " WHERE revoked_at < ? OR expires_at < ?")
	s.qState = s.rebind("SELECT revoked_at IS NOT NULL FROM " + t + " WHERE id = ?")
	// One conditional UPDATE: the database checks the condition on the
	// row's latest version while it holds the row (PostgreSQL re-checks it
	// after waiting for a concurrent writer's lock; SQLite has one writer
	// at a time), so concurrent touches from any number of instances write
	// exactly once.
	s.qTouch = s.rebind("UPDATE " + t + " SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)")
}

// rebind turns the ? placeholders of q into the dialect's.
func (s *Store) rebind(q string) string { return s.dl.bind(q) }

// stmt returns q prepared on the pool. Statements are prepared on first use
// and kept until [Store.Close]; a failed preparation is retried next time.
// No lock is held while preparing, so a slow database never holds up the
// callers of statements already prepared.
func (s *Store) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.mu.RLock()
	st, closed := s.stmts[q], s.stmts == nil
	s.mu.RUnlock()
	switch {
	case st != nil:
		return st, nil
	case closed:
		return nil, errClosed
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stmts == nil {
		st.Close()
		return nil, errClosed
	}
	if prev := s.stmts[q]; prev != nil { // prepared concurrently
		st.Close()
		return prev, nil
	}
	s.stmts[q] = st
	return st, nil
}

var errClosed = errors.New("sqlstore: store is closed")

// Close releases the prepared statements. It does not close the *sql.DB.
// The Store must not be used afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	s.stmts = nil
	return errors.Join(errs...)
}

// DB returns the database the Store uses.
func (s *Store) DB() *sql.DB { return s.db }

// Table returns the table name, qualified if [WithTable] gave a schema.
func (s *Store) Table() string { return s.table }

// Dialect returns the Store's dialect.
func (s *Store) Dialect() Dialect { return s.dialect }

// fail wraps a system error with the operation and, when ctx is done, the
// context's error, so that errors.Is(err, context.Canceled) holds however
// the driver reported the interruption.
func fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlstore: %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// Parameter conversions.

func (s *Store) idArg(id uuid.UUID) any { return s.dl.idArg(id) }

func (s *Store) nullIDArg(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return s.idArg(id)
}

func (s *Store) timeArg(t time.Time) any { return s.dl.timeArg(t) }

// Column scanners, the same for every dialect: SQLite gives integers,
// blobs and strings, PostgreSQL times and strings.

type idCol struct {
	id    *uuid.UUID
	null  bool // NULL allowed (uuid.Nil)
	label string
}

func (c idCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		if c.null {
			*c.id = uuid.Nil
			return nil
		}
	case []byte:
		if len(v) == 16 {
			copy(c.id[:], v)
			return nil
		}
		return c.id.Scan(v)
	case string:
		return c.id.Scan(v)
	}
	return fmt.Errorf("sqlstore: cannot scan %T into %s", src, c.label)
}

type digestCol struct{ d *accesstoken.Digest }

func (c digestCol) Scan(src any) error {
	v, ok := src.([]byte)
	if !ok || len(v) != len(c.d) {
		return fmt.Errorf("sqlstore: stored digest is %T of length %d, want 32 bytes", src, len(v))
	}
	copy(c.d[:], v)
	return nil
}

type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

// scopesCol reads the text form of a [accesstoken.ScopeSet], as
// [accesstoken.ScopeSet.String] wrote it. From a string already in the
// stored form, the set shares the string: no copy.
type scopesCol struct{ sc *accesstoken.ScopeSet }

func (c scopesCol) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*c.sc = accesstoken.ParseScopeSet(v)
	case []byte:
		*c.sc = accesstoken.ParseScopeSet(string(v))
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into scopes", src)
	}
	return nil
}

type row interface{ Scan(dest ...any) error }

func scanRecord(r row) (accesstoken.Record, error) {
	var rec accesstoken.Record
	err := r.Scan(
		idCol{id: &rec.ID, label: "id"},
		digestCol{&rec.Digest},
		&rec.Owner,
		&rec.Description,
		&rec.Target.Project,
		&rec.Target.Repository,
		scopesCol{&rec.Scopes},
		timeCol{&rec.CreatedAt},
		timeCol{&rec.ExpiresAt},
		timeCol{&rec.LastUsedAt},
		timeCol{&rec.RevokedAt},
		&rec.RevokedBy,
		idCol{id: &rec.ReplacedBy, null: true, label: "replaced_by"},
		&rec.RevocationReason,
	)
	if err != nil {
		return accesstoken.Record{}, err
	}
	return rec, nil
}

// insertArgs returns the arguments of the INSERT of rec. The scopes are
// stored in their text form ([accesstoken.ScopeSet.String]): the names in
// order, separated by single spaces ("" for the empty set).
func (s *Store) insertArgs(rec *accesstoken.Record) []any {
	kind := "repository"
	if rec.Target.IsProject() {
		kind = "project"
	}
	args := []any{
		s.idArg(rec.ID), rec.Digest[:], rec.Owner, rec.Description,
		rec.Target.Project, rec.Target.Repository, rec.Scopes.String(),
		s.timeArg(rec.CreatedAt), s.timeArg(rec.ExpiresAt), s.timeArg(rec.LastUsedAt), s.timeArg(rec.RevokedAt),
		rec.RevokedBy, s.nullIDArg(rec.ReplacedBy), rec.RevocationReason, kind,
	}
	return append(args, s.dl.keyArgs(rec.Digest)...)
}

// duplicate wraps a unique violation in [accesstoken.ErrDuplicate].
func (s *Store) duplicate(err error) error {
	if d := s.dl.duplicateDetail(err); d != "" {
		return fmt.Errorf("%w: sqlstore: %s: %w", accesstoken.ErrDuplicate, d, err)
	}
	return fmt.Errorf("%w: sqlstore: %w", accesstoken.ErrDuplicate, err)
}

// Insert implements [accesstoken.Store]. It is one INSERT statement; a
// unique violation (of the ID or the digest) is [accesstoken.ErrDuplicate].
// On SQLite the digest's first 8 bytes are the row's key, so a digest that
// shares them with another token's is refused as a duplicate too. With n
// tokens stored, a new token is refused so with a probability of about
// n/2^64 (5e-14 at a million tokens); [accesstoken.Manager.Issue] then
// reports a store failure, and issuing again draws a new secret.
//
// The insertion of an active token with a description is a transaction
// that first checks that no other active token of the same owner and
// target has that description ([accesstoken.ErrDuplicateDescription]).
// Concurrent transactions cannot both pass the check: on PostgreSQL the
// transaction first takes an advisory lock derived from the owner, target
// and description (pg_advisory_xact_lock); on SQLite it is IMMEDIATE (the
// _txlock=immediate of the recommended settings), so it holds the
// database's write lock from the check to the commit. (Under a deferred
// transaction, two concurrent insertions still cannot both succeed: the
// second one's write fails with SQLITE_BUSY, a store failure.)
func (s *Store) Insert(ctx context.Context, rec accesstoken.Record) (err error) {
	if err := ctx.Err(); err != nil {
		return fail(ctx, "insert", err)
	}
	args := s.insertArgs(&rec)
	if rec.Description == "" || !rec.Active(rec.CreatedAt) {
		st, err := s.stmt(ctx, s.qInsert)
		if err != nil {
			return fail(ctx, "insert", err)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			if s.dl.isUniqueViolation(err) {
				return s.duplicate(err)
			}
			return fail(ctx, "insert", err)
		}
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(ctx, "insert", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	lock := "accesstoken/sqlstore description " + s.table + "\x00" + rec.Owner + "\x00" + rec.Target.Project + "\x00" + rec.Target.Repository + "\x00" + rec.Description
	if err := s.dl.lockDescription(ctx, tx, lock); err != nil {
		return fail(ctx, "insert", err)
	}
	var taken int
	if err := tx.QueryRowContext(ctx, s.qDescTaken, rec.Owner, rec.Target.Project, rec.Target.Repository, rec.Description, s.timeArg(rec.CreatedAt)).Scan(&taken); err != nil {
		return fail(ctx, "insert", err)
	}
	if taken > 0 {
		return fmt.Errorf("%w: sqlstore: %d active tokens of this owner and target have it", accesstoken.ErrDuplicateDescription, taken)
	}
	if _, err := tx.ExecContext(ctx, s.qInsert, args...); err != nil {
		if s.dl.isUniqueViolation(err) {
			return s.duplicate(err)
		}
		return fail(ctx, "insert", err)
	}
	if err := tx.Commit(); err != nil {
		return fail(ctx, "insert", err)
	}
	return nil
}

// ByDigest implements [accesstoken.Store]: one SELECT, on PostgreSQL over
// the unique digest index, on SQLite by the table's key (the digest's first
// 8 bytes) and the whole digest.
func (s *Store) ByDigest(ctx context.Context, d accesstoken.Digest) (accesstoken.Record, error) {
	return s.queryOne(ctx, "by digest", s.qByDigest, s.dl.lookupArgs(d)...)
}

// ByID implements [accesstoken.Store].
func (s *Store) ByID(ctx context.Context, id uuid.UUID) (accesstoken.Record, error) {
	return s.queryOne(ctx, "by id", s.qByID, s.idArg(id))
}

func (s *Store) queryOne(ctx context.Context, op, q string, args ...any) (accesstoken.Record, error) {
	if err := ctx.Err(); err != nil {
		return accesstoken.Record{}, fail(ctx, op, err)
	}
	st, err := s.stmt(ctx, q)
	if err != nil {
		return accesstoken.Record{}, fail(ctx, op, err)
	}
	rec, err := scanRecord(st.QueryRowContext(ctx, args...))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return accesstoken.Record{}, accesstoken.ErrNotFound
	case err != nil:
		return accesstoken.Record{}, fail(ctx, op, err)
	}
	return rec, nil
}

// List implements [accesstoken.Store] with one SELECT, ordered and
// limited by the database. It uses the (project, repository, created_at,
// id) index for a target, the (owner, created_at, id) index for an owner,
// and the (created_at, id) index for every token, so that a page (After
// and Limit) is a range of an index: it costs the same however many
// tokens there are. Oldest first the database reads the range forwards
// (ORDER BY created_at, id); newest first ([accesstoken.NewestFirst])
// backwards (ORDER BY created_at DESC, id DESC), from the same indexes. A
// page of a repository and the project tokens that cover it (Covering) is
// the first Limit of two such ranges, merged. An unknown q.Order is an
// error.
func (s *Store) List(ctx context.Context, q accesstoken.Query) ([]accesstoken.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "list", err)
	}
	if q.Order != accesstoken.OldestFirst && q.Order != accesstoken.NewestFirst {
		return nil, fmt.Errorf("sqlstore: list: unknown order %v", q.Order)
	}
	query, args, ok := s.listQuery(&q)
	if !ok {
		return []accesstoken.Record{}, nil
	}
	st, err := s.stmt(ctx, s.rebind(query))
	if err != nil {
		return nil, fail(ctx, "list", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fail(ctx, "list", err)
	}
	defer rows.Close()
	out := []accesstoken.Record{}
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, fail(ctx, "list", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, "list", err)
	}
	return out, nil
}

// listQuery returns the SELECT of q, with ? placeholders, and its
// arguments; ok is false when q selects nothing.
func (s *Store) listQuery(q *accesstoken.Query) (query string, args []any, ok bool) {
	if q.Owner == "" && q.Target == nil && !q.All {
		return "", nil, false
	}
	newest := q.Order == accesstoken.NewestFirst
	// where returns the conditions of one SELECT (for the repository
	// given, when there is a target) and appends their arguments.
	where := func(repository string, covering bool) string {
		var c []string
		if q.Owner != "" {
			c = append(c, "owner = ?")
			args = append(args, q.Owner)
		}
		if q.Target != nil {
			if covering {
				c = append(c, "project = ? AND repository IN (?, '')")
				args = append(args, q.Target.Project, repository)
			} else {
				c = append(c, "project = ? AND repository = ?")
				args = append(args, q.Target.Project, repository)
			}
		}
		if !q.Active.IsZero() {
			c = append(c, "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)")
			args = append(args, s.timeArg(q.Active))
		}
		if !q.Inactive.IsZero() {
			c = append(c, "(revoked_at IS NOT NULL OR expires_at <= ?)")
			args = append(args, s.timeArg(q.Inactive))
		}
		if !q.ExpiringBefore.IsZero() {
			c = append(c, "expires_at < ?")
			args = append(args, s.timeArg(q.ExpiringBefore))
		}
		if !q.After.IsZero() {
			// Past the position in the order asked: later oldest first,
			// earlier newest first. (The first condition bounds the
			// range of the index; the second leaves out the position's
			// record and those before it that share its created_at.)
			if newest {
				c = append(c, "created_at <= ? AND (created_at < ? OR id < ?)")
			} else {
				c = append(c, "created_at >= ? AND (created_at > ? OR id > ?)")
			}
			at := s.timeArg(q.After.CreatedAt)
			args = append(args, at, at, s.idArg(q.After.ID))
		}
		if len(c) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(c, " AND ")
	}
	limit := func() string {
		if q.Limit <= 0 {
			return ""
		}
		args = append(args, q.Limit)
		return " LIMIT ?"
	}
	order := " ORDER BY created_at, id"
	if newest {
		order = " ORDER BY created_at DESC, id DESC"
	}
	sel := "SELECT " + columns + " FROM " + s.table
	covering := q.Target != nil && q.Covering && q.Target.Project != "" && q.Target.Repository != ""
	if !covering || q.Limit <= 0 {
		repo := ""
		if q.Target != nil {
			repo = q.Target.Repository
		}
		w := where(repo, covering)
		return sel + w + order + limit(), args, true
	}
	// Two ranges, each of an index, each limited, merged.
	a := sel + where(q.Target.Repository, false) + order + limit()
	b := sel + where("", false) + order + limit()
	return "SELECT " + columns + " FROM (" + a + ") AS own_tokens UNION ALL SELECT " + columns + " FROM (" + b + ") AS project_tokens" + order + limit(), args, true
}

// Revoke implements [accesstoken.Store]: one conditional UPDATE ...
// RETURNING, then, if it changed nothing, a SELECT of the record as it is.
func (s *Store) Revoke(ctx context.Context, id uuid.UUID, rev accesstoken.Revocation) (accesstoken.Record, error) {
	if err := ctx.Err(); err != nil {
		return accesstoken.Record{}, fail(ctx, "revoke", err)
	}
	st, err := s.stmt(ctx, s.qRevoke)
	if err != nil {
		return accesstoken.Record{}, fail(ctx, "revoke", err)
	}
	rec, err := scanRecord(st.QueryRowContext(ctx, s.timeArg(rev.At), rev.By, rev.Reason, s.idArg(id)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Already revoked, or missing.
		return s.ByID(ctx, id)
	case err != nil:
		return accesstoken.Record{}, fail(ctx, "revoke", err)
	}
	return rec, nil
}

// RevokeOwner implements [accesstoken.Store] with one conditional UPDATE
// ... RETURNING.
func (s *Store) RevokeOwner(ctx context.Context, owner string, rev accesstoken.Revocation) ([]accesstoken.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "revoke owner", err)
	}
	st, err := s.stmt(ctx, s.qRevokeOwner)
	if err != nil {
		return nil, fail(ctx, "revoke owner", err)
	}
	at := s.timeArg(rev.At)
	rows, err := st.QueryContext(ctx, at, rev.By, rev.Reason, owner, at)
	if err != nil {
		return nil, fail(ctx, "revoke owner", err)
	}
	defer rows.Close()
	out := []accesstoken.Record{}
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, fail(ctx, "revoke owner", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, "revoke owner", err)
	}
	slices.SortFunc(out, func(a, b accesstoken.Record) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out, nil
}

// Rotate implements [accesstoken.Store] in one transaction: a conditional
// UPDATE of the old record (so of two concurrent rotations one updates and
// the other finds it revoked) and the INSERT of the new one.
func (s *Store) Rotate(ctx context.Context, oldID uuid.UUID, rev accesstoken.Revocation, next accesstoken.Record) (err error) {
	if err := ctx.Err(); err != nil {
		return fail(ctx, "rotate", err)
	}
	args := s.insertArgs(&next)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(ctx, "rotate", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	res, err := tx.ExecContext(ctx, s.qRotateRevoke, s.timeArg(rev.At), rev.By, rev.Reason, s.idArg(next.ID), s.idArg(oldID))
	if err != nil {
		return fail(ctx, "rotate", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fail(ctx, "rotate", err)
	}
	if n == 0 {
		var revoked bool
		switch err := tx.QueryRowContext(ctx, s.qState, s.idArg(oldID)).Scan(&revoked); {
		case errors.Is(err, sql.ErrNoRows):
			return accesstoken.ErrNotFound
		case err != nil:
			return fail(ctx, "rotate", err)
		case revoked:
			return fmt.Errorf("%w: sqlstore: token %s was rotated or revoked concurrently", accesstoken.ErrRevoked, oldID)
		default:
			return fmt.Errorf("sqlstore: rotate: token %s neither updated nor revoked", oldID)
		}
	}
	if _, err := tx.ExecContext(ctx, s.qInsert, args...); err != nil {
		if s.dl.isUniqueViolation(err) {
			return s.duplicate(err)
		}
		return fail(ctx, "rotate", err)
	}
	if err := tx.Commit(); err != nil {
		return fail(ctx, "rotate", err)
	}
	return nil
}

// TouchLastUsed implements [accesstoken.Store] with one conditional UPDATE
// ("WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= at -
// interval)"), so any number of instances sharing the database write
// exactly once per interval. It waits for other writers as any write does
// (a row lock on PostgreSQL; on SQLite the database's write lock, for the
// busy timeout of the connection), until ctx is done.
func (s *Store) TouchLastUsed(ctx context.Context, id uuid.UUID, at time.Time, interval time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fail(ctx, "touch", err)
	}
	st, err := s.stmt(ctx, s.qTouch)
	if err != nil {
		return false, fail(ctx, "touch", err)
	}
	res, err := st.ExecContext(ctx, s.timeArg(at), s.idArg(id), s.timeArg(at.Add(-interval)))
	if err != nil {
		return false, fail(ctx, "touch", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fail(ctx, "touch", err)
	}
	return n > 0, nil
}

// DeleteTarget implements [accesstoken.Store] with one DELETE.
func (s *Store) DeleteTarget(ctx context.Context, t accesstoken.Target) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fail(ctx, "delete target", err)
	}
	q, args := "DELETE FROM "+s.table+" WHERE project = ?", []any{t.Project}
	if !t.IsProject() {
		q += " AND repository = ?"
		args = append(args, t.Repository)
	}
	st, err := s.stmt(ctx, s.rebind(q))
	if err != nil {
		return 0, fail(ctx, "delete target", err)
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, fail(ctx, "delete target", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fail(ctx, "delete target", err)
	}
	return int(n), nil
}

// DeleteInactive implements [accesstoken.Store] with one DELETE.
func (s *Store) DeleteInactive(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fail(ctx, "delete inactive", err)
	}
	st, err := s.stmt(ctx, s.qDeleteInactive)
	if err != nil {
		return 0, fail(ctx, "delete inactive", err)
	}
	cut := s.timeArg(before)
	res, err := st.ExecContext(ctx, cut, cut)
	if err != nil {
		return 0, fail(ctx, "delete inactive", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fail(ctx, "delete inactive", err)
	}
	return int(n), nil
}
