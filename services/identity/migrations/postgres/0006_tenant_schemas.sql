-- Tenants' own extension schemas (custom attributes under their own URN).
-- `definition` is the RFC 7643 §7 schema representation as identity
-- normalised it; values of its attributes live in the resources' JSON
-- documents under the URN, like the enterprise extension's.
CREATE TABLE tenant_schemas (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    -- URNs compare case-insensitively (RFC 7643 §2.1): one per folded URN.
    urn_ci        TEXT NOT NULL,
    urn           TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    definition    TEXT NOT NULL,
    created       BIGINT NOT NULL,
    updated       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, urn_ci)
);

ALTER TABLE tenant_schemas ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_schemas FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_schemas
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));
