-- The policy service's own state. Timestamps are microseconds since the Unix
-- epoch (BIGINT) so that both backends compare them alike.
-- SQLite: booleans are INTEGER 0/1 (sqlx Any maps no SQLite BOOLEAN).

-- How far identity's change stream has been applied (one row).
CREATE TABLE stream_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO stream_cursor (id, seq) VALUES (1, 0);

-- The part of identity's state that the role function reads.
CREATE TABLE replica_users (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    active    INTEGER NOT NULL,
    deleted   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE replica_members (
    tenant_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id)
);
CREATE INDEX replica_members_by_user ON replica_members (tenant_id, user_id);

-- Roles a tenant defined. The built-in `Disabled` is not a row.
CREATE TABLE roles (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    created     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE assignments (
    tenant_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    role      TEXT NOT NULL,
    priority  BIGINT NOT NULL,
    updated   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, group_id)
);
CREATE INDEX assignments_by_role ON assignments (tenant_id, role);

CREATE TABLE default_roles (
    tenant_id TEXT PRIMARY KEY,
    role      TEXT NOT NULL
);

CREATE TABLE locks (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    role      TEXT NOT NULL,
    note      TEXT NOT NULL,
    locked_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX locks_by_role ON locks (tenant_id, role);

-- Every user's role as the role function last decided it.
CREATE TABLE effective_roles (
    tenant_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    role              TEXT NOT NULL,
    rule              TEXT NOT NULL,
    group_id          TEXT,
    priority          BIGINT NOT NULL,
    locked            INTEGER NOT NULL,
    upstream_disabled INTEGER NOT NULL,
    since             BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX effective_roles_by_role ON effective_roles (tenant_id, role, user_id);
CREATE INDEX effective_roles_by_rule ON effective_roles (tenant_id, rule);

-- Role changes in commit order (SQLite has one writer).
CREATE TABLE role_changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    from_role TEXT NOT NULL,
    to_role   TEXT NOT NULL,
    rule      TEXT NOT NULL,
    group_id  TEXT,
    priority  BIGINT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX role_changes_by_user ON role_changes (tenant_id, user_id, seq);
CREATE INDEX role_changes_by_tenant ON role_changes (tenant_id, seq);
