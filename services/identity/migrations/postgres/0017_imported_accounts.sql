-- Accounts the product had before SCIM, imported by ImportAccounts: not
-- SCIM-managed, invisible to SCIM (no SCIM query reads this table) until a
-- SCIM create matching the tenant's adoption policy takes one over with the
-- same id. The row stays, with when and by which rule it was adopted.
CREATE TABLE imported_accounts (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    id             TEXT NOT NULL,
    user_name      TEXT NOT NULL,
    user_name_ci   TEXT NOT NULL,
    email_ci       TEXT,
    email_verified BOOLEAN NOT NULL,
    external_id    TEXT,
    imported       BIGINT NOT NULL,
    adopted        BIGINT,
    adopted_by     TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX imported_accounts_user_name ON imported_accounts (tenant_id, user_name_ci);
CREATE INDEX imported_accounts_external_id ON imported_accounts (tenant_id, external_id);
CREATE INDEX imported_accounts_email ON imported_accounts (tenant_id, email_ci);

ALTER TABLE imported_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE imported_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON imported_accounts
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));

-- Which imported account a SCIM create may take over: 'off' (none: a
-- matching userName is a 409 as for any taken userName), 'externalId',
-- 'email' (a verified email) or 'userName'.
ALTER TABLE tenants ADD COLUMN adoption_policy TEXT NOT NULL DEFAULT 'off';
