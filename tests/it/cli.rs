//! The `relaydesk` binary's commands, run as a person would run them.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub fn relaydesk(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_relaydesk"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("RELAYDESK_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child =
        relaydesk(dir).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn tenant_create_then_a_duplicate_slug_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["tenant", "create", "--slug", "acme", "--name", "Acme Ltd"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "created tenant acme (Acme Ltd)");
    assert!(dir.path().join("data/relaydesk.db").exists(), "default database under ./data/");

    let out = run(dir.path(), &["tenant", "create", "--slug", "acme", "--name", "Other"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(r#"error: a tenant with the short name "acme" already exists"#), "{}", stderr(&out));

    let out = run(dir.path(), &["tenant", "create", "--slug", "Bad Slug", "--name", "X"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--slug: Please enter a short name of 2 to 40 lowercase letters, digits or hyphens."));
}

#[test]
fn user_create_reads_the_password_from_stdin_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(run(d, &["tenant", "create", "--slug", "acme", "--name", "Acme"], "").status.success());
    let create = |email: &str, role: &str, tenant: &str, pw: &str| {
        run(d, &["user", "create", "--tenant", tenant, "--email", email, "--role", role, "--password-stdin"], pw)
    };

    let out = create("Ada@Acme.test", "admin", "acme", "ada's long password\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "created ada@acme.test in acme (admin)");

    let out = create("ADA@acme.test", "user", "acme", "another long password\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("ada@acme.test already has an account in acme"), "{}", stderr(&out));

    let out = create("bob@acme.test", "user", "nope", "bob's long password\n");
    assert!(stderr(&out).contains(r#"there is no tenant with the short name "nope""#));
    assert_eq!(out.status.code(), Some(1));

    let out = create("bob@acme.test", "user", "acme", "short\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("password: Please choose a password of at least 12 characters."));

    let out = create("bob@acme.test", "root", "acme", "bob's long password\n");
    assert!(stderr(&out).contains("--role must be admin, organizer or user"));

    let out = create("bob@localhost", "user", "acme", "bob's long password\n");
    assert!(stderr(&out).contains("--email: Please enter a valid email address."));

    let out = run(d, &["user", "create", "--tenant", "acme", "--email", "c@acme.test", "--role", "user"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--password-stdin"));

    let out = run(
        d,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "op@acme.test",
            "--role",
            "admin",
            "--operator",
            "--password-stdin",
        ],
        "operator's long password",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "created op@acme.test in acme (admin, operator)");

    // What was stored: lower-cased email, an argon2id hash of exactly the typed password.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db =
            sqlx::SqlitePool::connect(&format!("sqlite://{}", d.join("data/relaydesk.db").display())).await.unwrap();
        let rows: Vec<(String, String, String, bool)> =
            sqlx::query_as("SELECT email, role, password_hash, is_operator FROM users ORDER BY id")
                .fetch_all(&db)
                .await
                .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].0.as_str(), rows[0].1.as_str(), rows[0].3), ("ada@acme.test", "admin", false));
        assert!(rows[0].2.starts_with("$argon2id$"));
        assert!(relaydesk::auth::password::verify("ada's long password", Some(rows[0].2.clone())).await);
        assert!(rows[1].3, "--operator sets the flag");
    });
}

#[test]
fn a_malformed_secret_key_stops_serve_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = relaydesk(dir.path())
        .args(["serve"])
        .env("RELAYDESK_LISTEN", "127.0.0.1:0")
        .env("RELAYDESK_SECRET_KEY", "not-a-key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("RELAYDESK_SECRET_KEY is malformed"), "{}", stderr(&out));

    let out = relaydesk(dir.path()).args(["serve"]).env("RELAYDESK_LISTEN", "nowhere").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("RELAYDESK_LISTEN must be an address and port"), "{}", stderr(&out));
}
