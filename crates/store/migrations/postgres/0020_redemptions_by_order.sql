-- An order cancelled unpaid gives back the promotions it used (Store::cancel_unpaid_orders):
-- its redemptions are found by order.
CREATE INDEX promotion_redemptions_order ON promotion_redemptions (order_id);
