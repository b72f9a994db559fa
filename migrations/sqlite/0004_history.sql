-- History and trash (SQLite). Every change to a card or calendar object keeps the version it
-- replaced, with who wrote it and who replaced it; a deleted object's last version is its trash
-- entry. Retention purges both, so storage stays bounded.

-- Who wrote the current version: "client alice via iphone (DAVx5)", "source linkedin run 7"...
-- NULL for objects written before history existed.
ALTER TABLE objects ADD COLUMN changed_by TEXT;

CREATE TABLE object_versions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    uid           TEXT NOT NULL,
    etag          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    data          BLOB NOT NULL,
    written_at    INTEGER NOT NULL,       -- when this version was written
    written_by    TEXT,                   -- who wrote it
    replaced_at   INTEGER NOT NULL,       -- when a later write or a delete replaced it
    replaced_by   TEXT NOT NULL,          -- who did that
    deleted       INTEGER NOT NULL        -- 1: it was deleted, not overwritten (trash)
);
-- `kith history`, restore and rewind read one name's versions, or a book's since a time.
CREATE INDEX object_versions_by_name ON object_versions (collection_id, name, replaced_at);
CREATE INDEX object_versions_by_time ON object_versions (collection_id, replaced_at);
-- Retention deletes by age across all books.
CREATE INDEX object_versions_by_age ON object_versions (replaced_at);

-- A collection a client deletes goes to the trash too: hidden from clients and renamed out of
-- the way (a new collection may take its name), until `kith trash restore-book` or the
-- retention purge.
ALTER TABLE collections ADD COLUMN deleted_at INTEGER;
ALTER TABLE collections ADD COLUMN deleted_by TEXT;
ALTER TABLE collections ADD COLUMN deleted_name TEXT;
CREATE INDEX collections_deleted ON collections (deleted_at) WHERE deleted_at IS NOT NULL;
