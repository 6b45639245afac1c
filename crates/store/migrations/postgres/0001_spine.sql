-- simrenew spine schema (PostgreSQL). Instants are Unix seconds (UTC); money is integer minor
-- units; flags are 0/1 integers. Keep in step with ../sqlite/0001_spine.sql.

CREATE TABLE plans (
    id              TEXT PRIMARY KEY,
    operator        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('base', 'addon')),
    validity_unit   TEXT NOT NULL,
    validity_count  BIGINT NOT NULL,
    data_bytes      BIGINT NOT NULL CHECK (data_bytes >= 0),
    unlimited       BIGINT NOT NULL DEFAULT 0,
    renewable       BIGINT NOT NULL DEFAULT 1,
    channels        TEXT NOT NULL,
    names           TEXT NOT NULL,
    prices          TEXT NOT NULL,
    active          BIGINT NOT NULL DEFAULT 1,
    sort_key        BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    locale          TEXT,
    created_at      BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    currency        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('line', 'system')),
    -- Kept only for line accounts (the sum of their postings, updated with them, never
    -- below zero); system accounts are summed from postings when asked.
    balance_minor   BIGINT NOT NULL DEFAULT 0,
    CHECK (kind = 'system' OR balance_minor >= 0)
);

CREATE TABLE lines (
    id              TEXT PRIMARY KEY,
    operator        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('physical', 'esim')),
    iccid           TEXT NOT NULL UNIQUE,
    imsi            TEXT,
    msisdn          TEXT NOT NULL UNIQUE,
    puk             TEXT,
    status          TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    owner_id        TEXT REFERENCES users (id),
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    currency        TEXT NOT NULL,
    auto_renew      BIGINT NOT NULL DEFAULT 0,
    usage_as_of     BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX lines_owner ON lines (owner_id);

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    line_id         TEXT NOT NULL REFERENCES lines (id),
    channel         TEXT NOT NULL,
    status          TEXT NOT NULL,
    buyer_id        TEXT REFERENCES users (id),
    currency        TEXT NOT NULL,
    total_minor     BIGINT NOT NULL,
    payment_method  TEXT,
    created_at      BIGINT NOT NULL,
    paid_at         BIGINT,
    fulfilled_at    BIGINT
);
CREATE INDEX orders_line ON orders (line_id, created_at);
CREATE INDEX orders_status ON orders (status);

CREATE TABLE order_items (
    order_id        TEXT NOT NULL REFERENCES orders (id),
    position        BIGINT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('renew', 'addon', 'topup')),
    plan_id         TEXT REFERENCES plans (id),
    start_mode      TEXT,
    price_minor     BIGINT NOT NULL,
    -- top-up: what the line's balance receives, and the rate used (decimal text)
    credit_minor    BIGINT,
    credit_currency TEXT,
    fx_rate         TEXT,
    -- filled at fulfilment: the period or bucket granted
    valid_from      BIGINT,
    valid_until     BIGINT,
    data_bytes      BIGINT,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE periods (
    id              TEXT PRIMARY KEY,
    line_id         TEXT NOT NULL REFERENCES lines (id),
    plan_id         TEXT NOT NULL REFERENCES plans (id),
    order_id        TEXT REFERENCES orders (id),
    start_at        BIGINT NOT NULL,
    end_at          BIGINT NOT NULL,
    CHECK (end_at > start_at)
);
CREATE INDEX periods_line ON periods (line_id, end_at);

CREATE TABLE buckets (
    id              TEXT PRIMARY KEY,
    line_id         TEXT NOT NULL REFERENCES lines (id),
    plan_id         TEXT REFERENCES plans (id),
    order_id        TEXT REFERENCES orders (id),
    item_position   BIGINT,
    kind            TEXT NOT NULL,
    initial_bytes   BIGINT NOT NULL,
    remaining_bytes BIGINT NOT NULL CHECK (remaining_bytes >= 0 AND remaining_bytes <= initial_bytes),
    unlimited       BIGINT NOT NULL DEFAULT 0,
    priority        BIGINT NOT NULL DEFAULT 0,
    valid_from      BIGINT NOT NULL,
    valid_until     BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    -- one bucket per order item, whatever the retries: fulfilment cannot double
    UNIQUE (order_id, item_position)
);
CREATE INDEX buckets_line ON buckets (line_id, valid_until);

CREATE TABLE usage_events (
    event_id        TEXT PRIMARY KEY,
    line_id         TEXT NOT NULL REFERENCES lines (id),
    bytes           BIGINT NOT NULL CHECK (bytes >= 0),
    overage_bytes   BIGINT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    received_at     BIGINT NOT NULL
);
CREATE INDEX usage_events_line ON usage_events (line_id, occurred_at);

CREATE TABLE usage_draws (
    event_id        TEXT NOT NULL REFERENCES usage_events (event_id),
    bucket_id       TEXT NOT NULL REFERENCES buckets (id),
    bytes           BIGINT NOT NULL,
    PRIMARY KEY (event_id, bucket_id)
);

CREATE TABLE transfers (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    order_id        TEXT REFERENCES orders (id),
    memo            TEXT,
    actor           TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX transfers_order ON transfers (order_id);

CREATE TABLE postings (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transfer_id     TEXT NOT NULL REFERENCES transfers (id),
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    amount_minor    BIGINT NOT NULL CHECK (amount_minor <> 0),
    currency        TEXT NOT NULL
);
CREATE INDEX postings_account ON postings (account_id);

CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status_code     BIGINT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    available_at    BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    delivered_at    BIGINT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, available_at);

CREATE TABLE audit_log (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    subject         TEXT,
    detail          TEXT
);

INSERT INTO accounts (id, currency, kind) VALUES
    ('world:RUB', 'RUB', 'system'), ('world:CNY', 'CNY', 'system'), ('world:USD', 'USD', 'system'), ('world:EUR', 'EUR', 'system'),
    ('revenue:RUB', 'RUB', 'system'), ('revenue:CNY', 'CNY', 'system'), ('revenue:USD', 'USD', 'system'), ('revenue:EUR', 'EUR', 'system'),
    ('fx:RUB', 'RUB', 'system'), ('fx:CNY', 'CNY', 'system'), ('fx:USD', 'USD', 'system'), ('fx:EUR', 'EUR', 'system'),
    ('adjustments:RUB', 'RUB', 'system'), ('adjustments:CNY', 'CNY', 'system'), ('adjustments:USD', 'USD', 'system'), ('adjustments:EUR', 'EUR', 'system');
