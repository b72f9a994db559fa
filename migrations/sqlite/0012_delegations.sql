-- Delegation (issue 20): an owner gives another user read or read-write access to all their
-- calendars, those made later included. Apple clients see it as calendar proxies
-- (calendar-proxy-read / calendar-proxy-write); every client sees the calendars in the
-- delegate's home, as shares. Deleting either user ends it; the calendars stay their owner's.
CREATE TABLE delegations (
    owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    delegate_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    writable    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (owner_id, delegate_id),
    CHECK (owner_id <> delegate_id)
);
CREATE INDEX delegations_by_delegate ON delegations (delegate_id);
