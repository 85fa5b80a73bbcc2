-- newsbot schema, version 18: per-target reaction counts kept beside the rows, so that reading
-- an article's counts reads one row per target, platform and emoji instead of every reader's
-- row. ``readers`` counts each reader once per target and emoji (however many copies they
-- reacted on), banned readers left out; ``anonymous`` sums the messages' anonymous counts;
-- ``comment_key`` is the comment, or 0 for the article itself. Kept in the transaction of each
-- batch of reactions and of each ban and unban; hidden comments are left out when read.

CREATE TABLE reaction_tally (
    article_id  INTEGER NOT NULL REFERENCES articles (id),
    comment_key INTEGER NOT NULL,
    platform    TEXT NOT NULL,
    emoji       TEXT NOT NULL,
    readers     INTEGER NOT NULL DEFAULT 0,
    anonymous   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (article_id, comment_key, platform, emoji)
) WITHOUT ROWID;

-- A ban finds the reader's reactions on every article.
CREATE INDEX reactions_by_reader ON reactions (platform, reader);

INSERT INTO reaction_tally (article_id, comment_key, platform, emoji, readers, anonymous)
SELECT article_id, comment_key, platform, emoji, SUM(readers), SUM(anonymous) FROM (
    SELECT article_id, COALESCE(comment_id, 0) AS comment_key, platform, emoji,
           COUNT(DISTINCT reader) AS readers, 0 AS anonymous
    FROM reactions r
    WHERE NOT EXISTS (SELECT 1 FROM bans b WHERE b.platform = r.platform AND b.user_id = r.reader)
    GROUP BY article_id, COALESCE(comment_id, 0), platform, emoji
    UNION ALL
    SELECT article_id, COALESCE(comment_id, 0), platform, emoji, 0, SUM(count)
    FROM reaction_counts
    GROUP BY article_id, COALESCE(comment_id, 0), platform, emoji
) AS found
GROUP BY article_id, comment_key, platform, emoji;
