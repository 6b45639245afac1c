-- Provider fees, learned from settlement reports: recorded once per payment and posted
-- to fees:<currency> (money the provider kept).
ALTER TABLE payments ADD COLUMN fee_minor BIGINT;
-- Cash at the counter: the clerk who took it.
ALTER TABLE payments ADD COLUMN recorded_by TEXT;
INSERT INTO accounts (id, currency, kind) VALUES
    ('fees:RUB', 'RUB', 'system'), ('fees:CNY', 'CNY', 'system'), ('fees:USD', 'USD', 'system'), ('fees:EUR', 'EUR', 'system');
