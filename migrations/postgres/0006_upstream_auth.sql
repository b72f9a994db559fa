-- Upstream accounts (Google, Microsoft 365), as migrations/sqlite/0006. Every value is sealed
-- with the token key (XChaCha20-Poly1305) before it is written: OAuth tokens of a connected
-- account, and the PKCE verifier of an authorization in progress.
CREATE TABLE sealed (
    name       TEXT PRIMARY KEY,
    owner_id   BIGINT REFERENCES users(id) ON DELETE CASCADE,
    value      BYTEA NOT NULL,
    expires_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sealed_by_owner ON sealed (owner_id);
