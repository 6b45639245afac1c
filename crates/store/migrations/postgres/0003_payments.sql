-- Payments through providers: one row per attempt to pay an order. The provider's id is
-- unique per provider, so a notification replayed or raced settles one row once.
CREATE TABLE payments (
    id                  TEXT PRIMARY KEY,
    order_id            TEXT NOT NULL REFERENCES orders (id),
    provider            TEXT NOT NULL,
    method              TEXT NOT NULL,
    provider_payment_id TEXT,
    amount_minor        BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    -- created, pending, succeeded, canceled, held
    status              TEXT NOT NULL,
    hold_reason         TEXT,
    confirmation_url    TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (provider, provider_payment_id)
);
CREATE INDEX payments_order ON payments (order_id);
CREATE INDEX payments_open ON payments (status, updated_at);
