-- The IdP a tenant is provisioned by ('entra', 'okta', 'generic'): which
-- documented deviations from RFC 7643/7644 its requests get. Read with
-- every authentication.
ALTER TABLE tenants ADD COLUMN idp_profile TEXT NOT NULL DEFAULT 'entra';
-- The profile in force when a request was answered ('' before profiles).
ALTER TABLE request_log ADD COLUMN idp_profile TEXT NOT NULL DEFAULT '';
