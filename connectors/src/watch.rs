//! Change notifications from a provider: a Microsoft Graph subscription or a Google Calendar
//! channel asks the provider to call Kith when a source changes. A notification is only a
//! hint; Kith answers it with an ordinary incremental run, so a lost one costs latency, never
//! data.

/// What Kith asks the provider for.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    /// Where notifications go (HTTPS, reachable by the provider).
    pub url: String,
    /// Where Graph's lifecycle notifications go.
    pub lifecycle_url: String,
    /// Sent back with every notification (Graph `clientState`, Google's channel token).
    pub secret: String,
    /// When the watch should end (Unix ms); providers may give less.
    pub expires_at: i64,
}

/// A watch the provider made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// Graph's subscription id, or Google's channel id.
    pub remote_id: String,
    /// Google's resource id, needed to stop the channel.
    pub resource_id: Option<String>,
    /// When the provider ends it (Unix ms).
    pub expires_at: i64,
}
