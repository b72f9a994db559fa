-- What a sharee calls a collection shared with them, and its colour (issue 20): each sharee's
-- own displayname, colour, order, description and transparency, over the owner's values. The
-- serialised property element, as collection_props keeps it.
CREATE TABLE share_props (
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    ns            TEXT NOT NULL,
    name          TEXT NOT NULL,
    xml           TEXT NOT NULL,
    PRIMARY KEY (user_id, collection_id, ns, name)
);
