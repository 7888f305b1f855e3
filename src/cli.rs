//! The command line: `serve` (the default), `tenant create`, `user create`, `key rotate`.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::auth::password;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::account::{AccountEmail, ConsolePassword, DisplayName, Role, TenantName, TenantSlug};
use crate::store::audit::{self, Actor, AuditAction};
use crate::store::{self, tenants, users};

#[derive(Parser)]
#[command(name = "relaydesk", version, about = "A multi-tenant web console for outgoing email")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web console (the default).
    Serve,
    /// Manage tenants (organizations).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage console accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the key that seals stored secrets.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Re-seal every stored secret under a new key and put the new key in place of the key
    /// file (stop relaydesk first). Everyone signed in is signed out.
    Rotate {
        /// Read the new key (32 bytes as base64 or hex) from standard input instead of
        /// making one; required when RELAYDESK_SECRET_KEY gives the key.
        #[arg(long)]
        new_key_stdin: bool,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Short name used in links: 2–40 of a-z, 0-9 and '-'.
        #[arg(long)]
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account in a tenant; the password is read from standard input.
    Create(UserCreate),
}

#[derive(Args)]
struct UserCreate {
    /// The tenant's short name.
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    email: String,
    /// admin, organizer or user.
    #[arg(long)]
    role: String,
    /// Read the password from standard input (one line).
    #[arg(long)]
    password_stdin: bool,
    /// Display name (defaults to the part of the email before '@').
    #[arg(long)]
    name: Option<String>,
    /// Also make the account an operator (may use /admin).
    #[arg(long)]
    operator: bool,
}

/// Runs the command; errors are printed as one plain line and exit with 1.
pub fn main(cli: Cli) -> ExitCode {
    let logging = init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let done = runtime.block_on(run(cli));
    // Every log line out before the last word.
    drop(runtime);
    drop(logging);
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Most log lines waiting to be written (the queue is set aside whole at start: about
/// half a megabyte).
const LOG_LINES_WAITING: usize = 16_384;

/// Logs to standard error from a thread of their own, many lines to a write: a busy
/// outbox logs a line per message, and a write each from the async workers cost a tenth
/// of the drain. Should the reader of the log fall [`LOG_LINES_WAITING`] lines behind,
/// lines are dropped rather than holding up pages and mail. The guard writes what is left
/// when dropped.
fn init_tracing() -> tracing_appender::non_blocking::WorkerGuard {
    let filter = EnvFilter::try_from_env("RELAYDESK_LOG")
        .unwrap_or_else(|_| EnvFilter::new("relaydesk=info,tower_http=warn,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_LINES_WAITING)
        .finish(std::io::BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(writer);
    if std::env::var("RELAYDESK_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
    guard
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::app::serve(config).await,
        Command::Tenant(TenantCommand::Create { slug, name }) => {
            let done = create_tenant(&config, &slug, &name).await?;
            println!("{done}");
            Ok(())
        }
        Command::User(UserCommand::Create(args)) => {
            if !args.password_stdin {
                bail!("give the password on standard input with --password-stdin");
            }
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input).context("cannot read the password from standard input")?;
            let password = input.strip_suffix('\n').unwrap_or(&input);
            let password = password.strip_suffix('\r').unwrap_or(password);
            let done = create_user(&config, &args, password).await?;
            println!("{done}");
            Ok(())
        }
        Command::Key(KeyCommand::Rotate { new_key_stdin }) => {
            let new_key = if new_key_stdin {
                let mut input = String::new();
                std::io::stdin().read_to_string(&mut input).context("cannot read the new key from standard input")?;
                Some(input)
            } else {
                None
            };
            rotate_key(&config, new_key.as_deref()).await
        }
    }
}

async fn rotate_key(config: &Config, new_key: Option<&str>) -> anyhow::Result<()> {
    let db = crate::db::connect(config).await?;
    let done = crate::secret::keyring::rotate(config, &db, new_key, Clock::system().now()).await?;
    db.close().await;
    if !done.unreadable.is_empty() {
        eprintln!(
            "warning: {} stored values could not be opened with the old key either (they were already unreadable) \
             and were left as they were: {}",
            done.unreadable.len(),
            done.unreadable.join(", ")
        );
    }
    let counted = |n: u64, what: &str| if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") };
    let sessions = counted(done.sessions_ended, "session");
    let values = counted(done.resealed as u64, "stored value");
    match done.key_file {
        Some(path) => println!(
            "Re-sealed {values} under a new key, now in {}; the old key opens none of them. Ended {sessions}: \
             everyone signs in again.",
            path.display()
        ),
        None => println!(
            "Re-sealed {values} under the new key; the old key opens none of them. Set RELAYDESK_SECRET_KEY to the \
             new key before starting relaydesk again. Ended {sessions}: everyone signs in again."
        ),
    }
    Ok(())
}

async fn create_tenant(config: &Config, slug: &str, name: &str) -> anyhow::Result<String> {
    let slug = TenantSlug::parse(slug).map_err(|m| anyhow::anyhow!("--slug: {m}"))?;
    let name = TenantName::parse(name).map_err(|m| anyhow::anyhow!("--name: {m}"))?;
    let db = crate::db::connect(config).await?;
    let now = Clock::system().now();
    let mut tx = store::begin_write(&db).await?;
    let id = match tenants::create(&mut tx, &slug, &name, now).await {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            bail!("a tenant with the short name {:?} already exists", slug.as_str())
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(&mut tx, id, Actor { id: None, label: "command line" }, AuditAction::TenantCreated, "", now).await?;
    tx.commit().await?;
    Ok(format!("created tenant {} ({})", slug.as_str(), name.as_str()))
}

async fn create_user(config: &Config, args: &UserCreate, password: &str) -> anyhow::Result<String> {
    let email = AccountEmail::parse(&args.email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
    let role = Role::parse(&args.role).map_err(|_| anyhow::anyhow!("--role must be admin, organizer or user"))?;
    let default_name = email.as_str().split('@').next().unwrap_or_default().to_owned();
    let name = DisplayName::parse(args.name.as_deref().unwrap_or(&default_name))
        .map_err(|m| anyhow::anyhow!("--name: {m}"))?;
    let password = ConsolePassword::parse(password, email.as_str()).map_err(|m| anyhow::anyhow!("password: {m}"))?;
    let db = crate::db::connect(config).await?;
    let Some(tenant) = tenants::by_slug(&db, args.tenant.trim()).await? else {
        bail!("there is no tenant with the short name {:?}", args.tenant.trim());
    };
    let hash = password::hash(password.expose()).await?;
    let now = Clock::system().now();
    let mut tx = store::begin_write(&db).await?;
    let new = users::NewUser {
        tenant_id: tenant.id,
        email: &email,
        display_name: &name,
        password_hash: &hash,
        role,
        is_operator: args.operator,
    };
    match users::create(&mut tx, new, now).await {
        Ok(_) => {}
        Err(e) if store::is_unique_violation(&e) => {
            bail!("{} already has an account in {}", email.as_str(), tenant.slug)
        }
        Err(e) => return Err(e.into()),
    }
    let detail = format!("{} as {}", email.as_str(), role.as_str());
    audit::record(
        &mut tx,
        tenant.id,
        Actor { id: None, label: "command line" },
        AuditAction::UserCreated,
        &detail,
        now,
    )
    .await?;
    tx.commit().await?;
    let operator = if args.operator { ", operator" } else { "" };
    Ok(format!("created {} in {} ({}{operator})", email.as_str(), tenant.slug, role.as_str()))
}
