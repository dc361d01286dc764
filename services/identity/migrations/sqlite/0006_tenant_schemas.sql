-- Tenants' own extension schemas (see postgres/0006_tenant_schemas.sql).
CREATE TABLE tenant_schemas (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    urn_ci        TEXT NOT NULL,
    urn           TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    definition    TEXT NOT NULL,
    created       BIGINT NOT NULL,
    updated       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, urn_ci)
);
