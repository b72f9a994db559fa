-- Near-real-time sync (issue 22).
--
-- WebDAV-Push: a device's registration to hear of changes to one address book or calendar.
-- `token` is the random last segment of the registration URL; `sent_seq` is the collection's
-- change counter the device was last told of (set to the current one at registration), so
-- whichever instance first moves it forward sends the push, and sends it once.
CREATE TABLE push_registrations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token         TEXT NOT NULL UNIQUE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    push_resource TEXT NOT NULL,
    public_key    TEXT NOT NULL,
    auth_secret   TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    sent_seq      INTEGER NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    UNIQUE (collection_id, push_resource)
);
CREATE INDEX push_registrations_by_user ON push_registrations (user_id);

-- Upstream change notifications: a Microsoft Graph subscription or a Google Calendar channel
-- that tells Kith a source changed. Kept until the provider confirmed its removal, so a
-- restart never leaks one.
CREATE TABLE source_channels (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id   INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    remote_id   TEXT NOT NULL,
    resource_id TEXT,
    expires_at  INTEGER NOT NULL,
    -- Google numbers its messages; one not above the last is a replay.
    last_message_no INTEGER,
    created_at  INTEGER NOT NULL,
    UNIQUE (source_id, remote_id)
);

-- When a notification last said the source changed; a run that started before it is due
-- again, so a notification that lands during a run is not lost.
ALTER TABLE sources ADD COLUMN notified_at INTEGER;
