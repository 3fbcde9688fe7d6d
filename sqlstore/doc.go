// Package sqlstore is an [accesstoken.Store] in a SQL database through
// database/sql: SQLite, the embedded default for a forge on one machine, and
// PostgreSQL, for a forge of many instances. It takes a *sql.DB and a
// [Dialect] and imports no driver; its tests, in module
// github.com/forgekit/accesstoken/sqlstore/drivertest (so that this module
// does not require the drivers), use modernc.org/sqlite (pure Go, driver
// name "sqlite") and github.com/jackc/pgx/v5/stdlib (driver name "pgx").
//
//	db, err := sql.Open("sqlite", "file:tokens.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-32768)&_txlock=immediate")
//	...
//	store, err := sqlstore.New(db, sqlstore.SQLite)
//	...
//	if err := store.Migrate(ctx); err != nil { ... }
//	m, err := accesstoken.New(store, forgePermissions)
//
// # Schema
//
// [Store.Migrate] creates one table, access_tokens by default ([WithTable]
// names another, optionally in a schema of its own, so that a forge can keep
// it in its own database), and a table of applied migrations beside it,
// access_tokens_migrations (version, name, applied_at). The migrations are
// embedded and versioned; Migrate applies the missing ones in one
// transaction and may be called by several instances at once. On
// PostgreSQL the table is:
//
//	CREATE TABLE access_tokens (
//	    id           uuid        PRIMARY KEY,
//	    digest       bytea       NOT NULL CHECK (octet_length(digest) = 32),
//	    owner        text        NOT NULL,
//	    description  text        NOT NULL DEFAULT '',
//	    target_kind  text        NOT NULL,  -- 'project' or 'repository'
//	    project      text        NOT NULL DEFAULT '',
//	    repository   text        NOT NULL DEFAULT '',  -- '' for a project token
//	    scopes       text        NOT NULL,  -- space-separated, in order
//	    created_at   timestamptz NOT NULL,
//	    expires_at   timestamptz,           -- NULL: never
//	    last_used_at timestamptz,           -- NULL: never used
//	    revoked_at   timestamptz,           -- NULL: not revoked
//	    revoked_by   text        NOT NULL DEFAULT '',
//	    replaced_by  uuid,                  -- NULL unless rotated
//	    CONSTRAINT access_tokens_target_kind CHECK (
//	        (target_kind = 'project' AND project <> '' AND repository = '') OR
//	        (target_kind = 'repository' AND repository <> ''))
//	);
//	CREATE UNIQUE INDEX access_tokens_digest ON access_tokens (digest);
//	CREATE INDEX access_tokens_target ON access_tokens (project, repository, created_at, id);
//	CREATE INDEX access_tokens_owner ON access_tokens (owner, created_at, id);
//	-- version 2
//	ALTER TABLE access_tokens ADD COLUMN revocation_reason text NOT NULL DEFAULT '';
//	CREATE INDEX access_tokens_created ON access_tokens (created_at, id);
//	CREATE INDEX access_tokens_description ON access_tokens (owner, project, repository, description) WHERE revoked_at IS NULL;
//
// The CHECK makes every row exactly one kind of target: a project token
// names a project and no repository, a repository token names a repository
// (and its project, which may be empty for a repository outside any
// project). The digest is the SHA-256 (or, with a pepper, HMAC-SHA256) of
// the secret; the secret itself is never stored. The unique index on it is
// what a verification looks up (on SQLite the table's key does, below);
// the target, owner and created indexes serve the lists by target (and
// DeleteTarget), by owner and of every token, already in the order they
// are returned (read backwards for lists newest first), so that a page is
// a range of an index. The partial index
// on the description serves the check, when a token is issued, that no
// other active token of its owner and target has its description; it
// holds the tokens not revoked only. Version 2 of the schema added
// revocation_reason (why a token was revoked; empty when nobody said) and
// these last two indexes.
//
// On SQLite the table is:
//
//	CREATE TABLE access_tokens (
//	    lookup       INTEGER PRIMARY KEY,  -- the rowid: digest's first 8 bytes
//	    id           BLOB    NOT NULL CHECK (length(id) = 16),
//	    digest       BLOB    NOT NULL CHECK (length(digest) = 32),
//	    owner        TEXT    NOT NULL,
//	    description  TEXT    NOT NULL DEFAULT '',
//	    target_kind  TEXT    NOT NULL,  -- 'project' or 'repository'
//	    project      TEXT    NOT NULL DEFAULT '',
//	    repository   TEXT    NOT NULL DEFAULT '',  -- '' for a project token
//	    scopes       TEXT    NOT NULL,  -- space-separated, in order
//	    created_at   INTEGER NOT NULL,  -- Unix microseconds, UTC
//	    expires_at   INTEGER,           -- NULL: never
//	    last_used_at INTEGER,           -- NULL: never used
//	    revoked_at   INTEGER,           -- NULL: not revoked
//	    revoked_by   TEXT    NOT NULL DEFAULT '',
//	    replaced_by  BLOB CHECK (replaced_by IS NULL OR length(replaced_by) = 16),
//	    CONSTRAINT access_tokens_target_kind CHECK (
//	        (target_kind = 'project' AND project <> '' AND repository = '') OR
//	        (target_kind = 'repository' AND repository <> '')),
//	    CONSTRAINT access_tokens_lookup CHECK (printf('%016X', lookup) = hex(substr(digest, 1, 8)))
//	);
//	CREATE UNIQUE INDEX access_tokens_id ON access_tokens (id);
//	CREATE INDEX access_tokens_target ON access_tokens (project, repository, created_at, id);
//	CREATE INDEX access_tokens_owner ON access_tokens (owner, created_at, id);
//	-- version 2
//	ALTER TABLE access_tokens ADD COLUMN revocation_reason TEXT NOT NULL DEFAULT '';
//	CREATE INDEX access_tokens_created ON access_tokens (created_at, id);
//	CREATE INDEX access_tokens_description ON access_tokens (owner, project, repository, description) WHERE revoked_at IS NULL;
//
// The columns are those of PostgreSQL with SQLite types: id and
// replaced_by are 16-byte BLOBs, digest a 32-byte BLOB, and every time an
// INTEGER number of microseconds since the Unix epoch, UTC. Integers
// compare and index as times do, round-trip exactly at the microsecond
// precision [accesstoken.Manager] keeps, and cost no parsing. A zero time
// is NULL in both dialects; times are returned in UTC.
//
// The one addition is lookup, the table's INTEGER PRIMARY KEY (SQLite's
// rowid): the first 8 bytes of the digest as a signed big-endian integer,
// which the CHECK ties to the digest; the ID, the primary key on
// PostgreSQL, has a unique index instead. SQLite stores a table as a
// B-tree by rowid, so a verification (WHERE lookup = ? AND digest = ?) is
// one descent of that B-tree, whose integer keys make it shallower than an
// index on the 32-byte digest, with no second descent from an index to the
// row. The whole digest is still compared, by the query and then by
// [accesstoken.Manager] in constant time. The primary key keeps the
// digests unique without an index of their own: no two rows share the
// first 8 bytes of their digests. Two different digests do share them with
// a probability of 2^-64, so with n tokens stored, issuing one more fails
// with a probability of about n/2^64 (5e-14 at a million tokens):
// [Store.Insert] refuses it as [accesstoken.ErrDuplicate],
// [accesstoken.Manager.Issue] reports a store failure, and issuing again
// draws a new secret.
//
// Scopes are stored as one text column, the text form of the token's
// [accesstoken.ScopeSet] ([accesstoken.ScopeSet.String]): the names
// separated by single spaces in order, so they round-trip in order, and
// read back with [accesstoken.ParseScopeSet]. Scope names cannot contain
// commas or white space ([accesstoken.ValidScopeName]).
//
// # Verification cost
//
// A verification is one SELECT by digest ([Store.ByDigest]), over the
// unique index on PostgreSQL and by the table's key on SQLite, so its cost
// grows only with the depth of one B-tree, logarithmically in the number of
// tokens.
// At most once per token and interval ([accesstoken.WithLastUsedInterval],
// 10 minutes by default) it is followed by one conditional UPDATE that
// records the last use:
//
//	UPDATE access_tokens SET last_used_at = $1
//	WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $1 - interval)
//
// The condition is checked by the database, so any number of forge
// instances write exactly once per token and interval between them. The
// write never holds a verification up: [accesstoken.Manager] notes the use
// in memory and writes it from a goroutine of its own about a second later
// ([accesstoken.LastUsedDelay], [accesstoken.Manager.Flush]). That writer
// waits for the database like any other write (a row lock on PostgreSQL,
// the write lock and the busy timeout on SQLite), so a write is never
// skipped because the database was busy. A failed write does not fail the
// verification.
//
// # Many forge instances
//
// This is how the library scales past one machine: run as many forge
// instances as needed, each with its own *sql.DB pool and Store, against one
// PostgreSQL database. Nothing is cached in a Store: a token issued through
// one instance verifies through every other at once, and a token revoked
// through one is refused by all of them on the very next verification.
// Insert is one statement, or, for an active token with a description,
// one transaction that checks the description is not taken (behind an
// advisory lock of the owner, target and description on PostgreSQL), so
// that two concurrent issues of one description, on any instances, cannot
// both succeed; Rotate is one transaction whose conditional UPDATE of the
// old token makes two concurrent rotations, on any instances, produce one
// new token. The test TestManyInstances shows it.
//
// # Lists
//
// [Store.List] is one SELECT ordered by (created_at, id), or by
// (created_at DESC, id DESC) for [accesstoken.NewestFirst], over the index
// of the owner, of the target or of every token; a page (After and Limit)
// is a range of that index, read forwards or backwards (no index of its
// own for the newest first: SQLite and PostgreSQL both scan a B-tree
// index in either direction), so it costs the same however many tokens
// the table holds, in either order. A page of a repository's tokens and
// the project tokens that cover it is the first Limit rows of two such
// ranges.
//
// # SQLite settings
//
// Use WAL (readers never wait for the writer), a busy timeout (a writer
// waits for another instead of failing at once), a page cache larger than
// the default 2 MiB per connection (so that the pages of the table that
// verifications touch stay in memory when there are many tokens) and,
// with modernc.org/sqlite, immediate transactions (a transaction takes the
// write lock when it begins, so it cannot fail to upgrade a read lock
// later):
//
//	file:tokens.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-32768)&_txlock=immediate
//
// (github.com/mattn/go-sqlite3 spells these _busy_timeout=5000&_journal_mode=WAL&_sync=NORMAL&_cache_size=-32768&_txlock=immediate.)
// The tests and benchmarks use exactly these settings.
// SQLite has one writer at a time; a pool of several connections still
// serves concurrent verifications in parallel. Each connection to
// ":memory:" has a database of its own: for an in-memory database call
// db.SetMaxOpenConns(1).
//
// # Errors
//
// A missing record is [accesstoken.ErrNotFound], a unique violation (of
// the ID or the digest, or on SQLite of the digest's first 8 bytes) is
// [accesstoken.ErrDuplicate], and a description that another active token
// of the owner and target has is [accesstoken.ErrDuplicateDescription];
// every other error,
// including a cancelled context, a closed *sql.DB and a lost connection, is
// a system error, which [accesstoken.Manager] reports as
// [accesstoken.ErrStoreFailure] and never treats as valid. Unique
// violations are recognised without importing a driver: an error with a
// method SQLState() string returning "23505" (pgx, lib/pq), an error with a
// method Code() int returning SQLite's extended code 2067 or 1555
// (modernc.org/sqlite), or a message containing "UNIQUE constraint failed"
// (github.com/mattn/go-sqlite3). Every method honours its context's
// cancellation; the error then matches the context's error. PostgreSQL
// cancels a running statement asynchronously, so a statement cancelled at
// the last moment may still have been applied; as every method is one
// statement or one transaction, it was then applied whole.
package sqlstore
