-- The provisioning log (see postgres/0007_request_log.sql).
CREATE TABLE request_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
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
    resource_name_ci TEXT NOT NULL,
    summary          TEXT NOT NULL,
    client           TEXT NOT NULL,
    token_id         TEXT NOT NULL,
    -- 1 for a connection probe (Entra's Test Connection), else 0.
    test_connection  INTEGER NOT NULL
);
CREATE INDEX request_log_newest ON request_log (tenant_id, id);
CREATE INDEX request_log_at ON request_log (tenant_id, at);
CREATE INDEX request_log_resource ON request_log (tenant_id, resource_id, id);
CREATE INDEX request_log_resource_name ON request_log (tenant_id, resource_name_ci, id);
