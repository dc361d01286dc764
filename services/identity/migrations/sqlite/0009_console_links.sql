-- One-time codes of console links: only the SHA-256 of a code is kept, with
-- its tenant and expiry; `used` is set by the one redeem that succeeds.
CREATE TABLE console_links (
    hash      TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    created   BIGINT NOT NULL,
    expires   BIGINT NOT NULL,
    used      BIGINT
);
CREATE INDEX console_links_by_tenant ON console_links (tenant_id, expires);
