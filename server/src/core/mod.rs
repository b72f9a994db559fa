//! The core: what Kith does, independent of how it is asked. Accounts and authentication,
//! turning bytes into stored objects, card and event versions, sources' bookkeeping, backups,
//! exports, the birthday calendar and maintenance. It sits on the store and speaks no HTTP and
//! no command line: each front words core's typed errors for its own users.

pub mod access;
pub mod accounts;
pub mod archive;
pub mod auth;
pub mod backup;
pub mod birthdays;
pub mod calendar_import;
pub mod delegation;
pub mod export;
pub mod groups;
pub mod lease;
pub mod maintenance;
pub mod objects;
pub mod push;
pub mod repair;
pub mod scheduling;
pub mod shared_cards;
pub mod sources;
pub mod throttle;
pub mod versions;
