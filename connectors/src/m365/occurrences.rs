//! One occurrence of an Outlook series written on its own: Graph gives every occurrence an
//! id (found through `/instances` by its original start), a PATCH of that id makes it an
//! exception, and a DELETE cancels it.

use super::api::{Api, ApiError, enc};
use super::event::{original, time};
use crate::event::instances::{InstanceWrites, Occurrence};
use crate::event::when::When;
use reqwest::Method;
use serde_json::{Value, json};

/// The id of the occurrence that started at `at`, among a series' `/instances` rows.
fn row_at<'a>(rows: &'a [Value], at: &When, start: &When) -> Option<&'a str> {
    let want = at.utc(None);
    rows.iter()
        .find(|r| {
            original(r, start).is_some_and(|o| match (&o, at) {
                (When::Date(a), When::Date(b)) => a == b,
                _ => o.utc(None).is_some() && o.utc(None) == want,
            })
        })
        .and_then(|r| r["id"].as_str())
}

fn body(o: &Occurrence) -> Value {
    json!({
        "subject": o.summary.as_deref().unwrap_or(""),
        "body": {"contentType": "text", "content": o.description.as_deref().unwrap_or("")},
        "location": {"displayName": o.location.as_deref().unwrap_or("")},
        "start": time(&o.start),
        "end": time(&o.end),
        "isAllDay": o.start.is_date(),
    })
}

/// Carries `w` out on the series whose occurrences are `rows` and whose start is `start`. An
/// occurrence outside the window (or already gone) is left alone.
pub(super) async fn write(
    api: &mut Api,
    rows: &[Value],
    start: Option<&When>,
    w: &InstanceWrites,
) -> Result<(), ApiError> {
    let Some(start) = start else { return Ok(()) };
    for at in &w.cancels {
        let Some(id) = row_at(rows, at, start) else {
            continue;
        };
        match api
            .call(
                Method::DELETE,
                &format!("/me/events/{}", enc(id)),
                None,
                None,
            )
            .await
        {
            Ok(_) | Err(ApiError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    for o in &w.edits {
        let Some(id) = row_at(rows, &o.rid, start) else {
            continue;
        };
        match api
            .call(
                Method::PATCH,
                &format!("/me/events/{}", enc(id)),
                Some(&body(o)),
                None,
            )
            .await
        {
            Ok(_) | Err(ApiError::NotFound) => {}
            Err(ApiError::Rejected(m)) if m.contains("ErrorOccurrenceCrossingBoundary") => {
                return Err(ApiError::Rejected(format!(
                    "Outlook cannot move the occurrence of {} onto or past the day of the occurrence before or after it; it stays moved in Kith only",
                    o.rid
                )));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
