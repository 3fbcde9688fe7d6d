-- Version 1: the tokens table and its indexes. Placeholders, filled in by
-- Store.Migrate from the configured table name: {{table}} the table as
-- written in statements (schema-qualified if configured), {{tablename}} the
-- table after ON in CREATE INDEX, {{index "x"}} and {{constraint "x"}} the
-- names derived from it. Statements end with a semicolon at the end of a
-- line.
-- SQLite: times are INTEGER Unix microseconds (UTC), NULL for the zero time.
-- lookup, the rowid, is the digest's first 8 bytes as a signed big-endian
-- integer: a verification is one descent of the table's B-tree, and the
-- primary key on it (with the CHECK tying it to the digest) keeps digests
-- unique without an index of their own.
CREATE TABLE {{table}} (
    lookup       INTEGER PRIMARY KEY,
    id           BLOB    NOT NULL CHECK (length(id) = 16),
    digest       BLOB    NOT NULL CHECK (length(digest) = 32),
    owner        TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    target_kind  TEXT    NOT NULL,
    project      TEXT    NOT NULL DEFAULT '',
    repository   TEXT    NOT NULL DEFAULT '',
    scopes       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    revoked_by   TEXT    NOT NULL DEFAULT '',
    replaced_by  BLOB CHECK (replaced_by IS NULL OR length(replaced_by) = 16),
    CONSTRAINT {{constraint "target_kind"}} CHECK (
        (target_kind = 'project' AND project <> '' AND repository = '') OR
        (target_kind = 'repository' AND repository <> '')),
    CONSTRAINT {{constraint "lookup"}} CHECK (printf('%016X', lookup) = hex(substr(digest, 1, 8)))
);
CREATE UNIQUE INDEX {{index "id"}} ON {{tablename}} (id);
CREATE INDEX {{index "target"}} ON {{tablename}} (project, repository, created_at, id);
CREATE INDEX {{index "owner"}} ON {{tablename}} (owner, created_at, id);
