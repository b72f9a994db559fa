-- Sources and the reconcile engine (SQLite). Times are Unix milliseconds.

-- A place contacts come from (a LinkedIn/Google/Outlook CSV, a vCard file; later Google or
-- Microsoft 365), feeding one of the owner's address books.
CREATE TABLE sources (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,            -- linkedin-csv | google-csv | outlook-csv | vcard
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    location      TEXT,                     -- the file a file source reads
    rules         TEXT NOT NULL,            -- JSON (kith_connectors::rules::Rules)
    status        TEXT NOT NULL DEFAULT 'manual', -- manual | ready | paused | failing
    status_detail TEXT,
    cursor        TEXT,                     -- delta link / sync token (API sources)
    applied_once  INTEGER NOT NULL DEFAULT 0,    -- automatic runs need one applied plan
    last_run_at   INTEGER,
    next_run_at   INTEGER,
    created_at    INTEGER NOT NULL,
    UNIQUE (owner_id, name)
);

-- The mapping table: each remote contact, the card it is linked to, and the base (the record
-- last agreed with that source) for three-way merges.
CREATE TABLE source_items (
    source_id  INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    remote_id  TEXT NOT NULL,
    card       TEXT,                        -- resource name in the source's book
    state      TEXT NOT NULL,               -- linked | unlinked | ignored | deleted-in-kith
    version    TEXT NOT NULL,               -- etag / changeKey / row hash
    base       TEXT,                        -- JSON record
    card_etag  TEXT,                        -- the card's ETag after Kith last wrote it
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, remote_id)
);
CREATE INDEX source_items_by_card ON source_items (card, source_id);

-- Runs: a persisted plan (dry run), then its outcome. `summary` is JSON: counts by action,
-- guard trips, conflicts, failed rows.
CREATE TABLE sync_runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id  INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,               -- sync | undo
    trigger    TEXT NOT NULL,               -- cli | schedule
    status     TEXT NOT NULL,               -- planned | paused | applied | stale | failed | undone
    undo_of    INTEGER,
    created_at INTEGER NOT NULL,
    applied_at INTEGER,
    summary    TEXT NOT NULL,
    message    TEXT
);
CREATE INDEX sync_runs_by_source ON sync_runs (source_id, id);

-- The operations of a plan, in order (JSON kith_connectors::plan::Op).
CREATE TABLE sync_ops (
    run_id INTEGER NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    op     TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- What an applied run changed, as before-images, so `kith sync undo` can restore it.
CREATE TABLE sync_undo (
    run_id          INTEGER NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    card            TEXT,                   -- the card written (NULL: mapping only)
    card_uid        TEXT,
    card_before     BLOB,                   -- its bytes before (NULL: it did not exist)
    card_after_etag TEXT,                   -- its ETag after (NULL: deleted)
    remote_id       TEXT,
    mapping_before  TEXT,                   -- JSON mapping before (NULL: none)
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- Per-user notifications: failures, guard trips, re-authorization needed.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source_id INTEGER,
    at        INTEGER NOT NULL,
    level     TEXT NOT NULL,                -- info | warning | error
    message   TEXT NOT NULL
);
CREATE INDEX events_by_user ON events (user_id, id);
