-- newsbot schema on PostgreSQL, version 5 (the SQLite schema's version 6): an edited
-- comment's copies wait for the moderation hold and the intake pace, also when the edit met a
-- copy being sent (which is sent again once it ends).

ALTER TABLE deliveries ADD COLUMN not_before timestamptz;   -- an edit is not sent earlier
