//! Client detection from the User-Agent, logged on every request and used by named quirks.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Apple,
    Thunderbird,
    Davx5,
    Evolution,
    CalDavSynchronizer,
    Vdirsyncer,
    Khard,
    Curl,
    Other,
}

impl Client {
    pub fn detect(ua: Option<&str>) -> Client {
        let Some(ua) = ua else { return Client::Other };
        let has = |s: &str| ua.contains(s);
        if has("dataaccessd")
            || has("accountsd")
            || has("remindd")
            || has("AddressBook")
            || has("CalendarAgent")
            || has("iOS/")
            || has("macOS/")
            || has("Mac OS X/")
            || has("Mac_OS_X/")
            || has("CoreDAV")
            || has("DAVKit")
        {
            Client::Apple
        } else if has("DAVx5") || has("DAVdroid") {
            Client::Davx5
        } else if has("Thunderbird") || has("Lightning") {
            Client::Thunderbird
        } else if has("Evolution") {
            Client::Evolution
        } else if has("CalDavSynchronizer") {
            Client::CalDavSynchronizer
        } else if has("vdirsyncer") {
            Client::Vdirsyncer
        } else if has("khard") {
            Client::Khard
        } else if has("curl/") {
            Client::Curl
        } else {
            Client::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Client::Apple => "apple",
            Client::Thunderbird => "thunderbird",
            Client::Davx5 => "davx5",
            Client::Evolution => "evolution",
            Client::CalDavSynchronizer => "caldav-synchronizer",
            Client::Vdirsyncer => "vdirsyncer",
            Client::Khard => "khard",
            Client::Curl => "curl",
            Client::Other => "other",
        }
    }

    /// Quirk "apple-vcard3": iOS and macOS Contacts read vCard 3.0 only (anchors.md §2.1.5), so a
    /// stored 4.0 card is served to them as 3.0 unless they ask for a version.
    pub fn default_vcard_version(self) -> Option<kith_dav::vcard::Version> {
        match self {
            Client::Apple => Some(kith_dav::vcard::Version::V3),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_common_clients() {
        assert_eq!(
            Client::detect(Some("iOS/17.4 (21E219) dataaccessd/1.0")),
            Client::Apple
        );
        assert_eq!(
            Client::detect(Some("Mozilla/5.0 Thunderbird/128.0")),
            Client::Thunderbird
        );
        assert_eq!(
            Client::detect(Some(
                "DAVx5/4.4 (2024/05/01; dav4jvm; okhttp/4.12) Android/14"
            )),
            Client::Davx5
        );
        assert_eq!(Client::detect(None), Client::Other);
    }
}
