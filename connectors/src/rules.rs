//! A source's sync rules: direction, what each side may have created, updated or deleted,
//! delete protection, filters, field ownership and schedule. Stored as JSON in the database and
//! written by users as TOML or CLI flags.

use crate::provider::{Provider, SourceKind};
use crate::record::Field;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Microsoft 365: the folder every mailbox has; tracked when the user picks none.
pub const DEFAULT_FOLDER: &str = "default";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Source → Kith only.
    #[default]
    ImportOnly,
    /// Kith → source only.
    ExportOnly,
    TwoWay,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ImportOnly => "import-only",
            Direction::ExportOnly => "export-only",
            Direction::TwoWay => "two-way",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        [
            Direction::ImportOnly,
            Direction::ExportOnly,
            Direction::TwoWay,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }

    pub fn imports(self) -> bool {
        self != Direction::ExportOnly
    }

    pub fn exports(self) -> bool {
        self != Direction::ImportOnly
    }
}

/// What a run may do to one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Side {
    #[serde(default = "yes")]
    pub create: bool,
    #[serde(default = "yes")]
    pub update: bool,
    /// Deletes also need `delete-protection = false`.
    #[serde(default = "yes")]
    pub delete: bool,
}

impl Default for Side {
    fn default() -> Side {
        Side {
            create: true,
            update: true,
            delete: true,
        }
    }
}

impl Side {
    /// The source side's default: updates to contacts that came from it, nothing else. The
    /// tools people trust never write to a source what did not come from it unless asked.
    pub fn toward_source() -> Side {
        Side {
            create: false,
            update: true,
            delete: false,
        }
    }
}

fn yes() -> bool {
    true
}

/// Which side wins a field both sides changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Owner {
    /// Your edits in Kith (over CardDAV) win. The default for every field.
    Kith,
    /// The source's value wins.
    Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Schedule {
    /// Run automatically. Only possible once a plan of this source has been applied.
    #[serde(default)]
    pub auto: bool,
    /// How often: `30m`, `6h`, `1d`.
    #[serde(default = "default_every")]
    pub every: String,
    /// When runs may start, in `timezone`: `08:00-20:00` (may wrap midnight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// The user's IANA time zone for the window, e.g. `Europe/Berlin`; UTC when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

fn default_every() -> String {
    "1d".into()
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule {
            auto: false,
            every: default_every(),
            window: None,
            timezone: None,
        }
    }
}

/// Parses `90s`, `30m`, `6h`, `1d` into seconds.
pub fn parse_interval(s: &str) -> Option<u64> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    let mult = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    (n > 0).then_some(n * mult)
}

/// Parses `HH:MM-HH:MM` into minutes after midnight.
pub fn parse_window(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-')?;
    let hm = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
    };
    Some((hm(a)?, hm(b)?))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Rules {
    #[serde(default)]
    pub direction: Direction,
    /// What runs may do to your Kith address book.
    #[serde(default)]
    pub kith: Side,
    /// What runs may do to the source (API sources only; files are never written). Creating
    /// and deleting contacts there are off until the user allows them: a two-way source at
    /// first only updates what came from it.
    #[serde(default = "Side::toward_source")]
    pub source: Side,
    /// On by default: a contact that disappears from the source is unlinked, never deleted.
    #[serde(default = "yes")]
    pub delete_protection: bool,
    /// Contacts whose every email is on one of these domains are ignored.
    #[serde(default)]
    pub ignore_domains: Vec<String>,
    /// Only contacts with one of these labels/categories; empty means all.
    #[serde(default)]
    pub scope: Vec<String>,
    /// Microsoft 365: the contact folders to sync, by name (`default` is the mailbox's own
    /// Contacts folder); empty means the default folder only.
    #[serde(default)]
    pub folders: Vec<String>,
    /// Where contacts Kith creates in the source go: a Microsoft 365 contact folder (one of
    /// `folders`, or `default`) or a Google label. Unset: the first synced folder, no label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Calendar sources: the upstream calendar synced (its id; Google's main calendar is
    /// `primary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// Field name → who wins a conflict on it (default: kith).
    #[serde(default)]
    pub fields: BTreeMap<String, Owner>,
    #[serde(default)]
    pub schedule: Schedule,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            direction: Direction::ImportOnly,
            kith: Side::default(),
            source: Side::toward_source(),
            delete_protection: true,
            ignore_domains: Vec::new(),
            scope: Vec::new(),
            folders: Vec::new(),
            target: None,
            calendar: None,
            fields: BTreeMap::new(),
            schedule: Schedule::default(),
        }
    }
}

impl Rules {
    pub fn owner(&self, f: Field) -> Owner {
        self.fields.get(f.as_str()).copied().unwrap_or(Owner::Kith)
    }

    /// Deleting unified cards needs both the permission and delete protection off.
    pub fn may_delete_cards(&self) -> bool {
        self.kith.delete && !self.delete_protection
    }

    /// Checks the rules make sense for a source of `kind`: [`Rules::validate`], and a schedule
    /// no more frequent than the provider allows
    /// ([`crate::provider::Provider::min_interval_secs`]).
    pub fn validate_for(&self, kind: SourceKind) -> Result<(), String> {
        self.validate(kind.writable())?;
        if let Some(t) = &self.target {
            match kind.provider().filter(|_| kind.writable()) {
                None => {
                    return Err(format!(
                        "{} sources are never written, so target {t:?} has no use; remove it",
                        if kind.is_directory() {
                            "directory"
                        } else {
                            "file"
                        }
                    ));
                }
                Some(Provider::M365) => {
                    let synced = |f: &str| {
                        if self.folders.is_empty() {
                            f.eq_ignore_ascii_case(DEFAULT_FOLDER)
                        } else {
                            self.folders.iter().any(|x| x.eq_ignore_ascii_case(f))
                        }
                    };
                    if !synced(t) {
                        return Err(format!(
                            "target folder {t:?} is not one of the synced folders ({}); contacts created there would never be seen again, so add it to the folders first",
                            if self.folders.is_empty() {
                                DEFAULT_FOLDER.to_string()
                            } else {
                                self.folders.join(", ")
                            }
                        ));
                    }
                }
                Some(Provider::Google) => {}
            }
        }
        if let (Some(p), Some(every)) = (kind.provider(), parse_interval(&self.schedule.every))
            && every < p.min_interval_secs()
        {
            return Err(format!(
                "{} sources run at most every {} minutes, to stay inside {}'s quotas; schedule interval {:?} is shorter",
                p.title(),
                p.min_interval_secs() / 60,
                p.title(),
                self.schedule.every
            ));
        }
        Ok(())
    }

    /// Checks the rules make sense; `writable` says whether the source can be written at all.
    pub fn validate(&self, writable: bool) -> Result<(), String> {
        if !writable && self.direction != Direction::ImportOnly {
            return Err(format!(
                "file and directory sources are import-only; direction {} needs a source Kith can write to",
                self.direction.as_str()
            ));
        }
        for name in self.fields.keys() {
            if Field::parse(name).is_none() {
                let known: Vec<&str> = Field::every().map(|f| f.as_str()).collect();
                return Err(format!(
                    "unknown field {name:?} in field rules; known fields: {}",
                    known.join(", ")
                ));
            }
        }
        if parse_interval(&self.schedule.every).is_none() {
            return Err(format!(
                "schedule interval {:?} is not like 30m, 6h or 1d",
                self.schedule.every
            ));
        }
        if let Some(w) = &self.schedule.window
            && parse_window(w).is_none()
        {
            return Err(format!("schedule window {w:?} is not like 08:00-20:00"));
        }
        for d in &self.ignore_domains {
            if d.contains('@') || !d.contains('.') {
                return Err(format!("{d:?} is not a domain (write example.com)"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_protect_and_parse() {
        let r = Rules::default();
        assert!(r.delete_protection && !r.may_delete_cards());
        assert_eq!(parse_interval("6h"), Some(21_600));
        assert_eq!(parse_interval("0m"), None);
        assert_eq!(parse_window("22:00-06:30"), Some((1320, 390)));
        assert!(r.validate(false).is_ok());
        let two = Rules {
            direction: Direction::TwoWay,
            ..Rules::default()
        };
        assert!(two.validate(false).unwrap_err().contains("import-only"));
        // Each provider has a shortest interval; files have none.
        let mut often = Rules::default();
        often.schedule.every = "1s".into();
        let google = SourceKind::Account(crate::provider::Provider::Google);
        assert!(
            often
                .validate_for(google)
                .unwrap_err()
                .contains("15 minutes")
        );
        assert!(
            often
                .validate_for(SourceKind::File(crate::formats::Format::Vcard))
                .is_ok()
        );
        often.schedule.every = "15m".into();
        assert!(often.validate_for(google).is_ok());
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Rules>(&json).unwrap(), r);
    }
}
