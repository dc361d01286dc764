-- The console's session epoch of each tenant: a session cookie carries the
-- epoch it was issued under and is refused once the tenant's epoch moved on
-- ("sign out everywhere", `scimctl console-logout`).
ALTER TABLE tenants ADD COLUMN console_epoch BIGINT NOT NULL DEFAULT 0;
