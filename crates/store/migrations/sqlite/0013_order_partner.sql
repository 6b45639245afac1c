-- The partner whose deposit paid an order: its lines' data and plan events go to that
-- partner's webhook.
ALTER TABLE orders ADD COLUMN partner_id TEXT REFERENCES partners (id);
CREATE INDEX orders_partner ON orders (partner_id) WHERE partner_id IS NOT NULL;

-- When the `plan.ending` event for a period was queued (once per period).
ALTER TABLE periods ADD COLUMN ending_noticed_at INTEGER;
CREATE INDEX periods_ending ON periods (end_at) WHERE ending_noticed_at IS NULL AND order_id IS NOT NULL;
