-- A clerk's till for a shift: opened with a float, the cash taken meanwhile (cash
-- payments the clerk recorded), closed by counting what is in it; the difference is
-- kept. One open till per clerk.
CREATE TABLE tills (
    id              TEXT PRIMARY KEY,
    clerk           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    float_minor     BIGINT NOT NULL,
    opened_at       BIGINT NOT NULL,
    closed_at       BIGINT,
    expected_minor  BIGINT,
    counted_minor   BIGINT,
    note            TEXT
);
CREATE UNIQUE INDEX tills_one_open ON tills (clerk) WHERE closed_at IS NULL;
