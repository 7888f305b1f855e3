//! The profile form: create and edit (SPEC §2, §4). Every input is rendered from the
//! rules in `domain::smtp`, so a limit or hint cannot drift from its rule.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::{to_list, tried, AdminProfile, TestResult, NOT_DISPLAYED};
use crate::app::AppState;
use crate::auth::extract::{Admin, Member};
use crate::domain::alias::is_alias;
use crate::domain::smtp::{
    changed_fields, oauth_reuse_rule, reuse_rule, CredentialPolicy, Description, FieldErrors, FormMode, GraphClientId,
    GraphPassword, GraphTenantId, OAuthClientId, OAuthProviderKind, OAuthScope, ProfileForm, ProfileKind, ProfileName,
    Security, SenderName, SignIn, Signature, SmtpHost, SmtpPort, SmtpUsername, TokenUrl, MSG_CLIENT_SECRET_AGAIN,
    MSG_NAME_TAKEN, MSG_PASSWORD_AGAIN,
};
use crate::domain::smtp::{ProfileSettings, Transport};
use crate::domain::{email, smtp_password, text};
use crate::error::AppError;
use crate::store::smtp::{self as profiles, Profile};
use crate::store::{self, is_unique_violation};
use crate::store::{aliases, audit, tenants};
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
    max_per_minute: FieldView,
    host: FieldView,
    port: FieldView,
    ca_pem: FieldView,
    username: FieldView,
    password: FieldView,
    graph_tenant_id: FieldView,
    graph_client_id: FieldView,
    graph_client_secret: FieldView,
    oauth_directory: FieldView,
    oauth_client_id: FieldView,
    oauth_client_secret: FieldView,
    oauth_token_url: FieldView,
    oauth_scope: FieldView,
}

/// The hint beside the send rate.
pub const RATE_HINT: &str = "At most this many messages a minute go through this profile; more wait their turn in \
     the outbox. A whole number from 1 to 10000; leave empty for no limit. Microsoft 365 allows 30 a minute per \
     mailbox (SMTP and Graph), and the Microsoft 365 choice under Fill in for a provider sets that.";

/// The hint beside a Graph client secret.
pub(super) const CLIENT_SECRET_HINT: &str = "The secret's value from Certificates & secrets in the Azure portal.";

/// Why an MS Graph profile asks for the mailbox's password, and when it must be typed.
pub const GRAPH_PASSWORD_WHY: &str = "Microsoft Graph sends with the app's client ID and secret, so relaydesk never \
     sends this password anywhere: it is the sending mailbox's own password, which the profile keeps (encrypted) \
     beside the app's credentials. It must be typed when you create or duplicate the profile, and again when its \
     user name, tenant ID or client ID change.";

/// Each profile field's label, in sentence case, the same on the form, the pages that
/// ask for a secret again and the audit log.
pub fn label(field: &str, kind: ProfileKind) -> &'static str {
    match (field, kind) {
        ("name", _) => "Name",
        ("kind", _) => "Type",
        ("is_default", _) => "Default profile",
        ("from_address", _) => "From address",
        ("from_name", _) => "Sender name",
        ("reply_to", _) => "Reply-to",
        ("signature", _) => "Signature",
        ("description", _) => "Description",
        ("max_per_minute", _) => "Messages per minute, at most",
        ("host", _) => "SMTP host",
        ("port", _) => "SMTP port",
        ("security", _) => "Security",
        ("tls_verify", _) => "Verify certificate",
        ("ca_pem", _) => "Trusted CA",
        ("auth_required", _) => "Auth required",
        ("plain_login", _) => "Send the password unencrypted",
        ("username", ProfileKind::Generic) => "SMTP account address",
        ("username", ProfileKind::Graph) => "User name",
        ("password", ProfileKind::Generic) => "SMTP account password",
        ("password", ProfileKind::Graph) => "Password",
        ("graph_tenant_id", _) => "Tenant ID",
        ("graph_client_id", _) => "Client ID",
        ("graph_client_secret", _) => "Client secret",
        ("sign_in", _) => "Sign-in",
        ("oauth_provider", _) => "OAuth provider",
        ("oauth_directory", _) => "Directory (tenant) ID",
        ("oauth_client_id", _) => "Application (client) ID",
        ("oauth_client_secret", _) => "OAuth client secret",
        ("oauth_token_url", _) => "Token URL",
        ("oauth_scope", _) => "Scope",
        _ => "",
    }
}

/// The label of the password field of a profile of this type.
pub(super) fn password_label(kind: ProfileKind) -> &'static str {
    label("password", kind)
}

const GRAPH_USER_HINT: &str = "The mailbox that sends, for example noreply@example.com.";

/// The credential policy in plain words, shown beside the account fields.
pub fn policy_explained(policy: CredentialPolicy) -> &'static str {
    match policy {
        CredentialPolicy::Documented => {
            "Password rules: documented. The account must be an email address and the password must follow the \
             rules below, which suit a password a person chose. Choose provider-issued if your provider gave you \
             an app password or an API key instead."
        }
        CredentialPolicy::Provider => {
            "Password rules: provider-issued. The account and password are taken as your provider gave them (an app \
             password, an API key), up to the lengths below, with no rules of their own."
        }
    }
}

/// The password rules as people read them, shown beside the field.
pub fn password_rules(kind: ProfileKind, policy: CredentialPolicy) -> String {
    match (kind, policy) {
        (ProfileKind::Graph, _) => format!("The mailbox's own password, 1 to {} characters.", GraphPassword::MAX_LEN),
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
    let has_oauth_secret = stored.is_some_and(|p| p.settings.transport.oauth().is_some());
    let oauth_keep = match stored {
        Some(_) => format!(" Leave blank to keep the saved one. {}", oauth_reuse_rule()),
        None => String::new(),
    };
    let generic_user_hint = generic_user_hint(policy);
    let (user_hint, user_type) = match (kind, policy) {
        (ProfileKind::Graph, _) => (GRAPH_USER_HINT, "email"),
        (_, CredentialPolicy::Documented) => (generic_user_hint, "email"),
        (_, CredentialPolicy::Provider) => (generic_user_hint, "text"),
    };
    // On edit, what keeps a saved secret (the one wording of `reuse_rule`).
    let keep_hint = |kind: ProfileKind| match stored {
        Some(_) => format!(" Leave blank to keep the saved one. {}", reuse_rule(kind)),
        None => String::new(),
    };
    let (generic_keep, graph_keep) = (keep_hint(ProfileKind::Generic), keep_hint(ProfileKind::Graph));
    let kind_keep = if kind == ProfileKind::Graph { &graph_keep } else { &generic_keep };
    let l = |field: &str| label(field, kind);
    ProfileFields {
        name: FieldView::new("name", l("name"), &form.name, e("name"))
            .max(ProfileName::MAX_LEN)
            .required()
            .hint(format!("Up to {} letters, digits or underscores (no spaces), for example Office365_Main.", ProfileName::MAX_LEN)),
        from_address: FieldView::new("from_address", l("from_address"), &form.from_address, e("from_address"))
            .kind("email")
            .max(email::MAX_LEN)
            .required()
            .hint("The address your emails come from, for example noreply@example.com."),
        from_name: FieldView::new("from_name", l("from_name"), &form.from_name, e("from_name"))
            .max(SenderName::MAX_LEN)
            .required()
            .hint("The name people see next to the From address."),
        reply_to: FieldView::new("reply_to", l("reply_to"), &form.reply_to, e("reply_to"))
            .kind("email")
            .max(email::MAX_LEN)
            .hint("Where replies go, if not to the From address."),
        signature: FieldView::new("signature", l("signature"), &form.signature, e("signature"))
            .kind("text")
            .max(Signature::MAX_LEN)
            .hint(format!("Added to the end of every email; up to {} characters.", Signature::MAX_LEN)),
        description: FieldView::new("description", l("description"), &form.description, e("description"))
            .kind("text")
            .max(Description::MAX_LEN)
            .hint(format!("A note for your colleagues; up to {} characters.", Description::MAX_LEN)),
        max_per_minute: FieldView::new("max_per_minute", l("max_per_minute"), &form.max_per_minute, e("max_per_minute"))
            // No `maxlength`: a browser would cut 100000 to 10000 without a word.
            .inputmode("numeric")
            .hint(RATE_HINT),
        host: FieldView::new("host", l("host"), &form.host, e("host"))
            .max(SmtpHost::MAX_LEN)
            .required()
            .hint("For example smtp.example.com, without https:// or a port."),
        port: FieldView::new("port", l("port"), &form.port, e("port"))
            .max(SmtpPort::MAX_DIGITS)
            .inputmode("numeric")
            .required()
            .hint(port_hint()),
        ca_pem: FieldView::new("ca_pem", l("ca_pem"), &form.ca_pem, e("ca_pem"))
            .kind("textarea")
            .hint("Only for a server whose certificate comes from your own certificate authority: paste that CA certificate (-----BEGIN CERTIFICATE----- …)."),
        username: FieldView::new("username", l("username"), &form.username, e("username"))
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
        graph_tenant_id: FieldView::new("graph_tenant_id", l("graph_tenant_id"), &form.graph_tenant_id, e("graph_tenant_id"))
            .max(GraphTenantId::MAX_LEN)
            .required()
            .hint("The Directory (tenant) ID of your Azure app: a GUID, or your domain such as contoso.onmicrosoft.com."),
        graph_client_id: FieldView::new("graph_client_id", l("graph_client_id"), &form.graph_client_id, e("graph_client_id"))
            .max(GraphClientId::MAX_LEN)
            .required()
            .hint(format!("The Application (client) ID of your Azure app, a GUID such as {}.", text::guid_example())),
        graph_client_secret: FieldView::new("graph_client_secret", l("graph_client_secret"), "", e("graph_client_secret"))
            .kind("password")
            .required_if(stored.is_none())
            .autocomplete("new-password")
            .placeholder(secret_placeholder(has_secret))
            .hint(format!("{CLIENT_SECRET_HINT}{graph_keep}")),
        oauth_directory: FieldView::new("oauth_directory", l("oauth_directory"), &form.oauth_directory, e("oauth_directory"))
            .max(GraphTenantId::MAX_LEN)
            .required()
            .hint("The Directory (tenant) ID of your Entra ID app: a GUID, or your domain such as contoso.onmicrosoft.com."),
        oauth_client_id: FieldView::new("oauth_client_id", l("oauth_client_id"), &form.oauth_client_id, e("oauth_client_id"))
            .max(OAuthClientId::MAX_LEN)
            .autocomplete("off")
            .required()
            .hint("Microsoft 365: the Application (client) ID, a GUID. Google: the OAuth client ID, ending in .apps.googleusercontent.com."),
        oauth_client_secret: FieldView::new("oauth_client_secret", l("oauth_client_secret"), "", e("oauth_client_secret"))
            .kind("password")
            .required_if(stored.is_none())
            .autocomplete("new-password")
            .placeholder(secret_placeholder(has_oauth_secret))
            .hint(format!("The client secret's value your provider shows once when you create it.{oauth_keep}")),
        oauth_token_url: FieldView::new("oauth_token_url", l("oauth_token_url"), &form.oauth_token_url, e("oauth_token_url"))
            .kind("url")
            .max(TokenUrl::MAX_LEN)
            .required()
            .hint("Where relaydesk asks for a token with the client-credentials grant, for example https://auth.example.com/oauth2/token."),
        oauth_scope: FieldView::new("oauth_scope", l("oauth_scope"), &form.oauth_scope, e("oauth_scope"))
            .max(OAuthScope::MAX_LEN)
            .hint("The scopes to ask for, separated by spaces, if your provider needs any."),
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
    /// The credential policy the form is checked by (the tenant's, or the one chosen on it).
    policy: CredentialPolicy,
    /// A password just tried is held for Save (see `tried`).
    pub(super) tried_held: bool,
    /// The last test email's result, in full (the list shows its first sentence).
    last_test: Option<TestResult>,
    /// On edit, how a blank password keeps the saved one (Generic SMTP).
    generic_keep: String,
    /// `sign_in` as chosen: `password` or `oauth`.
    sign_in: &'static str,
    /// `oauth_provider` as chosen.
    oauth_provider: &'static str,
    /// The saved profile signs in with Google: Connect account is offered.
    google_saved: bool,
    /// The Google account connected to the saved profile, and since when.
    connected: Option<(String, String)>,
    /// The address Google sends people back to (registered in the Google client).
    google_redirect: String,
}

/// One credential policy as the form offers it; script swaps the password and account
/// hints when another is chosen.
struct PolicyChoice {
    value: &'static str,
    label: &'static str,
    chosen: bool,
    explained: &'static str,
    password_hint: String,
    username_hint: &'static str,
    username_type: &'static str,
}

/// The hint beside a Generic SMTP account under `policy`.
fn generic_user_hint(policy: CredentialPolicy) -> &'static str {
    match policy {
        CredentialPolicy::Documented => "The login for the SMTP server, in email format.",
        CredentialPolicy::Provider => "The login for the SMTP server (any name your provider gave you).",
    }
}

/// The note beside the password while a tried password is held.
pub const TRIED_NOTE: &str = "The password you just tried will be saved if you leave this field blank, as long as \
     the settings it depends on stay as they were tried.";

impl FormPage {
    fn sign_ins(&self) -> [(&'static str, &'static str); 2] {
        SignIn::ALL.map(|s| (s.as_str(), s.label()))
    }

    fn providers(&self) -> [(&'static str, &'static str); 3] {
        OAuthProviderKind::ALL.map(|p| (p.as_str(), p.label()))
    }

    fn kinds(&self) -> [(&'static str, &'static str); 2] {
        ProfileKind::ALL.map(|k| (k.as_str(), k.label()))
    }

    /// When a saved secret is reused for the kind shown (`reuse_rule`).
    fn reuse_rule(&self) -> String {
        reuse_rule(ProfileKind::parse(self.kind).unwrap_or_default())
    }

    fn securities(&self) -> [(&'static str, &'static str, u16); 3] {
        Security::ALL.map(|s| (s.as_str(), s.label(), s.default_port()))
    }

    /// The policies to choose from, the chosen one first marked.
    fn policies(&self) -> Vec<PolicyChoice> {
        CredentialPolicy::ALL
            .iter()
            .map(|&p| PolicyChoice {
                value: p.as_str(),
                label: p.label(),
                chosen: p == self.policy,
                explained: policy_explained(p),
                password_hint: format!("{}{}", password_rules(ProfileKind::Generic, p), self.generic_keep),
                username_hint: generic_user_hint(p),
                username_type: if p == CredentialPolicy::Documented { "email" } else { "text" },
            })
            .collect()
    }

    fn label(&self, field: &str) -> &'static str {
        label(field, ProfileKind::parse(self.kind).unwrap_or_default())
    }

    fn graph_password_why(&self) -> &'static str {
        GRAPH_PASSWORD_WHY
    }

    fn tried_note(&self) -> &'static str {
        TRIED_NOTE
    }
}

fn form_page(
    page: Chrome,
    slug: &str,
    form: &ProfileForm,
    errors: FieldErrors,
    policy: CredentialPolicy,
    stored: Option<&Profile>,
    zone: &crate::domain::time_zone::Zone,
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
        policy,
        tried_held: false,
        last_test: stored.and_then(|p| p.last_test.as_ref()).map(|t| TestResult::of(t, zone)),
        generic_keep: match stored {
            Some(_) => format!(" Leave blank to keep the saved one. {}", reuse_rule(ProfileKind::Generic)),
            None => String::new(),
        },
        sign_in: SignIn::parse(&form.sign_in).unwrap_or_default().as_str(),
        oauth_provider: OAuthProviderKind::parse(&form.oauth_provider).unwrap_or(OAuthProviderKind::Microsoft).as_str(),
        google_saved: stored
            .and_then(|p| p.settings.transport.oauth())
            .is_some_and(|a| a.provider.kind() == OAuthProviderKind::Google),
        connected: stored
            .and_then(|p| p.connected.as_ref())
            .map(|c| (c.connection.account.clone(), crate::web::format_time(c.connection.at, zone))),
        google_redirect: String::new(),
    }
}

pub async fn new_form(State(state): State<AppState>, Admin(member): Admin) -> Result<Response, AppError> {
    let page = member.chrome("New SMTP profile", "smtp").await?;
    render(&form_page_for(&state.config, page, &member, &ProfileForm::blank(), FieldErrors::default(), None))
}

pub async fn edit_form(
    State(state): State<AppState>,
    AdminProfile { member, profile: stored }: AdminProfile,
) -> Result<Response, AppError> {
    let page = member.chrome(format!("Edit {}", stored.settings.name), "smtp").await?;
    let form = ProfileForm::from_settings(&stored.settings);
    let mut view = form_page_for(&state.config, page, &member, &form, FieldErrors::default(), Some(&stored));
    view.tried_held = tried::is_held(&member.session, member.tenant.id, stored.id, state.clock.now()).await?;
    render(&view)
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

/// Create (no `stored`) or edit: parse, decide the secrets (a blank one on edit may be the
/// password just tried, see `tried`), write, or re-render with 422.
/// A profile's host names an alias the organization does not have.
const MSG_NO_SUCH_ALIAS: &str =
    "There is no alias with this name. Add it under Settings, Host aliases, or change the host.";

async fn save(
    state: AppState,
    member: Member,
    form: ProfileForm,
    stored: Option<Profile>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let policy = form.policy_or(member.tenant.policy());
    let mode = if stored.is_some() { FormMode::Edit } else { FormMode::Create };
    let input = match form.parse(policy, mode) {
        Ok(input) => input,
        Err(errors) => return invalid_form(&state, &member, &form, errors, stored.as_ref()).await,
    };
    let input = match &stored {
        Some(p) => {
            let scope = input.transport.scope();
            match tried::take_for(&member.session, &state.secrets, member.tenant.id, p.id, &scope, now).await? {
                Some(held) => input.fill_blank_secrets(held),
                None => input,
            }
        }
        None => input,
    };
    let typed_secrets = input.typed_secret_fields();
    let settings =
        input.with_secrets(policy, stored.as_ref().map(|p| &p.settings), |typed| state.secrets.seal_secret(&typed));
    let settings = match settings {
        Ok(settings) => settings,
        Err(errors) => return invalid_form(&state, &member, &form, errors, stored.as_ref()).await,
    };
    // A `$alias` host must name one of the organization's aliases, as on an SMS channel.
    // It is looked up again at every send, so changing the alias moves the profile.
    if let Transport::Generic(generic) = &settings.transport {
        let host = generic.host.as_str();
        if is_alias(host) && aliases::find(&mut *state.db.acquire().await?, member.tenant.id, host).await?.is_none() {
            let mut errors = FieldErrors::default();
            errors.insert("host", MSG_NO_SUCH_ALIAS);
            return invalid_form(&state, &member, &form, errors, stored.as_ref()).await;
        }
    }

    let mut tx = store::begin_write(&state.db).await?;
    let written = match &stored {
        None => profiles::create(&mut tx, member.tenant.id, &settings, now).await.map(Some),
        Some(p) => {
            // A connected account's refresh token stays only while everything it was
            // given for (and would be sent to) is unchanged, like a saved secret.
            let keep_connection = settings.transport.scope().change_from(&p.settings.transport.scope()).is_none();
            profiles::update(&mut tx, member.tenant.id, p.id, &settings, keep_connection, now)
                .await
                .map(|found| found.then_some(p.id))
        }
    };
    let id = match written {
        Ok(Some(id)) => id,
        Ok(None) => return Err(AppError::NotFound),
        Err(e) if is_unique_violation(&e) => {
            drop(tx);
            let mut errors = FieldErrors::default();
            errors.insert("name", MSG_NAME_TAKEN);
            return invalid_form(&state, &member, &form, errors, stored.as_ref()).await;
        }
        Err(e) => return Err(e.into()),
    };
    let (action, detail) = match &stored {
        Some(p) => (audit::AuditAction::ProfileUpdated, update_detail(&p.settings, &settings, &typed_secrets)),
        None => (audit::AuditAction::ProfileCreated, settings.name.to_string()),
    };
    audit::record(&mut tx, member.tenant.id, member.actor(), action, &detail, now).await?;
    let policy_changed = policy != member.tenant.policy();
    if policy_changed {
        tenants::set_credential_policy(&mut tx, member.tenant.id, policy).await?;
        audit::record(
            &mut tx,
            member.tenant.id,
            member.actor(),
            audit::AuditAction::PolicyChanged,
            policy.as_str(),
            now,
        )
        .await?;
    }
    let saved = profiles::get_in(&mut tx, member.tenant.id, id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    tried::forget(&member.session).await?;

    let mut message = format!("Saved {}.", saved.settings.name);
    if saved.settings.is_default && stored.as_ref().is_none_or(|p| !p.settings.is_default) {
        message.push_str(" It is now the default profile.");
    }
    if policy_changed {
        message.push_str(&format!(" SMTP accounts are now checked against the {} rules.", policy.label()));
    }
    member.session.flash_ok(message).await?;
    Ok(to_list(&member))
}

/// The audit detail of an edit: the profile's name and the labels of what changed, never a
/// value; a secret only as "password changed" / "client secret changed".
pub fn update_detail<T, U>(before: &ProfileSettings<T>, saved: &ProfileSettings<U>, typed_secrets: &[&str]) -> String {
    let kind = saved.kind();
    let fields: Vec<String> = changed_fields(before, saved).iter().map(|f| label(f, kind).to_owned()).collect();
    let mut parts = Vec::new();
    if !fields.is_empty() {
        parts.push(format!("changed {}", words::and_list(&fields)));
    }
    for secret in typed_secrets {
        parts.push(if *secret == "password" { "password changed" } else { "client secret changed" }.to_owned());
    }
    if parts.is_empty() {
        parts.push("nothing changed".to_owned());
    }
    format!("{}: {}", before.name, parts.join("; "))
}

/// The form page for this member's tenant (the test email re-renders it too).
pub(super) fn form_page_for(
    config: &crate::config::Config,
    page: Chrome,
    member: &Member,
    form: &ProfileForm,
    errors: FieldErrors,
    stored: Option<&Profile>,
) -> FormPage {
    let policy = form.policy_or(member.tenant.policy());
    let mut view = form_page(page, &member.tenant.slug, form, errors, policy, stored, &member.tenant.zone());
    view.test_to = member.user.email.clone();
    view.google_redirect = super::oauth::redirect_uri(config, &member.tenant.slug);
    view
}

/// Whether the secret `field` matters to the form as submitted (its type, and for Generic
/// SMTP a login).
fn asks_for(form: &ProfileForm, field: &str) -> bool {
    let oauth = SignIn::parse(&form.sign_in) == Some(SignIn::OAuth);
    match (ProfileKind::parse(&form.kind).unwrap_or_default(), field) {
        (ProfileKind::Generic, "password") => form.auth_required.is_some() && !oauth,
        (ProfileKind::Generic, "oauth_client_secret") => form.auth_required.is_some() && oauth,
        (ProfileKind::Generic, _) => false,
        (ProfileKind::Graph, _) => true,
    }
}

/// A failed submit's messages, plus "enter it again" on each secret that was typed but
/// passed its rule: the page never sends it back, so the field comes back empty.
pub(super) fn with_retype_messages(form: &ProfileForm, mut errors: FieldErrors) -> FieldErrors {
    use secrecy::ExposeSecret;
    if errors.is_empty() {
        return errors;
    }
    let secrets = [
        ("password", form.password.expose_secret().is_empty(), MSG_PASSWORD_AGAIN),
        ("graph_client_secret", form.graph_client_secret.expose_secret().is_empty(), MSG_CLIENT_SECRET_AGAIN),
        ("oauth_client_secret", form.oauth_client_secret.expose_secret().is_empty(), MSG_CLIENT_SECRET_AGAIN),
    ];
    for (field, blank, message) in secrets {
        if !blank && errors.get(field).is_none() && asks_for(form, field) {
            errors.insert(field, message);
        }
    }
    errors
}

async fn invalid_form(
    state: &AppState,
    member: &Member,
    form: &ProfileForm,
    errors: FieldErrors,
    stored: Option<&Profile>,
) -> Result<Response, AppError> {
    let title = stored.map_or("New SMTP profile".to_owned(), |p| format!("Edit {}", p.settings.name));
    let page = member.chrome(title, "smtp").await?;
    let errors = with_retype_messages(form, errors);
    let mut view = form_page_for(&state.config, page, member, &form.without_secrets(), errors, stored);
    if let Some(p) = stored {
        view.tried_held = tried::is_held(&member.session, member.tenant.id, p.id, state.clock.now()).await?;
    }
    render_invalid(&view)
}
