//! SMTP profiles as an administrator manages them: the form with its errors, switching
//! type, duplicating, making another profile the default and deleting the default.

use crate::harness::{TestApp, SLUG, SUBMIT};
use crate::smtp_server::{Script, TestSmtp, TlsMode};
use crate::steps::{
    create_profile, default_rows, fill_profile_form, open_dialog, open_menu, row, row_id, row_names, NewProfile,
    DIALOG, SMTP_ACCOUNT, SMTP_PASSWORD,
};

const MSG_NAME: &str = "Please enter a name of up to 50 letters, digits or underscores.";
const MSG_PORT: &str = "Please enter an SMTP port between 1 and 49151.";
const MSG_SMTP_PASSWORD: &str =
    "The SMTP account password does not meet the rules. It has the same character three times in a row.";

async fn is_default_in_db(db: &sqlx::SqlitePool, id: i64) -> bool {
    let (default,): (bool,) =
        sqlx::query_as("SELECT is_default FROM smtp_profiles WHERE id = ?").bind(id).fetch_one(db).await.unwrap();
    default
}

pub async fn a_new_profile_shows_its_errors_and_once_fixed_is_the_default() {
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        b.goto(&format!("/t/{SLUG}/smtp")).await?;
        b.click_and_load(".page-head a[href$='/smtp/new']").await?;
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/smtp/new"));
        assert_eq!(b.text_of("h1").await?, "New SMTP profile");
        // A new profile starts as Generic SMTP over SSL/TLS on 465; STARTTLS suggests 587.
        assert_eq!(b.value_of("#kind").await?, "generic");
        assert_eq!(b.value_of("#security").await?, "ssl");
        assert_eq!(b.value_of("#port").await?, "465");
        b.select("#security", "starttls").await?;
        assert_eq!(b.value_of("#port").await?, "587", "the port follows the security mode");

        // Everything right except an empty name and a port out of range.
        fill_profile_form(&b, &NewProfile::offline("unused")).await?;
        b.fill("#port", "70000").await?;
        b.click_and_load(SUBMIT).await?;

        assert_eq!(b.page_name().await?, "smtp");
        assert_eq!(b.text_of("h1").await?, "New SMTP profile", "the form is shown again");
        assert_eq!(b.text_of("#error-summary h2").await?, "Please correct the following");
        let mut listed = b.texts_of("#error-summary li").await?;
        listed.sort();
        // The password typed passed its rule but is never sent back: it asks to be typed again.
        assert_eq!(listed, [MSG_NAME, MSG_PORT, "Please enter the password again."]);
        assert_eq!(b.text_of("#error-password").await?, "Please enter the password again.");
        assert_eq!(b.text_of("#error-name").await?, MSG_NAME);
        assert_eq!(b.text_of("#error-port").await?, MSG_PORT);
        for field in ["name", "port"] {
            assert_eq!(b.attr_of(&format!("#{field}"), "aria-invalid").await?.as_deref(), Some("true"));
            let described = b.attr_of(&format!("#{field}"), "aria-describedby").await?.unwrap_or_default();
            assert!(described.split(' ').any(|id| id == format!("error-{field}")), "#{field} → {described:?}");
        }
        assert_eq!(b.focused_id().await?, "error-summary", "focus moves to the summary so it is read out");
        // The entries are kept, except the password, which is never sent back.
        assert_eq!(b.value_of("#port").await?, "70000");
        assert_eq!(b.value_of("#host").await?, "smtp.acme.test");
        assert_eq!(b.value_of("#security").await?, "starttls");
        assert_eq!(b.value_of("#username").await?, SMTP_ACCOUNT);
        assert_eq!(b.value_of("#password").await?, "");

        b.fill("#name", "Office_Main").await?;
        b.fill("#port", "587").await?;
        b.fill("#password", SMTP_PASSWORD).await?;
        b.click_and_load(SUBMIT).await?;

        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/smtp"));
        assert_eq!(b.flash().await?, "Saved Office_Main. It is now the default profile.");
        assert_eq!(row_names(&b).await?, ["Office_Main"]);
        let id = row_id(&b, "Office_Main").await?;
        assert_eq!(default_rows(&b).await?, [id], "the first profile is the default");
        assert_eq!(b.text_of(&format!("{} .badge-default", row(id))).await?, "Default");
        assert_eq!(b.text_of(&format!("{} code", row(id))).await?, "smtp.acme.test:587");

        let (name, port, default): (String, i64, bool) =
            sqlx::query_as("SELECT name, port, is_default FROM smtp_profiles").fetch_one(&db).await?;
        assert_eq!((name.as_str(), port, default), ("Office_Main", 587, true));
        Ok(())
    })
    .await;
}

/// Shown or not, for each selector.
async fn shown(b: &crate::harness::Browser, selectors: &[&str]) -> anyhow::Result<Vec<bool>> {
    let mut out = Vec::new();
    for css in selectors {
        out.push(b.is_displayed(css).await?);
    }
    Ok(out)
}

const GENERIC_FIELDS: [&str; 5] = ["#host", "#port", "#security", "#tls_verify", "#auth_required"];
const GRAPH_FIELDS: [&str; 3] = ["#graph_tenant_id", "#graph_client_id", "#graph_client_secret"];

/// A label's own text, without its "(optional)" mark.
async fn label(b: &crate::harness::Browser, field: &str) -> anyhow::Result<String> {
    let text = b.text_of(&format!("label[for='{field}']")).await?;
    Ok(text.trim_end_matches("(optional)").trim().to_owned())
}

pub async fn choosing_ms_graph_shows_its_fields_and_switching_back_restores_smtp() {
    let app = TestApp::seeded().await;
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        b.goto(&format!("/t/{SLUG}/smtp/new")).await?;
        assert_eq!(shown(&b, &GENERIC_FIELDS).await?, [true; 5]);
        assert_eq!(shown(&b, &GRAPH_FIELDS).await?, [false; 3]);
        assert_eq!(label(&b, "username").await?, "SMTP account address");
        assert_eq!(label(&b, "password").await?, "SMTP account password");
        b.fill("#host", "smtp.acme.test").await?;
        b.fill("#username", SMTP_ACCOUNT).await?;

        b.select("#kind", "graph").await?;
        assert_eq!(shown(&b, &GENERIC_FIELDS).await?, [false; 5], "SMTP host, port and security are hidden");
        assert_eq!(shown(&b, &GRAPH_FIELDS).await?, [true; 3], "Tenant ID, Client ID and Client secret are shown");
        assert_eq!(shown(&b, &["#username", "#password"]).await?, [true; 2]);
        assert_eq!(label(&b, "username").await?, "User name");
        assert_eq!(label(&b, "password").await?, "Password");
        assert_eq!(b.text_of("#hint-password").await?, "The mailbox's own password, 1 to 256 characters.");
        assert!(b.is_displayed("#graph-password-why").await?, "the form says why it asks for the mailbox password");

        b.select("#kind", "generic").await?;
        assert_eq!(shown(&b, &GENERIC_FIELDS).await?, [true; 5]);
        assert_eq!(shown(&b, &GRAPH_FIELDS).await?, [false; 3]);
        assert_eq!(label(&b, "username").await?, "SMTP account address");
        assert_eq!(label(&b, "password").await?, "SMTP account password");
        assert_eq!(b.value_of("#host").await?, "smtp.acme.test", "what was typed is still there");
        assert_eq!(b.value_of("#username").await?, SMTP_ACCOUNT);

        // Only the chosen type's fields are checked: a Graph profile with none of its
        // own fields filled gets their messages, none about the SMTP host or port.
        b.select("#kind", "graph").await?;
        b.fill("#name", "Graph_Main").await?;
        b.fill("#from_address", "no-reply@acme.test").await?;
        b.fill("#from_name", "Acme Accounts").await?;
        b.fill("#username", "").await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.text_of("h1").await?, "New SMTP profile");
        assert_eq!(b.value_of("#kind").await?, "graph", "the type chosen is kept");
        assert_eq!(shown(&b, &GRAPH_FIELDS).await?, [true; 3]);
        assert_eq!(shown(&b, &["#host", "#port"]).await?, [false; 2]);
        assert_eq!(label(&b, "username").await?, "User name");
        assert_eq!(b.text_of("#error-username").await?, "Please enter a user name in email format.");
        assert_eq!(b.text_of("#error-password").await?, "Please enter a password.");
        assert_eq!(b.text_of("#error-graph_tenant_id").await?, "Please enter a tenant ID (a GUID or a domain name).");
        assert_eq!(b.text_of("#error-graph_client_id").await?, "Please enter a client ID in GUID format.");
        assert_eq!(b.text_of("#error-graph_client_secret").await?, "Please enter a client secret.");
        assert!(!b.exists("#error-host").await? && !b.exists("#error-port").await?, "no SMTP errors for Graph");
        Ok(())
    })
    .await;
}

pub async fn the_password_of_a_new_smtp_profile_is_not_marked_optional() {
    let app = TestApp::seeded().await;
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        b.goto(&format!("/t/{SLUG}/smtp/new")).await?;
        // Required when Auth required is on (docs/smtp-profiles.md), as the account address is.
        assert_eq!(b.text_of("label[for='username']").await?, "SMTP account address");
        assert_eq!(b.text_of("label[for='password']").await?, "SMTP account password");
        b.select("#kind", "graph").await?;
        assert_eq!(b.text_of("label[for='password']").await?, "Password");
        assert_eq!(b.text_of("label[for='graph_client_secret']").await?, "Client secret");
        Ok(())
    })
    .await;
}

#[derive(Debug, Clone, Copy)]
enum Close {
    Escape,
    Cancel,
}

pub async fn duplicating_asks_for_the_password_in_a_dialog() {
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        let source = create_profile(&b, &NewProfile::offline("Office")).await?;

        open_dialog(&b, source, "duplicate").await?;
        assert_eq!(b.text_of(&format!("{DIALOG} h1")).await?, "Duplicate Office");
        assert!(b.text_of(DIALOG).await?.contains("It will be called Office_copied"));
        assert_eq!(b.focused_id().await?, "password", "the dialog puts the cursor in the password");
        // Esc closes it and gives focus back to the row's actions menu, then Cancel does too.
        let menu_button = format!("{} details.menu > summary", row(source));
        for close in [Close::Escape, Close::Cancel] {
            match close {
                Close::Escape => b.press(&char::from(fantoccini::key::Key::Escape).to_string()).await?,
                Close::Cancel => b.click(&format!("{DIALOG} a.cancel")).await?,
            }
            let opener = b.client.find(fantoccini::Locator::Css(&menu_button)).await?;
            let focused = b.client.active_element().await?;
            assert_eq!(focused.element_id(), opener.element_id(), "focus is back on the menu after {close:?}");
            open_dialog(&b, source, "duplicate").await?;
        }
        // One character too many in a row breaks the rules.
        b.fill(&format!("{DIALOG} #password"), "Zq7$Lp9!Wmmm").await?;
        b.click_and_load(&format!("{DIALOG} button[type=submit]")).await?;

        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/smtp/{source}/duplicate"));
        assert_eq!(b.text_of("h1").await?, "Duplicate Office");
        assert_eq!(b.text_of("#error-password").await?, MSG_SMTP_PASSWORD);
        assert_eq!(b.value_of("#password").await?, "", "the password is not sent back");
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM smtp_profiles").fetch_one(&db).await?;
        assert_eq!(count, 1, "nothing was copied");

        b.fill("#password", SMTP_PASSWORD).await?;
        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/smtp"));
        assert_eq!(b.flash().await?, "Copied as Office_copied.");
        let mut names = row_names(&b).await?;
        names.sort();
        assert_eq!(names, ["Office", "Office_copied"]);
        let copy = row_id(&b, "Office_copied").await?;
        assert_eq!(default_rows(&b).await?, [source], "the copy is not the default");
        assert_eq!(b.text_of(&format!("{} code", row(copy))).await?, "smtp.acme.test:587");

        let (host, port, user, has_password): (String, i64, String, bool) = sqlx::query_as(
            "SELECT host, port, username, password_sealed IS NOT NULL FROM smtp_profiles WHERE name = 'Office_copied'",
        )
        .fetch_one(&db)
        .await?;
        assert_eq!((host.as_str(), port, user.as_str(), has_password), ("smtp.acme.test", 587, SMTP_ACCOUNT, true));
        Ok(())
    })
    .await;
}

pub async fn making_another_profile_the_default_moves_the_mark() {
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        let office = create_profile(&b, &NewProfile::offline("Office")).await?;
        let backup = create_profile(&b, &NewProfile::offline("Backup")).await?;
        assert_eq!(default_rows(&b).await?, [office]);
        assert!(b.exists(&format!("{} .badge-default", row(office))).await?);
        assert!(!b.exists(&format!("{} .badge-default", row(backup))).await?);
        assert!(
            !b.exists(&format!("{} form[action$='/default']", row(office))).await?,
            "the default has no Make default"
        );

        open_menu(&b, backup).await?;
        let make_default = format!("{} form[action$='/default'] button", row(backup));
        assert_eq!(b.text_of(&make_default).await?, "Make default");
        b.click_and_load(&make_default).await?;

        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/smtp"));
        assert_eq!(b.flash().await?, "Backup is now the default profile.");
        assert_eq!(default_rows(&b).await?, [backup]);
        assert_eq!(b.text_of(&format!("{} .badge-default", row(backup))).await?, "Default");
        assert!(!b.exists(&format!("{} .badge-default", row(office))).await?);
        assert_eq!(row_names(&b).await?, ["Backup", "Office"], "the default is listed first");
        assert!(is_default_in_db(&db, backup).await && !is_default_in_db(&db, office).await);
        Ok(())
    })
    .await;
}

pub async fn deleting_the_default_lets_the_admin_choose_the_next_one() {
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        let office = create_profile(&b, &NewProfile::offline("Office")).await?;
        let backup = create_profile(&b, &NewProfile::offline("Backup")).await?;
        let spare = create_profile(&b, &NewProfile::offline("Spare")).await?;

        open_dialog(&b, office, "delete").await?;
        assert_eq!(b.text_of(&format!("{DIALOG} h1")).await?, "Delete Office?");
        let warning = b.text_of(&format!("{DIALOG} .warning")).await?;
        assert!(warning.starts_with("This is the default profile."), "{warning}");
        let choices = b.texts_of(&format!("{DIALOG} #new_default option")).await?;
        let mut others = choices[..2].to_vec();
        others.sort();
        assert_eq!(others, ["Backup", "Spare"]);
        assert_eq!(choices[2], "None for now");
        b.select(&format!("{DIALOG} #new_default"), &spare.to_string()).await?;
        let delete = format!("{DIALOG} button[type=submit]");
        assert_eq!(b.text_of(&delete).await?, "Delete Office");
        b.click_and_load(&delete).await?;

        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/smtp"));
        assert_eq!(b.flash().await?, "Deleted Office. Spare is now the default profile.");
        assert!(!b.exists(&row(office)).await?, "Office is gone from the list");
        assert_eq!(row_names(&b).await?, ["Spare", "Backup"]);
        assert_eq!(default_rows(&b).await?, [spare]);
        assert_eq!(b.text_of(&format!("{} .badge-default", row(spare))).await?, "Default");

        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM smtp_profiles").fetch_one(&db).await?;
        assert_eq!(count, 2);
        assert!(is_default_in_db(&db, spare).await && !is_default_in_db(&db, backup).await);
        Ok(())
    })
    .await;
}

/// Issue 12, bug 2: the saved password is wrong; the admin tries new values with the right
/// one, it works, and Save with the password field left blank saves the password tried.
pub async fn save_after_a_successful_try_saves_the_password_tried() {
    const RIGHT: &str = "Nw4$Tq8!Rz";
    let server = TestSmtp::start(
        TlsMode::StartTls,
        Script { auth: Some((SMTP_ACCOUNT.into(), RIGHT.into())), ..Script::default() },
    )
    .await;
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    let secrets = app.state.secrets.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        // Saved with SMTP_PASSWORD, which this server refuses.
        let id = create_profile(&b, &NewProfile::for_server("Office", &server)).await?;
        b.goto(&format!("/t/{SLUG}/smtp/{id}")).await?;
        b.fill("#from_name", "Acme Support").await?;
        b.fill("#password", RIGHT).await?;
        b.fill("#to", "ops@example.test").await?;
        b.click_and_load("button[name=unsaved][value=send]").await?;

        assert_eq!(
            b.flash().await?,
            "Test email sent to ops@example.test. These settings are not saved yet: Save changes saves them with the \
             password you just tried."
        );
        assert_eq!(b.value_of("#password").await?, "", "the password is not sent back");
        assert_eq!(
            b.text_of("#tried-note").await?,
            "The password you just tried will be saved if you leave this field blank, as long as the settings it \
             depends on stay as they were tried."
        );
        assert_eq!(b.value_of("#from_name").await?, "Acme Support", "what was typed is kept");
        server.wait_for(1, 5).await;

        b.click_and_load(SUBMIT).await?;
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/smtp"));
        assert_eq!(b.flash().await?, "Saved Office.");
        let (sealed, from_name): (String, String) =
            sqlx::query_as("SELECT password_sealed, from_name FROM smtp_profiles WHERE id = ?")
                .bind(id)
                .fetch_one(&db)
                .await?;
        assert_eq!(secrets.open(&sealed)?, RIGHT, "the password tried is the one saved");
        assert_eq!(from_name, "Acme Support");

        // The saved profile now gets through: a test email from the list logs in and arrives.
        open_dialog(&b, id, "test").await?;
        b.fill(&format!("{DIALOG} #to"), "ops@example.test").await?;
        b.click_and_load(&format!("{DIALOG} button[type=submit].primary")).await?;
        assert_eq!(b.flash().await?, "Test email sent to ops@example.test.");
        let mails = server.wait_for(2, 5).await;
        assert_eq!(mails[1].user.as_deref(), Some(SMTP_ACCOUNT));
        assert!(
            mails[1].text_body().contains("Acme Support")
                || mails[1].header("From").unwrap_or_default().contains("Acme Support")
        );
        Ok(())
    })
    .await;
}

/// Choosing Microsoft 365 under "Fill in for a provider" fills its documented send rate
/// (30 a minute per mailbox); another provider clears a rate the preset filled but keeps
/// one typed by hand; saved, the rate is on the profile and in the list.
pub async fn the_microsoft_365_preset_fills_its_send_rate() {
    let app = TestApp::seeded().await;
    let db = app.db.clone();
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        b.goto(&format!("/t/{SLUG}/smtp/new")).await?;
        b.select("#preset", "smtp.office365.com|587|starttls|30").await?;
        assert_eq!(b.value_of("#host").await?, "smtp.office365.com");
        assert_eq!(b.value_of("#max_per_minute").await?, "30");
        b.select("#preset", "smtp.gmail.com|587|starttls").await?;
        assert_eq!(b.value_of("#max_per_minute").await?, "", "Gmail documents no such rate");
        b.fill("#max_per_minute", "12").await?;
        b.select("#preset", "smtp.sendgrid.net|587|starttls").await?;
        assert_eq!(b.value_of("#max_per_minute").await?, "12", "a rate typed by hand stays");
        b.select("#preset", "smtp.office365.com|587|starttls|30").await?;
        assert_eq!(b.value_of("#max_per_minute").await?, "12");
        b.fill("#max_per_minute", "").await?;
        b.select("#preset", "smtp.gmail.com|587|starttls").await?;
        b.select("#preset", "smtp.office365.com|587|starttls|30").await?;
        assert_eq!(b.value_of("#max_per_minute").await?, "30");
        b.fill("#name", "Office365").await?;
        fill_profile_form(&b, &NewProfile::offline("Office365")).await?;
        b.fill("#host", "smtp.office365.com").await?;
        b.click_and_load(SUBMIT).await?;
        let id = row_id(&b, "Office365").await?;
        assert_eq!(b.text_of(&format!("{} .rate", row(id))).await?, "At most 30 a minute");
        let (rate,): (Option<i64>,) = sqlx::query_as("SELECT max_per_minute FROM smtp_profiles WHERE id = ?")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(rate, Some(30));
        Ok(())
    })
    .await;
}
