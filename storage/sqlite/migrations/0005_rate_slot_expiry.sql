-- newsbot schema, version 4: each rate slot says when it expires, so expired slots of every
-- key can be pruned (before, a key's slots were deleted only when that key was used again,
-- and one-off keys such as a visitor's address stayed for ever).
-- Slots taken before this version expire an hour after they were taken: no window in use is
-- longer.

ALTER TABLE rate_slots ADD COLUMN expires_at TEXT NOT NULL DEFAULT '';
UPDATE rate_slots SET expires_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', taken_at, '+3600 seconds');
CREATE INDEX rate_slots_expires ON rate_slots (expires_at);
