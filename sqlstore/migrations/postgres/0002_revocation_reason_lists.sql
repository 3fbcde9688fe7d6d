-- Version 2: why a token was revoked; an index for listing every token (an
-- operator's pages), in the order lists use; and an index for the check
-- that a description is unique among an owner's active tokens of a target,
-- over the tokens not revoked.
ALTER TABLE {{table}} ADD COLUMN revocation_reason text NOT NULL DEFAULT '';
CREATE INDEX {{index "created"}} ON {{table}} (created_at, id);
CREATE INDEX {{index "description"}} ON {{table}} (owner, project, repository, description) WHERE revoked_at IS NULL;
