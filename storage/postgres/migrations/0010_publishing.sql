-- newsbot schema on PostgreSQL, version 10 (the SQLite schema's version 11): the
-- breaking-news lane. A delivery's lane orders claims: the due deliveries of a higher lane are
-- claimed before any of a lower one, so a breaking article overtakes a fan-out under way.

ALTER TABLE deliveries ADD COLUMN lane integer NOT NULL DEFAULT 0;
CREATE INDEX deliveries_lane_due ON deliveries (platform, due_at, id)
    WHERE due_at IS NOT NULL AND lane > 0;

-- What a subscribed chat receives and how: its filter (newsbot.filters' text) and its
-- template (adapters/templates.py' text), both optional.
CREATE TABLE destination_settings (
    destination_id bigint PRIMARY KEY REFERENCES destinations (id),
    filter         text,
    template       text,
    updated_at     timestamptz NOT NULL
);
