-- Row-level security: a second wall behind the `tenant_id = $1` that every
-- tenant query carries. The store opens each transaction with
-- set_config('app.tenant_id', <tenant>, true), or, on the few operator
-- paths that cross tenants by design (ListTenants, AuthenticateToken by
-- hash, Watch of every tenant, the stream position), with
-- set_config('app.all_tenants', 'on', true) (see store/scope.rs).
-- FORCE makes the policies bind the tables' owner too. Superusers and roles
-- with BYPASSRLS are never bound: production runs the service as a plain
-- role (README, "Row-level security").

CREATE FUNCTION scim_tenant_visible(row_tenant TEXT) RETURNS BOOLEAN
    LANGUAGE sql STABLE
    AS $$
        SELECT row_tenant = current_setting('app.tenant_id', true)
            OR current_setting('app.all_tenants', true) = 'on'
    $$;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (scim_tenant_visible(id)) WITH CHECK (scim_tenant_visible(id));

ALTER TABLE tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tokens
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));

ALTER TABLE user_emails ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_emails FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_emails
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));

ALTER TABLE groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE groups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON groups
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));

ALTER TABLE group_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE group_members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON group_members
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));

ALTER TABLE changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON changes
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));
