//! Unified cards: reading a vCard into a [`crate::record::Record`], writing a new card, and
//! editing an existing one line by line so that everything Kith does not manage (photos,
//! `X-` properties, groups, parameters) stays exactly as the client wrote it.

pub(crate) mod lines;
mod read;
mod write;

pub use lines::fold;
pub use read::{CardRead, read_card};
pub use write::{edit_card, is_21, new_card, upgrade_21, with_uid, without_controls};
