-- Live users and groups per tenant, kept by triggers in the transaction
-- that creates, deletes or restores them, so that the totalResults of an
-- unfiltered list reads one row instead of counting the tenant.

CREATE TABLE resource_counts (
    tenant_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    live      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind)
) WITHOUT ROWID;

INSERT INTO resource_counts (tenant_id, kind, live)
SELECT tenant_id, 'users', count(*) FROM users WHERE deleted IS NULL GROUP BY tenant_id;
INSERT INTO resource_counts (tenant_id, kind, live)
SELECT tenant_id, 'groups', count(*) FROM groups GROUP BY tenant_id;

-- A user is live while `deleted` is NULL: created, tombstoned, restored.
CREATE TRIGGER users_count_insert AFTER INSERT ON users WHEN NEW.deleted IS NULL
BEGIN
    INSERT OR IGNORE INTO resource_counts (tenant_id, kind, live) VALUES (NEW.tenant_id, 'users', 0);
    UPDATE resource_counts SET live = live + 1 WHERE tenant_id = NEW.tenant_id AND kind = 'users';
END;

CREATE TRIGGER users_count_delete AFTER DELETE ON users WHEN OLD.deleted IS NULL
BEGIN
    UPDATE resource_counts SET live = live - 1 WHERE tenant_id = OLD.tenant_id AND kind = 'users';
END;

CREATE TRIGGER users_count_tombstone AFTER UPDATE OF deleted ON users
    WHEN OLD.deleted IS NULL AND NEW.deleted IS NOT NULL
BEGIN
    UPDATE resource_counts SET live = live - 1 WHERE tenant_id = NEW.tenant_id AND kind = 'users';
END;

CREATE TRIGGER users_count_restore AFTER UPDATE OF deleted ON users
    WHEN OLD.deleted IS NOT NULL AND NEW.deleted IS NULL
BEGIN
    INSERT OR IGNORE INTO resource_counts (tenant_id, kind, live) VALUES (NEW.tenant_id, 'users', 0);
    UPDATE resource_counts SET live = live + 1 WHERE tenant_id = NEW.tenant_id AND kind = 'users';
END;

CREATE TRIGGER groups_count_insert AFTER INSERT ON groups
BEGIN
    INSERT OR IGNORE INTO resource_counts (tenant_id, kind, live) VALUES (NEW.tenant_id, 'groups', 0);
    UPDATE resource_counts SET live = live + 1 WHERE tenant_id = NEW.tenant_id AND kind = 'groups';
END;

CREATE TRIGGER groups_count_delete AFTER DELETE ON groups
BEGIN
    UPDATE resource_counts SET live = live - 1 WHERE tenant_id = OLD.tenant_id AND kind = 'groups';
END;
