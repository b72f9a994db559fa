//! What a source must supply to the engine. A file source only reads; an API source (Google,
//! Microsoft 365) adds writes and a change feed. The plan, merge, guards and history do not
//! change when one is added.

use crate::formats::{self, Format, RowError, SourceItem};
use crate::record::{Field, Record};
pub use crate::watch::{Watch, WatchRequest};
use async_trait::async_trait;

/// One read of a source.
#[derive(Debug, Default)]
pub struct Fetched {
    pub items: Vec<SourceItem>,
    /// Ids the change feed reports deleted (API sources).
    pub removed: Vec<String>,
    /// Whether every page/row was read. A partial read never leads to unlinks or deletes.
    pub complete: bool,
    /// Whether `items` is the whole source (a snapshot or a full enumeration), so that absence
    /// means removal; `false` for an incremental change feed.
    pub full: bool,
    /// A full listing made because the change feed's position was lost (a first sync, an
    /// expired sync token): absence from it proves nothing, so it never unlinks or deletes.
    pub resync: bool,
    pub errors: Vec<RowError>,
    /// Where to resume next time (a delta link or sync token); `None` for files.
    pub cursor: Option<String>,
}

/// Where a change feed resumes: its position (a sync token, or Graph's whole deltaLink) and
/// when the full listing that began this chain of positions ran. Chains are restarted by a
/// full listing after an age the provider sets (Google's six days, the monthly re-baseline of
/// a Graph window), as well as when the provider says the position is gone.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FeedCursor {
    /// Stored as `link` by Graph calendar cursors before they were shared.
    #[serde(alias = "link")]
    pub token: String,
    pub full_at: i64,
}

impl FeedCursor {
    /// The stored cursor, unless it is unreadable or its chain is `max_age_ms` old: then a
    /// full listing is due.
    pub fn resume(stored: Option<&str>, max_age_ms: i64) -> Option<FeedCursor> {
        let c: FeedCursor = serde_json::from_str(stored?).ok()?;
        (crate::time::now_ms() - c.full_at < max_age_ms).then_some(c)
    }

    /// What to store after the feed was read to `next`: the same chain, moved on.
    pub fn then(&self, next: Option<String>) -> Option<String> {
        next.map(|token| Self::json(token, self.full_at))
    }

    /// What to store after a full listing that ended at `token`: a chain beginning now.
    pub fn begin(token: Option<String>) -> Option<String> {
        token.map(|t| Self::json(t, crate::time::now_ms()))
    }

    fn json(token: String, full_at: i64) -> String {
        serde_json::to_string(&FeedCursor { token, full_at }).unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{0}")]
    Format(#[from] formats::FormatError),
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    #[error("this source is read-only")]
    ReadOnly,
    #[error("the source needs to be authorized again: {0}")]
    NeedsReauth(String),
    #[error("the source is unavailable: {0}")]
    Unavailable(String),
    /// The write's version precondition failed: someone changed the contact since it was read.
    #[error("the contact changed in the source since it was read")]
    Stale,
    /// The source refused the write; retrying the same write cannot succeed.
    #[error("the source refused the change: {0}")]
    Rejected(String),
    /// The request may or may not have been carried out (the answer was lost).
    #[error("the source's answer was lost: {0}")]
    Unknown(String),
}

/// A source the engine can read and, for API sources, write.
#[async_trait]
pub trait Connector: Send {
    /// The fields this source can represent; merges and pushes are limited to them.
    fn fields(&self) -> &'static [Field];
    /// Whether create/update/delete work at all.
    fn writable(&self) -> bool;
    /// Reads changes since `cursor`, or everything when `cursor` is `None` (the listing).
    async fn changes(&mut self, cursor: Option<&str>) -> Result<Fetched, ConnectorError>;
    /// Reads one contact again, e.g. after a precondition failure; `None` if it is gone.
    async fn get(&mut self, id: &str) -> Result<Option<SourceItem>, ConnectorError>;
    /// Creates a contact and returns it as the source stored it (with its new id). `marker`
    /// (the card's name) is stored with it where the source can hold it.
    async fn create(
        &mut self,
        _record: &Record,
        _marker: &str,
    ) -> Result<SourceItem, ConnectorError> {
        Err(ConnectorError::ReadOnly)
    }
    /// Updates a contact if it is still at `version`.
    async fn update(
        &mut self,
        _id: &str,
        _version: &str,
        _record: &Record,
    ) -> Result<SourceItem, ConnectorError> {
        Err(ConnectorError::ReadOnly)
    }
    async fn delete(&mut self, _id: &str, _version: &str) -> Result<(), ConnectorError> {
        Err(ConnectorError::ReadOnly)
    }
    /// Limits a record to what the source can store (Outlook's three email slots, say). What
    /// is pushed and compared is fitted first, so a value the source cannot hold is not seen
    /// as a difference on every run. The card itself keeps everything.
    fn fit(&self, record: Record) -> Record {
        record
    }
    /// The label (category) every contact Kith creates in the source gets, where the
    /// source's target for creates is a label rather than a folder. The card gets it too, so
    /// both sides agree.
    fn create_label(&self) -> Option<&str> {
        None
    }
    /// Finds a contact by the marker Kith stored with it: how a create whose answer was lost
    /// is found when the change feed does not carry the marker.
    async fn find(&mut self, _marker: &str) -> Result<Option<SourceItem>, ConnectorError> {
        Ok(None)
    }
    /// How long to wait before retry `attempt` (1-based) of a write that met a stale version.
    fn retry_delay(&self, attempt: u32) -> std::time::Duration {
        std::time::Duration::from_secs(4u64.saturating_pow(attempt.saturating_sub(1)))
    }
    /// Asks the provider to notify Kith of changes to this source: one watch per feed the
    /// source reads. Empty when the provider cannot (files, the People API).
    async fn watch(&mut self, _req: &WatchRequest) -> Result<Vec<Watch>, ConnectorError> {
        Ok(Vec::new())
    }
    /// Extends `w` to `req.expires_at`: Graph renews it in place; Google has no renewal, so a
    /// new channel replaces it and the old one is stopped.
    async fn renew_watch(
        &mut self,
        w: &Watch,
        _req: &WatchRequest,
    ) -> Result<Watch, ConnectorError> {
        Ok(w.clone())
    }
    /// Ends a watch; one the provider no longer knows counts as ended.
    async fn unwatch(&mut self, _w: &Watch) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// A CSV or vCard file: a snapshot, read whole each time.
pub struct FileConnector {
    pub bytes: Vec<u8>,
    pub format: Option<Format>,
}

#[async_trait]
impl Connector for FileConnector {
    fn fields(&self) -> &'static [Field] {
        &Field::ALL
    }

    fn writable(&self) -> bool {
        false
    }

    async fn changes(&mut self, _cursor: Option<&str>) -> Result<Fetched, ConnectorError> {
        let read = formats::read(&self.bytes, self.format)?;
        Ok(Fetched {
            items: read.items,
            removed: Vec::new(),
            complete: true,
            full: true,
            resync: false,
            errors: read.errors,
            cursor: None,
        })
    }

    async fn get(&mut self, id: &str) -> Result<Option<SourceItem>, ConnectorError> {
        let read = formats::read(&self.bytes, self.format)?;
        Ok(read.items.into_iter().find(|i| i.id == id))
    }
}

#[cfg(test)]
mod feed_cursor_tests {
    use super::FeedCursor;

    #[test]
    fn a_cursor_resumes_until_its_chain_is_too_old_and_reads_the_old_graph_form() {
        let now = crate::time::now_ms();
        let stored = FeedCursor::begin(Some("tok-1".into())).unwrap();
        let c = FeedCursor::resume(Some(&stored), 60_000).unwrap();
        assert_eq!(c.token, "tok-1");
        let moved = c.then(Some("tok-2".into())).unwrap();
        let m = FeedCursor::resume(Some(&moved), 60_000).unwrap();
        assert_eq!((m.token.as_str(), m.full_at), ("tok-2", c.full_at));
        let old = format!(
            r#"{{"link":"https://graph/delta?t=1","full_at":{}}}"#,
            now - 120_000
        );
        assert!(FeedCursor::resume(Some(&old), 60_000).is_none(), "too old");
        let graph = FeedCursor::resume(Some(&old), 600_000).unwrap();
        assert_eq!(graph.token, "https://graph/delta?t=1");
        assert!(FeedCursor::resume(Some("not json"), 60_000).is_none());
        assert!(FeedCursor::resume(None, 60_000).is_none());
    }
}
