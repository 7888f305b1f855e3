//! The profile form: create and edit (SPEC §2, §4). Every input is rendered from the
//! rules in `domain::smtp`, so a limit or hint cannot drift from its rule.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::{to_list, AdminProfile, NOT_DISPLAYED};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member};
use crate::domain::smtp::{
    CredentialPolicy, Description, FieldErrors, FormMode, GraphClientId, GraphPassword, GraphTenantId, ProfileForm,
    ProfileKind, ProfileName, SecretScope, Security, SenderName, Signature, SmtpHost, SmtpPort, SmtpUsername,
    MSG_NAME_TAKEN,
};
use crate::domain::{email, smtp_password, text};
use crate::error::AppError;
use crate::store::audit;
use crate::store::smtp::{self as profiles, Profile};
use crate::store::{self, is_unique_violation};
use crate::web::fields::FieldView;
use crate::web::{render, render_invalid, Chrome, Form};
use crate::words;

/// Every input of the profile form, rendered from the rules in `domain::smtp`. Secret
/// inputs carry no `maxlength`: a browser would cut a longer password without a word, and
/// the server's message is the one that helps.
struct ProfileFields {
    name: FieldView,
    from_address: FieldView,
    from_name: FieldView,
    reply_to: FieldView,
    signature: FieldView,
    description: FieldView,
    host: FieldView,
    port: FieldView,
    ca_pem: FieldView,
    username: FieldView,
    password: FieldView,
    graph_tenant_id: FieldView,
    graph_client_id: FieldView,
    graph_client_secret: FieldView,
}

/// The hint beside a Graph client secret.
pub(super) const CLIENT_SECRET_HINT: &str = "The secret's value from Certificates & secrets in the Azure portal.";

/// The label of the password field of a profile of this type.
pub(super) fn password_label(kind: ProfileKind) -> &'static str {
    match kind {
        ProfileKind::Generic => "SMTP Account Password",
        ProfileKind::Graph => "Password",
    }
}

const GRAPH_USER_HINT: &str = "The mailbox that sends, for example noreply@example.com.";

/// The password rules as people read them, shown beside the field.
pub fn password_rules(kind: ProfileKind, policy: CredentialPolicy) -> String {
    match (kind, policy) {
        (ProfileKind::Graph, _) => format!("1 to {} characters.", GraphPassword::MAX_LEN),
        (ProfileKind::Generic, CredentialPolicy::Provider) => {
            format!("The password or key your provider gave you, up to {} characters.", smtp_password::PROVIDER_MAX_LEN)
        }
        (ProfileKind::Generic, CredentialPolicy::Documented) => format!(
            "{} to {} characters from A-Z, a-z, 0-9 and {}, with at least one of each kind. No character three \
             times in a row, and no three keyboard or alphabet neighbours such as abc, 321 or qwe.",
            smtp_password::DOCUMENTED_MIN_LEN,
            smtp_password::DOCUMENTED_MAX_LEN,
            smtp_password::SPECIALS.chars().map(String::from).collect::<Vec<_>>().join(" "),
        ),
    }
}

/// The usual port of each security mode, from [`Security::default_port`]: `Usually 465 for
/// SSL/TLS, 587 for STARTTLS and 25 for none.`
pub fn port_hint() -> String {
    let usual = Security::ALL.map(|s| {
        let name = match s {
            Security::Ssl => "SSL/TLS",
            Security::Starttls => "STARTTLS",
            Security::None => "none",
        };
        format!("{} for {name}", s.default_port())
    });
    format!("Usually {}.", words::and_list(&usual))
}

fn profile_fields(
    form: &ProfileForm,
    errors: &FieldErrors,
    policy: CredentialPolicy,
    stored: Option<&Profile>,
) -> ProfileFields {
    let kind = ProfileKind::parse(form.kind.trim()).unwrap_or_default();
    let e = |name: &str| errors.get(name);
    let secret_placeholder = |has: bool| if has { NOT_DISPLAYED } else { "" };
    let has_password = stored.is_some_and(|p| p.settings.transport.has_password());
    let has_secret = stored.is_some_and(|p| p.settings.transport.kind() == ProfileKind::Graph);
    let generic_user_hint = match policy {
        CredentialPolicy::Documented => "The login for the SMTP server, in email format.",
        CredentialPolicy::Provider => "The login for the SMTP server (any name your provider gave you).",
    };
    let (user_label, user_hint, user_type) = match (kind, policy) {
        (ProfileKind::Graph, _) => ("User Name", GRAPH_USER_HINT, "email"),
        (_, CredentialPolicy::Documented) => ("SMTP Account Address", generic_user_hint, "email"),
        (_, CredentialPolicy::Provider) => ("SMTP Account Address", generic_user_hint, "text"),
    };
    // On edit, what keeps a saved secret (the rule of `SecretScope`).
    let keep_hint = |rule: &str| match stored {
        Some(_) => format!(" Leave blank to keep the saved one; it is kept only while {rule} stay the same."),
        None => String::new(),
    };
    let (generic_keep, graph_keep) = (keep_hint(SecretScope::GENERIC_RULE), keep_hint(SecretScope::GRAPH_RULE));
    let kind_keep = if kind == ProfileKind::Graph { &graph_keep } else { &generic_keep };
    ProfileFields {
        name: FieldView::new("name", "Name", &form.name, e("name"))
            .max(ProfileName::MAX_LEN)
            .required()
            .hint(format!("Up to {} letters, digits or underscores (no spaces), for example Office365_Main.", ProfileName::MAX_LEN)),
        from_address: FieldView::new("from_address", "From Address", &form.from_address, e("from_address"))
            .kind("email")
            .max(email::MAX_LEN)
            .required()
            .hint("The address your emails come from, for example noreply@example.com."),
        from_name: FieldView::new("from_name", "Sender Name", &form.from_name, e("from_name"))
            .max(SenderName::MAX_LEN)
            .required()
            .hint("The name people see next to the From address."),
        reply_to: FieldView::new("reply_to", "Reply-To", &form.reply_to, e("reply_to"))
            .kind("email")
            .max(email::MAX_LEN)
            .hint("Where replies go, if not to the From address."),
        signature: FieldView::new("signature", "Signature", &form.signature, e("signature"))
            .kind("text")
            .max(Signature::MAX_LEN)
            .hint(format!("Added to the end of every email; up to {} characters.", Signature::MAX_LEN)),
        description: FieldView::new("description", "Description", &form.description, e("description"))
            .kind("text")
            .max(Description::MAX_LEN)
            .hint(format!("A note for your colleagues; up to {} characters.", Description::MAX_LEN)),
        host: FieldView::new("host", "SMTP Host", &form.host, e("host"))
            .max(SmtpHost::MAX_LEN)
            .required()
            .hint("For example smtp.example.com, without https:// or a port."),
        port: FieldView::new("port", "SMTP Port", &form.port, e("port"))
            .max(SmtpPort::MAX_DIGITS)
            .inputmode("numeric")
            .required()
            .hint(port_hint()),
        ca_pem: FieldView::new("ca_pem", "Trusted CA", &form.ca_pem, e("ca_pem"))
            .kind("textarea")
            .hint("Only for a server whose certificate comes from your own certificate authority: paste that CA certificate (-----BEGIN CERTIFICATE----- …)."),
        username: FieldView::new("username", user_label, &form.username, e("username"))
            .kind(user_type)
            .max(SmtpUsername::MAX_LEN)
            .autocomplete("off")
            .required()
            .hint(user_hint)
            .hints_by_kind(generic_user_hint.into(), GRAPH_USER_HINT.into()),
        password: FieldView::new("password", password_label(kind), "", e("password"))
            .kind("password")
            .required_if(stored.is_none())
            .autocomplete("new-password")
            .placeholder(secret_placeholder(has_password))
            .hint(format!("{}{kind_keep}", password_rules(kind, policy)))
            .hints_by_kind(
                format!("{}{generic_keep}", password_rules(ProfileKind::Generic, policy)),
                format!("{}{graph_keep}", password_rules(ProfileKind::Graph, policy)),
            ),
        graph_tenant_id: FieldView::new("graph_tenant_id", "Tenant Id", &form.graph_tenant_id, e("graph_tenant_id"))
            .max(GraphTenantId::MAX_LEN)
            .required()
            .hint("The Directory (tenant) ID of your Azure app: a GUID, or your domain such as contoso.onmicrosoft.com."),
        graph_client_id: FieldView::new("graph_client_id", "Client Id", &form.graph_client_id, e("graph_client_id"))
            .max(GraphClientId::MAX_LEN)
            .required()
            .hint(format!("The Application (client) ID of your Azure app, a GUID such as {}.", text::guid_example())),
        graph_client_secret: FieldView::new("graph_client_secret", "Client Secret", "", e("graph_client_secret"))
            .kind("password")
            .required_if(stored.is_none())
            .autocomplete("new-password")
            .placeholder(secret_placeholder(has_secret))
            .hint(format!("{CLIENT_SECRET_HINT}{graph_keep}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_say_the_rules() {
        assert_eq!(port_hint(), "Usually 465 for SSL/TLS, 587 for STARTTLS and 25 for none.");
        assert_eq!(SmtpPort::MAX_DIGITS, 5);
        assert_eq!(GraphClientId::MAX_LEN, 36);
        assert_eq!(
            password_rules(ProfileKind::Generic, CredentialPolicy::Documented),
            "10 to 20 characters from A-Z, a-z, 0-9 and $ ! @ % * # ? &, with at least one of each kind. No \
             character three times in a row, and no three keyboard or alphabet neighbours such as abc, 321 or qwe."
        );
    }
}

#[derive(Template)]
#[template(path = "smtp/form.html")]
pub(super) struct FormPage {
    page: Chrome,
    heading: String,
    action: String,
    editing: bool,
    profile_id: i64,
    kind: &'static str,
    security: &'static str,
    is_default: bool,
    currently_default: bool,
    tls_verify: bool,
    auth_required: bool,
    plain_login: bool,
    f: ProfileFields,
    errors: FieldErrors,
    /// The To address offered for testing unsaved values.
    test_to: String,
    /// The tenant checks SMTP passwords against the documented rules (not provider keys).
    documented: bool,
}

impl FormPage {
    fn kinds(&self) -> [(&'static str, &'static str); 2] {
        ProfileKind::ALL.map(|k| (k.as_str(), k.label()))
    }

    /// What keeps a saved secret when unsaved values are tested (`SecretScope`).
    fn secret_rule(&self) -> &'static str {
        match ProfileKind::parse(self.kind) {
            Some(ProfileKind::Graph) => SecretScope::GRAPH_RULE,
            _ => SecretScope::GENERIC_RULE,
        }
    }

    fn securities(&self) -> [(&'static str, &'static str, u16); 3] {
        Security::ALL.map(|s| (s.as_str(), s.label(), s.default_port()))
    }
}

fn form_page(
    page: Chrome,
    slug: &str,
    form: &ProfileForm,
    errors: FieldErrors,
    policy: CredentialPolicy,
    stored: Option<&Profile>,
) -> FormPage {
    let (heading, action) = match stored {
        Some(p) => (format!("Edit {}", p.settings.name), format!("/t/{slug}/smtp/{}", p.id.0)),
        None => ("New SMTP profile".to_owned(), format!("/t/{slug}/smtp")),
    };
    FormPage {
        page,
        heading,
        action,
        editing: stored.is_some(),
        profile_id: stored.map_or(0, |p| p.id.0),
        kind: ProfileKind::parse(form.kind.trim()).unwrap_or_default().as_str(),
        security: Security::parse(form.security.trim()).unwrap_or_default().as_str(),
        is_default: form.is_default.is_some(),
        currently_default: stored.is_some_and(|p| p.settings.is_default),
        tls_verify: form.tls_verify.is_some(),
        auth_required: form.auth_required.is_some(),
        plain_login: form.plain_login.is_some(),
        f: profile_fields(form, &errors, policy, stored),
        errors,
        test_to: String::new(),
        documented: policy == CredentialPolicy::Documented,
    }
}

pub async fn new_form(Admin(member): Admin) -> Result<Response, AppError> {
    let page = member.chrome("New SMTP profile", "smtp").await?;
    render(&form_page_for(page, &member, &ProfileForm::blank(), FieldErrors::default(), None))
}

pub async fn edit_form(AdminProfile { member, profile: stored }: AdminProfile) -> Result<Response, AppError> {
    let page = member.chrome(format!("Edit {}", stored.settings.name), "smtp").await?;
    let form = ProfileForm::from_settings(&stored.settings);
    render(&form_page_for(page, &member, &form, FieldErrors::default(), Some(&stored)))
}

pub async fn create(
    State(state): State<AppState>,
    Admin(member): Admin,
    Form(form): Form<ProfileForm>,
) -> Result<Response, AppError> {
    save(state, member, form, None).await
}

pub async fn update(
    State(state): State<AppState>,
    AdminProfile { member, profile: stored }: AdminProfile,
    Form(form): Form<ProfileForm>,
) -> Result<Response, AppError> {
    save(state, member, form, Some(stored)).await
}

/// Create (no `stored`) or edit: parse, decide the secrets, write, or re-render with 422.
async fn save(
    state: AppState,
    member: Member,
    form: ProfileForm,
    stored: Option<Profile>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let policy = member.tenant.policy();
    let mode = if stored.is_some() { FormMode::Edit } else { FormMode::Create };
    let settings = form.parse(policy, mode).and_then(|input| {
        input.with_secrets(policy, stored.as_ref().map(|p| &p.settings), |typed| state.secrets.seal_secret(&typed))
    });
    let settings = match settings {
        Ok(settings) => settings,
        Err(errors) => return invalid_form(&member, &form, errors, stored.as_ref()).await,
    };

    let mut tx = store::begin_write(&state.db).await?;
    let written = match &stored {
        None => profiles::create(&mut tx, member.tenant.id, &settings, now).await.map(Some),
        Some(p) => {
            profiles::update(&mut tx, member.tenant.id, p.id, &settings, now).await.map(|found| found.then_some(p.id))
        }
    };
    let id = match written {
        Ok(Some(id)) => id,
        Ok(None) => return Err(AppError::NotFound),
        Err(e) if is_unique_violation(&e) => {
            drop(tx);
            let mut errors = FieldErrors::default();
            errors.insert("name", MSG_NAME_TAKEN);
            return invalid_form(&member, &form, errors, stored.as_ref()).await;
        }
        Err(e) => return Err(e.into()),
    };
    let action = if stored.is_some() { audit::AuditAction::ProfileUpdated } else { audit::AuditAction::ProfileCreated };
    audit::record(&mut tx, member.tenant.id, member.actor(), action, settings.name.as_str(), now).await?;
    let saved = profiles::get_in(&mut tx, member.tenant.id, id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;

    let mut message = format!("Saved {}.", saved.settings.name);
    if saved.settings.is_default && stored.as_ref().is_none_or(|p| !p.settings.is_default) {
        message.push_str(" It is now the default profile.");
    }
    member.session.flash_ok(message).await?;
    Ok(to_list(&member))
}

/// The form page for this member's tenant (the test email re-renders it too).
pub(super) fn form_page_for(
    page: Chrome,
    member: &Member,
    form: &ProfileForm,
    errors: FieldErrors,
    stored: Option<&Profile>,
) -> FormPage {
    let mut view = form_page(page, &member.tenant.slug, form, errors, member.tenant.policy(), stored);
    view.test_to = member.user.email.clone();
    view
}

async fn invalid_form(
    member: &Member,
    form: &ProfileForm,
    errors: FieldErrors,
    stored: Option<&Profile>,
) -> Result<Response, AppError> {
    let title = stored.map_or("New SMTP profile".to_owned(), |p| format!("Edit {}", p.settings.name));
    let page = member.chrome(title, "smtp").await?;
    let form = form.without_secrets();
    render_invalid(&form_page_for(page, member, &form, errors, stored))
}
