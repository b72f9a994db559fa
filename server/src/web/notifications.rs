//! Notifications: where news of the user's automatic runs goes (mail, webhook) and on which
//! occasions (failure, guard trip, changes), with a button that sends a test.

use super::Web;
use super::form::Form;
use super::page::{self, Nav};
use crate::sync::notify::{Notice, Occasion, Settings};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

#[derive(Template)]
#[template(path = "notifications.html")]
struct Page {
    nav: Nav,
    s: Settings,
    mail: bool,
    notice: Option<String>,
    error: Option<String>,
}

async fn render(
    web: &Web,
    status: StatusCode,
    s: Option<Settings>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let app = &web.app;
    let s = match s {
        Some(s) => s,
        None => {
            app.notifier
                .settings(app.store.as_ref(), &app.upstreams, web.user().id)
                .await
        }
    };
    page::render(
        status,
        &Page {
            nav: web.nav("notifications"),
            mail: app.notifier.mail_available(),
            s,
            notice,
            error,
        },
    )
}

pub async fn show(web: &Web) -> Response {
    render(web, StatusCode::OK, None, None, None).await
}

fn field(form: &Form, name: &str) -> Option<String> {
    let v = form.get(name).trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// `POST /notifications`: saves the form.
pub async fn save(web: &Web, form: &Form) -> Response {
    let s = Settings {
        email: field(form, "email"),
        webhook: field(form, "webhook"),
        on_failure: form.checked("on_failure"),
        on_guard: form.checked("on_guard"),
        on_changes: form.checked("on_changes"),
    };
    let app = &web.app;
    match app
        .notifier
        .save(app.store.as_ref(), &app.upstreams, web.user().id, &s)
        .await
    {
        Ok(()) => render(web, StatusCode::OK, None, Some("Saved.".into()), None).await,
        // The form keeps what was typed, so nothing is lost to a typo.
        Err(e) => {
            render(
                web,
                StatusCode::BAD_REQUEST,
                Some(s),
                None,
                Some(format!("Not saved: {e}.")),
            )
            .await
        }
    }
}

/// `POST /notifications/test`: sends a test on every saved channel.
pub async fn test(web: &Web) -> Response {
    let app = &web.app;
    let s = app
        .notifier
        .settings(app.store.as_ref(), &app.upstreams, web.user().id)
        .await;
    let n = Notice {
        occasion: Occasion::Test,
        user: web.user().name.clone(),
        source: None,
        run: None,
        message: "This is a test: notifications of your automatic runs reach you here.".into(),
    };
    match app.notifier.send(&s, &n).await {
        Ok(sent) => {
            let msg = format!("Test sent by {}.", sent.join(" and "));
            render(web, StatusCode::OK, None, Some(msg), None).await
        }
        Err(e) => {
            let msg = format!("The test was not sent: {e}.");
            render(web, StatusCode::BAD_GATEWAY, None, None, Some(msg)).await
        }
    }
}
