-- Third-party sellers of the partner API (/partner/v1): a key id, the signing secret
-- sealed with the server's key (AES-256-GCM; HMAC needs the secret itself, so it is
-- encrypted at rest rather than hashed), scopes, and the nonces of recent requests (a
-- nonce is good once within the timestamp window).
CREATE TABLE partners (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    key_id          TEXT NOT NULL UNIQUE,
    secret_sealed   TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    -- Requests per minute this partner may send (429 with Retry-After past it).
    rate_per_minute INTEGER NOT NULL DEFAULT 120,
    -- Where events (order.fulfilled…) are posted, signed the same way; none: no webhooks.
    webhook_url     TEXT,
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL
);
CREATE TABLE partner_nonces (
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    nonce           TEXT NOT NULL,
    seen_at         INTEGER NOT NULL,
    PRIMARY KEY (partner_id, nonce)
);
CREATE INDEX partner_nonces_seen ON partner_nonces (seen_at);
-- Events for a partner's webhook, queued in the transaction of what caused them and
-- delivered with retries and backoff; the partner reads this log.
CREATE TABLE partner_events (
    id              TEXT PRIMARY KEY,
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    type            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    available_at    INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    delivered_at    INTEGER,
    last_status     INTEGER,
    last_error      TEXT
);
CREATE INDEX partner_events_due ON partner_events (delivered_at, available_at);
CREATE INDEX partner_events_partner ON partner_events (partner_id, created_at);
