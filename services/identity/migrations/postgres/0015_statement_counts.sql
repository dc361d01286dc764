-- Creating and deleting users and groups updates `resource_counts` once
-- per statement instead of once per row. Row triggers update the tenant's
-- counter row once per row: within one transaction every update leaves a
-- version of that row that cannot be pruned before commit, and each update
-- walks them all, so a statement that inserts or deletes n rows (a bulk
-- load, a tenant's removal) costs O(n²). A statement trigger reads the
-- statement's rows as a transition table and adds one sum per tenant.
-- Tombstoning and restoring a user (`UPDATE OF deleted`) stay row
-- triggers: transition tables cannot watch a column list, and such
-- updates come one user at a time.

DROP TRIGGER users_count ON users;
DROP TRIGGER groups_count ON groups;

-- `changed_rows` is the statement's inserted (INSERT) or deleted (DELETE) rows.
CREATE FUNCTION scim_count_user_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO resource_counts (tenant_id, kind, live)
    SELECT r.tenant_id, 'users', CASE TG_OP WHEN 'INSERT' THEN count(*) ELSE -count(*) END
    FROM changed_rows r WHERE r.deleted IS NULL GROUP BY r.tenant_id
    ON CONFLICT (tenant_id, kind) DO UPDATE SET live = resource_counts.live + EXCLUDED.live;
    RETURN NULL;
END
$$;

CREATE FUNCTION scim_count_group_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO resource_counts (tenant_id, kind, live)
    SELECT r.tenant_id, 'groups', CASE TG_OP WHEN 'INSERT' THEN count(*) ELSE -count(*) END
    FROM changed_rows r GROUP BY r.tenant_id
    ON CONFLICT (tenant_id, kind) DO UPDATE SET live = resource_counts.live + EXCLUDED.live;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_count_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scim_count_user_rows();
CREATE TRIGGER users_count_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scim_count_user_rows();
CREATE TRIGGER users_count_tombstone AFTER UPDATE OF deleted ON users
    FOR EACH ROW EXECUTE FUNCTION scim_count_users();

CREATE TRIGGER groups_count_insert AFTER INSERT ON groups
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scim_count_group_rows();
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scim_count_group_rows();
