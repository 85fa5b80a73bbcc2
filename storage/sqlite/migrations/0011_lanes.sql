-- newsbot schema, version 11: the breaking-news lane. A delivery's lane orders claims: the
-- due deliveries of a higher lane are claimed before any of a lower one, so a breaking
-- article overtakes a fan-out under way. (Scheduled articles need no column: a delivery is
-- not claimable before its due time, and an article's published_at is its web time.)

ALTER TABLE deliveries ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_lane_due ON deliveries (platform, due_at)
    WHERE due_at IS NOT NULL AND lane > 0;
