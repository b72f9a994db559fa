//! Rule `apple-groups`: a contact group in each version's own dialect. Apple's clients speak
//! 3.0 and write a group as `X-ADDRESSBOOKSERVER-KIND:group` with one
//! `X-ADDRESSBOOKSERVER-MEMBER` per member; vCard 4.0 has `KIND:group` and `MEMBER`
//! (RFC 6350 §6.1.4, §6.6.5). calcard keeps Apple's names in 4.0 and writes `KIND:GROUP` and
//! `MEMBER` into 3.0, so neither side would see a group; this rewrites its output, line by
//! line, so a group converted to the other version and back is the card it was.

use crate::lines::{fold, split, unfold};
use crate::vcard_version::Version;

const APPLE_KIND: &str = "X-ADDRESSBOOKSERVER-KIND";
const APPLE_MEMBER: &str = "X-ADDRESSBOOKSERVER-MEMBER";

/// The names of a group's properties in `want`, from their names in the other version.
fn renamed(name: &str, want: Version) -> Option<&'static str> {
    match (want, name) {
        (Version::V4, APPLE_KIND) => Some("KIND"),
        (Version::V4, APPLE_MEMBER) => Some("MEMBER"),
        (Version::V3, "KIND") => Some(APPLE_KIND),
        (Version::V3, "MEMBER") => Some(APPLE_MEMBER),
        _ => None,
    }
}

/// `converted` (a card calcard wrote in version `want`) with its group properties named as
/// `want` names them. A card that already has the target's own property keeps it, and the
/// other dialect's copy is dropped rather than doubled.
pub fn rewrite(converted: &str, want: Version) -> String {
    let lines = unfold(converted);
    let names: Vec<Option<String>> = lines
        .iter()
        .map(|l| split(l).map(|(_, n, _, _)| n))
        .collect();
    let has = |target: &str| names.iter().flatten().any(|n| n == target);
    if !names.iter().flatten().any(|n| renamed(n, want).is_some()) {
        return converted.to_string();
    }
    let mut out = String::with_capacity(converted.len());
    for (line, name) in lines.iter().zip(&names) {
        let Some((group, name, params, value)) = name.as_ref().and_then(|_| split(line)) else {
            fold(line, &mut out);
            continue;
        };
        let Some(target) = renamed(&name, want) else {
            fold(line, &mut out);
            continue;
        };
        if has(target) {
            continue;
        }
        let prefix = group.map(|g| format!("{g}.")).unwrap_or_default();
        let value = if target.ends_with("KIND") {
            value.to_ascii_lowercase()
        } else {
            value.to_string()
        };
        // PID ties a 4.0 property to a CLIENTPIDMAP, which 3.0 does not have.
        let params: String = params
            .split(';')
            .filter(|p| !p.is_empty())
            .filter(|p| !(want == Version::V3 && p.to_ascii_uppercase().starts_with("PID=")))
            .map(|p| format!(";{p}"))
            .collect();
        fold(&format!("{prefix}{target}{params}:{value}"), &mut out);
    }
    out
}
