//! Invitations: what others invited the user to (their scheduling inbox), with Accept,
//! Maybe and Decline, and the e-mail addresses that name the user in invitations. The work
//! is `core::scheduling`'s, as for the CLI and DAV.

use super::Web;
use super::form::Form;
use super::page::{self, Nav};
use crate::core::scheduling::{addresses, invitations};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

pub struct Row {
    pub id: String,
    pub summary: String,
    pub organizer: String,
    pub start: String,
    pub answer: String,
}

#[derive(Template)]
#[template(path = "invitations.html")]
struct Page {
    nav: Nav,
    rows: Vec<Row>,
    addresses: Vec<String>,
    notice: Option<String>,
    error: Option<String>,
}

/// `20270104T100000Z` → `2027-01-04 10:00 UTC`; other forms as written.
fn when(start: &str) -> String {
    let s = start.trim();
    if s.len() >= 15 && s.as_bytes()[8] == b'T' {
        let utc = if s.ends_with('Z') { " UTC" } else { "" };
        return format!(
            "{}-{}-{} {}:{}{utc}",
            &s[0..4],
            &s[4..6],
            &s[6..8],
            &s[9..11],
            &s[11..13]
        );
    }
    if s.len() == 8 {
        return format!("{}-{}-{}", &s[0..4], &s[4..6], &s[6..8]);
    }
    s.to_string()
}

async fn render(
    web: &Web,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let store = web.app.store.as_ref();
    let sched = crate::sync::notify::mail::scheduler(store, &web.app.config);
    let list = match invitations::list(&sched, web.user()).await {
        Ok(l) => l,
        Err(e) => return page::internal(web, e),
    };
    let addresses = match addresses::of(store, web.user()).await {
        Ok(a) => a,
        Err(e) => return page::internal(web, e),
    };
    let rows = list
        .into_iter()
        .map(|i| Row {
            answer: match i.partstat.as_str() {
                "ACCEPTED" => "accepted",
                "TENTATIVE" => "maybe",
                "DECLINED" => "declined",
                _ => "not answered",
            }
            .to_string(),
            start: when(&i.start),
            id: i.id,
            summary: i.summary,
            organizer: i.organizer,
        })
        .collect();
    page::render(
        status,
        &Page {
            nav: web.nav("invitations"),
            rows,
            addresses,
            notice,
            error,
        },
    )
}

pub async fn show(web: &Web) -> Response {
    render(web, StatusCode::OK, None, None).await
}

/// `POST /invitations/ACTION`: answer one, or add or remove an address.
pub async fn act(web: &Web, action: &str, form: &Form) -> Response {
    let store = web.app.store.as_ref();
    let user = web.user();
    let done = match action {
        "answer" => {
            let sched = crate::sync::notify::mail::scheduler(store, &web.app.config);
            invitations::answer(&sched, user, form.get("id"), form.get("answer"))
                .await
                .map(|i| {
                    format!(
                        "{}: {}. {} has been told.",
                        i.summary,
                        i.partstat.to_lowercase(),
                        i.organizer
                    )
                })
                .map_err(|e| e.to_string())
        }
        "address-add" => addresses::change(store, user, &[form.get("address").to_string()], &[])
            .await
            .map(|_| "Invitations to that address now reach you.".to_string())
            .map_err(|e| e.to_string()),
        "address-remove" => addresses::change(store, user, &[], &[form.get("address").to_string()])
            .await
            .map(|_| "That address no longer names you.".to_string())
            .map_err(|e| e.to_string()),
        _ => return page::not_found(web),
    };
    match done {
        Ok(n) => render(web, StatusCode::OK, Some(n), None).await,
        Err(e) => render(web, StatusCode::BAD_REQUEST, None, Some(e)).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn start_times_read_as_people_write_them() {
        assert_eq!(super::when("20270104T100000Z"), "2027-01-04 10:00 UTC");
        assert_eq!(super::when("20270104T100000"), "2027-01-04 10:00");
        assert_eq!(super::when("20270104"), "2027-01-04");
    }
}
