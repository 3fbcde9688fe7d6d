-- Version 1: the tokens table and its indexes. Placeholders, filled in by
-- Store.Migrate from the configured table name: {{table}} the table as
-- written in statements (schema-qualified if configured), {{tablename}} the
-- table after ON in CREATE INDEX, {{index "x"}} and {{constraint "x"}} the
-- names derived from it. Statements end with a semicolon at the end of a
-- line.
-- SQLite: times are INTEGER Unix microseconds (UTC), NULL for the zero time.
CREATE TABLE {{table}} (
    id           BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
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
        (target_kind = 'repository' AND repository <> ''))
);
CREATE UNIQUE INDEX {{index "digest"}} ON {{tablename}} (digest);
CREATE INDEX {{index "target"}} ON {{tablename}} (project, repository, created_at, id);
CREATE INDEX {{index "owner"}} ON {{tablename}} (owner, created_at, id);
