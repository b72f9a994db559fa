-- The web UI (issue 8): who may administer the server, disabled accounts, and browser
-- sessions. Sessions live here, not in memory, so any instance behind a load balancer answers
-- a signed-in browser. Only a hash of the cookie's token is stored: a copy of the database
-- does not sign anyone in.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
-- When an admin disabled the account (Unix ms): it then signs in nowhere, DAV included.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
-- The account created on first start has always been the administrator's.
UPDATE users SET is_admin = 1 WHERE name = 'admin';

CREATE TABLE web_sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The synchronizer token every form of this session must echo.
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
