-- Who a message to a person is for (an e-mail address or an E.164 number), so support can
-- list a customer's notifications without reading their bodies (a body may hold a reset
-- link or a code).
ALTER TABLE outbox ADD COLUMN recipient TEXT;
UPDATE outbox SET recipient = json_extract(payload, '$.to') WHERE topic IN ('mail', 'sms');
CREATE INDEX outbox_recipient ON outbox (recipient, created_at) WHERE recipient IS NOT NULL;
