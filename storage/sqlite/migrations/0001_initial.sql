-- newsbot schema, version 1. Times are ISO-8601 UTC text with microseconds (fixed width, so
-- they sort as text). Platform ids are text. Every query the store makes has an index here.

CREATE TABLE articles (
    id              INTEGER PRIMARY KEY,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    summary         TEXT NOT NULL DEFAULT '',
    url             TEXT,
    image_url       TEXT,
    author_name     TEXT NOT NULL,
    author_platform TEXT NOT NULL,
    author_user_id  TEXT NOT NULL,
    tags            TEXT NOT NULL DEFAULT '',   -- space-separated, validated by the service
    status          TEXT NOT NULL CHECK (status IN ('draft', 'published', 'retracted')),
    created_at      TEXT NOT NULL,
    published_at    TEXT,
    updated_at      TEXT NOT NULL,
    revision        INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX articles_latest ON articles (status, published_at, id);

CREATE TABLE destinations (
    id                 INTEGER PRIMARY KEY,
    platform           TEXT NOT NULL,
    chat_id            TEXT NOT NULL,
    thread_id          TEXT NOT NULL DEFAULT '',   -- '' when the destination is a whole chat
    title              TEXT NOT NULL DEFAULT '',
    kind               TEXT NOT NULL,
    active             INTEGER NOT NULL DEFAULT 1,
    tags               TEXT NOT NULL DEFAULT '',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    deactivated_reason TEXT,
    UNIQUE (platform, chat_id, thread_id)
);
CREATE INDEX destinations_active ON destinations (active, platform);

CREATE TABLE comments (
    id                INTEGER PRIMARY KEY,
    article_id        INTEGER NOT NULL REFERENCES articles (id),
    parent_id         INTEGER REFERENCES comments (id),
    root_id           INTEGER REFERENCES comments (id),  -- top-level ancestor; NULL for roots
    author_name       TEXT NOT NULL,
    author_platform   TEXT NOT NULL,
    author_user_id    TEXT NOT NULL,
    text              TEXT NOT NULL,
    source_platform   TEXT NOT NULL,
    source_chat_id    TEXT NOT NULL,
    source_message_id TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('visible', 'hidden', 'deleted')),
    created_at        TEXT NOT NULL,
    edited_at         TEXT,
    deleted_at        TEXT,
    UNIQUE (source_platform, source_chat_id, source_message_id)
);
CREATE INDEX comments_roots ON comments (article_id, created_at, id) WHERE parent_id IS NULL;
CREATE INDEX comments_replies ON comments (root_id, created_at, id) WHERE root_id IS NOT NULL;
CREATE INDEX comments_count ON comments (article_id, status);
CREATE INDEX comments_author ON comments (author_platform, author_user_id);

CREATE TABLE deliveries (
    id             INTEGER PRIMARY KEY,
    article_id     INTEGER NOT NULL REFERENCES articles (id),
    comment_id     INTEGER REFERENCES comments (id),   -- NULL for the article's own post
    destination_id INTEGER NOT NULL REFERENCES destinations (id),
    platform       TEXT NOT NULL,
    op             TEXT NOT NULL CHECK (op IN ('post', 'edit', 'delete')),
    state          TEXT NOT NULL
                   CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'dead')),
    generation     INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,
    due_at         TEXT,            -- set exactly while pending or failed
    last_error     TEXT,
    message_id     TEXT,
    thread_id      TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX deliveries_article_once
    ON deliveries (article_id, destination_id) WHERE comment_id IS NULL;
CREATE UNIQUE INDEX deliveries_comment_once
    ON deliveries (comment_id, destination_id) WHERE comment_id IS NOT NULL;
CREATE INDEX deliveries_due ON deliveries (platform, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_destination ON deliveries (destination_id, state);

CREATE TABLE message_links (
    platform       TEXT NOT NULL,
    chat_id        TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    article_id     INTEGER NOT NULL REFERENCES articles (id),
    comment_id     INTEGER REFERENCES comments (id),
    destination_id INTEGER REFERENCES destinations (id),
    PRIMARY KEY (platform, chat_id, message_id)
) WITHOUT ROWID;

CREATE TABLE bans (
    platform   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, user_id)
) WITHOUT ROWID;

CREATE TABLE state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
