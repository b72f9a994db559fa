-- Groups of users (issue 20): an admin makes them, or a single sign-on claim names them. A
-- provider can be opened to some groups only; shares to groups build on them.
CREATE TABLE groups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- `via` says who made the membership: 'admin' (kept until an admin removes it) or 'oidc'
-- (replaced by the claim at each single sign-on).
CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    via      TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id);
