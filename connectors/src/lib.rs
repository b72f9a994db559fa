//! Where contacts come from and how they merge into one address book.
//!
//! A source (a LinkedIn/Google/Outlook CSV, a vCard file, Google or Microsoft 365) yields
//! [`record::Record`]s keyed by the item's id in that source (stored as `remote_id`); the words
//! are in [`provider`]. The engine ([`engine::plan`]) compares each one with
//! the last state agreed with that source (the base) and with the unified card in the book, and
//! returns a [`plan::Plan`]: what to create, update, link, unlink or delete, with field-level
//! diffs, conflicts and guard trips. Storing and applying a plan is the server's job; this crate
//! has no database.

pub mod api;
pub mod card;
pub mod connector;
pub mod date;
pub mod directory;
pub mod engine;
pub mod event;
pub mod exchange;
pub mod formats;
pub mod google;
pub mod m365;
pub mod merge;
pub mod normalize;
pub mod oauth;
pub mod object;
pub mod observe;
pub mod plan;
pub mod provider;
pub mod push;
pub mod record;
pub mod retry;
pub mod rules;
pub mod text;
pub mod time;
pub mod watch;
