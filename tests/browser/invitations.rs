//! Inviting someone by email, and that person accepting in their own browser (docs/sending.md).

use crate::harness::{TestApp, SLUG, SUBMIT};
use crate::smtp_server::{TestSmtp, TlsMode};
use crate::steps::{create_profile, link_in, smtp_login, turn_email_on, NewProfile};
use crate::wait::{wait_until, WAIT};

pub async fn an_invited_person_accepts_from_the_email_and_is_signed_in() {
    let server = TestSmtp::start(TlsMode::StartTls, smtp_login()).await;
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    app.in_two_browsers(|admin, newbie| async move {
        admin.sign_in_admin().await?;
        create_profile(&admin, &NewProfile::for_server("Office", &server)).await?;
        turn_email_on(&admin).await?;

        admin.click_and_load("nav.sections a[href$='/invitations']").await?;
        assert_eq!(admin.page_name().await?, "invitations");
        admin.fill("#email", "newbie@example.test").await?;
        admin.select("#role", "organizer").await?;
        admin.click_and_load(SUBMIT).await?;

        assert_eq!(admin.current_path().await?, format!("/t/{SLUG}/invitations"));
        assert_eq!(
            admin.flash().await?,
            "Invitation to newbie@example.test queued for sending; the list below shows when it is delivered. The \
             link works once, within 7 days."
        );
        assert!(!admin.exists("#shared-link").await?, "email is on: the link is mailed, not shown");
        let waiting = admin.texts_of("tr[data-invitation-id] td").await?;
        assert_eq!(waiting[..2], ["newbie@example.test", "Organizer"]);

        let mail = server.wait_for(1, 10).await.remove(0);
        assert_eq!(mail.to, ["newbie@example.test"]);
        assert_eq!(mail.header("Subject").as_deref(), Some("You are invited to Acme Ltd on relaydesk"));
        assert!(mail.text_body().contains("invited you to join Acme Ltd on relaydesk as organizer"));
        let link = link_in(&mail, &format!("{}/invite/", admin.base()))?;

        // The invited person, in a browser of their own.
        newbie.goto_link(&link).await?;
        assert_eq!(newbie.page_name().await?, "invite");
        assert_eq!(newbie.text_of("h1").await?, "Join Acme Ltd");
        let intro = newbie.text_of("main p").await?;
        assert!(intro.contains("Organizer") && intro.contains("newbie@example.test"), "{intro}");
        newbie.fill("#display_name", "New Bie").await?;
        newbie.fill("#password", "newbie's long password").await?;
        newbie.click_and_load(SUBMIT).await?;

        assert_eq!(newbie.current_path().await?, format!("/t/{SLUG}/"));
        assert_eq!(newbie.page_name().await?, "dashboard");
        assert_eq!(newbie.text_of("#current-user").await?, "New Bie");
        assert_eq!(
            newbie.flash().await?,
            format!("Welcome to Acme Ltd, New Bie. Next time, sign in at {}/t/{SLUG}/login", newbie.base())
        );

        let (name, role): (String, String) =
            sqlx::query_as("SELECT display_name, role FROM users WHERE email = 'newbie@example.test'")
                .fetch_one(&db)
                .await?;
        assert_eq!((name.as_str(), role.as_str()), ("New Bie", "organizer"));

        // The admin's email log shows the invitation went out.
        admin.click_and_load("nav.sections a[href$='/email-log']").await?;
        let row = "tr[data-outbox-id]";
        assert!(admin.text_of(row).await?.starts_with("newbie@example.test"));
        // The worker records the delivery just after the server took the message.
        wait_until("the outbox worker to record the invitation as sent", WAIT, || async {
            let (sent,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").fetch_one(&db).await.unwrap();
            sent == 1
        })
        .await;
        admin.goto(&format!("/t/{SLUG}/email-log")).await?;
        assert_eq!(admin.attr_of(row, "data-status").await?.as_deref(), Some("sent"));
        assert_eq!(admin.text_of(&format!("{row} .badge")).await?, "Sent");

        // The admin sees the new member, and the invitation is no longer waiting.
        admin.goto(&format!("/t/{SLUG}/members")).await?;
        assert!(admin.text_of("main").await?.contains("newbie@example.test"));
        admin.goto(&format!("/t/{SLUG}/invitations")).await?;
        assert!(!admin.exists("tr[data-invitation-id]").await?);

        // The link works once.
        newbie.goto_link(&link).await?;
        assert!(newbie
            .text_of("main")
            .await?
            .contains("This invitation link is no longer valid. Ask your administrator for a new one."));
        Ok(())
    })
    .await;
}

pub async fn with_email_off_the_invitation_link_is_shown_once_to_share() {
    let app = TestApp::seeded().await;
    app.in_two_browsers(|admin, guest| async move {
        admin.sign_in_admin().await?;
        admin.goto(&format!("/t/{SLUG}/invitations")).await?;
        assert_eq!(
            admin.text_of("main .card .hint").await?,
            "Email is off, so you will get the invitation link to send yourself."
        );
        admin.fill("#email", "guest@example.test").await?;
        admin.select("#role", "user").await?;
        admin.click_and_load(SUBMIT).await?;

        assert_eq!(
            admin.flash().await?,
            "Email is off, so the invitation was not emailed: send guest@example.test the link below yourself."
        );
        let link = admin.value_of("#shared-link").await?;
        assert!(link.starts_with(&format!("{}/invite/", admin.base())), "{link}");
        assert!(admin.is_displayed("button[data-copy='#shared-link']").await?, "a copy button is offered");
        admin.goto(&format!("/t/{SLUG}/invitations")).await?;
        assert!(!admin.exists("#shared-link").await?, "the link is shown only once");

        guest.goto_link(&link).await?;
        assert_eq!(guest.text_of("h1").await?, "Join Acme Ltd");
        Ok(())
    })
    .await;
}
