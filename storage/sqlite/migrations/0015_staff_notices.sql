-- newsbot schema, version 15: the staff chat's notices, a second queue of the outbox (claimed
-- after the article deliveries). At most one notice per chat is 'pending' (not claimed yet):
-- items entering the moderation queue meanwhile fold into it (newsbot.staffchat.enter).

CREATE TABLE staff_notices (
    id            INTEGER PRIMARY KEY,
    chat          TEXT NOT NULL,                -- platform:chat_id (NEWSBOT_STAFF_CHAT)
    platform      TEXT NOT NULL,
    lead          INTEGER NOT NULL,             -- the comment the notice shows
    kind          TEXT NOT NULL CHECK (kind IN ('held', 'reported')),
    more_held     INTEGER NOT NULL DEFAULT 0,
    more_reported INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL
                  CHECK (state IN ('pending', 'waiting', 'sending', 'sent', 'dead')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    due_at        TEXT,                         -- set while claimable; a claim's lease expiry
    claimed_by    TEXT,
    message_id    TEXT,
    last_error    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX staff_notices_pending ON staff_notices (chat) WHERE state = 'pending';
CREATE INDEX staff_notices_due ON staff_notices (platform, due_at) WHERE due_at IS NOT NULL;
