-- The change stream is ordered per tenant: each tenant has a head row, and
-- a change's position is its tenant's next position, taken from that row in
-- the writing transaction. Existing records are renumbered per tenant in
-- their old order; a follower's cursors restart at 0 and replay what is
-- retained (replaying is idempotent).

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
) WITHOUT ROWID;

INSERT INTO changes (tenant_id, seq, kind, resource_id, version, at, payload, trace_context)
SELECT tenant_id, row_number() OVER (PARTITION BY tenant_id ORDER BY seq),
       kind, resource_id, version, at, payload, trace_context
FROM changes_global;

INSERT INTO change_heads (tenant_id, seq)
SELECT tenant_id, max(seq) FROM changes GROUP BY tenant_id;

DROP TABLE changes_global;
