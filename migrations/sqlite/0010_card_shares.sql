-- Single contacts shared with a user or a group (issue 20), without their book. The sharee's
-- read-only "Shared with me" book holds live copies. Deleting the card, the user or the group
-- ends the share.
CREATE TABLE card_shares (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    object_id  INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    group_id   INTEGER REFERENCES groups(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL)),
    UNIQUE (object_id, user_id),
    UNIQUE (object_id, group_id)
);
CREATE INDEX card_shares_by_user ON card_shares (user_id);
CREATE INDEX card_shares_by_group ON card_shares (group_id);
