-- Several instances on one database (used on PostgreSQL; present on SQLite so both schemas
-- match). A lease names a job (a source's sync, a housekeeping task) and the instance running
-- it until `expires_at` (Unix ms); a crashed holder's lease lapses and another instance takes
-- the job over.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Server-wide values every instance must share, such as the key app passwords are hashed with.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
