//! `/t/{slug}/audit`: who did what, and when (admins only), filtered by action, person and
//! dates, a page at a time, and the same view as a CSV file.

use std::borrow::Cow;

use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::fields::FieldView;
use super::{format_time, render, render_invalid, Chrome, Query};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member};
use crate::domain::audit::{AuditFilter, AuditFilterForm};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::store::audit::{self, AuditAction};

/// Entries on one page.
pub const PER_PAGE: i64 = 50;
/// The most entries one CSV export holds (the newest that match); narrow the dates for
/// older ones.
pub const EXPORT_MAX: i64 = 100_000;

struct Row {
    when: String,
    actor: String,
    /// What happened, in words.
    what: &'static str,
    /// The stable code, for people who search or script.
    action: String,
    detail: String,
}

/// The audit log's codes as people read them ("Other" for a code this version does not
/// know).
fn describe(action: &str) -> &'static str {
    AuditAction::parse(action).map_or("Other", AuditAction::label)
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    page: Chrome,
    slug: String,
    rows: Vec<Row>,
    errors: FieldErrors,
    /// `(code, label, selected)`, "any action" first.
    actions: Vec<(&'static str, &'static str, bool)>,
    person: FieldView,
    from: FieldView,
    to: FieldView,
    /// Whether any filter is set (the empty-list sentence and "Show everything" say so).
    filtered: bool,
    total: i64,
    page_no: u32,
    pages: i64,
    newer: Option<String>,
    older: Option<String>,
    /// The CSV of this filtered view.
    export: String,
}

/// The address of the log (`audit` or `audit/export.csv`) with the filter's fields and
/// `extra` ones, each only when set.
fn link(slug: &str, path: &str, form: &AuditFilterForm, extra: &[(&str, String)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in [("action", &form.action), ("person", &form.person), ("from", &form.from), ("to", &form.to)] {
        if !value.trim().is_empty() {
            query.append_pair(key, value.trim());
        }
    }
    for (key, value) in extra {
        query.append_pair(key, value);
    }
    let query = query.finish();
    if query.is_empty() {
        format!("/t/{slug}/{path}")
    } else {
        format!("/t/{slug}/{path}?{query}")
    }
}

/// The From field's hint: the days are the organization's, in its time zone.
fn from_hint(zone: &crate::domain::time_zone::Zone) -> String {
    format!("A day in the organization's time zone ({}).", zone.as_str())
}

fn page_view(member: &Member, page: Chrome, form: &AuditFilterForm, errors: FieldErrors) -> AuditPage {
    let chosen = form.action.trim();
    let actions = std::iter::once(("", "Any action", chosen.is_empty()))
        .chain(AuditAction::ALL.iter().map(|a| (a.as_str(), a.label(), a.as_str() == chosen)))
        .collect();
    AuditPage {
        page,
        slug: member.tenant.slug.clone(),
        rows: Vec::new(),
        actions,
        person: FieldView::new("person", "Who", &form.person, errors.get("person"))
            .max(AuditFilter::PERSON_MAX_LEN)
            .hint("Part of a name or email address."),
        from: FieldView::new("from", "From", form.from.trim(), errors.get("from"))
            .kind("date")
            .hint(from_hint(&member.tenant.zone())),
        to: FieldView::new("to", "To", form.to.trim(), errors.get("to")).kind("date").hint("Included."),
        errors,
        filtered: [&form.action, &form.person, &form.from, &form.to].iter().any(|v| !v.trim().is_empty()),
        total: 0,
        page_no: 1,
        pages: 0,
        newer: None,
        older: None,
        export: link(&member.tenant.slug, "audit/export.csv", form, &[]),
    }
}

pub async fn show(
    State(state): State<AppState>,
    Admin(member): Admin,
    Query(form): Query<AuditFilterForm>,
) -> Result<Response, AppError> {
    let chrome = member.chrome("Audit log", "audit").await?;
    let mut filter = match form.parse(&member.tenant.zone()) {
        Ok(filter) => filter,
        Err(errors) => return render_invalid(&page_view(&member, chrome, &form, errors)),
    };
    let tenant = member.tenant.id;
    // The pages hold still while they are read: entries written since the first page
    // show when the log is opened afresh.
    if filter.upto.is_none() {
        filter.upto = audit::newest_id(&state.db, tenant).await?;
    }
    let total = audit::count(&state.db, tenant, &filter).await?;
    let offset = i64::from(filter.page - 1) * PER_PAGE;
    let rows = audit::filtered(&state.db, tenant, &filter, PER_PAGE, offset).await?;
    let mut view = page_view(&member, chrome, &form, FieldErrors::default());
    let slug = &member.tenant.slug;
    let at = |page: u32| {
        let mut extra = vec![("page", page.to_string())];
        if let Some(upto) = filter.upto {
            extra.push(("upto", upto.to_string()));
        }
        link(slug, "audit", &form, &extra)
    };
    view.pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    // The file holds what these pages hold.
    let upto: Vec<_> = filter.upto.map(|id| ("upto", id.to_string())).into_iter().collect();
    view.export = link(slug, "audit/export.csv", &form, &upto);
    view.total = total;
    view.page_no = filter.page;
    view.newer = (filter.page > 1).then(|| at(filter.page - 1));
    view.older = (offset + PER_PAGE < total).then(|| at(filter.page + 1));
    let zone = member.tenant.zone();
    view.rows = rows
        .into_iter()
        .map(|e| Row {
            when: format_time(e.created_at, &zone),
            actor: e.actor,
            what: describe(&e.action),
            action: e.action,
            detail: e.detail,
        })
        .collect();
    render(&view)
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or carriage
/// return before one) is written with a leading `'`, which makes it text.
fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A time as the CSV gives it: `2025-03-31 14:05:09`, UTC.
fn csv_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

/// The CSV file of entries, with its header row.
fn to_csv(entries: &[audit::Entry]) -> anyhow::Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["When (UTC)", "Who", "What", "Code", "Details"])?;
    for e in entries {
        let when = csv_time(e.created_at);
        let cells = [when.as_str(), &e.actor, describe(&e.action), &e.action, &e.detail];
        out.write_record(cells.map(spreadsheet_safe).iter().map(|c| c.as_ref()))?;
    }
    out.into_inner().map_err(|e| anyhow::anyhow!("writing the CSV: {e}"))
}

/// `GET /t/{slug}/audit/export.csv`: every entry of the filtered view (all its pages), as
/// a file to download. A filter that cannot be read gets the page with its messages.
pub async fn export(
    State(state): State<AppState>,
    Admin(member): Admin,
    Query(form): Query<AuditFilterForm>,
) -> Result<Response, AppError> {
    let filter = match form.parse(&member.tenant.zone()) {
        Ok(filter) => AuditFilter { page: 1, ..filter },
        Err(errors) => {
            let chrome = member.chrome("Audit log", "audit").await?;
            return render_invalid(&page_view(&member, chrome, &form, errors));
        }
    };
    let entries = audit::filtered(&state.db, member.tenant.id, &filter, EXPORT_MAX, 0).await?;
    let body = to_csv(&entries)?;
    let day = csv_time(state.clock.now()).get(..10).unwrap_or_default().to_owned();
    let disposition = format!("attachment; filename=\"audit-{}-{day}.csv\"", member.tenant.slug);
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        body,
    )
        .into_response())
}

/// This area's pages.
pub fn routes() -> Router<AppState> {
    Router::new().route("/t/{slug}/audit", get(show)).route("/t/{slug}/audit/export.csv", get(export))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_become_text() {
        for (cell, safe) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("ada@acme.test", "ada@acme.test"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_safe(cell), safe, "{cell:?}");
        }
    }

    #[test]
    fn the_csv_has_a_header_and_quotes_what_needs_it() {
        let entry = |detail: &str| audit::Entry {
            id: 1,
            actor: "=cmd|' /C calc'!A0".into(),
            action: "member.removed".into(),
            detail: detail.into(),
            created_at: 1_743_429_909,
        };
        let csv = String::from_utf8(to_csv(&[entry("bob@acme.test, \"Bob\"\nline two")]).unwrap()).unwrap();
        assert_eq!(
            csv,
            "When (UTC),Who,What,Code,Details\n\
             2025-03-31 14:05:09,'=cmd|' /C calc'!A0,Removed a member,member.removed,\"bob@acme.test, \"\"Bob\"\"\nline two\"\n"
        );
    }
}
