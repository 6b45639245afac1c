-- The counter's one box finds a customer by name too: the holder's name folded to lower
-- case with its spaces collapsed, as the store writes it (older rows: the database's own
-- lower()).
ALTER TABLE holders ADD COLUMN name_key TEXT;
UPDATE holders SET name_key = lower(full_name);
