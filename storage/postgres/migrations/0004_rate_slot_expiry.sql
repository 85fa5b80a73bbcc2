-- newsbot schema on PostgreSQL, version 3: each rate slot says when it expires, so expired
-- slots of every key can be pruned (the SQLite schema's version 4). Slots taken before this
-- version expire an hour after they were taken: no window in use is longer.

ALTER TABLE rate_slots ADD COLUMN expires_at timestamptz;
UPDATE rate_slots SET expires_at = taken_at + interval '1 hour';
ALTER TABLE rate_slots ALTER COLUMN expires_at SET NOT NULL;
CREATE INDEX rate_slots_expires ON rate_slots (expires_at);
