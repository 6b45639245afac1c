-- eSIM profiles: the inventory (imported from the SM-DP+'s batch, or ordered on demand)
-- and where each one is, as simrenew_core::esim::ProfileState codes.
CREATE TABLE esim_profiles (
    iccid        TEXT PRIMARY KEY,
    operator     TEXT NOT NULL,
    profile_type TEXT NOT NULL,
    state        TEXT NOT NULL,
    eid          TEXT,
    imei         TEXT,
    matching_id  TEXT,
    smdp_address TEXT,
    order_id     TEXT REFERENCES orders (id),
    reissues     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    state_at     BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX esim_profiles_free ON esim_profiles (operator, profile_type, state);
-- Every change of a profile's state, with what caused it.
CREATE TABLE esim_events (
    id          TEXT PRIMARY KEY,
    iccid       TEXT NOT NULL REFERENCES esim_profiles (iccid),
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    detail      TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX esim_events_iccid ON esim_events (iccid, at);
