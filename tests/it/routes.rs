//! Every tenant route × every role × another tenant's ids: who may enter is decided by the
//! route's extractor, and this walks the whole table so a route added without the right
//! one fails here.

use relaydesk::domain::account::Role;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::smtp::generic;

/// Who may enter a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Access {
    Member,
    Organizer,
    Admin,
}

/// The ids a route's `{id}` can stand for.
#[derive(Debug, Clone, Copy)]
enum Id {
    None,
    Profile,
    User,
    /// A member made for this one request (removing or deactivating one is lasting).
    Spare,
    Invitation,
    /// An invitation made for this one request (withdrawing one is lasting).
    FreshInvitation,
    Outbox,
    Channel,
    /// A channel made for this one request (deleting one is lasting).
    SpareChannel,
    /// A host alias's name.
    Alias,
    /// A guest (registered on the guest page).
    Guest,
}

/// Every tenant page but sign-in, sign-out and the public ones (tested in their own
/// files). POSTs carry fields that fail their rules or change nothing lasting, so the
/// walk can go on in any order.
type Route = (&'static str, &'static str, Id, Access, &'static [(&'static str, &'static str)]);

const ROUTES: &[Route] = &[
    ("GET", "/t/acme/", Id::None, Access::Member, &[]),
    ("GET", "/t/acme/account", Id::None, Access::Member, &[]),
    ("POST", "/t/acme/account/password", Id::None, Access::Member, &[("password", "short")]),
    ("GET", "/t/acme/members", Id::None, Access::Organizer, &[]),
    ("GET", "/t/acme/invitations", Id::None, Access::Organizer, &[]),
    ("POST", "/t/acme/invitations", Id::None, Access::Organizer, &[("email", "not an email")]),
    ("POST", "/t/acme/invitations/{id}/regenerate", Id::Invitation, Access::Organizer, &[]),
    ("GET", "/t/acme/invitations/{id}/withdraw", Id::Invitation, Access::Organizer, &[]),
    ("POST", "/t/acme/invitations/{id}/withdraw", Id::FreshInvitation, Access::Organizer, &[]),
    ("POST", "/t/acme/members/{id}/reset-link", Id::User, Access::Admin, &[]),
    ("GET", "/t/acme/members/{id}/role", Id::User, Access::Admin, &[]),
    ("POST", "/t/acme/members/{id}/role", Id::User, Access::Admin, &[("role", "bogus")]),
    ("GET", "/t/acme/members/{id}/deactivate", Id::User, Access::Admin, &[]),
    ("POST", "/t/acme/members/{id}/deactivate", Id::Spare, Access::Admin, &[]),
    ("POST", "/t/acme/members/{id}/reactivate", Id::Spare, Access::Admin, &[]),
    ("GET", "/t/acme/members/{id}/remove", Id::User, Access::Admin, &[]),
    ("POST", "/t/acme/members/{id}/remove", Id::Spare, Access::Admin, &[]),
    ("POST", "/t/acme/members/{id}/unlock", Id::User, Access::Admin, &[]),
    ("GET", "/t/acme/smtp", Id::None, Access::Organizer, &[]),
    ("GET", "/t/acme/smtp/new", Id::None, Access::Admin, &[]),
    ("POST", "/t/acme/smtp", Id::None, Access::Admin, &[("name", "bad name")]),
    ("GET", "/t/acme/smtp/{id}", Id::Profile, Access::Admin, &[]),
    ("POST", "/t/acme/smtp/{id}", Id::Profile, Access::Admin, &[("name", "bad name")]),
    ("GET", "/t/acme/smtp/{id}/duplicate", Id::Profile, Access::Admin, &[]),
    ("POST", "/t/acme/smtp/{id}/duplicate", Id::Profile, Access::Admin, &[("password", "")]),
    ("POST", "/t/acme/smtp/{id}/default", Id::Profile, Access::Admin, &[]),
    ("GET", "/t/acme/smtp/{id}/test", Id::Profile, Access::Admin, &[]),
    ("POST", "/t/acme/smtp/{id}/test", Id::Profile, Access::Admin, &[("to", "not an email")]),
    ("GET", "/t/acme/smtp/{id}/delete", Id::Profile, Access::Admin, &[]),
    ("POST", "/t/acme/smtp/{id}/delete", Id::Profile, Access::Admin, &[("new_default", "x")]),
    ("POST", "/t/acme/smtp/{id}/oauth/connect", Id::Profile, Access::Admin, &[]),
    ("GET", "/t/acme/smtp/{id}/oauth/go", Id::Profile, Access::Admin, &[]),
    ("POST", "/t/acme/smtp/{id}/oauth/disconnect", Id::Profile, Access::Admin, &[]),
    ("GET", "/t/acme/smtp/oauth/google", Id::None, Access::Admin, &[]),
    ("GET", "/t/acme/settings", Id::None, Access::Admin, &[]),
    ("POST", "/t/acme/settings/email", Id::None, Access::Admin, &[]),
    ("POST", "/t/acme/settings/credential-policy", Id::None, Access::Admin, &[("policy", "bogus")]),
    ("POST", "/t/acme/settings/time-zone", Id::None, Access::Admin, &[("time_zone", "Mars/Olympus")]),
    ("GET", "/t/acme/audit", Id::None, Access::Admin, &[]),
    ("GET", "/t/acme/audit/export.csv", Id::None, Access::Admin, &[]),
    ("GET", "/t/acme/email-log", Id::None, Access::Admin, &[]),
    ("GET", "/t/acme/email-log/{id}", Id::Outbox, Access::Admin, &[]),
    ("GET", "/t/acme/settings/aliases", Id::None, Access::Admin, &[]),
    ("POST", "/t/acme/settings/aliases", Id::None, Access::Admin, &[("name", "bad name")]),
    ("POST", "/t/acme/settings/aliases/{id}/delete", Id::Alias, Access::Admin, &[]),
    ("GET", "/t/acme/guests/settings", Id::None, Access::Admin, &[]),
    ("POST", "/t/acme/guests/settings", Id::None, Access::Admin, &[("delivery", "pigeon")]),
    ("GET", "/t/acme/sms", Id::None, Access::Admin, &[]),
    ("GET", "/t/acme/sms/new", Id::None, Access::Admin, &[]),
    ("POST", "/t/acme/sms", Id::None, Access::Admin, &[("name", "bad name")]),
    ("GET", "/t/acme/sms/{id}", Id::Channel, Access::Admin, &[]),
    ("POST", "/t/acme/sms/{id}", Id::Channel, Access::Admin, &[("name", "bad name")]),
    ("GET", "/t/acme/sms/{id}/test", Id::Channel, Access::Admin, &[]),
    ("POST", "/t/acme/sms/{id}/test", Id::Channel, Access::Admin, &[("mobile", "not a number")]),
    ("GET", "/t/acme/sms/{id}/delete", Id::Channel, Access::Admin, &[]),
    ("POST", "/t/acme/sms/{id}/delete", Id::SpareChannel, Access::Admin, &[]),
    ("POST", "/t/acme/email-log/{id}/retry", Id::Outbox, Access::Admin, &[]),
    ("GET", "/t/acme/guests", Id::None, Access::Organizer, &[]),
    // Guest access is off in the walk: a resend is refused with a message, nothing sent.
    ("POST", "/t/acme/guests/{id}/resend", Id::Guest, Access::Organizer, &[]),
    ("POST", "/t/acme/guests/{id}/revoke", Id::Guest, Access::Organizer, &[]),
];

/// One tenant's objects, one of each kind a route can name.
#[derive(Clone, Copy)]
struct Ids {
    profile: i64,
    user: i64,
    invitation: i64,
    outbox: i64,
    channel: i64,
    /// An alias in use (by the tenant's profile), so deleting it is refused and it stays.
    alias: &'static str,
    guest: i64,
}

impl Ids {
    fn of(&self, id: Id) -> String {
        match id {
            Id::None => String::new(),
            Id::Profile => self.profile.to_string(),
            Id::User | Id::Spare => self.user.to_string(),
            Id::Invitation | Id::FreshInvitation => self.invitation.to_string(),
            Id::Outbox => self.outbox.to_string(),
            Id::Channel | Id::SpareChannel => self.channel.to_string(),
            Id::Alias => self.alias.to_owned(),
            Id::Guest => self.guest.to_string(),
        }
    }
}

async fn request(app: &TestApp, method: &str, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    match method {
        "GET" => app.get(path).await,
        _ => app.post(path, fields).await,
    }
}

/// Makes one object of each kind in `slug` as `app`'s signed-in admin would, plus an
/// outbox row (a failed one, so no worker picks it up), and returns their ids.
async fn objects(app: &TestApp, slug: &str, tenant: relaydesk::store::TenantId, member_email: &str) -> Ids {
    let alias = if slug == "acme" { "$acme_relay" } else { "$globex_relay" };
    let res =
        app.post(&format!("/t/{slug}/settings/aliases"), &[("name", alias), ("value", "smtp.example.test")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "alias in {slug}");
    let profile = crate::smtp::with(generic(&format!("{slug}_main")), "host", alias);
    let res = app.post_form(&format!("/t/{slug}/smtp"), &profile).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "profile in {slug}");
    let res = app.post_form(&format!("/t/{slug}/sms"), &crate::sms::channel(&format!("{slug}_gw"), slug)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "SMS channel in {slug}");
    let res =
        app.post(&format!("/t/{slug}/invitations"), &[("email", &format!("new@{slug}.test")), ("role", "user")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "invitation in {slug}");
    let one = |sql: &'static str| {
        let db = app.db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).bind(tenant.0).fetch_one(&db).await.unwrap() }
    };
    let outbox: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (tenant_id, kind, recipient, subject, message_id, status, next_attempt_at, created_at)
         VALUES (?, 'invitation', 'x@example.test', 'x', ?, 'failed', 0, 0) RETURNING id",
    )
    .bind(tenant.0)
    .bind(format!("<{slug}@routes.test>"))
    .fetch_one(&app.db)
    .await
    .unwrap();
    let user: i64 = sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = ? AND email = ?")
        .bind(tenant.0)
        .bind(member_email)
        .fetch_one(&app.db)
        .await
        .unwrap();
    Ids {
        profile: one("SELECT id FROM smtp_profiles WHERE tenant_id = ?").await,
        user,
        invitation: one("SELECT id FROM invitations WHERE tenant_id = ?").await,
        outbox,
        channel: one("SELECT id FROM sms_channels WHERE tenant_id = ?").await,
        alias,
        guest: sqlx::query_scalar(
            "INSERT INTO guests (tenant_id, name, login, via, created_at, sent_at)
             VALUES (?, 'Guest', '+447700900123', 'sms', 0, 0) RETURNING id",
        )
        .bind(tenant.0)
        .fetch_one(&app.db)
        .await
        .unwrap(),
    }
}

/// The newest invitation of the tenant that is still open.
async fn newest_invitation(app: &TestApp, tenant: relaydesk::store::TenantId) -> i64 {
    sqlx::query_scalar("SELECT MAX(id) FROM invitations WHERE tenant_id = ? AND voided_at IS NULL")
        .bind(tenant.0)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// A new user of acme, for a request that removes or deactivates one.
async fn spare_member(app: &TestApp, n: usize) -> i64 {
    let email = format!("spare{n}@acme.test");
    app.add_user(&email, "spare's long password", Role::User, false).await;
    sqlx::query_scalar("SELECT id FROM users WHERE email = ?").bind(&email).fetch_one(&app.db).await.unwrap()
}

/// A new invitation of acme (role user, which organizers may withdraw), as its admin makes one.
async fn fresh_invitation(app: &TestApp, n: usize) -> i64 {
    let email = format!("fresh{n}@acme.test");
    let res = app.post("/t/acme/invitations", &[("email", &email), ("role", "user")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "invitation for {email}");
    newest_invitation(app, app.tenant).await
}

/// A new SMS channel of acme, for a request that deletes one.
async fn spare_channel(app: &TestApp, n: usize) -> i64 {
    let form = crate::sms::channel(&format!("spare{n}"), &format!("spare{n}"));
    let res = app.post_form("/t/acme/sms", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "channel spare{n}");
    sqlx::query_scalar("SELECT MAX(id) FROM sms_channels").fetch_one(&app.db).await.unwrap()
}

#[tokio::test]
async fn every_route_answers_each_role_as_its_extractor_says() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.add_user("olga@acme.test", "olga's long password", Role::Organizer, false).await;
    app.add_user("ulf@acme.test", "ulf's long password", Role::User, false).await;
    let acme = objects(&app, "acme", app.tenant, "ulf@acme.test").await;

    let globex = app.add_tenant("globex", "Globex Corp", "hank@globex.test", "hank's long password").await;
    let hank = app.share();
    assert_eq!(
        hank.sign_in_to("globex", "hank@globex.test", "hank's long password").await.status(),
        StatusCode::SEE_OTHER
    );
    let theirs = objects(&hank, "globex", globex, "hank@globex.test").await;

    let as_role = |email: &'static str, password: &'static str| {
        let member = app.share();
        async move {
            assert_eq!(member.sign_in(email, password).await.status(), StatusCode::SEE_OTHER, "{email}");
            member
        }
    };
    let ulf = as_role("ulf@acme.test", "ulf's long password").await;
    let olga = as_role("olga@acme.test", "olga's long password").await;
    let roles = [(Access::Member, &ulf), (Access::Organizer, &olga), (Access::Admin, &app)];
    let anonymous = app.share();

    let mut made = 0;
    for &(method, template, id, needs, fields) in ROUTES {
        for (has, member) in &roles {
            // Regenerating voids the invitation it was given: each turn takes the newest.
            let mut ids = Ids { invitation: newest_invitation(&app, app.tenant).await, ..acme };
            made += 1;
            match id {
                Id::Spare => ids.user = spare_member(&app, made).await,
                Id::FreshInvitation => ids.invitation = fresh_invitation(&app, made).await,
                Id::SpareChannel => ids.channel = spare_channel(&app, made).await,
                _ => {}
            }
            let path = template.replace("{id}", &ids.of(id));
            let res = request(member, method, &path, fields).await;
            let status = res.status();
            if *has >= needs {
                let login = location(&res).contains("/login");
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::NOT_FOUND && !login,
                    "{method} {path} as {has:?}: {status}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {has:?}");
            }
        }
        let path = template.replace("{id}", &acme.of(id));
        if method == "GET" {
            // Not signed in, and signed in to another tenant: both go to this tenant's login.
            for (who, visitor) in [("nobody", &anonymous), ("globex's admin", &hank)] {
                let res = visitor.get(&path).await;
                assert_eq!(res.status(), StatusCode::SEE_OTHER, "{method} {path} as {who}");
                assert!(location(&res).starts_with("/t/acme/login"), "{method} {path} as {who}");
            }
        }
        if !matches!(id, Id::None) {
            // Another tenant's id, or no id at all, is 404 even for this tenant's admin.
            for other in [theirs.of(id), "abc".into(), "0".into(), "-1".into(), "99999999999999999999".into()] {
                let path = template.replace("{id}", &other);
                let res = request(&app, method, &path, fields).await;
                assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path} as acme's admin");
            }
        }
    }
    // The walk changed nothing of globex's.
    let name: String = sqlx::query_scalar("SELECT name FROM smtp_profiles WHERE id = ?")
        .bind(theirs.profile)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(name, "globex_main");
}

/// An operator's route: method, path, fields.
type OperatorRoute = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

/// The operator's pages: what they change is named by a short name in the path.
const OPERATOR_ROUTES: &[OperatorRoute] = &[
    ("GET", "/admin", &[]),
    ("POST", "/admin/tenants", &[("slug", "Bad Slug")]),
    ("POST", "/admin/tenants/globex/rename", &[("name", "")]),
    ("GET", "/admin/tenants/globex/suspend", &[]),
    ("POST", "/admin/tenants/globex/suspend", &[]),
    ("POST", "/admin/tenants/globex/private-networks", &[("private_networks", "")]),
    ("POST", "/admin/tenants/globex/guest-cap", &[("guest_daily_cap", "many")]),
];

#[tokio::test]
async fn the_operators_routes_answer_404_to_everyone_else() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    app.add_user("olivia@acme.test", "olivia's long password", Role::Admin, true).await;
    app.add_tenant("globex", "Globex Corp", "hank@globex.test", "hank's long password").await;
    let operator = app.share();
    assert_eq!(operator.sign_in("olivia@acme.test", "olivia's long password").await.status(), StatusCode::SEE_OTHER);
    let hank = app.share();
    assert_eq!(
        hank.sign_in_to("globex", "hank@globex.test", "hank's long password").await.status(),
        StatusCode::SEE_OTHER
    );
    let anonymous = app.share();
    for &(method, path, fields) in OPERATOR_ROUTES {
        for (who, visitor) in [("nobody", &anonymous), ("acme's admin", &app), ("globex's admin", &hank)] {
            let res = request(visitor, method, path, fields).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path} as {who}");
        }
        let res = request(&operator, method, path, fields).await;
        let status = res.status();
        assert!(status != StatusCode::FORBIDDEN && status != StatusCode::NOT_FOUND, "{method} {path}: {status}");
    }
}

/// The guest's pages (SPEC §9.3): method, path, fields that fail their rules.
const GUEST_ROUTES: &[OperatorRoute] = &[
    ("GET", "/g/{slug}", &[]),
    ("POST", "/g/{slug}", &[("name", "")]),
    ("GET", "/g/{slug}/login", &[]),
    ("POST", "/g/{slug}/login", &[("login", "nobody")]),
];

#[tokio::test]
async fn the_guest_pages_are_public_where_guest_access_is_on_and_404_elsewhere() {
    let app = spawn_app().await;
    app.sign_in_admin().await;
    let res = app.post_form("/t/acme/sms", &crate::smtp::with(crate::sms::channel("Gw", "gw"), "enabled", "on")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let on = [("enabled", "on"), ("delivery", "sms"), ("passcode_length", "6"), ("access_hours", "24")];
    assert_eq!(app.post("/t/acme/guests/settings", &on).await.status(), StatusCode::SEE_OTHER);
    // globex exists, with guest access off.
    app.add_tenant("globex", "Globex Corp", "hank@globex.test", "hank's long password").await;
    let anonymous = app.share();
    for &(method, template, fields) in GUEST_ROUTES {
        for (who, visitor) in [("nobody", &anonymous), ("acme's admin", &app)] {
            let path = template.replace("{slug}", "acme");
            let status = request(visitor, method, &path, fields).await.status();
            assert!(status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY, "{method} {path} as {who}");
            for slug in ["globex", "nope"] {
                let path = template.replace("{slug}", slug);
                let status = request(visitor, method, &path, fields).await.status();
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path} as {who}");
            }
        }
    }
}
