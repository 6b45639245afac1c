-- Fulfilments queued an 'order.fulfilled' event in the outbox that nothing ever consumed
-- (partners' events have their own queue; messages to people are queued as such), so
-- the table grew by a row per order for ever. They are no longer written; those left
-- could never be delivered.
DELETE FROM outbox WHERE topic = 'order.fulfilled' AND delivered_at IS NULL;
