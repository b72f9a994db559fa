//! Kith's sync tokens (RFC 6578): the collection and its change stamp, in one URI. Clients
//! read them in `sync-token` and in WebDAV-Push messages.

/// The sync token of collection `collection_id` as of change stamp `seq`.
pub fn format(collection_id: i64, seq: i64) -> String {
    format!("urn:kith:sync:{collection_id}:{seq}")
}

/// The stamp in `token`, if it is ours and for collection `collection_id`.
pub fn parse(collection_id: i64, token: &str) -> Option<i64> {
    let rest = token.strip_prefix("urn:kith:sync:")?;
    let (id, seq) = rest.split_once(':')?;
    (id.parse::<i64>().ok()? == collection_id)
        .then(|| seq.parse::<i64>().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_round_trip_for_their_own_collection_only() {
        let t = super::format(7, 42);
        assert_eq!(super::parse(7, &t), Some(42));
        assert_eq!(super::parse(8, &t), None);
        assert_eq!(super::parse(7, "http://other/sync/1"), None);
    }
}
