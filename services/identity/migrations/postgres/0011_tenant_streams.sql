-- The change stream is ordered per tenant: each tenant has a head row, and
-- a change's position is its tenant's next position, taken from that row in
-- the writing transaction (storekit's `stream` module says why). The
-- global sequence and the lock every writer took around it are gone.
-- Existing records are renumbered per tenant in their old order; a
-- follower's cursors restart at 0 and replay what is retained (replaying is
-- idempotent).

CREATE TABLE change_heads (
    tenant_id TEXT PRIMARY KEY,
    seq       BIGINT NOT NULL
);

ALTER TABLE changes RENAME TO changes_global;

CREATE TABLE changes (
    tenant_id     TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    version       BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    payload       TEXT NOT NULL,
    trace_context TEXT,
    PRIMARY KEY (tenant_id, seq)
);

INSERT INTO changes (tenant_id, seq, kind, resource_id, version, at, payload, trace_context)
SELECT tenant_id, row_number() OVER (PARTITION BY tenant_id ORDER BY seq),
       kind, resource_id, version, at, payload, trace_context
FROM changes_global;

INSERT INTO change_heads (tenant_id, seq)
SELECT tenant_id, max(seq) FROM changes GROUP BY tenant_id;

DROP TABLE changes_global;

ALTER TABLE changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON changes
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));

ALTER TABLE change_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE change_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON change_heads
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));
