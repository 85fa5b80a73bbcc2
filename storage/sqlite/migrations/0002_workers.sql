-- newsbot schema, version 2: several workers on one database, requests carried out once,
-- subscriptions waiting for approval, shared rate limits.

-- A subscription asked for by a chat admin who is not a newsbot admin waits (inactive).
ALTER TABLE destinations ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;

-- A claim is a lease: the worker holding it, and due_at is its expiry while 'sending'.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
-- Claims left by version 1 had no owner and no expiry: they were in flight at the last stop.
UPDATE deliveries SET state = 'pending', due_at = updated_at WHERE state = 'sending';
CREATE INDEX deliveries_claimed ON deliveries (claimed_by) WHERE claimed_by IS NOT NULL;

-- Commands carried out, by the request that asked (a chat message, an interaction).
CREATE TABLE requests (
    key        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles (id),
    created_at TEXT NOT NULL
) WITHOUT ROWID;

-- Sliding-window rate limits shared by every worker (the web form's, per address).
CREATE TABLE rate_slots (
    key      TEXT NOT NULL,
    taken_at TEXT NOT NULL
);
CREATE INDEX rate_slots_key ON rate_slots (key, taken_at);

CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    roles        TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- One holder per role (the right to send and receive for one platform), as a lease.
CREATE TABLE roles (
    role        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    epoch       INTEGER NOT NULL
) WITHOUT ROWID;
