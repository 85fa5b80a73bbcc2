-- newsbot schema, version 9: reactions. Per chat message (or web target), each reader's
-- reactions and the anonymous counts a platform gives without readers, with the article and
-- comment they count for (resolved when stored, through message_links).

CREATE TABLE reactions (
    platform   TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    reader     TEXT NOT NULL,
    emoji      TEXT NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles (id),
    comment_id INTEGER REFERENCES comments (id),
    reacted_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id, message_id, reader, emoji)
) WITHOUT ROWID;

CREATE INDEX reactions_article ON reactions (article_id);
CREATE INDEX reactions_reader ON reactions (article_id, platform, reader);

CREATE TABLE reaction_counts (
    platform   TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    emoji      TEXT NOT NULL,
    count      INTEGER NOT NULL CHECK (count > 0),
    article_id INTEGER NOT NULL REFERENCES articles (id),
    comment_id INTEGER REFERENCES comments (id),
    counted_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id, message_id, emoji)
) WITHOUT ROWID;

CREATE INDEX reaction_counts_article ON reaction_counts (article_id);

-- Article figures: when each delivery's message first existed (set once, by complete_delivery)
-- and the web page's views by where readers came from (a chat's destination id, or '').

ALTER TABLE deliveries ADD COLUMN sent_at TEXT;

CREATE TABLE article_views (
    article_id INTEGER NOT NULL REFERENCES articles (id),
    source     TEXT NOT NULL,
    views      INTEGER NOT NULL,
    PRIMARY KEY (article_id, source)
) WITHOUT ROWID;
