-- Live users and groups per tenant, kept by triggers in the transaction
-- that creates, deletes or restores them, so that the totalResults of an
-- unfiltered list reads one row instead of counting the tenant.
-- (A tenant's writes already serialise on its change_heads row; this row
-- is written by the same transactions and adds no wait between tenants.)

-- The backfill below reads every tenant's rows.
SELECT set_config('app.all_tenants', 'on', true);

CREATE TABLE resource_counts (
    tenant_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    live      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

INSERT INTO resource_counts (tenant_id, kind, live)
SELECT tenant_id, 'users', count(*) FROM users WHERE deleted IS NULL GROUP BY tenant_id;
INSERT INTO resource_counts (tenant_id, kind, live)
SELECT tenant_id, 'groups', count(*) FROM groups GROUP BY tenant_id;

CREATE FUNCTION scim_count_add(t TEXT, k TEXT, d BIGINT) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO resource_counts (tenant_id, kind, live) VALUES (t, k, d)
    ON CONFLICT (tenant_id, kind) DO UPDATE SET live = resource_counts.live + EXCLUDED.live
$$;

-- A user is live while `deleted` is NULL: created, tombstoned, restored.
CREATE FUNCTION scim_count_users() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.deleted IS NULL THEN PERFORM scim_count_add(NEW.tenant_id, 'users', 1); END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.deleted IS NULL THEN PERFORM scim_count_add(OLD.tenant_id, 'users', -1); END IF;
    ELSIF (OLD.deleted IS NULL) AND (NEW.deleted IS NOT NULL) THEN
        PERFORM scim_count_add(NEW.tenant_id, 'users', -1);
    ELSIF (OLD.deleted IS NOT NULL) AND (NEW.deleted IS NULL) THEN
        PERFORM scim_count_add(NEW.tenant_id, 'users', 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_count AFTER INSERT OR DELETE OR UPDATE OF deleted ON users
    FOR EACH ROW EXECUTE FUNCTION scim_count_users();

CREATE FUNCTION scim_count_groups() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM scim_count_add(NEW.tenant_id, 'groups', 1);
    ELSE
        PERFORM scim_count_add(OLD.tenant_id, 'groups', -1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER groups_count AFTER INSERT OR DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION scim_count_groups();

ALTER TABLE resource_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE resource_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON resource_counts
    USING (scim_tenant_visible(tenant_id)) WITH CHECK (scim_tenant_visible(tenant_id));
