//! What the fakes send to Kith: change notifications, delivered the way the real services do
//! (from a background task, after the change, possibly dropped or twice when a knob says so).

use std::time::Duration;

/// The client the fakes call Kith with.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// Whether a notification URL is acceptable. The real services require HTTPS with a public
/// certificate; a fake on loopback also accepts plain HTTP to loopback, which is all a test
/// can offer.
pub(crate) fn acceptable(url: &str) -> bool {
    url.starts_with("https://")
        || url.starts_with("http://127.0.0.1:")
        || url.starts_with("http://localhost:")
}

/// A unique id, like the services' GUIDs.
pub(crate) fn guid() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
