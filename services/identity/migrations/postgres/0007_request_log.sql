-- The provisioning log: one row per SCIM request the gateway answered for
-- an authenticated tenant (never a body, a header or a credential). Written
-- in batches by RecordRequests, read newest first per tenant, pruned by age
-- and by a per-tenant cap (README, "Provisioning log"). Times are
-- microseconds since the Unix epoch, like every other table.
CREATE TABLE request_log (
    id               BIGSERIAL PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    at               BIGINT NOT NULL,
    request_id       TEXT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    status           BIGINT NOT NULL,
    scim_type        TEXT NOT NULL,
    latency_ms       BIGINT NOT NULL,
    resource_type    TEXT NOT NULL,
    resource_id      TEXT NOT NULL,
    resource_name    TEXT NOT NULL,
    -- resource_name folded: userName is caseExact=false (RFC 7643 §4.1.1).
    resource_name_ci TEXT NOT NULL,
    summary          TEXT NOT NULL,
    client           TEXT NOT NULL,
    token_id         TEXT NOT NULL,
    -- 1 for a connection probe (Entra's Test Connection), else 0.
    test_connection  BIGINT NOT NULL
);
-- Newest first per tenant (listing, the per-tenant cap).
CREATE INDEX request_log_newest ON request_log (tenant_id, id);
-- Time windows per tenant (health, age pruning).
CREATE INDEX request_log_at ON request_log (tenant_id, at);
-- "Why did this user not arrive?": by id or by userName/displayName.
CREATE INDEX request_log_resource ON request_log (tenant_id, resource_id, id);
CREATE INDEX request_log_resource_name ON request_log (tenant_id, resource_name_ci, id);

ALTER TABLE request_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE request_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON request_log
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));
