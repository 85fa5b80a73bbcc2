-- newsbot schema, version 20: a story's slow mode (one comment per reader per N seconds),
-- kept beside its comment policy (story_policy); no row: off.
CREATE TABLE story_slow_mode (
    article_id  INTEGER PRIMARY KEY REFERENCES articles (id),
    seconds     INTEGER NOT NULL CHECK (seconds > 0),
    set_at      TEXT NOT NULL
);
