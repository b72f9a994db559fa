//! Google's OAuth errors, each as the message that tells the user what to do.

use crate::oauth::OAuthError;

/// The plain-language message for an OAuth error from Google. `client_id` is named where an
/// admin must act on it.
pub fn oauth_message(e: &OAuthError, client_id: &str) -> String {
    match e.code.as_str() {
        "admin_policy_enforced" => format!(
            "Your Google Workspace administrator does not allow Kith yet. Ask them to open the Admin console (Security → Access and data control → API controls → Manage third-party app access), add the OAuth client ID {client_id} and mark it Trusted; then connect again."
        ),
        "org_internal" => "This Google OAuth app is limited to its own Workspace organisation (its consent screen is set to Internal), and your account is outside it. Sign in with an account of that organisation, or ask the Kith admin to set the app's user type to External in the Google Cloud console.".into(),
        "access_not_configured" => "Your Google Workspace for Education administrator has not allowed this app. Ask them to allow the OAuth client ID in the Admin console, then connect again.".into(),
        "access_denied" => "You declined access at Google, so nothing was connected. Kith needs access to your contacts: start the connection again and choose Allow.".into(),
        "invalid_grant" => "Google no longer accepts Kith's authorization: it was revoked in your Google account, went unused for six months, or the app is in Testing mode (where authorizations end after seven days). Your contacts already in Kith are kept. Connect the account again to resume syncing.".into(),
        "invalid_client" | "unauthorized_client" => format!(
            "Google does not accept Kith's OAuth client ({}). The Kith admin must check the Google client id and secret (on the admin page, or [providers.google] in the config).",
            e.description
        ),
        "redirect_uri_mismatch" => "Google refused the redirect address. The Kith admin must add <redirect_base>/oauth/google/callback to the OAuth client's authorized redirect URIs.".into(),
        "unreachable" => format!("Google could not be reached ({}); try again in a few minutes.", e.description),
        _ => format!(
            "Google refused the authorization ({}{}); start the connection again, and if it keeps failing ask the Kith admin.",
            e.code,
            if e.description.is_empty() { String::new() } else { format!(": {}", e.description) }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_error_names_its_fix() {
        let m = |c: &str| oauth_message(&OAuthError::new(c, ""), "123.apps.googleusercontent.com");
        assert!(m("admin_policy_enforced").contains("123.apps.googleusercontent.com"));
        assert!(m("admin_policy_enforced").contains("Trusted"));
        assert!(m("org_internal").contains("Internal"));
        assert!(m("access_denied").contains("Allow"));
        assert!(m("invalid_grant").contains("kept"));
        assert!(m("something_new").contains("something_new"));
    }
}
