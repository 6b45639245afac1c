-- Provider fees, learned from settlement reports: recorded once per payment and posted
-- to fees:<currency> (money the provider kept).
ALTER TABLE payments ADD COLUMN fee_minor BIGINT;
INSERT INTO accounts (id, currency, kind) VALUES
    ('fees:RUB', 'RUB', 'system'), ('fees:CNY', 'CNY', 'system'), ('fees:USD', 'USD', 'system'), ('fees:EUR', 'EUR', 'system');
