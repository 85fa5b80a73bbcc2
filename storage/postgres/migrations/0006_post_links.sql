-- newsbot schema on PostgreSQL, version 6 (the SQLite schema's version 7): the links of
-- articles' own posts (the post, its thread, its copies in discussion groups), by article.
-- The comment intake looks them up for every batch, and the outbox for every claim with
-- mirrored comments: through message_links_article each read every link of the article (one
-- per mirrored comment).

CREATE INDEX message_links_posts ON message_links (article_id, destination_id)
    WHERE comment_id IS NULL;
