//! CalDAV scheduling (RFC 6638, issue 23): who a user is as a calendar user (their
//! addresses), their scheduling inbox and outbox, free-busy across users, and the implicit
//! scheduling that delivers invitations, replies and cancellations between local users and
//! by mail to outside attendees.

pub mod addresses;
pub mod boxes;
pub mod deliver;
pub mod freebusy;
pub mod invitations;
