-- Promotions: promo codes (code set) and festival campaigns (code NULL) that price items
-- on every channel through one rule (simrenew_core::promotion::price_item). Redemptions
-- are counted when an order is placed, in its transaction: `redeemed` moves by a
-- conditional update, so a total limit holds with several servers.
CREATE TABLE promotions (
    id                  TEXT PRIMARY KEY,
    code                TEXT UNIQUE,
    names               TEXT NOT NULL,
    discount_kind       TEXT NOT NULL CHECK (discount_kind IN ('percent', 'fixed')),
    percent             BIGINT,
    amount_minor        BIGINT,
    amount_currency     TEXT,
    starts_at           BIGINT NOT NULL,
    ends_at             BIGINT NOT NULL,
    plans               TEXT NOT NULL DEFAULT '',
    channels            TEXT NOT NULL DEFAULT '',
    per_customer_limit  BIGINT,
    total_limit         BIGINT,
    redeemed            BIGINT NOT NULL DEFAULT 0,
    created_by          TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX promotions_window ON promotions (ends_at, starts_at);
CREATE TABLE promotion_redemptions (
    promotion_id    TEXT NOT NULL REFERENCES promotions (id),
    order_id        TEXT NOT NULL REFERENCES orders (id),
    customer        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (promotion_id, order_id)
);
CREATE INDEX promotion_redemptions_customer ON promotion_redemptions (promotion_id, customer);
-- What an item cost before its promotion, and which promotion priced it.
ALTER TABLE order_items ADD COLUMN list_minor BIGINT;
ALTER TABLE order_items ADD COLUMN promotion_id TEXT REFERENCES promotions (id);
