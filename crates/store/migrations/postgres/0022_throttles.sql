-- Failed attempts per key (a hashed e-mail address, line or client address) in a fixed
-- window, shared by every server on the database: sign-in guessing, eSIM reservations and
-- partners' requests per minute are limited across servers, not per process.
CREATE TABLE throttles (
    scope TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (scope, key_hash)
);
