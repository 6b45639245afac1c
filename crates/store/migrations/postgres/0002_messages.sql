-- Messages to people (e-mail, SMS) go through the outbox; password resets and line claims
-- by SMS code.
ALTER TABLE outbox ADD COLUMN last_error TEXT;
CREATE INDEX outbox_topic_pending ON outbox (topic, delivered_at, available_at);

CREATE TABLE password_resets (
    token_hash      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);
CREATE INDEX password_resets_user ON password_resets (user_id, created_at);

CREATE TABLE line_claims (
    id              TEXT PRIMARY KEY,
    line_id         TEXT NOT NULL REFERENCES lines (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    code_hash       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    used_at         BIGINT
);
CREATE INDEX line_claims_line ON line_claims (line_id, created_at);
