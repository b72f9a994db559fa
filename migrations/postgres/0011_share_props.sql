-- A sharee's own properties of a shared collection, as migrations/sqlite/0011.
CREATE TABLE share_props (
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    ns            TEXT NOT NULL,
    name          TEXT NOT NULL,
    xml           TEXT NOT NULL,
    PRIMARY KEY (user_id, collection_id, ns, name)
);
