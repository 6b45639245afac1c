-- The plan as it was when an order was placed (JSON of simrenew_core::Plan): payment
-- later fulfils these terms and receipts print these names, whatever the back office
-- changes in the catalog meanwhile. NULL on orders placed before this column existed
-- (they read the plan by id).
ALTER TABLE order_items ADD COLUMN plan_terms TEXT;
