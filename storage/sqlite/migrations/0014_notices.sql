-- newsbot schema, version 14: replies that reach the person they answer. Each chat
-- account's private-message switch (whether it started the bot, its own on/off), and the
-- notice outbox: one pending row per account gathers the notices queued before it is sent.

CREATE TABLE notify_accounts (
    platform   TEXT NOT NULL,
    account_id TEXT NOT NULL,
    started    INTEGER NOT NULL DEFAULT 0,
    notify     INTEGER,                 -- NULL: never set
    PRIMARY KEY (platform, account_id)
) WITHOUT ROWID;

CREATE TABLE notices (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    items       TEXT NOT NULL,
    count       INTEGER NOT NULL DEFAULT 1,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'sending')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_at      TEXT NOT NULL,
    worker      TEXT,
    last_error  TEXT,
    created_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX notices_pending ON notices (platform, account_id) WHERE state = 'pending';
CREATE INDEX notices_due ON notices (platform, due_at);
