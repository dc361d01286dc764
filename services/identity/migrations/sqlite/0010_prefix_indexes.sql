-- SQLite compares text in code point order (BINARY) already, so the
-- existing (tenant_id, user_name_ci) and (tenant_id, display_name_ci)
-- indexes serve the `sw` ranges (store/filter_sql.rs). This file keeps the
-- two directories numbered alike.
SELECT 1;
