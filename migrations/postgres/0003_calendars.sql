-- CalDAV (PostgreSQL), as migrations/sqlite/0003.

ALTER TABLE collections ADD COLUMN components TEXT;
ALTER TABLE collections ADD COLUMN timezone TEXT;
ALTER TABLE collections ADD COLUMN derived TEXT;

ALTER TABLE objects ADD COLUMN first_start BIGINT;
ALTER TABLE objects ADD COLUMN last_end BIGINT;
CREATE INDEX objects_by_end ON objects (collection_id, last_end) WHERE last_end IS NOT NULL;

CREATE TABLE derived_marks (
    calendar_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    book_id     BIGINT NOT NULL,
    seen_seq    BIGINT NOT NULL,
    PRIMARY KEY (calendar_id, book_id)
);

INSERT INTO collections (owner_id, kind, name, displayname, components, created_at, modified_at)
SELECT id, 'calendar', 'personal', 'Personal', 'VEVENT',
       (extract(epoch FROM now()) * 1000)::BIGINT, (extract(epoch FROM now()) * 1000)::BIGINT
FROM users;
INSERT INTO collections (owner_id, kind, name, displayname, components, created_at, modified_at)
SELECT id, 'calendar', 'tasks', 'Tasks', 'VTODO',
       (extract(epoch FROM now()) * 1000)::BIGINT, (extract(epoch FROM now()) * 1000)::BIGINT
FROM users;
