-- Refunds of provider payments: begun (pending) before the provider is asked, completed
-- with the provider's id; the amount never exceeds what the refund policy allows.
CREATE TABLE refunds (
    id                  TEXT PRIMARY KEY,
    payment_id          TEXT NOT NULL REFERENCES payments (id),
    amount_minor        BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    -- pending, succeeded, failed
    status              TEXT NOT NULL,
    provider_refund_id  TEXT,
    reason              TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);
