//! The secret key, with the real binary on a real SQLite file: a deleted or wrong key is
//! refused at start with a message that says what to do (never a new key over saved
//! secrets), `relaydesk key rotate` re-seals every secret so that mail still goes out and
//! the old key opens nothing, and a rotation cut short is finished by the next start.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use relaydesk::secret::SecretBox;
use reqwest::StatusCode;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::SqlitePool;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::cli::relaydesk;
use crate::helpers::{csrf_in, location, new_client, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::sending::profile_for;
use crate::smtp::{graph, PASSWORD};
use crate::smtp_server::{Script, TestSmtp, TlsMode};

const ACCOUNT: &str = "mailer@acme.test";
const GRAPH_PASSWORD: &str = "graph-password-1";
const GRAPH_SECRET: &str = "very~secret~value";

/// `relaydesk serve` in `dir` (database and key under `dir/data/`).
pub struct Server {
    child: Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    log: Vec<String>,
    /// `http://127.0.0.1:{port}`.
    pub base: String,
}

impl Server {
    pub async fn start(dir: &Path) -> Server {
        Self::start_with(dir, &[]).await
    }

    /// Starts it with `env` added to a clean environment.
    pub async fn start_with(dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::from(relaydesk(dir));
        cmd.arg("serve").env("RELAYDESK_LISTEN", "127.0.0.1:0").envs(env.iter().copied());
        let mut child = cmd.stderr(Stdio::piped()).stdout(Stdio::null()).kill_on_drop(true).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = tx.send(line);
            }
        });
        let mut server = Server { child, lines, log: Vec::new(), base: String::new() };
        let line = server.wait_for("relaydesk is listening").await;
        let start = line.find("address=").unwrap() + "address=".len();
        server.base = format!("http://{}", line[start..].split_whitespace().next().unwrap());
        server
    }

    /// The first log line (so far or to come) that contains `needle`.
    pub async fn wait_for(&mut self, needle: &str) -> String {
        if let Some(line) = self.log.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = self.lines.recv().await {
                self.log.push(line.clone());
                if line.contains(needle) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("no log line with {needle:?}; log so far:\n{}", self.log.join("\n")),
        }
    }

    /// Stops it with SIGTERM and returns its whole log.
    pub async fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await.expect("stops").unwrap();
        assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
        while let Some(line) = self.lines.recv().await {
            self.log.push(line);
        }
        self.log
    }
}

/// A signed-in browser of `base`.
struct Browser {
    client: reqwest::Client,
    base: String,
}

impl Browser {
    async fn sign_in(base: &str) -> Browser {
        let (client, _) = new_client();
        let browser = Browser { client, base: base.to_owned() };
        let token = csrf_in(&browser.page("/t/acme/login").await);
        let res = browser
            .client
            .post(format!("{base}/t/acme/login"))
            .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf_token", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&res), "/t/acme/", "signed in");
        browser
    }

    async fn page(&self, path: &str) -> String {
        let res = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        res.text().await.unwrap()
    }

    /// Posts a form (with the CSRF token of `/t/acme/`) and expects a 303.
    async fn post(&self, path: &str, form: &[(&str, String)]) {
        let token = csrf_in(&self.page("/t/acme/").await);
        let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fields.push(("csrf_token", &token));
        let res = self.client.post(format!("{}{path}", self.base)).form(&fields).send().await.unwrap();
        let status = res.status();
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}: {}", res.text().await.unwrap());
    }

    /// Sends a test email through the SMTP profile `Office`.
    async fn test_email(&self, db: &SqlitePool) {
        let (id,): (i64,) =
            sqlx::query_as("SELECT id FROM smtp_profiles WHERE name = 'Office'").fetch_one(db).await.unwrap();
        self.post(&format!("/t/acme/smtp/{id}/test"), &[("to", "ada@example.test".to_owned())]).await;
    }
}

fn data(dir: &Path) -> PathBuf {
    dir.join("data")
}

async fn open_db(dir: &Path) -> SqlitePool {
    SqlitePool::connect_with(SqliteConnectOptions::new().filename(data(dir).join("relaydesk.db"))).await.unwrap()
}

/// Every sealed value in the database, as (place, sealed text).
async fn sealed_values(db: &SqlitePool) -> Vec<(String, String)> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT 'profile ' || name || ' password', password_sealed FROM smtp_profiles WHERE password_sealed IS NOT NULL
         UNION ALL SELECT 'profile ' || name || ' client secret', graph_secret_sealed FROM smtp_profiles
             WHERE graph_secret_sealed IS NOT NULL
         UNION ALL SELECT 'outbox ' || outbox_id, body_sealed FROM outbox_bodies
         UNION ALL SELECT 'key check', check_sealed FROM secret_key_check
         ORDER BY 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    rows
}

fn key_file(dir: &Path) -> String {
    std::fs::read_to_string(data(dir).join("secret.key")).unwrap()
}

/// An instance that has been used: tenant acme with its admin (an operator, as on a
/// single-organization install), an SMTP profile with a login that sent a test email, an
/// MS Graph profile, and an invitation mailed through the outbox. The server is stopped.
struct Installed {
    dir: tempfile::TempDir,
    smtp: TestSmtp,
}

async fn installed() -> Installed {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = relaydesk(d).args(["tenant", "create", "--slug", "acme", "--name", "Acme Ltd"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run_with_stdin(
        d,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            ADMIN_EMAIL,
            "--role",
            "admin",
            "--password-stdin",
            "--operator",
        ],
        ADMIN_PASSWORD,
        &[],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let smtp = TestSmtp::start(
        TlsMode::StartTls,
        Script { auth: Some((ACCOUNT.into(), PASSWORD.into())), ..Script::default() },
    )
    .await;
    let server = Server::start(d).await;
    let browser = Browser::sign_in(&server.base).await;
    let db = open_db(d).await;
    browser.post("/t/acme/smtp", &profile_for("Office", &smtp, "starttls")).await;
    browser.post("/t/acme/smtp", &graph("Graph")).await;
    browser.test_email(&db).await;
    browser.post("/t/acme/settings/email", &[("enabled", "on".to_owned())]).await;
    browser
        .post("/t/acme/invitations", &[("email", "colleague@acme.test".to_owned()), ("role", "user".to_owned())])
        .await;
    let got = smtp.wait_for(2, 15).await;
    assert!(got.iter().all(|m| m.user.as_deref() == Some(ACCOUNT)), "both logged in");
    server.stop().await;
    db.close().await;
    Installed { dir, smtp }
}

fn run_with_stdin(dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = relaydesk(dir)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// `relaydesk serve` that must refuse to start: its exit code and what it printed.
async fn refused_start(dir: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::from(relaydesk(dir));
    cmd.arg("serve").env("RELAYDESK_LISTEN", "127.0.0.1:0").envs(env.iter().copied()).kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("serve should have refused to start, but it kept running")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("relaydesk is listening"), "{stderr}");
    stderr
}

const MISSING: &str = "error: the database data/relaydesk.db holds secrets sealed with a key, but the key file \
                       data/secret.key is missing. relaydesk will not make a new key, because the saved SMTP \
                       passwords, Graph secrets and queued mail could not be read with it. Put the key file back \
                       from your backup (or set RELAYDESK_SECRET_KEY to that key) and start again.";
const WRONG_FILE: &str = "error: the key file data/secret.key does not open the secrets in the database \
                          data/relaydesk.db: it is not the key they were sealed with. Put the right key file back \
                          from your backup (or set RELAYDESK_SECRET_KEY to that key) and start again; nothing was \
                          changed.";
const WRONG_ENV: &str = "error: RELAYDESK_SECRET_KEY does not open the secrets in the database data/relaydesk.db: \
                         it is not the key they were sealed with. Set it to that key (or unset it to use the key \
                         file data/secret.key) and start again; nothing was changed.";

fn random_key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

#[tokio::test]
async fn a_deleted_key_file_is_refused_and_never_replaced_by_a_new_key() {
    let app = installed().await;
    let d = app.dir.path();
    let db = open_db(d).await;
    let before = sealed_values(&db).await;
    std::fs::remove_file(data(d).join("secret.key")).unwrap();

    let stderr = refused_start(d, &[]).await;
    assert!(stderr.contains(MISSING), "{stderr}");
    assert!(!data(d).join("secret.key").exists(), "no new key was made");
    assert_eq!(sealed_values(&db).await, before, "nothing changed");

    // Nor does a database from before the check value pass: its sealed secrets count.
    sqlx::query("DELETE FROM secret_key_check").execute(&db).await.unwrap();
    let stderr = refused_start(d, &[]).await;
    assert!(stderr.contains(MISSING), "{stderr}");
    assert!(!data(d).join("secret.key").exists());
}

#[tokio::test]
async fn a_wrong_key_is_refused_from_the_file_or_the_environment() {
    let app = installed().await;
    let d = app.dir.path();
    let db = open_db(d).await;
    let before = sealed_values(&db).await;
    let right = key_file(d);

    std::fs::write(data(d).join("secret.key"), random_key()).unwrap();
    let stderr = refused_start(d, &[]).await;
    assert!(stderr.contains(WRONG_FILE), "{stderr}");

    std::fs::write(data(d).join("secret.key"), &right).unwrap();
    let stderr = refused_start(d, &[("RELAYDESK_SECRET_KEY", &random_key())]).await;
    assert!(stderr.contains(WRONG_ENV), "{stderr}");
    assert_eq!(sealed_values(&db).await, before, "nothing changed");

    // A database from before the check value: its sealed secrets decide.
    sqlx::query("DELETE FROM secret_key_check").execute(&db).await.unwrap();
    std::fs::write(data(d).join("secret.key"), random_key()).unwrap();
    let stderr = refused_start(d, &[]).await;
    assert!(stderr.contains(WRONG_FILE), "{stderr}");
    std::fs::write(data(d).join("secret.key"), &right).unwrap();
    let server = Server::start(d).await;
    server.stop().await;
    let check: (String,) = sqlx::query_as("SELECT check_sealed FROM secret_key_check").fetch_one(&db).await.unwrap();
    assert!(SecretBox::from_text(&right).unwrap().open(&check.0).is_ok(), "the right key writes the check value");
}

#[tokio::test]
async fn key_rotate_reseals_every_secret_and_the_old_key_opens_none() {
    let app = installed().await;
    let d = app.dir.path();
    let db = open_db(d).await;
    let old_text = key_file(d);
    let old = SecretBox::from_text(&old_text).unwrap();
    let before = sealed_values(&db).await;
    assert_eq!(before.len(), 5, "{before:?}");
    let plain: Vec<String> = before.iter().map(|(_, s)| old.open(s).unwrap()).collect();
    assert!(plain.contains(&PASSWORD.to_owned()) && plain.contains(&GRAPH_SECRET.to_owned()));
    assert!(plain.contains(&GRAPH_PASSWORD.to_owned()));

    // Not while the server runs.
    let server = Server::start(d).await;
    let out = relaydesk(d).args(["key", "rotate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: relaydesk is running on this database (or another key rotation is): stop it first, then rotate the key"
    );
    // A session that will be ended by the rotation.
    let browser = Browser::sign_in(&server.base).await;
    server.stop().await;
    assert_eq!(key_file(d), old_text);

    let out = relaydesk(d).args(["key", "rotate"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sessions: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tower_sessions").fetch_one(&db).await.unwrap();
    assert_eq!(sessions.0, 0);
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (start, end) = said.split_once(" Ended ").unwrap();
    assert_eq!(
        start,
        "Re-sealed 5 stored values under a new key, now in data/secret.key; the old key opens none of them."
    );
    assert!(end.ends_with(" sessions: everyone signs in again."), "{said}");
    assert_ne!(end, "0 sessions: everyone signs in again.", "the signed-in sessions ended");
    let new_text = key_file(d);
    assert_ne!(new_text, old_text);
    let new = SecretBox::from_text(&new_text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data(d).join("secret.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for spare in ["secret.key.new", "secret.key.old"] {
        assert!(!data(d).join(spare).exists(), "{spare} is removed");
    }
    let after = sealed_values(&db).await;
    assert_eq!(after.iter().map(|(p, _)| p).collect::<Vec<_>>(), before.iter().map(|(p, _)| p).collect::<Vec<_>>());
    for ((place, sealed), expected) in after.iter().zip(&plain) {
        assert_eq!(&new.open(sealed).unwrap(), expected, "{place} opens with the new key");
        assert!(old.open(sealed).is_err(), "{place} does not open with the old key");
    }

    // The server starts with the new key; the old session is gone; the saved password
    // still logs in to the SMTP server.
    let server = Server::start(d).await;
    let res = browser.client.get(format!("{}/t/acme/", server.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed out by the rotation");
    let browser = Browser::sign_in(&server.base).await;
    browser.test_email(&db).await;
    let got = app.smtp.wait_for(3, 15).await;
    assert_eq!(got[2].user.as_deref(), Some(ACCOUNT));
    assert_eq!(got[2].header("Subject").unwrap(), "relaydesk test email: Office");
    server.stop().await;

    // The old key is refused now.
    std::fs::write(data(d).join("secret.key"), &old_text).unwrap();
    let stderr = refused_start(d, &[]).await;
    assert!(stderr.contains(WRONG_FILE), "{stderr}");
}

#[tokio::test]
async fn a_rotation_cut_short_is_finished_by_the_next_start() {
    let app = installed().await;
    let d = app.dir.path();
    let db = open_db(d).await;
    let old_text = key_file(d);
    let out = relaydesk(d).args(["key", "rotate"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let new_text = key_file(d);
    let (key, new, old) = (data(d).join("secret.key"), data(d).join("secret.key.new"), data(d).join("secret.key.old"));

    // Stopped after the commit, before the new key file was moved into place.
    std::fs::write(&key, &old_text).unwrap();
    std::fs::write(&new, &new_text).unwrap();
    let mut server = Server::start(d).await;
    let line = server.wait_for("finished an interrupted key rotation").await;
    assert!(line.contains("secret.key.new"), "{line}");
    server.stop().await;
    assert_eq!(key_file(d), new_text);
    assert!(!new.exists());

    // Stopped after the old key was set aside, before the new one was moved.
    std::fs::remove_file(&key).unwrap();
    std::fs::write(&old, &old_text).unwrap();
    std::fs::write(&new, &new_text).unwrap();
    let mut server = Server::start(d).await;
    server.wait_for("finished an interrupted key rotation").await;
    server.stop().await;
    assert_eq!(key_file(d), new_text);
    assert!(!new.exists() && !old.exists(), "the old key is not left behind");

    // Stopped before the commit: the database is still sealed under the key in place.
    std::fs::write(&new, random_key()).unwrap();
    let server = Server::start(d).await;
    server.stop().await;
    assert_eq!(key_file(d), new_text);
    assert!(!new.exists(), "the unused new key is removed");
    let (check,): (String,) = sqlx::query_as("SELECT check_sealed FROM secret_key_check").fetch_one(&db).await.unwrap();
    assert!(SecretBox::from_text(&new_text).unwrap().open(&check).is_ok());
}

#[tokio::test]
async fn with_the_key_in_the_environment_rotation_takes_the_new_key_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = random_key();
    let env = [("RELAYDESK_SECRET_KEY", old.as_str())];
    Server::start_with(d, &env).await.stop().await;
    assert!(!data(d).join("secret.key").exists(), "no key file when the environment gives the key");

    let out = run_with_stdin(d, &["key", "rotate"], "", &env);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: RELAYDESK_SECRET_KEY gives the key, so relaydesk cannot replace it: give the new key (32 bytes as \
         base64 or hex) on standard input with --new-key-stdin, and set RELAYDESK_SECRET_KEY to it afterwards"
    );
    let out = run_with_stdin(d, &["key", "rotate", "--new-key-stdin"], &old, &env);
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "error: the new key is the key in use; give another one");

    let new = random_key();
    let out = run_with_stdin(d, &["key", "rotate", "--new-key-stdin"], &format!("{new}\n"), &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Re-sealed 1 stored value under the new key; the old key opens none of them. Set RELAYDESK_SECRET_KEY to \
         the new key before starting relaydesk again. Ended 0 sessions: everyone signs in again."
    );
    let stderr = refused_start(d, &env).await;
    assert!(stderr.contains(WRONG_ENV), "{stderr}");
    Server::start_with(d, &[("RELAYDESK_SECRET_KEY", new.as_str())]).await.stop().await;
}

/// Rotation re-seals the columns `store::sealed` lists; a sealed column added to the
/// schema (named `…_sealed`, as every one is) without being listed there fails here.
#[tokio::test]
async fn rotation_knows_every_sealed_column_of_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new().filename(dir.path().join("t.db")).create_if_missing(true);
    let db = SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate!("./migrations").run(&db).await.unwrap();
    let columns: Vec<(String,)> = sqlx::query_as(
        "SELECT m.name || '.' || c.name FROM sqlite_master m, pragma_table_info(m.name) c
         WHERE m.type = 'table' AND c.name LIKE '%\\_sealed' ESCAPE '\\' ORDER BY 1",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let mut known: Vec<&str> = relaydesk::store::sealed::SealedColumn::ALL.iter().map(|c| c.name()).collect();
    known.sort();
    assert_eq!(columns.iter().map(|(c,)| c.as_str()).collect::<Vec<_>>(), known);
}

/// Each server keeps its sessions in memory in front of the database, so two servers on
/// one database would not see each other's sign-outs: the second is refused with a
/// sentence that says what to do. Sessions themselves outlive a restart (read from the
/// database by the next server), and a sign-out ends the session for good.
#[tokio::test]
async fn a_second_server_on_the_same_database_is_refused_and_sessions_outlive_a_restart() {
    let app = installed().await;
    let d = app.dir.path();
    let first = Server::start(d).await;
    let browser = Browser::sign_in(&first.base).await;

    let stderr = refused_start(d, &[]).await;
    assert!(
        stderr.contains(
            "error: another relaydesk server is running on the database data/relaydesk.db: stop it first (one server \
             per database)"
        ),
        "{stderr}"
    );
    // The first one was not disturbed.
    assert!(browser.page("/t/acme/smtp").await.contains("Office"));
    first.stop().await;

    // The next server knows the session from the database.
    let second = Server::start(d).await;
    let browser = Browser { client: browser.client, base: second.base.clone() };
    assert!(browser.page("/t/acme/smtp").await.contains("Office"), "still signed in after the restart");
    let token = csrf_in(&browser.page("/t/acme/").await);
    let res = browser
        .client
        .post(format!("{}/t/acme/logout", second.base))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = browser.client.get(format!("{}/t/acme/smtp", second.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed out");
    assert!(location(&res).starts_with("/t/acme/login"));
    second.stop().await;
}
