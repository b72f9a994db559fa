-- Kith CardDAV core schema (SQLite). Times are Unix milliseconds.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,          -- argon2id PHC string
    created_at    INTEGER NOT NULL
);

-- Device passwords: only a keyed BLAKE3 hash is stored, so a DAV request never runs argon2.
CREATE TABLE app_passwords (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    token_hash   BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    UNIQUE (user_id, label)
);
CREATE INDEX app_passwords_by_hash ON app_passwords (user_id, token_hash);

-- Collections. `seq` is the collection's change counter: every write bumps it and stamps the
-- changed object or tombstone, so sync-collection reads only rows with a larger stamp.
-- `horizon` is the oldest stamp a sync token may carry once tombstones were purged.
-- AUTOINCREMENT: ids are in sync tokens, so a recreated book must never reuse an old id.
CREATE TABLE collections (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,            -- 'addressbook'
    name        TEXT NOT NULL,            -- the URL segment
    displayname TEXT,
    description TEXT,
    seq         INTEGER NOT NULL DEFAULT 0,
    horizon     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    UNIQUE (owner_id, kind, name)
);

-- Dead properties set with PROPPATCH or MKCOL, kept as serialised XML.
CREATE TABLE collection_props (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    ns            TEXT NOT NULL,
    name          TEXT NOT NULL,
    xml           TEXT NOT NULL,
    PRIMARY KEY (collection_id, ns, name)
);

-- Address objects: the exact bytes the client sent, their hash as ETag, and the change stamp.
CREATE TABLE objects (
    id            INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    uid           TEXT NOT NULL,
    etag          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    data          BLOB NOT NULL,
    seq           INTEGER NOT NULL,
    modified_at   INTEGER NOT NULL,
    UNIQUE (collection_id, name),
    UNIQUE (collection_id, uid)
);
CREATE INDEX objects_by_seq ON objects (collection_id, seq);

-- Index values (case-folded) for addressbook-query: UID, FN, N, EMAIL, TEL, ORG, CATEGORIES...
-- WITHOUT ROWID keyed on the lookup columns: each value is stored once and queries read only
-- this B-tree.
CREATE TABLE object_index (
    collection_id INTEGER NOT NULL,
    prop          TEXT NOT NULL,
    value         TEXT NOT NULL,
    object_id     INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    PRIMARY KEY (collection_id, prop, value, object_id)
) WITHOUT ROWID;
CREATE INDEX object_index_by_object ON object_index (object_id);

-- Removed members, stamped like objects, so sync-collection can report them.
CREATE TABLE tombstones (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    deleted_at    INTEGER NOT NULL,
    PRIMARY KEY (collection_id, name)
);
CREATE INDEX tombstones_by_seq ON tombstones (collection_id, seq);
