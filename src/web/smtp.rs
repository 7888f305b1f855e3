//! SMTP profiles: the list, create and edit, duplicate, make default, delete (SPEC §2-§4).

use askama::Template;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::fields::FieldView;
use super::{format_time, render, render_invalid, Chrome, Form, Query};
use crate::app::AppState;
use crate::auth::extract::Member;
use crate::domain::account::Role;
use crate::domain::smtp::{
    check_duplicate_password, copied_name, msg_copied, CredentialPolicy, Description, FieldErrors, FormMode,
    GraphClientSecret, GraphPassword, GraphTenantId, ProfileForm, ProfileInput, ProfileKind, ProfileName, SecretScope,
    Security, SenderName, Signature, SmtpHost, SmtpUsername, Transport, MSG_GRAPH_CLIENT_SECRET, MSG_GRAPH_PASSWORD,
    MSG_NAME_TAKEN, MSG_PROVIDER_PASSWORD, MSG_SMTP_PASSWORD,
};
use crate::domain::{email, smtp_password};
use crate::error::AppError;
use crate::store::audit;
use crate::store::smtp::{self as profiles, Profile, ProfileId, Secrets};
use crate::store::{self, is_unique_violation};

/// Profiles shown on one page of the list.
pub const PER_PAGE: i64 = 20;

/// The placeholder of a stored password's input (seed 002).
pub const NOT_DISPLAYED: &str = "Not displayed for security reasons";

// ---------------------------------------------------------------------------------------
// The list

struct Row {
    id: i64,
    name: String,
    kind: &'static str,
    endpoint: String,
    security: &'static str,
    is_default: bool,
    test: Option<TestResult>,
}

struct TestResult {
    ok: bool,
    when: String,
    message: String,
}

#[derive(Template)]
#[template(path = "smtp/list.html")]
struct ListPage {
    page: Chrome,
    rows: Vec<Row>,
    can_edit: bool,
    search: String,
    total: i64,
    page_no: i64,
    pages: i64,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    page: String,
}

fn kind_of(p: &Profile) -> ProfileKind {
    ProfileKind::parse(&p.kind).unwrap_or_default()
}

fn row(p: Profile) -> Row {
    let kind = kind_of(&p);
    let (endpoint, security) = match kind {
        ProfileKind::Generic => (
            format!("{}:{}", p.host.clone().unwrap_or_default(), p.port.unwrap_or_default()),
            Security::parse(p.security.as_deref().unwrap_or_default()).unwrap_or_default().label(),
        ),
        ProfileKind::Graph => (p.username.clone().unwrap_or_default(), "HTTPS"),
    };
    let test = p.last_test_at.map(|at| TestResult {
        ok: p.last_test_ok.unwrap_or(false),
        when: format_time(at),
        message: p.last_test_message.clone().unwrap_or_default(),
    });
    Row { id: p.id.0, name: p.name, kind: kind.label(), endpoint, security, is_default: p.is_default, test }
}

pub async fn list(
    State(state): State<AppState>,
    member: Member,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    member.require(Role::Organizer)?;
    let search: String = query.q.trim().chars().filter(|c| !c.is_control()).take(50).collect();
    let page_no = query.page.trim().parse::<i64>().unwrap_or(1).clamp(1, 1_000_000);
    let (found, total) =
        profiles::page(&state.db, member.tenant.id, &search, PER_PAGE, (page_no - 1) * PER_PAGE).await?;
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    let link = |n: i64| {
        let q: String = url::form_urlencoded::byte_serialize(search.as_bytes()).collect();
        format!("/t/{}/smtp?q={q}&page={n}", member.tenant.slug)
    };
    let page = ListPage {
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (page_no < pages).then(|| link(page_no + 1)),
        page: member.chrome("SMTP profiles", "smtp").await?,
        rows: found.into_iter().map(row).collect(),
        can_edit: member.user.role() == Role::Admin,
        search,
        total,
        page_no,
        pages: pages.max(1),
    };
    render(&page)
}

// ---------------------------------------------------------------------------------------
// Create and edit

/// Every input of the profile form, rendered from the rules in `domain::smtp`.
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

fn profile_fields(
    form: &ProfileForm,
    errors: &FieldErrors,
    policy: CredentialPolicy,
    stored: Option<&Profile>,
) -> ProfileFields {
    let kind = ProfileKind::parse(form.kind.trim()).unwrap_or_default();
    let e = |name: &str| errors.get(name);
    let secret_placeholder = |has: bool| if has { NOT_DISPLAYED } else { "" };
    let has_password = stored.is_some_and(|p| p.password_sealed.is_some());
    let has_secret = stored.is_some_and(|p| p.graph_secret_sealed.is_some());
    let generic_user_hint = match policy {
        CredentialPolicy::Documented => "The login for the SMTP server, in email format.",
        CredentialPolicy::Provider => "The login for the SMTP server (any name your provider gave you).",
    };
    let (user_label, user_hint, user_type) = match (kind, policy) {
        (ProfileKind::Graph, _) => ("User Name", GRAPH_USER_HINT, "email"),
        (_, CredentialPolicy::Documented) => ("SMTP Account Address", generic_user_hint, "email"),
        (_, CredentialPolicy::Provider) => ("SMTP Account Address", generic_user_hint, "text"),
    };
    let password_max = match (kind, policy) {
        (ProfileKind::Graph, _) => GraphPassword::MAX_LEN,
        (_, CredentialPolicy::Provider) => smtp_password::PROVIDER_MAX_LEN,
        (_, CredentialPolicy::Documented) => smtp_password::DOCUMENTED_MAX_LEN,
    };
    let keep_hint = if stored.is_some() {
        " Leave blank to keep the saved one; it is kept only while the type, host, port, security, certificate \
         settings and account stay the same."
    } else {
        ""
    };
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
            .max(5)
            .inputmode("numeric")
            .required()
            .hint("Usually 465 for SSL/TLS, 587 for STARTTLS and 25 for none."),
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
        password: FieldView::new("password", if kind == ProfileKind::Graph { "Password" } else { "SMTP Account Password" }, "", e("password"))
            .kind("password")
            .required_if(stored.is_none())
            .max(password_max)
            .autocomplete("new-password")
            .placeholder(secret_placeholder(has_password))
            .hint(format!("{}{keep_hint}", password_rules(kind, policy)))
            .hints_by_kind(
                format!("{}{keep_hint}", password_rules(ProfileKind::Generic, policy)),
                format!("{}{keep_hint}", password_rules(ProfileKind::Graph, policy)),
            ),
        graph_tenant_id: FieldView::new("graph_tenant_id", "Tenant Id", &form.graph_tenant_id, e("graph_tenant_id"))
            .max(GraphTenantId::MAX_LEN)
            .required()
            .hint("The Directory (tenant) ID of your Azure app: a GUID, or your domain such as contoso.onmicrosoft.com."),
        graph_client_id: FieldView::new("graph_client_id", "Client Id", &form.graph_client_id, e("graph_client_id"))
            .max(36)
            .required()
            .hint("The Application (client) ID of your Azure app, a GUID such as 00000000-0000-0000-0000-000000000000."),
        graph_client_secret: FieldView::new("graph_client_secret", "Client Secret", "", e("graph_client_secret"))
            .kind("password")
            .required_if(stored.is_none())
            .max(GraphClientSecret::MAX_LEN)
            .autocomplete("new-password")
            .placeholder(secret_placeholder(has_secret))
            .hint(format!(
                "The secret's value from Certificates & secrets in the Azure portal.{}",
                if stored.is_some() {
                    " Leave blank to keep the saved one; it is kept only while the tenant ID, client ID and user name stay the same."
                } else {
                    ""
                }
            )),
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
        Some(p) => (format!("Edit {}", p.name), format!("/t/{slug}/smtp/{}", p.id.0)),
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
        currently_default: stored.is_some_and(|p| p.is_default),
        tls_verify: form.tls_verify.is_some(),
        auth_required: form.auth_required.is_some(),
        f: profile_fields(form, &errors, policy, stored),
        errors,
        test_to: String::new(),
        documented: policy == CredentialPolicy::Documented,
    }
}

/// The form as a new profile starts: Generic, SSL on 465, certificate checks and auth on.
fn blank_form() -> ProfileForm {
    ProfileForm {
        kind: ProfileKind::Generic.as_str().into(),
        security: Security::default().as_str().into(),
        port: Security::default().default_port().to_string(),
        tls_verify: Some("on".into()),
        auth_required: Some("on".into()),
        ..ProfileForm::default()
    }
}

/// The stored profile as the form shows it (secrets left out).
fn stored_form(p: &Profile) -> ProfileForm {
    let on = |b: bool| b.then(|| "on".to_owned());
    ProfileForm {
        name: p.name.clone(),
        kind: p.kind.clone(),
        is_default: on(p.is_default),
        from_address: p.from_address.clone(),
        from_name: p.from_name.clone(),
        reply_to: p.reply_to.clone().unwrap_or_default(),
        signature: p.signature.clone().unwrap_or_default(),
        description: p.description.clone().unwrap_or_default(),
        host: p.host.clone().unwrap_or_default(),
        port: p.port.map(|n| n.to_string()).unwrap_or_else(|| Security::default().default_port().to_string()),
        security: p.security.clone().unwrap_or_else(|| Security::default().as_str().into()),
        tls_verify: on(p.tls_verify),
        ca_pem: p.ca_pem.clone().unwrap_or_default(),
        auth_required: on(p.auth_required || p.is_graph()),
        username: p.username.clone().unwrap_or_default(),
        password: String::new(),
        graph_tenant_id: p.graph_tenant_id.clone().unwrap_or_default(),
        graph_client_id: p.graph_client_id.clone().unwrap_or_default(),
        graph_client_secret: String::new(),
    }
}

/// The form as submitted, minus what must never be sent back.
fn without_secrets(form: &ProfileForm) -> ProfileForm {
    ProfileForm { password: String::new(), graph_client_secret: String::new(), ..form.clone() }
}

/// An admin of the tenant in the path, and the profile `{id}` of that tenant. Any other
/// id (another tenant's, or not a number) is 404; any other role is 403.
pub struct AdminProfile {
    pub member: Member,
    pub profile: Profile,
}

impl FromRequestParts<AppState> for AdminProfile {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let member = Member::from_request_parts(parts, state).await?;
        member.require(Role::Admin)?;
        let Path((_, id)) =
            Path::<(String, String)>::from_request_parts(parts, state).await.map_err(|_| AppError::NotFound)?;
        let id = id.parse::<i64>().map_err(|_| AppError::NotFound)?;
        let profile = profiles::get(&state.db, member.tenant.id, ProfileId(id)).await?.ok_or(AppError::NotFound)?;
        Ok(AdminProfile { member, profile })
    }
}

pub async fn new_form(member: Member) -> Result<Response, AppError> {
    member.require(Role::Admin)?;
    let page = member.chrome("New SMTP profile", "smtp").await?;
    render(&form_page_for(page, &member, &blank_form(), FieldErrors::default(), None))
}

pub async fn edit_form(AdminProfile { member, profile: stored }: AdminProfile) -> Result<Response, AppError> {
    let page = member.chrome(format!("Edit {}", stored.name), "smtp").await?;
    let form = stored_form(&stored);
    render(&form_page_for(page, &member, &form, FieldErrors::default(), Some(&stored)))
}

/// Seals the secrets of a parsed form. On edit, a blank secret keeps the stored one, but
/// only while its `SecretScope` is unchanged; otherwise it must be typed again.
/// A missing secret gets its field's own message (SPEC §2); the hint beside the field
/// says when a saved one is kept.
pub(super) fn secrets_for(
    state: &AppState,
    input: &ProfileInput,
    policy: CredentialPolicy,
    stored: Option<&Profile>,
    errors: &mut FieldErrors,
) -> Secrets {
    let same_scope = stored.is_some_and(|p| p.secret_scope() == SecretScope::of(&input.transport));
    let mut keep_or_ask =
        |typed: Option<&String>, kept: Option<&String>, field: &'static str, message: &'static str| match (typed, kept)
        {
            (Some(plain), _) => Some(state.secrets.seal(plain)),
            (None, Some(sealed)) if same_scope => Some(sealed.clone()),
            (None, _) => {
                errors.insert(field, message);
                None
            }
        };
    match &input.transport {
        Transport::Generic { auth: None, .. } => Secrets { password: None, graph_secret: None },
        Transport::Generic { auth: Some(auth), .. } => Secrets {
            password: keep_or_ask(
                auth.password.as_ref(),
                stored.and_then(|p| p.password_sealed.as_ref()),
                "password",
                match policy {
                    CredentialPolicy::Documented => MSG_SMTP_PASSWORD,
                    CredentialPolicy::Provider => MSG_PROVIDER_PASSWORD,
                },
            ),
            graph_secret: None,
        },
        Transport::Graph { password, client_secret, .. } => Secrets {
            password: keep_or_ask(
                password.as_ref(),
                stored.and_then(|p| p.password_sealed.as_ref()),
                "password",
                MSG_GRAPH_PASSWORD,
            ),
            graph_secret: keep_or_ask(
                client_secret.as_ref(),
                stored.and_then(|p| p.graph_secret_sealed.as_ref()),
                "graph_client_secret",
                MSG_GRAPH_CLIENT_SECRET,
            ),
        },
    }
}

pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Form(form): Form<ProfileForm>,
) -> Result<Response, AppError> {
    member.require(Role::Admin)?;
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
    let policy = member.tenant.policy();
    let mode = if stored.is_some() { FormMode::Edit } else { FormMode::Create };
    let parsed = form.parse(policy, mode);
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    let secrets = parsed.as_ref().ok().map(|input| secrets_for(&state, input, policy, stored.as_ref(), &mut errors));
    let (input, secrets) = match (parsed, secrets) {
        (Ok(input), Some(secrets)) if errors.is_empty() => (input, secrets),
        _ => return invalid_form(&member, &form, errors, stored.as_ref()).await,
    };

    let mut tx = store::begin_write(&state.db).await?;
    let written = match &stored {
        None => profiles::create(&mut tx, member.tenant.id, &input, &secrets).await.map(Some),
        Some(p) => {
            profiles::update(&mut tx, member.tenant.id, p.id, &input, &secrets).await.map(|found| found.then_some(p.id))
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
    audit::record(&mut tx, member.tenant.id, member.actor(), action, input.name.as_str()).await?;
    tx.commit().await?;

    let saved = profiles::get(&state.db, member.tenant.id, id).await?.ok_or(AppError::NotFound)?;
    let mut message = format!("Saved {}.", saved.name);
    if saved.is_default && stored.as_ref().is_none_or(|p| !p.is_default) {
        message.push_str(" It is now the default profile.");
    }
    member.session.flash_ok(message).await?;
    Ok(Redirect::to(&format!("/t/{}/smtp", member.tenant.slug)).into_response())
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
    let title = stored.map_or("New SMTP profile".to_owned(), |p| format!("Edit {}", p.name));
    let page = member.chrome(title, "smtp").await?;
    let form = without_secrets(form);
    render_invalid(&form_page_for(page, member, &form, errors, stored))
}

// ---------------------------------------------------------------------------------------
// Duplicate

#[derive(Template)]
#[template(path = "smtp/duplicate.html")]
struct DuplicatePage {
    page: Chrome,
    profile: Row,
    new_name: String,
    asks_password: bool,
    password: FieldView,
    /// Graph profiles also ask for the client secret.
    client_secret: Option<FieldView>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DuplicateForm {
    password: String,
    graph_client_secret: String,
}

async fn duplicate_page(
    state: &AppState,
    member: &Member,
    source: Profile,
    errors: &FieldErrors,
) -> Result<DuplicatePage, AppError> {
    let mut conn = state.db.acquire().await?;
    let taken = profiles::names(&mut conn, member.tenant.id).await?;
    let new_name = copied_name(&source.name, |n| taken.iter().any(|t| t.eq_ignore_ascii_case(n)));
    let kind = kind_of(&source);
    let label = if kind == ProfileKind::Graph { "Password" } else { "SMTP Account Password" };
    let password = FieldView::new("password", label, "", errors.get("password"))
        .kind("password")
        .autocomplete("new-password")
        .required()
        .hint(password_rules(kind, member.tenant.policy()));
    let client_secret = (kind == ProfileKind::Graph).then(|| {
        FieldView::new("graph_client_secret", "Client Secret", "", errors.get("graph_client_secret"))
            .kind("password")
            .max(GraphClientSecret::MAX_LEN)
            .autocomplete("new-password")
            .required()
            .hint("The secret's value from Certificates & secrets in the Azure portal.")
    });
    Ok(DuplicatePage {
        client_secret,
        page: member.chrome(format!("Duplicate {}", source.name), "smtp").await?,
        asks_password: source.has_password(),
        profile: row(source),
        new_name,
        password,
    })
}

pub async fn duplicate_form(
    State(state): State<AppState>,
    AdminProfile { member, profile: source }: AdminProfile,
) -> Result<Response, AppError> {
    render(&duplicate_page(&state, &member, source, &FieldErrors::default()).await?)
}

pub async fn duplicate(
    State(state): State<AppState>,
    AdminProfile { member, profile: source }: AdminProfile,
    Form(form): Form<DuplicateForm>,
) -> Result<Response, AppError> {
    let kind = kind_of(&source);
    let mut errors = FieldErrors::default();
    if source.has_password() {
        errors.check("password", check_duplicate_password(kind, member.tenant.policy(), &form.password));
    }
    if kind == ProfileKind::Graph {
        errors.check("graph_client_secret", GraphClientSecret::parse(&form.graph_client_secret));
    }
    if !errors.is_empty() {
        return render_invalid(&duplicate_page(&state, &member, source, &errors).await?);
    }
    let seal = |typed: &str, asked: bool| asked.then(|| state.secrets.seal(typed));
    let secrets = Secrets {
        password: seal(&form.password, source.has_password()),
        graph_secret: seal(&form.graph_client_secret, kind == ProfileKind::Graph),
    };
    let mut tx = store::begin_write(&state.db).await?;
    // Names are read inside the write transaction, so the chosen name is still free.
    let taken = profiles::names(&mut tx, member.tenant.id).await?;
    let new_name = copied_name(&source.name, |n| taken.iter().any(|t| t.eq_ignore_ascii_case(n)));
    profiles::duplicate(&mut tx, member.tenant.id, source.id, &new_name, &secrets).await?.ok_or(AppError::NotFound)?;
    let detail = format!("{} as {new_name}", source.name);
    audit::record(&mut tx, member.tenant.id, member.actor(), audit::AuditAction::ProfileDuplicated, &detail).await?;
    tx.commit().await?;
    member.session.flash_ok(msg_copied(&new_name)).await?;
    Ok(Redirect::to(&format!("/t/{}/smtp", member.tenant.slug)).into_response())
}

// ---------------------------------------------------------------------------------------
// Make default

pub async fn make_default(
    State(state): State<AppState>,
    AdminProfile { member, profile }: AdminProfile,
) -> Result<Response, AppError> {
    let mut tx = store::begin_write(&state.db).await?;
    if !profiles::make_default(&mut tx, member.tenant.id, profile.id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&mut tx, member.tenant.id, member.actor(), audit::AuditAction::ProfileDefault, &profile.name).await?;
    tx.commit().await?;
    member.session.flash_ok(format!("{} is now the default profile.", profile.name)).await?;
    Ok(Redirect::to(&format!("/t/{}/smtp", member.tenant.slug)).into_response())
}

// ---------------------------------------------------------------------------------------
// Delete

pub const MSG_NEW_DEFAULT: &str = "Please choose one of the other profiles as the new default.";

#[derive(Template)]
#[template(path = "smtp/delete.html")]
struct DeletePage {
    page: Chrome,
    profile: Row,
    others: Vec<(i64, String)>,
    email_enabled: bool,
    error: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeleteForm {
    new_default: String,
}

async fn delete_page(
    state: &AppState,
    member: &Member,
    profile: Profile,
    error: Option<&'static str>,
) -> Result<DeletePage, AppError> {
    let others = profiles::others(&state.db, member.tenant.id, profile.id).await?;
    Ok(DeletePage {
        page: member.chrome(format!("Delete {}", profile.name), "smtp").await?,
        others: others.into_iter().map(|(id, name)| (id.0, name)).collect(),
        email_enabled: member.tenant.email_enabled,
        profile: row(profile),
        error,
    })
}

pub async fn delete_form(
    State(state): State<AppState>,
    AdminProfile { member, profile }: AdminProfile,
) -> Result<Response, AppError> {
    render(&delete_page(&state, &member, profile, None).await?)
}

pub async fn delete(
    State(state): State<AppState>,
    AdminProfile { member, profile }: AdminProfile,
    Form(form): Form<DeleteForm>,
) -> Result<Response, AppError> {
    let new_default = match form.new_default.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(n) if n != profile.id.0 => Some(ProfileId(n)),
            _ => return render_invalid_delete(&state, &member, profile).await,
        },
    };
    let mut tx = store::begin_write(&state.db).await?;
    if let Some(next) = new_default {
        if profiles::get_in(&mut tx, member.tenant.id, next).await?.is_none() {
            drop(tx);
            return render_invalid_delete(&state, &member, profile).await;
        }
    }
    if !profiles::delete(&mut tx, member.tenant.id, profile.id).await? {
        return Err(AppError::NotFound);
    }
    let mut detail = profile.name.clone();
    let mut message = format!("Deleted {}.", profile.name);
    if let Some(next) = new_default {
        profiles::make_default(&mut tx, member.tenant.id, next).await?;
        let next_name = profiles::get_in(&mut tx, member.tenant.id, next).await?.map(|p| p.name).unwrap_or_default();
        detail.push_str(&format!("; new default {next_name}"));
        message.push_str(&format!(" {next_name} is now the default profile."));
    } else if profile.is_default {
        message.push_str(" There is no default profile now: invitations and password resets are not emailed until you make one the default.");
    }
    audit::record(&mut tx, member.tenant.id, member.actor(), audit::AuditAction::ProfileDeleted, &detail).await?;
    tx.commit().await?;
    member.session.flash_ok(message).await?;
    Ok(Redirect::to(&format!("/t/{}/smtp", member.tenant.slug)).into_response())
}

async fn render_invalid_delete(state: &AppState, member: &Member, profile: Profile) -> Result<Response, AppError> {
    render_invalid(&delete_page(state, member, profile, Some(MSG_NEW_DEFAULT)).await?)
}
