//! The states a source and a run can be in, and what started a run: enums that are stored as
//! the words below, so the database stays readable and older rows keep their meaning.

use super::StoreError;

/// An enum stored as text: `as_str` is the stored word, `parse` reads it back.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s,)+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// A stored word; one this version does not know makes the row unreadable.
            pub(super) fn from_db(s: &str) -> Result<Self, StoreError> {
                Self::parse(s).ok_or_else(|| {
                    StoreError::Unreadable(format!(
                        "{} {s:?} is not one this version of Kith knows",
                        stringify!($name)
                    ))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Whether a source syncs, and if not, why.
    SourceStatus {
        /// Added, never applied: runs only when someone asks.
        Manual = "manual",
        Ready = "ready",
        /// The last read failed; the next run tries again.
        Failing = "failing",
        /// The account's authorization is gone; the user must connect it again.
        NeedsReauth = "needs-reauth",
        /// A guard tripped, or the book is in the trash: nothing runs until someone acts.
        Paused = "paused",
    }
}

text_enum! {
    /// Where a run is in its life.
    RunStatus {
        Planned = "planned",
        /// Planned and being applied at once: its operations are written in the apply's own
        /// transaction. A run still in this state after its process is gone applied nothing.
        Applying = "applying",
        /// A guard tripped; it is applied only when forced.
        Paused = "paused",
        Applied = "applied",
        /// The book or the source changed since the plan.
        Stale = "stale",
        Failed = "failed",
        /// A later undo run reverted it.
        Undone = "undone",
    }
}

text_enum! {
    /// What a run does.
    RunKind {
        Sync = "sync",
        Undo = "undo",
    }
}

text_enum! {
    /// Who started a run.
    Trigger {
        Cli = "cli",
        Web = "web",
        Schedule = "schedule",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back() {
        for s in SourceStatus::ALL {
            assert_eq!(SourceStatus::parse(s.as_str()), Some(*s));
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::from_db(s.as_str()).ok(), Some(*s));
        }
        assert!(RunKind::from_db("merge").is_err());
        assert_eq!(Trigger::parse("schedule"), Some(Trigger::Schedule));
    }
}
