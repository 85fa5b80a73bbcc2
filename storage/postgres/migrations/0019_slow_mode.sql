-- newsbot schema, version 19: a story's slow mode (one comment per reader per N seconds),
-- kept beside its comment policy (story_policy); no row: off.
CREATE TABLE story_slow_mode (
    article_id  bigint PRIMARY KEY REFERENCES articles (id),
    seconds     integer NOT NULL CHECK (seconds > 0),
    set_at      timestamptz NOT NULL
);
