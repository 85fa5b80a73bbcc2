-- newsbot schema, version 4: a feed's id is never given again, not even once the feed is
-- removed. Its request keys (feed:ID:ITEM) and its articles' author (feed:ID) outlive it: a
-- new feed under a reused id took the removed feed's articles over. AUTOINCREMENT never
-- reuses a rowid; SQLite cannot add it to a table, so feeds is rebuilt, and feed_items with
-- it (dropping feeds while feed_items refers to it would delete every item, ON DELETE CASCADE).

CREATE TABLE feed_items_kept AS SELECT * FROM feed_items;
DROP TABLE feed_items;

CREATE TABLE feeds_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    url                TEXT NOT NULL UNIQUE,
    title              TEXT NOT NULL DEFAULT '',
    tags               TEXT NOT NULL DEFAULT '',   -- space-separated, validated by the core
    interval_s         REAL NOT NULL,
    backfill           INTEGER NOT NULL DEFAULT 0,
    active             INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL,
    next_poll_at       TEXT NOT NULL,
    last_poll_at       TEXT,
    last_success_at    TEXT,                       -- NULL until the first poll recorded items
    last_status        INTEGER,
    etag               TEXT,
    last_modified      TEXT,
    errors             INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    deactivated_reason TEXT
);
INSERT INTO feeds_new (
    id, url, title, tags, interval_s, backfill, active, created_at, next_poll_at,
    last_poll_at, last_success_at, last_status, etag, last_modified, errors, last_error,
    deactivated_reason
)
SELECT
    id, url, title, tags, interval_s, backfill, active, created_at, next_poll_at,
    last_poll_at, last_success_at, last_status, etag, last_modified, errors, last_error,
    deactivated_reason
FROM feeds;
DROP TABLE feeds;
ALTER TABLE feeds_new RENAME TO feeds;

CREATE TABLE feed_items (
    feed_id     INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    article_id  INTEGER REFERENCES articles (id),
    fingerprint TEXT NOT NULL,
    seen_at     TEXT NOT NULL,
    edited_at   TEXT,
    PRIMARY KEY (feed_id, key)
) WITHOUT ROWID;
INSERT INTO feed_items (feed_id, key, article_id, fingerprint, seen_at, edited_at)
SELECT feed_id, key, article_id, fingerprint, seen_at, edited_at FROM feed_items_kept;
DROP TABLE feed_items_kept;

-- The next id comes after every id ever given: the feeds here, and removed feeds whose ids
-- only their request keys and their articles' author still name.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'feeds', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'feeds');
UPDATE sqlite_sequence SET seq = max(
    seq,
    coalesce((SELECT max(id) FROM feeds), 0),
    coalesce((
        SELECT max(CAST(substr(key, 6, instr(substr(key, 6), ':') - 1) AS INTEGER))
        FROM requests WHERE key GLOB 'feed:[0-9]*:*'
    ), 0),
    coalesce((
        SELECT max(CAST(substr(author_user_id, 6) AS INTEGER))
        FROM articles WHERE author_platform = 'cli' AND author_user_id GLOB 'feed:[0-9]*'
    ), 0)
) WHERE name = 'feeds';
