-- Physical SIM cards on the shop's shelf (their lines exist, unissued) and the people
-- they were handed to, as the law requires it recorded for a foreign customer: the
-- identity document (type, issuing country, number) and the phone's IMEI; a person
-- holds at most the legal maximum of numbers (configurable).
CREATE TABLE holders (
    id              TEXT PRIMARY KEY,
    doc_type        TEXT NOT NULL,
    doc_country     TEXT NOT NULL,
    doc_number      TEXT NOT NULL,
    full_name       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (doc_type, doc_country, doc_number)
);
CREATE TABLE sim_stock (
    iccid           TEXT PRIMARY KEY REFERENCES lines (iccid),
    operator        TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('available', 'issued')),
    holder_id       TEXT REFERENCES holders (id),
    imei            TEXT,
    issued_by       TEXT,
    issued_at       BIGINT
);
CREATE INDEX sim_stock_free ON sim_stock (operator, state);
CREATE INDEX sim_stock_holder ON sim_stock (holder_id);
