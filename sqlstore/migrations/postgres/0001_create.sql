-- Version 1: the tokens table and its indexes. Placeholders, filled in by
-- Store.Migrate from the configured table name: {{table}} the table as
-- written in statements (schema-qualified if configured), {{tablename}} the
-- table after ON in CREATE INDEX, {{index "x"}} and {{constraint "x"}} the
-- names derived from it. Statements end with a semicolon at the end of a
-- line.
CREATE TABLE {{table}} (
    id           uuid        PRIMARY KEY,
    digest       bytea       NOT NULL CHECK (octet_length(digest) = 32),
    owner        text        NOT NULL,
    description  text        NOT NULL DEFAULT '',
    target_kind  text        NOT NULL,
    project      text        NOT NULL DEFAULT '',
    repository   text        NOT NULL DEFAULT '',
    scopes       text        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    revoked_by   text        NOT NULL DEFAULT '',
    replaced_by  uuid,
    CONSTRAINT {{constraint "target_kind"}} CHECK (
        (target_kind = 'project' AND project <> '' AND repository = '') OR
        (target_kind = 'repository' AND repository <> ''))
);
CREATE UNIQUE INDEX {{index "digest"}} ON {{table}} (digest);
CREATE INDEX {{index "target"}} ON {{table}} (project, repository, created_at, id);
CREATE INDEX {{index "owner"}} ON {{table}} (owner, created_at, id);
