-- Row-level security is Postgres's (postgres/0005_row_level_security.sql);
-- SQLite, the one-process embedded default, has no roles. This file keeps
-- the two directories numbered alike.
SELECT 1;
