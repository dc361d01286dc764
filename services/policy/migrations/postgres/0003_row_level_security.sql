-- Row-level security: a second wall behind the `tenant_id = $1` that every
-- tenant query carries. The store opens each transaction with
-- set_config('app.tenant_id', <tenant>, true), or, on the few paths that
-- cross tenants by design (following identity's change stream, the stream of
-- role changes of every tenant, alert delivery and the digest schedule), with
-- set_config('app.all_tenants', 'on', true) (see store/scope.rs).
-- FORCE makes the policies bind the tables' owner too. Superusers and roles
-- with BYPASSRLS are never bound: production runs the service as a plain
-- role (README, "Row-level security"). `stream_cursor` holds no tenant data.

CREATE FUNCTION policy_tenant_visible(row_tenant TEXT) RETURNS BOOLEAN
    LANGUAGE sql STABLE
    AS $$
        SELECT row_tenant = current_setting('app.tenant_id', true)
            OR current_setting('app.all_tenants', true) = 'on'
    $$;

DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'replica_users', 'replica_members', 'roles', 'assignments', 'default_roles',
        'locks', 'effective_roles', 'role_changes', 'holdings', 'user_profiles',
        'upstream_disabled', 'alert_settings', 'alert_outbox', 'alert_deliveries'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (policy_tenant_visible(tenant_id)) WITH CHECK (policy_tenant_visible(tenant_id))',
            t);
    END LOOP;
END
$$;
