-- Equipment holdings, the report's inputs and the alert outbox. Timestamps
-- are microseconds since the Unix epoch (BIGINT), as in 0001.

-- Who holds what, as the product's asset service reports it: one row per
-- asset currently checked out (a return deletes the row).
CREATE TABLE holdings (
    tenant_id   TEXT NOT NULL,
    asset_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    asset_name  TEXT NOT NULL,
    checked_out BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, asset_id)
);
CREATE INDEX holdings_by_user ON holdings (tenant_id, user_id);

-- Name and email as identity last reported them (kept for deleted users,
-- whom identity no longer shows).
CREATE TABLE user_profiles (
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    user_name    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    email        TEXT NOT NULL,
    fetched      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

-- Since when identity reports the user inactive or deleted (while it does).
CREATE TABLE upstream_disabled (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    since     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

-- A tenant's webhook. The secret is kept to sign deliveries; the API never
-- returns it.
CREATE TABLE alert_settings (
    tenant_id      TEXT PRIMARY KEY,
    webhook_url    TEXT NOT NULL,
    secret         TEXT NOT NULL,
    digest         TEXT NOT NULL,
    digest_hour    BIGINT NOT NULL,
    digest_weekday BIGINT NOT NULL,
    time_zone      TEXT NOT NULL,
    next_digest    BIGINT,
    updated        BIGINT NOT NULL
);

-- The outbox: events written in the transaction of the change that causes
-- them, delivered at least once by the delivery worker.
CREATE TABLE alert_outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT NOT NULL,
    event_id     TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    body         TEXT NOT NULL,
    created      BIGINT NOT NULL,
    attempts     BIGINT NOT NULL,
    next_attempt BIGINT NOT NULL,
    state        TEXT NOT NULL
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt);
CREATE INDEX alert_outbox_by_tenant ON alert_outbox (tenant_id, state);

-- Every delivery attempt, for the tenant's delivery log.
CREATE TABLE alert_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    outcome     TEXT NOT NULL,
    http_status BIGINT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX alert_deliveries_by_tenant ON alert_deliveries (tenant_id, id);
