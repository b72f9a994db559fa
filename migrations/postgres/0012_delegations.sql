-- Delegation of all of an owner's calendars to another user, as migrations/sqlite/0012.
CREATE TABLE delegations (
    owner_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    delegate_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    writable    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (owner_id, delegate_id),
    CHECK (owner_id <> delegate_id)
);
CREATE INDEX delegations_by_delegate ON delegations (delegate_id);
