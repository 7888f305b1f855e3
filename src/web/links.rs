//! One-time links (invitations, password resets): emailed through the outbox while the
//! tenant's email is on with a default profile, otherwise shown once to share by hand.

use askama::Template;
use sqlx::SqliteConnection;

use crate::app::AppState;
use crate::error::AppError;
use crate::mail::message::{new_message_id, Outgoing};
use crate::store::tenants::{self, Tenant};

/// Whether the tenant's mail goes out by email right now: the switch is on and a default
/// profile exists. Read inside the caller's transaction.
pub async fn can_email(conn: &mut SqliteConnection, tenant: &Tenant) -> Result<bool, AppError> {
    Ok(tenants::can_email(conn, tenant.id).await?)
}

#[derive(Template)]
#[template(path = "email/invitation.txt")]
struct InvitationText<'a> {
    inviter: &'a str,
    tenant: &'a str,
    role: &'a str,
    link: &'a str,
    login: &'a str,
}

#[derive(Template)]
#[template(path = "email/invitation.html")]
struct InvitationHtml<'a> {
    inviter: &'a str,
    tenant: &'a str,
    role: &'a str,
    link: &'a str,
    login: &'a str,
}

#[derive(Template)]
#[template(path = "email/reset.txt")]
struct ResetText<'a> {
    email: &'a str,
    tenant: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/reset.html")]
struct ResetHtml<'a> {
    email: &'a str,
    tenant: &'a str,
    link: &'a str,
}

/// The invitation email.
pub fn invitation_mail(
    state: &AppState,
    tenant: &Tenant,
    inviter: &str,
    role: &str,
    to: &str,
    link: &str,
) -> Result<Outgoing, AppError> {
    let t = &tenant.name;
    let login = &state.config.link(&format!("/t/{}/login", tenant.slug));
    Ok(Outgoing {
        to: to.to_owned(),
        subject: format!("You are invited to {t} on relaydesk"),
        text: InvitationText { inviter, tenant: t, role, link, login }.render()?,
        html: InvitationHtml { inviter, tenant: t, role, link, login }.render()?,
        message_id: new_message_id(&state.config.public_host()),
    })
}

/// The password-reset email.
pub fn reset_mail(state: &AppState, tenant: &Tenant, to: &str, link: &str) -> Result<Outgoing, AppError> {
    let t = &tenant.name;
    Ok(Outgoing {
        to: to.to_owned(),
        subject: format!("Reset your relaydesk password for {t}"),
        text: ResetText { email: to, tenant: t, link }.render()?,
        html: ResetHtml { email: to, tenant: t, link }.render()?,
        message_id: new_message_id(&state.config.public_host()),
    })
}
