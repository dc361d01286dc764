-- The restore probe of every user create (store/users.rs,
-- `restore_probe_sql`) looks up a tenant's tombstones and inactive
-- accounts by externalId, newest first. One index serves both its filter
-- and its order; it replaces (tenant_id, external_id), which it extends,
-- so writes keep the same number of indexes.
CREATE INDEX users_external_id_modified ON users (tenant_id, external_id, last_modified);
DROP INDEX users_external_id;
