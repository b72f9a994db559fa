//! Microsoft identity platform errors (AADSTS codes), each as the message that tells the user
//! (or their admin) what to do.

use crate::oauth::OAuthError;

/// The AADSTS number in an error description (`AADSTS65001: The user or administrator…`).
pub fn aadsts(e: &OAuthError) -> Option<u32> {
    let i = e.description.find("AADSTS")?;
    let digits: String = e.description[i + 6..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Whether the error means the organisation's admin must act (consent for the tenant,
/// assignment, policies) rather than the user.
pub fn needs_admin(e: &OAuthError) -> bool {
    matches!(aadsts(e), Some(65001 | 90094 | 90093 | 50105 | 53003)) || e.code == "consent_required"
}

/// The plain-language message for an error from Microsoft. `admin_link` is where a tenant
/// admin grants consent for the whole organisation.
pub fn oauth_message(e: &OAuthError, client_id: &str, admin_link: &str) -> String {
    let admin = format!(
        "Ask a Microsoft 365 administrator of your organisation to open {admin_link} and grant Kith access for everyone (admin consent), then connect again."
    );
    match aadsts(e) {
        Some(65001) => format!("Your organisation has not consented to Kith reading and writing contacts, and you cannot consent yourself. {admin}"),
        Some(65004) => "You declined the permissions Kith asked for, so nothing was connected. Connect again and accept them; Kith needs access to your contacts.".into(),
        Some(90094) => format!("Kith needs permissions only an administrator can grant in your organisation. {admin}"),
        Some(90093) => format!("Your organisation's policy does not let users consent to apps like Kith. {admin}"),
        Some(50105) => format!("Your account is not assigned to the Kith app in your organisation (assignment is required). An administrator must assign you to the enterprise application with client ID {client_id} in Microsoft Entra ID."),
        Some(53003) => "Your organisation's Conditional Access policies blocked the sign-in. Ask your Microsoft 365 administrator to allow Kith (its client ID is shown on Kith's provider page), or sign in from a compliant device.".into(),
        Some(700016) => format!("The app with client ID {client_id} does not exist in your organisation's directory. The Kith admin must check the Microsoft 365 client id and tenant (on the admin page, or [providers.m365] in the config)."),
        Some(50020) => "Your account is not part of the Microsoft 365 organisation this Kith server accepts. Sign in with your organisation's account, or ask the Kith admin to set the Microsoft 365 tenant to \"common\" or \"organizations\" (on the admin page).".into(),
        Some(50076 | 50079) => "Microsoft requires multi-factor authentication for this sign-in. Connect again and complete the MFA prompt.".into(),
        Some(70008) => "The authorization expired before it was used (or Kith's stored authorization has expired). Your contacts already in Kith are kept. Connect the account again.".into(),
        Some(700082) => "Kith's authorization expired because it was not used for 90 days. Your contacts already in Kith are kept. Connect the account again to resume syncing.".into(),
        Some(50173) => "Kith's authorization was revoked, usually by a password reset. Your contacts already in Kith are kept. Connect the account again to resume syncing.".into(),
        Some(54005) => "This authorization code was already used. Start the connection again.".into(),
        Some(7000215 | 7000222) => "Microsoft rejected Kith's client secret (it is wrong or has expired). The Kith admin must create a new secret for the app and enter it on the admin page (Providers, Microsoft 365).".into(),
        Some(50011) => "Microsoft refused the redirect address. The Kith admin must add <redirect_base>/oauth/m365/callback as a Web redirect URI of the app registration.".into(),
        _ => match e.code.as_str() {
            "consent_required" => format!("Your organisation has not consented to Kith. {admin}"),
            "access_denied" => "Access was denied at Microsoft, so nothing was connected. Connect again and accept the permissions; if you are blocked, ask your administrator.".into(),
            "invalid_grant" => "Microsoft no longer accepts Kith's authorization. Your contacts already in Kith are kept. Connect the account again to resume syncing.".into(),
            "unreachable" => format!("Microsoft could not be reached ({}); try again in a few minutes.", e.description),
            _ => format!(
                "Microsoft refused the authorization ({}{}); start the connection again, and if it keeps failing ask the Kith admin.",
                e.code,
                aadsts(e).map(|n| format!(", AADSTS{n}")).unwrap_or_default()
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aadsts_code_in_the_research_table_names_its_fix() {
        let m = |code: &str, n: u32| {
            oauth_message(
                &OAuthError::new(code, format!("AADSTS{n}: something.\r\nTrace ID: x")),
                "cid-1",
                "https://kith.example/oauth/m365/adminconsent",
            )
        };
        for n in [65001, 90094, 90093] {
            assert!(
                m("access_denied", n).contains("/oauth/m365/adminconsent"),
                "{n}"
            );
        }
        assert!(m("invalid_grant", 50105).contains("cid-1"));
        assert!(m("access_denied", 53003).contains("Conditional Access"));
        assert!(m("invalid_grant", 700082).contains("90 days"));
        assert!(m("invalid_grant", 50173).contains("password reset"));
        assert!(m("invalid_client", 7000215).contains("client secret"));
        assert!(m("invalid_grant", 70008).contains("expired"));
        assert!(m("access_denied", 65004).contains("declined"));
        assert!(m("interaction_required", 50076).contains("multi-factor"));
        assert!(m("unauthorized_client", 700016).contains("cid-1"));
        assert!(m("invalid_request", 50020).contains("organisation"));
        assert!(m("invalid_grant", 54005).contains("already used"));
        assert!(m("invalid_request", 50011).contains("redirect"));
        assert!(needs_admin(&OAuthError::new(
            "consent_required",
            "AADSTS65001: x"
        )));
        assert!(!needs_admin(&OAuthError::new(
            "invalid_grant",
            "AADSTS700082: x"
        )));
    }
}
