-- Wholesale price lists: what a partner pays for a plan from its deposit, per currency.
-- A plan not listed is sold to the partner at the retail price (promotions included).
CREATE TABLE partner_prices (
    partner_id TEXT NOT NULL REFERENCES partners (id),
    plan_id TEXT NOT NULL REFERENCES plans (id),
    currency TEXT NOT NULL,
    price_minor INTEGER NOT NULL CHECK (price_minor > 0),
    PRIMARY KEY (partner_id, plan_id, currency)
);
