-- newsbot schema, version 10: the moderation desk. A queue item per comment that needs a
-- moderator's eye (why, and what was decided), readers' reports (one per reader and
-- comment), the audit log of moderators' actions,
-- and each story's comment policy.

CREATE TABLE review (
    comment_id  INTEGER PRIMARY KEY REFERENCES comments (id),
    reasons     TEXT NOT NULL,              -- comma-separated newsbot.review.Reason values
    entered_at  TEXT NOT NULL,
    decision    TEXT NOT NULL DEFAULT 'open'
                CHECK (decision IN ('open', 'approved', 'hidden', 'deleted')),
    decided_by  TEXT,
    decided_at  TEXT
);
CREATE INDEX review_open ON review (decision, entered_at, comment_id);
CREATE INDEX review_decided ON review (decided_at) WHERE decided_at IS NOT NULL;

CREATE TABLE reports (
    comment_id  INTEGER NOT NULL REFERENCES comments (id),
    reporter    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (comment_id, reporter)
);

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    comment_id  INTEGER NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);

-- A story's own comment policy (newsbot.policy); without a row the default setting applies.
CREATE TABLE story_policy (
    article_id  INTEGER PRIMARY KEY REFERENCES articles (id),
    policy      TEXT NOT NULL CHECK (policy IN ('open', 'premoderated', 'closed')),
    set_at      TEXT NOT NULL
);
