-- Whether a partner has sold to a line (it then sees the line as its owner does): one
-- index lookup by partner and line instead of a scan of the partner's orders.
DROP INDEX orders_partner;
CREATE INDEX orders_partner ON orders (partner_id, line_id) WHERE partner_id IS NOT NULL;
