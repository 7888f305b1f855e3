//! A time zone per organization: chosen on the settings page by its IANA name, every
//! time the console shows is in it (naming it), the database keeps UTC.

use relaydesk::domain::time_zone::MSG_TIME_ZONE;
use reqwest::StatusCode;

use crate::helpers::*;

/// 2026-01-15 12:30:00 UTC.
const NOON: i64 = 1_768_480_200;

async fn zone_of(app: &TestApp, slug: &str) -> String {
    sqlx::query_scalar("SELECT time_zone FROM tenants WHERE slug = ?").bind(slug).fetch_one(&app.db).await.unwrap()
}

fn flash(html: &str) -> &str {
    let start = html.find(r#"id="flash""#).expect("a flash message");
    let text = &html[start..];
    &text[text.find('>').unwrap() + 1..text.find("</div>").unwrap()]
}

#[tokio::test]
async fn an_organization_starts_in_utc() {
    let app = spawn_app().await;
    app.clock.set(NOON);
    app.sign_in_admin().await;
    assert_eq!(zone_of(&app, "acme").await, "UTC");
    let html = app.page("/t/acme/settings").await;
    assert!(html.contains(r#"<input id="time_zone" name="time_zone" type="text" value="UTC""#), "{html}");
    assert!(html.contains("It is now 2026-01-15 12:30 UTC."));
    assert!(html.contains(r#"<option value="Europe/Paris">"#));
    assert!(html.contains("Times are shown in UTC."));
    let audit = app.page("/t/acme/audit").await;
    assert!(audit.contains("2026-01-15 12:30 UTC"), "the sign-in, in UTC");
}

#[tokio::test]
async fn every_time_is_shown_in_the_chosen_zone_and_the_database_keeps_utc() {
    let app = spawn_app().await;
    app.clock.set(NOON);
    app.sign_in_admin().await;
    app.post("/t/acme/invitations", &[("email", "newbie@example.test"), ("role", "user")]).await;

    let res = app.post("/t/acme/settings/time-zone", &[("time_zone", " europe/paris ")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/settings");
    assert_eq!(zone_of(&app, "acme").await, "Europe/Paris", "stored by its proper name");
    let html = app.page("/t/acme/settings").await;
    assert_eq!(flash(&html), "Times are now shown in Europe/Paris: it is 2026-01-15 13:30 CET.");
    assert!(html.contains(r#"value="Europe/Paris""#));
    assert!(html.contains("Times are shown in Europe/Paris."));

    let (detail, at): (String, i64) =
        sqlx::query_as("SELECT detail, created_at FROM audit_log WHERE action = 'settings.time_zone'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((detail.as_str(), at), ("from UTC to Europe/Paris", NOON), "UTC seconds in the database");

    let audit = app.page("/t/acme/audit").await;
    assert!(audit.contains("2026-01-15 13:30 CET") && !audit.contains(" UTC<"), "{audit}");
    assert!(audit.contains("Changed the time zone"));
    let invitations = app.page("/t/acme/invitations").await;
    assert!(invitations.contains("2026-01-15 13:30 CET"), "sent");
    assert!(invitations.contains("2026-01-22 13:30 CET"), "expires in 7 days");
    let created: i64 = sqlx::query_scalar("SELECT created_at FROM invitations").fetch_one(&app.db).await.unwrap();
    assert_eq!(created, NOON);

    // In summer, the same zone's summer time (a new day, a new sign-in).
    app.clock.set(NOON + 181 * 24 * 3600);
    app.sign_in_admin().await;
    app.post("/t/acme/settings/time-zone", &[("time_zone", "Europe/Paris")]).await;
    assert!(app.page("/t/acme/settings").await.contains("it is 2026-07-15 14:30 CEST."));

    // Another organization keeps its own zone.
    app.add_tenant("globex", "Globex", "hank@globex.test", "hank's long password").await;
    assert_eq!(zone_of(&app, "globex").await, "UTC");
}

#[tokio::test]
async fn a_zone_that_is_not_one_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.post("/t/acme/settings/time-zone", &[("time_zone", "Asia/Tokyo")]).await;
    for typed in ["Mars/Olympus", "", "+02:00", "Europe/Paris\r\nX-Injected: 1", "CET-1CEST", &"A".repeat(300)] {
        let res = app.post("/t/acme/settings/time-zone", &[("time_zone", typed)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{typed:?}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!(r#"<p class="error" id="error-time_zone">{MSG_TIME_ZONE}</p>"#)),
            "{typed:?}: {html}"
        );
        assert!(html.contains(r#"aria-describedby="error-time_zone hint-time_zone""#));
        assert_eq!(zone_of(&app, "acme").await, "Asia/Tokyo", "{typed:?}");
    }
    let res = app.post("/t/acme/settings/time-zone", &[("time_zone", "Mars/Olympus")]).await;
    assert!(res.text().await.unwrap().contains(r#"value="Mars/Olympus""#), "what was typed comes back");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'settings.time_zone'").await, 1);
}

#[tokio::test]
async fn only_admins_set_the_zone() {
    let app = spawn_app().await;
    app.add_user("olga@acme.test", "olga's long password", relaydesk::domain::account::Role::Organizer, false).await;
    assert_eq!(app.sign_in("olga@acme.test", "olga's long password").await.status(), StatusCode::SEE_OTHER);
    let res = app.post("/t/acme/settings/time-zone", &[("time_zone", "Europe/Paris")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(zone_of(&app, "acme").await, "UTC");
}
