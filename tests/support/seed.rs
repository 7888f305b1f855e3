//! Seeding shared by the test binaries: a tenant and its first admin, made the way the
//! operator's form makes them.

use relaydesk::domain::account::NewTenantForm;
use relaydesk::store::{self, tenants, TenantId};
use sqlx::SqlitePool;

/// Creates tenant `slug` with an admin named `admin_name`, at `now` (the app's clock),
/// allowed private networks (see below).
pub async fn tenant_with_admin(
    db: &SqlitePool,
    now: i64,
    slug: &str,
    name: &str,
    admin_name: &str,
    email: &str,
    password: &str,
) -> TenantId {
    let form = NewTenantForm {
        slug: slug.into(),
        name: name.into(),
        admin_name: admin_name.into(),
        admin_email: email.into(),
        admin_password: password.into(),
    };
    let Ok(new) = form.parse() else { panic!("invalid seed for {slug}") };
    let hash = relaydesk::auth::password::hash(password).await.unwrap();
    let mut tx = store::begin_write(db).await.unwrap();
    let (tenant, _) = tenants::create_with_admin(&mut tx, &new, &hash, false, now).await.unwrap();
    // The test SMTP servers listen on loopback, which the egress policy refuses an
    // organization unless the operator allows it: seeded ones are allowed, as an operator
    // would allow an organization whose relay runs beside the console. Tests of the policy
    // make their organizations with `tenant_without_private_networks`.
    store::egress::set_private_networks(&mut tx, tenant, true).await.unwrap();
    tx.commit().await.unwrap();
    tenant
}

/// Like [`tenant_with_admin`], as the operator's form makes an organization: its SMTP
/// profiles may not reach loopback, private or shared addresses.
#[allow(dead_code)]
pub async fn tenant_without_private_networks(
    db: &SqlitePool,
    now: i64,
    slug: &str,
    name: &str,
    email: &str,
    password: &str,
) -> TenantId {
    let tenant = tenant_with_admin(db, now, slug, name, "Admin", email, password).await;
    let mut conn = db.acquire().await.unwrap();
    store::egress::set_private_networks(&mut conn, tenant, false).await.unwrap();
    tenant
}
