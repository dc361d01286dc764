-- Groups and their members. Members are rows, so adding or removing one
-- costs the same in any group size. The composite foreign keys keep every
-- membership inside one tenant.

CREATE TABLE groups (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    id              TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    display_name_ci TEXT NOT NULL,
    external_id     TEXT,
    version         BIGINT NOT NULL,
    created         BIGINT NOT NULL,
    last_modified   BIGINT NOT NULL,
    resource        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX groups_display_name ON groups (tenant_id, display_name_ci);
CREATE INDEX groups_external_id ON groups (tenant_id, external_id);
CREATE INDEX groups_created ON groups (tenant_id, created, id);

CREATE TABLE group_members (
    tenant_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX group_members_user ON group_members (tenant_id, user_id);
