-- newsbot schema, version 3: following sites' RSS, Atom and JSON feeds.

CREATE TABLE feeds (
    id                 INTEGER PRIMARY KEY,
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

-- What was seen of each item, so that it is published once and edited at a pace.
CREATE TABLE feed_items (
    feed_id     INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    article_id  INTEGER REFERENCES articles (id),
    fingerprint TEXT NOT NULL,
    seen_at     TEXT NOT NULL,
    edited_at   TEXT,
    PRIMARY KEY (feed_id, key)
) WITHOUT ROWID;
