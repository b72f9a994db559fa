//! Loopback fakes of the upstream services Kith syncs with, faithful to what the research
//! (`connectors.md` §2.7 and §5) lists: etag churn, query-bound page tokens, sync-token expiry
//! from the full sync, propagation delay, quotas with 429, the exact error bodies, single-use
//! OAuth codes with PKCE, and a control API (`/_fake/*`) with a virtual clock and fault
//! injection.

mod common;
pub mod google;
mod hooks;
pub mod m365;
pub mod oidc;
pub mod push;
pub mod sinks;
