-- CalDAV (SQLite). Calendars are collections of kind 'calendar'; their objects live in `objects`
-- beside the vCards, with the stored bytes and hash ETags handled the same way.

-- The component types a calendar accepts ('VEVENT,VTODO'); NULL for address books.
ALTER TABLE collections ADD COLUMN components TEXT;
-- The calendar-timezone property: a VCALENDAR holding one VTIMEZONE. Floating times in the
-- calendar's objects are read in this zone.
ALTER TABLE collections ADD COLUMN timezone TEXT;
-- Set for collections Kith derives from other data and clients may only read ('birthdays').
ALTER TABLE collections ADD COLUMN derived TEXT;

-- The pre-filter for time-range queries: each calendar object's first start and last end in
-- Unix seconds, computed at write time. An unbounded rule ends at the largest integer.
ALTER TABLE objects ADD COLUMN first_start INTEGER;
ALTER TABLE objects ADD COLUMN last_end INTEGER;
CREATE INDEX objects_by_end ON objects (collection_id, last_end) WHERE last_end IS NOT NULL;

-- How far a derived calendar has read each source address book's change log.
CREATE TABLE derived_marks (
    calendar_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    book_id     INTEGER NOT NULL,
    seen_seq    INTEGER NOT NULL,
    PRIMARY KEY (calendar_id, book_id)
);

-- Every existing user gets the calendars a new user gets.
INSERT INTO collections (owner_id, kind, name, displayname, components, created_at, modified_at)
SELECT id, 'calendar', 'personal', 'Personal', 'VEVENT', CAST(strftime('%s', 'now') AS INTEGER) * 1000,
       CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM users;
INSERT INTO collections (owner_id, kind, name, displayname, components, created_at, modified_at)
SELECT id, 'calendar', 'tasks', 'Tasks', 'VTODO', CAST(strftime('%s', 'now') AS INTEGER) * 1000,
       CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM users;
