-- `userName sw …` and `displayName sw …` (the console's search, an IdP's
-- prefix filter) become a range over the column in code point order,
-- `col COLLATE "C" >= $p AND col COLLATE "C" < $next` (store/filter_sql.rs).
-- The default collation's indexes cannot serve that range; these can.
CREATE INDEX users_user_name_prefix ON users (tenant_id, (user_name_ci COLLATE "C")) WHERE deleted IS NULL;
CREATE INDEX users_display_name_prefix ON users (tenant_id, (display_name_ci COLLATE "C")) WHERE deleted IS NULL;
CREATE INDEX groups_display_name_prefix ON groups (tenant_id, (display_name_ci COLLATE "C"));
