//! Seeding shared by the test binaries: a tenant and its first admin, made the way the
//! operator's form makes them.

use relaydesk::domain::account::NewTenantForm;
use relaydesk::store::{self, tenants, TenantId};
use sqlx::SqlitePool;

/// Creates tenant `slug` with an admin named `admin_name`, at `now` (the app's clock).
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
    tx.commit().await.unwrap();
    tenant
}
