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
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL
);
CREATE TABLE partner_nonces (
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    nonce           TEXT NOT NULL,
    seen_at         BIGINT NOT NULL,
    PRIMARY KEY (partner_id, nonce)
);
CREATE INDEX partner_nonces_seen ON partner_nonces (seen_at);
