-- Tenants, tokens, users and the change outbox. Timestamps are microseconds
-- since the Unix epoch (BIGINT) so that both backends compare them alike.

CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    created      BIGINT NOT NULL
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    hash        TEXT NOT NULL UNIQUE,
    hint        TEXT NOT NULL,
    description TEXT NOT NULL,
    created     BIGINT NOT NULL,
    last_used   BIGINT,
    revoked     BIGINT,
    expires     BIGINT
);
CREATE INDEX tokens_by_tenant ON tokens (tenant_id, created);

CREATE TABLE users (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    id              TEXT NOT NULL,
    user_name       TEXT NOT NULL,
    -- userName is caseExact=false (RFC 7643 §4.1.1): matched and unique folded.
    user_name_ci    TEXT NOT NULL,
    external_id     TEXT,
    display_name    TEXT,
    display_name_ci TEXT,
    active          BOOLEAN NOT NULL,
    version         BIGINT NOT NULL,
    created         BIGINT NOT NULL,
    last_modified   BIGINT NOT NULL,
    -- Set when SCIM deleted the user: the row stays as a tombstone.
    deleted         BIGINT,
    resource        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- Tombstones do not hold their userName: a later POST may reuse it.
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, user_name_ci) WHERE deleted IS NULL;
CREATE INDEX users_external_id ON users (tenant_id, external_id);
CREATE INDEX users_display_name ON users (tenant_id, display_name_ci) WHERE deleted IS NULL;
CREATE INDEX users_active ON users (tenant_id, active) WHERE deleted IS NULL;
CREATE INDEX users_last_modified ON users (tenant_id, last_modified);
CREATE INDEX users_created ON users (tenant_id, created, id);

CREATE TABLE user_emails (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    value      TEXT NOT NULL,
    value_ci   TEXT NOT NULL,
    type       TEXT,
    is_primary BOOLEAN NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_emails_value ON user_emails (tenant_id, value_ci);
CREATE INDEX user_emails_user ON user_emails (tenant_id, user_id);

-- Transactional outbox: one row per committed change, in commit order.
CREATE TABLE changes (
    seq         BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    version     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX changes_by_tenant ON changes (tenant_id, seq);
