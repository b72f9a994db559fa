//! Calendar events as calendar sources sync them: an iCalendar object (one series: the
//! master VEVENT and its edited occurrences) read into a [`crate::record::Record`] of event
//! fields, written new, and edited property by property so that what Kith does not map
//! (time zone definitions, X- properties, attachments, absolute alarms) stays as the client
//! wrote it.

mod read;
mod tree;
pub mod when;
mod write;

pub use read::{EventRead, normal_rrule, read_event};
pub use write::{edit_event, new_event};
