-- newsbot schema, version 8: readers as people. A person holds linked platform accounts
-- (an account at most one person); tokens are short-lived one-time values every worker
-- shares (Telegram logins accepted once, link codes).

CREATE TABLE people (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    banned     INTEGER NOT NULL DEFAULT 0,
    notify     INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

CREATE TABLE person_accounts (
    platform    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    person_id   INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    verified_by TEXT NOT NULL,
    linked_at   TEXT NOT NULL,
    PRIMARY KEY (platform, account_id)
) WITHOUT ROWID;

CREATE INDEX person_accounts_person ON person_accounts (person_id);

CREATE TABLE tokens (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX tokens_expiry ON tokens (expires_at);
