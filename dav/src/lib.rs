//! Kith's WebDAV/CardDAV protocol layer: parsing request bodies and headers, writing
//! multistatus responses, validating vCards and iCalendar objects, expanding recurrences and
//! evaluating query filters.
//! It knows nothing about storage; the server crate supplies the data.

pub mod bytes;
pub mod filter;
pub mod headers;
pub mod href;
pub mod ical;
pub mod if_header;
pub mod itip;
mod lines;
pub mod multistatus;
pub mod names;
pub mod partial;
pub mod push;
pub mod quirks;
pub mod request;
pub mod sync_token;
pub mod vcard;
pub mod vcard_dates;
pub mod vcard_groups;
pub mod vcard_version;
pub mod xml;
