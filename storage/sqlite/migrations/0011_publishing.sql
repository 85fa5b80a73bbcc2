-- newsbot schema, version 11: the breaking-news lane, and per-chat filters and templates. A delivery's lane orders claims: the
-- due deliveries of a higher lane are claimed before any of a lower one, so a breaking
-- article overtakes a fan-out under way. (Scheduled articles need no column: a delivery is
-- not claimable before its due time, and an article's published_at is its web time.)

ALTER TABLE deliveries ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_lane_due ON deliveries (platform, due_at)
    WHERE due_at IS NOT NULL AND lane > 0;

-- What a subscribed chat receives and how: its filter (newsbot.filters' text) and its
-- template (adapters/templates.py' text), both optional.
CREATE TABLE destination_settings (
    destination_id INTEGER PRIMARY KEY REFERENCES destinations (id),
    filter         TEXT,
    template       TEXT,
    updated_at     TEXT NOT NULL
);
