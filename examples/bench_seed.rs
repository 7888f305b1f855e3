//! Seeds a database for `scripts/bench`, through relaydesk's own store functions (the
//! same rows the pages and the CLI write):
//!
//!   bench_seed setup  DB TENANTS PROFILES SINK_HOST:PORT PASSWORD
//!       TENANTS tenants (t0001, t0002, …), each with an admin admin@tNNNN.test whose
//!       password is PASSWORD, PROFILES Generic SMTP profiles, the first (the default)
//!       sending to the sink with no TLS and no login, and email on.
//!   bench_seed invite DB COUNT TENANTS PUBLIC_URL
//!       COUNT invitations queued in the outbox, spread in turn over the first TENANTS
//!       tenants, each with its email as the invitation page makes it.
//!
//! Run it while relaydesk is stopped. Not part of the product.

use std::path::Path;

use anyhow::{bail, Context};
use relaydesk::domain::account::{NewTenantForm, Role};
use relaydesk::domain::smtp::{
    FromAddress, GenericSmtp, ProfileName, ProfileSettings, ReplyTo, Security, SenderName, SmtpHost, SmtpPort,
    Transport,
};
use relaydesk::mail::outbox::{self, Link};
use relaydesk::store::{self, smtp as profiles, tenants, tokens, users};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["setup", db, tenants, profiles, sink, password] => {
            setup(Path::new(db), tenants.parse()?, profiles.parse()?, sink, password).await
        }
        ["invite", db, count, tenants, public_url] => {
            invite(Path::new(db), count.parse()?, tenants.parse()?, public_url).await
        }
        _ => bail!("usage: bench_seed setup DB TENANTS PROFILES SINK_HOST:PORT PASSWORD | invite DB COUNT TENANTS URL"),
    }
}

async fn app(db: &Path, public_url: Option<&str>) -> anyhow::Result<relaydesk::AppState> {
    let mut config = relaydesk::Config::for_database(db, "127.0.0.1:0".parse()?);
    if let Some(url) = public_url {
        config.public_url = url.parse()?;
    }
    Ok(relaydesk::build_app(config).await?.state)
}

fn slug(n: usize) -> String {
    format!("t{n:04}")
}

async fn setup(db: &Path, count: usize, per_tenant: usize, sink: &str, password: &str) -> anyhow::Result<()> {
    let state = app(db, None).await?;
    let (host, port) = sink.rsplit_once(':').context("SINK_HOST:PORT")?;
    // One hash for every admin: argon2 takes a moment each, and it is the same password.
    let hash = relaydesk::auth::password::hash(password).await?;
    let now = state.clock.now();
    for first in (1..=count).step_by(100) {
        let mut tx = store::begin_write(&state.db).await?;
        for n in first..(first + 100).min(count + 1) {
            let form = NewTenantForm {
                slug: slug(n),
                name: format!("Tenant {n}"),
                admin_name: "Admin".into(),
                admin_email: format!("admin@{}.test", slug(n)),
                admin_password: password.into(),
            };
            let Ok(new) = form.parse() else { bail!("the seed tenant {n} is not valid") };
            let (tenant, _) = tenants::create_with_admin(&mut tx, &new, &hash, false, now).await?;
            for p in 1..=per_tenant {
                let (host, port, security) = if p == 1 {
                    (host.to_owned(), port.to_owned(), Security::None)
                } else {
                    (format!("smtp{p}.example.test"), "587".to_owned(), Security::Starttls)
                };
                let settings = ProfileSettings {
                    name: ProfileName::parse(&format!("Relay{p:02}")).map_err(anyhow::Error::msg)?,
                    is_default: p == 1,
                    from_address: FromAddress::parse(&format!("no-reply@{}.test", slug(n)))
                        .map_err(anyhow::Error::msg)?,
                    from_name: SenderName::parse(&format!("Tenant {n}")).map_err(anyhow::Error::msg)?,
                    reply_to: ReplyTo::parse("").map_err(anyhow::Error::msg)?,
                    signature: None,
                    description: None,
                    max_per_minute: None,
                    transport: Transport::Generic(GenericSmtp {
                        host: SmtpHost::parse(&host).map_err(anyhow::Error::msg)?,
                        port: SmtpPort::parse(&port).map_err(anyhow::Error::msg)?,
                        security,
                        tls_verify: true,
                        ca_pem: None,
                        auth: None,
                    }),
                };
                profiles::create(&mut tx, tenant, &settings, now).await?;
            }
            tenants::set_email_enabled(&mut tx, tenant, true).await?;
        }
        tx.commit().await?;
    }
    println!("seeded {count} tenants with {per_tenant} profiles each");
    Ok(())
}

async fn invite(db: &Path, count: usize, spread: usize, public_url: &str) -> anyhow::Result<()> {
    let state = app(db, Some(public_url)).await?;
    let now = state.clock.now();
    let mut tx = store::begin_write(&state.db).await?;
    let batch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    for i in 0..count {
        let n = i % spread + 1;
        let tenant = tenants::by_slug(&state.db, &slug(n)).await?.context("run setup first")?;
        let admin =
            users::by_email(&state.db, tenant.id, &format!("admin@{}.test", slug(n))).await?.context("admin")?;
        let to = format!("person{i}-{batch}@example.test");
        let token = relaydesk::auth::random_token();
        let new = tokens::NewInvitation {
            email: &to,
            role: Role::User,
            token_hash: &relaydesk::auth::token_hash(&token),
            invited_by: admin.id,
        };
        let invitation = tokens::invite(&mut tx, tenant.id, new, now).await?;
        let link = state.config.link(&format!("/invite/{token}"));
        let mail = relaydesk::web::links::invitation_mail(&state, &tenant, "Admin", "user", &to, &link)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        outbox::enqueue(&mut tx, &state.secrets, tenant.id, Link::Invitation(invitation), &mail, now).await?;
    }
    tx.commit().await?;
    println!("queued {count} invitations over {spread} tenants");
    Ok(())
}
