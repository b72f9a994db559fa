-- Shares (issue 20): an owner's address book or calendar opened to one user or one group,
-- read-only or read-write. Exactly one of user_id and group_id is set. Deleting the user, the
-- group or the collection removes the share; the data stays with its owner.
CREATE TABLE shares (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    user_id       INTEGER REFERENCES users(id) ON DELETE CASCADE,
    group_id      INTEGER REFERENCES groups(id) ON DELETE CASCADE,
    writable      INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL)),
    UNIQUE (collection_id, user_id),
    UNIQUE (collection_id, group_id)
);
CREATE INDEX shares_by_user ON shares (user_id);
CREATE INDEX shares_by_group ON shares (group_id);

-- A sharee who hid a shared collection from their own home (it stays shared).
CREATE TABLE shares_hidden (
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, collection_id)
);
