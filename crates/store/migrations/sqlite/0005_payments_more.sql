-- Provider fees, learned from settlement reports: recorded once per payment and posted
-- to fees:<currency> (money the provider kept).
ALTER TABLE payments ADD COLUMN fee_minor BIGINT;
-- Cash at the counter: the clerk who took it.
ALTER TABLE payments ADD COLUMN recorded_by TEXT;
INSERT INTO accounts (id, currency, kind) VALUES
    ('fees:RUB', 'RUB', 'system'), ('fees:CNY', 'CNY', 'system'), ('fees:USD', 'USD', 'system'), ('fees:EUR', 'EUR', 'system');
-- Payment methods a buyer asked the provider to keep for later charges (auto-renew):
-- the provider's token and what to show ("Bank card *4444"), never card data.
CREATE TABLE saved_methods (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    provider    TEXT NOT NULL,
    token       TEXT NOT NULL,
    title       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    UNIQUE (provider, token)
);
CREATE INDEX saved_methods_user ON saved_methods (user_id);
