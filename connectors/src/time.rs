//! The wall clock, read in one place for the whole workspace (the server re-exports it).

/// Unix time in milliseconds; 0 if the clock reads before 1970.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
