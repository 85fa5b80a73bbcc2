-- newsbot schema on PostgreSQL, version 8 (the SQLite schema's version 9): reactions. Per
-- chat message (or web target), each reader's reactions and the anonymous counts a platform
-- gives without readers, with the article and comment they count for (resolved when stored,
-- through message_links).

CREATE TABLE reactions (
    platform   text NOT NULL,
    chat_id    text NOT NULL,
    message_id text NOT NULL,
    reader     text NOT NULL,
    emoji      text NOT NULL,
    article_id bigint NOT NULL REFERENCES articles (id),
    comment_id bigint REFERENCES comments (id),
    reacted_at timestamptz NOT NULL,
    PRIMARY KEY (platform, chat_id, message_id, reader, emoji)
);

CREATE INDEX reactions_article ON reactions (article_id);
CREATE INDEX reactions_reader ON reactions (article_id, platform, reader);

CREATE TABLE reaction_counts (
    platform   text NOT NULL,
    chat_id    text NOT NULL,
    message_id text NOT NULL,
    emoji      text NOT NULL,
    count      bigint NOT NULL CHECK (count > 0),
    article_id bigint NOT NULL REFERENCES articles (id),
    comment_id bigint REFERENCES comments (id),
    counted_at timestamptz NOT NULL,
    PRIMARY KEY (platform, chat_id, message_id, emoji)
);

CREATE INDEX reaction_counts_article ON reaction_counts (article_id);

-- Article figures: when each delivery's message first existed (set once, by complete_delivery)
-- and the web page's views by where readers came from (a chat's destination id, or '').

ALTER TABLE deliveries ADD COLUMN sent_at timestamptz;

CREATE TABLE article_views (
    article_id bigint NOT NULL REFERENCES articles (id),
    source     text NOT NULL,
    views      bigint NOT NULL,
    PRIMARY KEY (article_id, source)
);
