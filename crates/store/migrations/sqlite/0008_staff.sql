-- Staff of the console (/admin): roles admin, clerk, support (simrenew_core::staff), an
-- argon2id password, an optional TOTP second factor (RFC 6238; the last step used, so a
-- code is good once), sessions that end after idleness and at the end of a shift.
CREATE TABLE staff (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    totp_secret     TEXT,
    totp_last_step  INTEGER,
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL
);
CREATE TABLE staff_sessions (
    token_hash      TEXT PRIMARY KEY,
    staff_id        TEXT NOT NULL REFERENCES staff (id),
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
-- The audit log keeps what a change was before and after; nobody edits or removes an
-- entry, not even with SQL (the triggers refuse).
ALTER TABLE audit_log ADD COLUMN before_json TEXT;
ALTER TABLE audit_log ADD COLUMN after_json TEXT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
