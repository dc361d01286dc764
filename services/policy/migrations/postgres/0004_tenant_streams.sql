-- Tenants are the unit of order: identity's change stream is numbered per
-- tenant, so the follower keeps a cursor per tenant, and the log of role
-- changes is numbered per tenant too (a head row per tenant, advanced in
-- the writing transaction). Existing role changes are renumbered per
-- tenant in their old order. The follower's cursors start at 0: it replays
-- identity's retained changes once (replaying is idempotent; a role
-- changes only on a difference).
--
-- The stream's work is shared by policy replicas through leases on hash
-- partitions of the tenants (`stream_leases`); live replicas announce
-- themselves in `policy_replicas` so each takes its fair share.

DROP TABLE stream_cursor;

CREATE TABLE stream_cursors (
    tenant_id TEXT PRIMARY KEY,
    seq       BIGINT NOT NULL
);

CREATE TABLE role_heads (
    tenant_id TEXT PRIMARY KEY,
    seq       BIGINT NOT NULL
);

ALTER TABLE role_changes RENAME TO role_changes_global;
ALTER INDEX role_changes_by_user RENAME TO role_changes_global_by_user;
ALTER INDEX role_changes_by_tenant RENAME TO role_changes_global_by_tenant;

CREATE TABLE role_changes (
    tenant_id TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    user_id   TEXT NOT NULL,
    from_role TEXT NOT NULL,
    to_role   TEXT NOT NULL,
    rule      TEXT NOT NULL,
    group_id  TEXT,
    priority  BIGINT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX role_changes_by_user ON role_changes (tenant_id, user_id, seq);

INSERT INTO role_changes (tenant_id, seq, user_id, from_role, to_role, rule, group_id, priority, at)
SELECT tenant_id, row_number() OVER (PARTITION BY tenant_id ORDER BY seq),
       user_id, from_role, to_role, rule, group_id, priority, at
FROM role_changes_global;

INSERT INTO role_heads (tenant_id, seq)
SELECT tenant_id, max(seq) FROM role_changes GROUP BY tenant_id;

DROP TABLE role_changes_global;

CREATE TABLE stream_leases (
    partition INTEGER PRIMARY KEY,
    holder    TEXT NOT NULL DEFAULT '',
    expires   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE policy_replicas (
    replica_id TEXT PRIMARY KEY,
    seen       BIGINT NOT NULL
);

-- Row-level security as for the other tenant tables (migration 0003). The
-- leases and replicas hold no tenant data.
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['stream_cursors', 'role_heads', 'role_changes'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (policy_tenant_visible(tenant_id)) WITH CHECK (policy_tenant_visible(tenant_id))',
            t);
    END LOOP;
END
$$;
