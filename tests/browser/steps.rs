//! Steps that several browser tests take the same way a person would: filling in the
//! profile form, opening a row's actions menu, turning email on, reading a mailed link.

use anyhow::{anyhow, Context};

use crate::harness::{Browser, SLUG, SUBMIT};
use crate::smtp_server::{Received, Script, TestSmtp};

/// The SMTP login the test server expects (as in tests/it/sending.rs).
pub const SMTP_ACCOUNT: &str = "mailer@acme.test";
/// Meets the documented SMTP password rules (docs/smtp-profiles.md).
pub const SMTP_PASSWORD: &str = "Zq7$Lp9!Wm";

pub const FROM_ADDRESS: &str = "no-reply@acme.test";
pub const FROM_NAME: &str = "Acme Accounts";

/// A test SMTP server script that requires the profile's login.
pub fn smtp_login() -> Script {
    Script { auth: Some((SMTP_ACCOUNT.into(), SMTP_PASSWORD.into())), ..Script::default() }
}

/// What a person types into the new-profile form (a Generic SMTP profile with a login).
pub struct NewProfile<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub security: &'a str,
    /// Pasted under "Trusted certificate authority" when given.
    pub ca_pem: Option<&'a str>,
}

impl<'a> NewProfile<'a> {
    /// A profile for a server that is never contacted.
    pub fn offline(name: &'a str) -> NewProfile<'a> {
        NewProfile { name, host: "smtp.acme.test", port: 587, security: "starttls", ca_pem: None }
    }

    /// A profile that sends through `server` (STARTTLS, its CA trusted).
    pub fn for_server(name: &'a str, server: &'a TestSmtp) -> NewProfile<'a> {
        NewProfile { name, host: "localhost", port: server.port, security: "starttls", ca_pem: Some(&server.ca_pem) }
    }
}

/// Fills the profile fields below Name (which the caller may leave for later).
pub async fn fill_profile_form(b: &Browser, p: &NewProfile<'_>) -> anyhow::Result<()> {
    b.fill("#from_address", FROM_ADDRESS).await?;
    b.fill("#from_name", FROM_NAME).await?;
    b.fill("#host", p.host).await?;
    b.select("#security", p.security).await?;
    b.fill("#port", &p.port.to_string()).await?;
    if let Some(pem) = p.ca_pem {
        // The field sits in a closed <details>: open it first, as a person would.
        if !b.is_displayed("#ca_pem").await? {
            b.click("details.advanced summary").await?;
        }
        b.paste("#ca_pem", pem).await?;
    }
    b.set_checked("#auth_required", true).await?;
    b.fill("#username", SMTP_ACCOUNT).await?;
    b.fill("#password", SMTP_PASSWORD).await
}

/// Creates a profile through /t/acme/smtp/new and returns its id, read from the list.
pub async fn create_profile(b: &Browser, p: &NewProfile<'_>) -> anyhow::Result<i64> {
    b.goto(&format!("/t/{SLUG}/smtp/new")).await?;
    b.fill("#name", p.name).await?;
    fill_profile_form(b, p).await?;
    b.click_and_load(SUBMIT).await?;
    let path = b.current_path().await?;
    if path != format!("/t/{SLUG}/smtp") {
        let errors = b.texts_of(".error").await.unwrap_or_default();
        return Err(anyhow!("saving profile {} stayed on {path}: {errors:?}", p.name));
    }
    let flash = b.flash().await?;
    if !flash.starts_with(&format!("Saved {}.", p.name)) {
        return Err(anyhow!("saving profile {}: the message was {flash:?}", p.name));
    }
    row_id(b, p.name).await
}

/// The id of the list row showing the profile called `name` (on the list page).
pub async fn row_id(b: &Browser, name: &str) -> anyhow::Result<i64> {
    b.wait_for("tr[data-profile-id]").await?;
    for row in b.client.find_all(fantoccini::Locator::Css("tr[data-profile-id]")).await? {
        let shown = row.find(fantoccini::Locator::Css("th a")).await?.text().await?;
        if shown == name {
            let id = row.attr("data-profile-id").await?.unwrap_or_default();
            return id.parse().with_context(|| format!("data-profile-id {id:?}"));
        }
    }
    Err(anyhow!("no row for profile {name} in {:?}", row_names(b).await?))
}

/// The names in the profile list, top to bottom.
pub async fn row_names(b: &Browser) -> anyhow::Result<Vec<String>> {
    b.texts_of("tr[data-profile-id] th a").await
}

/// The ids of the rows marked `data-default`.
pub async fn default_rows(b: &Browser) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for row in b.client.find_all(fantoccini::Locator::Css("tr[data-profile-id][data-default]")).await? {
        ids.push(row.attr("data-profile-id").await?.unwrap_or_default().parse()?);
    }
    Ok(ids)
}

/// A row's selector.
pub fn row(id: i64) -> String {
    format!("tr[data-profile-id='{id}']")
}

/// Opens the actions menu of row `id`.
pub async fn open_menu(b: &Browser, id: i64) -> anyhow::Result<()> {
    let menu = format!("{} details.menu", row(id));
    if b.attr_of(&menu, "open").await?.is_none() {
        b.click(&format!("{menu} > summary")).await?;
    }
    Ok(())
}

/// Chooses Duplicate, Test or Delete (`action` is the link's `data-dialog`) in row `id`'s
/// actions menu and waits for the dialog with its form.
pub async fn open_dialog(b: &Browser, id: i64, action: &str) -> anyhow::Result<()> {
    open_menu(b, id).await?;
    b.click(&format!("{} a[data-dialog='{action}']", row(id))).await?;
    b.wait_for(&format!("{DIALOG} form")).await?;
    Ok(())
}

/// The open dialog of the profile list.
pub const DIALOG: &str = "dialog.panel-dialog[open]";

/// Turns email on with the dashboard's switch and checks it says so.
pub async fn turn_email_on(b: &Browser) -> anyhow::Result<()> {
    b.goto(&format!("/t/{SLUG}/")).await?;
    b.click_and_load("#email-switch").await?;
    let status = b.text_of("#email-status").await?;
    if !status.starts_with("Email is on.") {
        return Err(anyhow!("after turning email on the dashboard says {status:?}"));
    }
    Ok(())
}

/// The first link in a mail's text part that starts with `prefix`.
pub fn link_in(mail: &Received, prefix: &str) -> anyhow::Result<String> {
    let body = mail.text_body();
    let start = body.find(prefix).ok_or_else(|| anyhow!("no link starting {prefix} in\n{body}"))?;
    Ok(body[start..].split_whitespace().next().unwrap_or_default().to_owned())
}
