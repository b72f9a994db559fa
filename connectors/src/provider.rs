//! What a source is, by kind.
//!
//! Words used across Kith:
//! - a **source** is one place contacts come from for one user: an account or a file;
//! - a **provider** is a service whose accounts can be sources (Google, Microsoft 365);
//! - a **connector** is the code that reads and writes one source (`crate::connector`);
//! - an **item** is one contact as its source holds it, under the source's own id
//!   ([`crate::formats::SourceItem`]).

use crate::formats::Format;
use std::fmt;

/// A service whose accounts users connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Google,
    M365,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Google, Provider::M365];

    /// The id in the config (`[providers.google]`), URLs and the database.
    pub fn id(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::M365 => "m365",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Provider::Google => "Google",
            Provider::M365 => "Microsoft 365",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.id() == s)
    }

    /// The shortest schedule interval for a source of this provider, in seconds, so automatic
    /// runs stay far inside its quotas:
    /// - Google: 15 minutes. The People API allows about 90 reads a minute per user, and the
    ///   first page of a full sync has its own small fixed quota that an expired sync token
    ///   spends again.
    /// - Microsoft 365: 5 minutes. Graph allows 10,000 requests per 10 minutes per app and
    ///   mailbox, shared with everything else the app does in that mailbox.
    pub fn min_interval_secs(self) -> u64 {
        match self {
            Provider::Google => 15 * 60,
            Provider::M365 => 5 * 60,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A source's kind: a connected account, or a file read at each run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Account(Provider),
    File(Format),
    /// The organisation's directory (Microsoft 365 users, Google Workspace directory people),
    /// read with an admin's grant into a read-only book shared with colleagues.
    Directory(Provider),
    /// One calendar of a connected account, synced into a Kith calendar.
    Calendar(Provider),
}

impl SourceKind {
    /// The stored word: the provider's id or the file format's.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Account(p) => p.id(),
            SourceKind::File(f) => f.as_str(),
            SourceKind::Directory(Provider::Google) => "google-directory",
            SourceKind::Directory(Provider::M365) => "m365-directory",
            SourceKind::Calendar(Provider::Google) => "google-calendar",
            SourceKind::Calendar(Provider::M365) => "m365-calendar",
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        if let Some(p) = s.strip_suffix("-directory").and_then(Provider::parse) {
            return Some(SourceKind::Directory(p));
        }
        if let Some(p) = s.strip_suffix("-calendar").and_then(Provider::parse) {
            return Some(SourceKind::Calendar(p));
        }
        Provider::parse(s)
            .map(SourceKind::Account)
            .or_else(|| Format::parse(s).map(SourceKind::File))
    }

    /// How people name it.
    pub fn title(self) -> &'static str {
        match self {
            SourceKind::Account(p) => p.title(),
            SourceKind::Directory(Provider::Google) => "Google Workspace directory",
            SourceKind::Directory(Provider::M365) => "Microsoft 365 directory",
            SourceKind::Calendar(Provider::Google) => "Google Calendar",
            SourceKind::Calendar(Provider::M365) => "Microsoft 365 calendar",
            SourceKind::File(Format::LinkedinCsv) => "LinkedIn CSV",
            SourceKind::File(Format::GoogleCsv) => "Google CSV",
            SourceKind::File(Format::OutlookCsv) => "Outlook CSV",
            SourceKind::File(Format::Vcard) => "vCard",
        }
    }

    /// Whether Kith can write back to it: accounts and calendars yes, files and directories
    /// never.
    pub fn writable(self) -> bool {
        matches!(self, SourceKind::Account(_) | SourceKind::Calendar(_))
    }

    /// Whether its items are events in a calendar (not cards in a book).
    pub fn is_calendar(self) -> bool {
        matches!(self, SourceKind::Calendar(_))
    }

    pub fn object(self) -> crate::object::ObjectKind {
        if self.is_calendar() {
            crate::object::ObjectKind::Event
        } else {
            crate::object::ObjectKind::Card
        }
    }

    pub fn provider(self) -> Option<Provider> {
        match self {
            SourceKind::Account(p) | SourceKind::Directory(p) | SourceKind::Calendar(p) => Some(p),
            SourceKind::File(_) => None,
        }
    }

    pub fn is_directory(self) -> bool {
        matches!(self, SourceKind::Directory(_))
    }

    pub fn format(self) -> Option<Format> {
        match self {
            SourceKind::File(f) => Some(f),
            SourceKind::Account(_) | SourceKind::Directory(_) | SourceKind::Calendar(_) => None,
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_and_only_accounts_are_written() {
        let kinds = Provider::ALL
            .into_iter()
            .map(SourceKind::Account)
            .chain(Provider::ALL.into_iter().map(SourceKind::Directory))
            .chain(Provider::ALL.into_iter().map(SourceKind::Calendar))
            .chain(Format::ALL.into_iter().map(SourceKind::File));
        for k in kinds {
            assert_eq!(SourceKind::parse(k.as_str()), Some(k));
            assert_eq!(
                k.writable(),
                matches!(k, SourceKind::Account(_) | SourceKind::Calendar(_))
            );
        }
        assert_eq!(SourceKind::parse("dropbox"), None);
    }
}
