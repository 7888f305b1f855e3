//! The audit log page: filters by action, person and dates, stable pages newest first, the
//! CSV of the filtered view, and clear messages for a filter that cannot be read.

use relaydesk::domain::audit::{MSG_FILTER_ACTION, MSG_FILTER_FROM, MSG_FILTER_PAGE, MSG_FILTER_RANGE, MSG_FILTER_TO};
use relaydesk::web::audit::PER_PAGE;
use reqwest::StatusCode;

use crate::helpers::*;

/// 2025-03-31 00:00:00 UTC.
const MARCH_31: i64 = 1_743_379_200;
const DAY: i64 = 86_400;

/// Writes an entry as the app would, at `at`.
async fn entry(app: &TestApp, actor: &str, action: &str, detail: &str, at: i64) {
    sqlx::query("INSERT INTO audit_log (tenant_id, actor, action, detail, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(app.tenant.0)
        .bind(actor)
        .bind(action)
        .bind(detail)
        .bind(at)
        .execute(&app.db)
        .await
        .unwrap();
}

/// The details column of the page's rows, top to bottom.
fn details(html: &str) -> Vec<String> {
    html.split(r#"<td class="detail" data-label="Details">"#)
        .skip(1)
        .map(|s| s[..s.find("</td>").unwrap()].to_owned())
        .collect()
}

fn href(html: &str, rel: &str) -> Option<String> {
    let marker = format!(r#"" rel="{rel}">"#);
    let end = html.find(&marker)?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&#38;", "&"))
}

/// An admin, with only the entries the test writes (the sign-in's own entry removed).
async fn admin_with_empty_log() -> TestApp {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    sqlx::query("DELETE FROM audit_log").execute(&app.db).await.unwrap();
    app
}

#[tokio::test]
async fn the_log_filters_by_action_person_and_days() {
    let app = admin_with_empty_log().await;
    entry(&app, "ada@acme.test", "member.removed", "bob@acme.test (user)", MARCH_31 - 1).await;
    entry(&app, "ada@acme.test", "member.deactivated", "cy@acme.test", MARCH_31).await;
    entry(&app, "Olga@Acme.test", "member.removed", "dee@acme.test (user)", MARCH_31 + DAY - 1).await;
    entry(&app, "ada@acme.test", "member.removed", "eve@acme.test (user)", MARCH_31 + DAY).await;

    let all = app.page("/t/acme/audit").await;
    assert_eq!(
        details(&all),
        ["eve@acme.test (user)", "dee@acme.test (user)", "cy@acme.test", "bob@acme.test (user)"],
        "newest first, with the details"
    );
    assert!(all.contains(r#"<p class="muted" id="audit-count">4 entries, newest first.</p>"#), "{all}");

    let removed = app.page("/t/acme/audit?action=member.removed").await;
    assert_eq!(details(&removed), ["eve@acme.test (user)", "dee@acme.test (user)", "bob@acme.test (user)"]);
    assert!(removed.contains(r#"<option value="member.removed" selected>Removed a member</option>"#));
    assert!(removed.contains("3 entries match this filter, newest first."));

    let olga = app.page("/t/acme/audit?person=olga").await;
    assert_eq!(details(&olga), ["dee@acme.test (user)"], "part of the Who, any case");

    let march_31 = app.page("/t/acme/audit?from=2025-03-31&to=2025-03-31").await;
    assert_eq!(details(&march_31), ["dee@acme.test (user)", "cy@acme.test"], "the whole day in UTC, no more");
    assert!(march_31.contains(r#"value="2025-03-31""#));

    let all_three = app.page("/t/acme/audit?action=member.removed&person=ada&from=2025-03-31").await;
    assert_eq!(details(&all_three), ["eve@acme.test (user)"]);

    let none = app.page("/t/acme/audit?person=nobody").await;
    assert!(none.contains(r#"<p class="muted" id="audit-empty">No entries match this filter.</p>"#));
    assert!(none.contains(r#"<a href="/t/acme/audit">Show everything</a>"#));
}

#[tokio::test]
async fn pages_are_newest_first_and_hold_still_while_new_entries_arrive() {
    let app = admin_with_empty_log().await;
    let total = PER_PAGE * 2 + 5;
    for i in 0..total {
        entry(&app, "ada@acme.test", "profile.tested", &format!("entry {i}"), MARCH_31 + i).await;
    }
    let first = app.page("/t/acme/audit").await;
    let shown = details(&first);
    assert_eq!(shown.len() as i64, PER_PAGE);
    assert_eq!(shown[0], format!("entry {}", total - 1));
    assert!(first.contains("<span>Page 1 of 3</span>"));
    assert_eq!(href(&first, "prev"), None);
    let older = href(&first, "next").expect("a link to older entries");

    // Entries written while the reader pages on do not push the pages along.
    for i in 0..7 {
        entry(&app, "ada@acme.test", "profile.tested", &format!("late {i}"), MARCH_31 + total + i).await;
    }
    let second = app.page(&older).await;
    let expected: Vec<String> = (0..PER_PAGE).map(|i| format!("entry {}", total - 1 - PER_PAGE - i)).collect();
    assert_eq!(details(&second), expected);
    assert!(second.contains("<span>Page 2 of 3</span>"));
    let third = app.page(&href(&second, "next").unwrap()).await;
    assert_eq!(details(&third), (0..5).rev().map(|i| format!("entry {i}")).collect::<Vec<_>>());
    assert_eq!(href(&third, "next"), None, "the oldest page");
    assert_eq!(app.page(&href(&third, "prev").unwrap()).await, second, "back is the same page");

    // Starting again shows the new ones.
    assert_eq!(details(&app.page("/t/acme/audit").await)[0], "late 6");
    // Filters travel with the page links.
    let filtered = app.page("/t/acme/audit?action=profile.tested&person=ada").await;
    let next = href(&filtered, "next").unwrap();
    assert!(next.starts_with("/t/acme/audit?action=profile.tested&person=ada&page=2&upto="), "{next}");
    // Past the end: a page with nothing on it, not an error.
    let past = app.page(&next.replace("page=2", "page=9")).await;
    assert!(past.contains("There are no entries on this page."));
}

#[tokio::test]
async fn the_csv_is_the_filtered_view_with_a_header_safe_cells_and_quoting() {
    let app = admin_with_empty_log().await;
    entry(&app, "ada@acme.test", "profile.updated", "Office: host, port", MARCH_31 + 5).await;
    entry(
        &app,
        "=HYPERLINK(\"http://evil.test\")",
        "user.sign_in_failed",
        "no such account; from 10.0.0.1",
        MARCH_31 + 6,
    )
    .await;
    entry(&app, "ada@acme.test", "profile.updated", "-2+3 \"quoted\"\nsecond line", MARCH_31 + 7).await;
    entry(&app, "ada@acme.test", "profile.updated", "@SUM(A1)", MARCH_31 - DAY).await;

    let page = app.page("/t/acme/audit?action=profile.updated&from=2025-03-31").await;
    let start = page.find(r#"<a href="/t/acme/audit/export.csv?"#).expect("the download link") + r#"<a href=""#.len();
    let link = page[start..].split('"').next().unwrap().replace("&#38;", "&");
    let newest: i64 = sqlx::query_scalar("SELECT MAX(id) FROM audit_log").fetch_one(&app.db).await.unwrap();
    assert_eq!(link, format!("/t/acme/audit/export.csv?action=profile.updated&from=2025-03-31&upto={newest}"));
    // The file holds what the pages hold: not what was written after they were opened.
    entry(&app, "ada@acme.test", "profile.updated", "later", MARCH_31 + 8).await;
    let res = app.get(&link).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment; filename=\"audit-acme-"), "{disposition}");
    assert_eq!(
        res.text().await.unwrap(),
        "When (UTC),Who,What,Code,Details\n\
         2025-03-31 00:00:07,ada@acme.test,Edited an SMTP profile,profile.updated,\"'-2+3 \"\"quoted\"\"\nsecond line\"\n\
         2025-03-31 00:00:05,ada@acme.test,Edited an SMTP profile,profile.updated,\"Office: host, port\"\n"
    );

    let everything = app.get("/t/acme/audit/export.csv").await.text().await.unwrap();
    let lines: Vec<&str> = everything.lines().collect();
    assert_eq!(lines.len(), 1 + 5 + 1, "the header, every entry, and the quoted line break");
    assert!(everything.contains(
        "\n2025-03-31 00:00:06,\"'=HYPERLINK(\"\"http://evil.test\"\")\",Failed to sign in,user.sign_in_failed,"
    ));
    assert!(everything.contains(",profile.updated,'@SUM(A1)\n"), "{everything}");
}

#[tokio::test]
async fn a_filter_that_cannot_be_read_gets_its_messages_not_an_error() {
    let app = admin_with_empty_log().await;
    entry(&app, "ada@acme.test", "member.removed", "bob@acme.test (user)", MARCH_31).await;
    let res = app.get("/t/acme/audit?action=user.hacked&from=31%2F03%2F2025&to=2025-02-30").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!(r#"<p class="error" id="error-action">{MSG_FILTER_ACTION}</p>"#)), "{html}");
    assert!(html.contains(&format!(r#"<p class="error" id="error-from">{MSG_FILTER_FROM}</p>"#)));
    assert!(html.contains(&format!(r#"<p class="error" id="error-to">{MSG_FILTER_TO}</p>"#)));
    assert!(html.contains(&format!(r##"<li><a href="#from">{MSG_FILTER_FROM}</a></li>"##)));
    assert!(html.contains(r#"value="31/03/2025""#), "what was typed is kept");
    assert!(details(&html).is_empty(), "no entries under a filter that was not understood");

    let res = app.get("/t/acme/audit?from=2025-04-01&to=2025-03-31").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(MSG_FILTER_RANGE));
    for bad in ["page=0", "page=two", "upto=-5"] {
        let res = app.get(&format!("/t/acme/audit?{bad}")).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(res.text().await.unwrap().contains(MSG_FILTER_PAGE), "{bad}");
    }
    let res = app.get("/t/acme/audit/export.csv?from=yesterday").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(MSG_FILTER_FROM));
    let res = app.get("/t/acme/audit?action=a&action=b").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "a repeated field");
}

#[tokio::test]
async fn the_log_and_its_csv_hold_only_this_organizations_entries() {
    let app = admin_with_empty_log().await;
    entry(&app, "ada@acme.test", "member.removed", "ours", MARCH_31).await;
    let globex = app.add_tenant("globex", "Globex Corp", "hank@globex.test", "hank's long password").await;
    sqlx::query("INSERT INTO audit_log (tenant_id, actor, action, detail, created_at) VALUES (?, 'hank', 'member.removed', 'theirs', 0)")
        .bind(globex.0)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(details(&app.page("/t/acme/audit").await), ["ours"]);
    let csv = app.get("/t/acme/audit/export.csv").await.text().await.unwrap();
    assert!(csv.contains("ours") && !csv.contains("theirs"));
}

#[tokio::test]
async fn from_and_to_are_days_in_the_organizations_time_zone() {
    let app = admin_with_empty_log().await;
    // Tokyo is UTC+9 all year: its 31 March runs from 30 March 15:00 to 31 March 15:00 UTC.
    let tokyo_day = MARCH_31 - 9 * 3600;
    app.post("/t/acme/settings/time-zone", &[("time_zone", "Asia/Tokyo")]).await;
    sqlx::query("DELETE FROM audit_log").execute(&app.db).await.unwrap();
    entry(&app, "ada@acme.test", "member.removed", "before", tokyo_day - 1).await;
    entry(&app, "ada@acme.test", "member.removed", "first second", tokyo_day).await;
    entry(&app, "ada@acme.test", "member.removed", "utc midnight", MARCH_31).await;
    entry(&app, "ada@acme.test", "member.removed", "last second", tokyo_day + DAY - 1).await;
    entry(&app, "ada@acme.test", "member.removed", "after", tokyo_day + DAY).await;

    let day = app.page("/t/acme/audit?from=2025-03-31&to=2025-03-31").await;
    assert_eq!(details(&day), ["last second", "utc midnight", "first second"], "Tokyo's 31 March, whole");
    assert!(
        day.contains(r#"<p class="hint" id="hint-from">A day in the organization's time zone (Asia/Tokyo).</p>"#)
            || day.contains(
                r#"<p class="hint" id="hint-from">A day in the organization&#39;s time zone (Asia/Tokyo).</p>"#
            ),
        "the hint says whose days: {day}"
    );
    let from = app.page("/t/acme/audit?from=2025-04-01").await;
    assert_eq!(details(&from), ["after"]);
    let to = app.page("/t/acme/audit?to=2025-03-30").await;
    assert_eq!(details(&to), ["before"]);
    // The CSV export reads the same days.
    let csv = app.get("/t/acme/audit/export.csv?from=2025-03-31&to=2025-03-31").await.text().await.unwrap();
    assert_eq!(csv.lines().count(), 4, "a header and three entries: {csv}");
    assert!(!csv.contains("before") && !csv.contains("after"));
}
