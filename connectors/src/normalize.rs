//! Normal forms used to compare values from different sources.

/// Trims, turns CRLF into LF and trims each line's end.
pub fn text(s: &str) -> String {
    let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if !s.contains('\r') && !s.contains(" \n") {
        return s.to_string();
    }
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A label as exports write it (`* Work`, `INTERNET`, `Mobile`), lower-cased, with Google's
/// primary marker dropped.
pub fn label(s: &str) -> String {
    s.trim().trim_start_matches("* ").trim().to_lowercase()
}

/// Emails compare case-insensitively (in practice every provider ignores local-part case).
pub fn email_key(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix("mailto:")
        .or_else(|| s.strip_prefix("MAILTO:"))
        .unwrap_or(s);
    s.trim().to_lowercase()
}

/// A phone number's identity: its last nine digits, so that the E.164 form (`+1 206 555 0143`,
/// `001 206…`) and the national form (`(206) 555-0143`) of one number are one element; shorter
/// numbers keep all their digits. Extensions (`x123`, `ext. 123`) are not part of it.
pub fn phone_key(s: &str) -> String {
    let e164 = phone_e164(s);
    let digits = e164.trim_start_matches('+');
    if digits.len() > 9 {
        digits[digits.len() - 9..].to_string()
    } else {
        digits.to_string()
    }
}

/// E.164 (`+` and digits) when the number is international (`+…` or `00…`); otherwise its
/// digits.
pub fn phone_e164(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix("tel:").unwrap_or(s);
    let main = s
        .to_ascii_lowercase()
        .split(['x', ';', ','])
        .next()
        .unwrap_or("")
        .replace("ext", "");
    let digits: String = main.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return String::new();
    }
    if main.trim_start().starts_with('+') {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00").filter(|r| r.len() >= 7) {
        format!("+{rest}")
    } else {
        digits
    }
}

/// URLs compare without scheme, `www.`, trailing slash and case of the host; LinkedIn profile
/// URLs compare as their normalized profile key.
pub fn url_key(s: &str) -> String {
    if let Some(k) = linkedin_key(s) {
        return k;
    }
    let s = s.trim();
    let rest = s.split_once("://").map(|(_, r)| r).unwrap_or(s);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        host.to_string()
    } else {
        format!("{host}/{path}")
    }
}

/// `linkedin.com/in/<slug>` for a LinkedIn member profile URL, whatever its scheme, host
/// prefix, case, query or trailing slash; `None` for anything else.
pub fn linkedin_key(s: &str) -> Option<String> {
    let lower = s.trim().to_lowercase();
    let rest = lower.split_once("://").map(|(_, r)| r).unwrap_or(&lower);
    let (host, path) = rest.split_once('/')?;
    if !(host == "linkedin.com" || host.ends_with(".linkedin.com")) {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let slug = path.strip_prefix("in/")?.trim_end_matches('/');
    let slug = slug.split('/').next().unwrap_or("");
    (!slug.is_empty()).then(|| format!("linkedin.com/in/{slug}"))
}

/// The domain of an email address, lower-cased.
pub fn email_domain(s: &str) -> Option<String> {
    email_key(s).rsplit_once('@').map(|(_, d)| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linkedin_urls_collapse_to_one_key() {
        for u in [
            "https://www.linkedin.com/in/ArjunMehta/",
            "http://linkedin.com/in/arjunmehta?trk=x",
            "www.linkedin.com/in/arjunmehta",
            "https://uk.linkedin.com/in/arjunmehta/en",
        ] {
            assert_eq!(
                linkedin_key(u).as_deref(),
                Some("linkedin.com/in/arjunmehta"),
                "{u}"
            );
        }
        assert_eq!(linkedin_key("https://www.linkedin.com/company/x"), None);
        assert_eq!(url_key("HTTPS://Example.org/a/"), "example.org/a");
    }

    #[test]
    fn phones_and_emails() {
        assert_eq!(phone_e164("+1 (555) 010-2000 x12"), "+15550102000");
        assert_eq!(phone_e164("0049 30 1234567"), "+49301234567");
        assert_eq!(phone_e164("(555) 010-2000"), "5550102000");
        assert_eq!(phone_key("+1 206 555 0143"), phone_key("(206) 555-0143"));
        assert_eq!(phone_key("112"), "112");
        assert_eq!(email_key("MAILTO:Ada@Example.ORG"), "ada@example.org");
        assert_eq!(
            email_domain("x@Corp.Example").as_deref(),
            Some("corp.example")
        );
        assert_eq!(text("  a\r\nb  \r\n"), "a\nb");
    }
}
