-- The web UI, as migrations/sqlite/0007: admins, disabled accounts and browser sessions
-- (stored by the hash of the cookie's token, shared by every instance).
ALTER TABLE users ADD COLUMN is_admin BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
UPDATE users SET is_admin = 1 WHERE name = 'admin';

CREATE TABLE web_sessions (
    token_hash BYTEA PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
