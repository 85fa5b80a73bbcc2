-- newsbot schema, version 16: a per-destination delay (seconds) for newsrooms that stagger:
-- a chat's posts are not sent before the article's platform time plus its delay.
ALTER TABLE destination_settings ADD COLUMN delay REAL;
