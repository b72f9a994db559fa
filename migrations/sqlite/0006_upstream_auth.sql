-- Upstream accounts (Google, Microsoft 365). Every value here is sealed with the token key
-- (XChaCha20-Poly1305) before it is written: OAuth tokens of a connected account, and the
-- PKCE verifier of an authorization in progress. A name says what it holds:
-- `oauth:<provider>:<owner>:<account>` or `state:<hash of the state parameter>`.
-- `expires_at` (Unix ms) ends a pending authorization; tokens have none.
CREATE TABLE sealed (
    name       TEXT PRIMARY KEY,
    owner_id   INTEGER REFERENCES users(id) ON DELETE CASCADE,
    value      BLOB NOT NULL,
    expires_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX sealed_by_owner ON sealed (owner_id);

-- An API source's change-feed position (sync token / delta link), which `sources.cursor`
-- holds, is only advanced when a run is applied.
