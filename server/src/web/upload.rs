//! Uploading a contacts file: Kith detects the format from the content and shows it, with
//! the first contacts and any unreadable rows, before anything is imported. Importing makes
//! (or updates) a file source and previews its first run.

use super::Web;
use super::form::Form;
use super::page::{self, Nav};
use crate::store::sources::SourceKind;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use kith_connectors::formats::{self, RowError};
use std::path::PathBuf;

#[derive(Template)]
#[template(path = "upload.html")]
struct Checked {
    nav: Nav,
    file_name: String,
    format: &'static str,
    format_label: String,
    upload: String,
    contacts: usize,
    sample: Vec<String>,
    errors: Vec<RowError>,
    more_errors: usize,
    name: String,
    books: Vec<String>,
}

/// Where a user's uploads wait for import; a file source keeps reading its file from here.
fn upload_dir(web: &Web) -> PathBuf {
    web.app
        .config
        .data_dir
        .join("uploads")
        .join(web.user().id.to_string())
}

/// Removes this user's uploads older than a day that no source reads: files checked and
/// never imported, or replaced by a newer export.
async fn forget_stale(web: &Web, dir: &std::path::Path) {
    let Ok(sources) = web.app.store.sources(web.user().id).await else {
        return;
    };
    let used: std::collections::HashSet<String> =
        sources.into_iter().filter_map(|s| s.location).collect();
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    let day = std::time::Duration::from_secs(86_400);
    while let Ok(Some(e)) = entries.next_entry().await {
        let path = e.path();
        let old = e
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if old && !used.contains(&path.display().to_string()) {
            let _ = tokio::fs::remove_file(&path).await;
        }
    }
}

/// Uploads are named by a random token, never by the name the browser sent.
fn valid_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

pub async fn receive(web: &Web, form: Form) -> Response {
    let Some((file_name, bytes)) = form.file else {
        return page::error_back(
            web,
            StatusCode::BAD_REQUEST,
            "No file",
            "Choose a contacts file to upload.",
            "/sources",
        );
    };
    let read = match tokio::task::spawn_blocking({
        let bytes = bytes.clone();
        move || formats::read(&bytes, None)
    })
    .await
    {
        Ok(r) => r,
        Err(e) => return page::internal(web, e),
    };
    let read = match read {
        Ok(r) => r,
        Err(e) => {
            return page::error_back(
                web,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Kith cannot read this file",
                &format!("{file_name}: {e}"),
                "/sources",
            );
        }
    };
    let token = super::session::random_token();
    let dir = upload_dir(web);
    forget_stale(web, &dir).await;
    let ext = if read.format == formats::Format::Vcard {
        "vcf"
    } else {
        "csv"
    };
    let saved = tokio::fs::create_dir_all(&dir)
        .await
        .and(tokio::fs::write(dir.join(format!("{token}.{ext}")), &bytes).await);
    if let Err(e) = saved {
        return page::internal(web, e);
    }
    let format = read.format.as_str();
    let default_name = match read.format {
        formats::Format::LinkedinCsv => "linkedin",
        formats::Format::GoogleCsv => "google-csv",
        formats::Format::OutlookCsv => "outlook-csv",
        formats::Format::Vcard => "vcard",
    };
    let more_errors = read.errors.len().saturating_sub(20);
    page::ok(&Checked {
        nav: web.nav("sources"),
        file_name,
        format,
        format_label: SourceKind::File(read.format).title().to_string(),
        upload: format!("{token}.{ext}"),
        contacts: read.items.len(),
        sample: read
            .items
            .iter()
            .take(5)
            .map(|i| i.record.display_name())
            .collect(),
        errors: read.errors.into_iter().take(20).collect(),
        more_errors,
        name: default_name.into(),
        books: super::sources::book_names(web).await,
    })
}

/// Creates (or points at the new file) the file source, then previews its run.
pub async fn import(web: &Web, form: &Form) -> Response {
    let upload = form.get("upload");
    let (token, ext) = upload.split_once('.').unwrap_or(("", ""));
    if !valid_token(token) || !matches!(ext, "csv" | "vcf") {
        return page::not_found(web);
    }
    let path = upload_dir(web).join(upload);
    if !path.exists() {
        return page::error_back(
            web,
            StatusCode::GONE,
            "The upload is gone",
            "Upload the file again.",
            "/sources",
        );
    }
    let store = web.app.store.as_ref();
    let user = web.user();
    let name = form.get("name").trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return page::error_back(
            web,
            StatusCode::BAD_REQUEST,
            "Choose another name",
            "A source name uses letters, digits, '-', '_' and '.' only.",
            "/sources",
        );
    }
    // Told from the file again, not from the form: the source's kind must match its file.
    let format = match tokio::fs::read(&path).await.map(|b| formats::detect(&b)) {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            return page::error_back(
                web,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Kith cannot read this file",
                &e.to_string(),
                "/sources",
            );
        }
        Err(e) => return page::internal(web, e),
    };
    let location = path.display().to_string();
    let book = form.get("book");
    let coll = match crate::core::sources::book_id(store, user, book)
        .await
        .map_err(super::sources::words)
    {
        Ok(id) => id,
        Err(msg) => {
            return page::error_back(
                web,
                StatusCode::BAD_REQUEST,
                "No such address book",
                &msg,
                "/sources",
            );
        }
    };
    let result =
        crate::core::sources::file_source(store, user, &name, format, location, Some(coll))
            .await
            .map_err(super::sources::words);
    if let Err(msg) = result {
        return page::error_back(web, StatusCode::CONFLICT, "Not imported", &msg, "/sources");
    }
    super::runs::preview(web, &name).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn upload_tokens_are_hex_only() {
        assert!(super::valid_token(&"a".repeat(64)));
        assert!(!super::valid_token("../../etc/passwd"));
        assert!(!super::valid_token(&"g".repeat(64)));
    }
}
