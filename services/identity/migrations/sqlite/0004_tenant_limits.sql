-- Per-tenant rate limits (per token, enforced by the gateway). NULL means
-- "the gateway's default".
ALTER TABLE tenants ADD COLUMN rate_per_second BIGINT;
ALTER TABLE tenants ADD COLUMN burst BIGINT;
