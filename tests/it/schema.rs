//! The schema itself: migration 0005's CHECK constraints refuse what the code never writes,
//! and rebuilding the tables keeps every existing row and link.

use std::borrow::Cow;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;

/// A database file with foreign keys on, as the app opens it, and nothing applied yet.
async fn empty_db() -> (SqlitePool, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let options =
        SqliteConnectOptions::new().filename(dir.path().join("t.db")).create_if_missing(true).foreign_keys(true);
    let pool = SqlitePoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
    (pool, dir)
}

fn migrator() -> Migrator {
    sqlx::migrate!("./migrations")
}

/// The migrations up to and including `version`.
fn migrator_up_to(version: i64) -> Migrator {
    let mut m = migrator();
    let early: Vec<_> = m.migrations.iter().filter(|m| m.version <= version).cloned().collect();
    assert!(early.len() < m.migrations.len(), "no migration after {version}");
    m.migrations = Cow::Owned(early);
    m
}

async fn current_db() -> (SqlitePool, tempfile::TempDir) {
    let (db, dir) = empty_db().await;
    migrator().run(&db).await.unwrap();
    sqlx::query("INSERT INTO tenants (id, slug, name, created_at) VALUES (1, 'acme', 'Acme', 0)")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO users (id, tenant_id, email, display_name, password_hash, role, created_at)
         VALUES (1, 1, 'ada@acme.test', 'Ada', 'x', 'admin', 0)",
    )
    .execute(&db)
    .await
    .unwrap();
    (db, dir)
}

/// Asserts the statement fails on a CHECK constraint (the message names it when named).
async fn assert_refused(db: &SqlitePool, sql: &str, constraint: &str) {
    let err = sqlx::query(sql).execute(db).await.expect_err(sql);
    let message = err.to_string();
    assert!(message.contains("CHECK constraint failed") && message.contains(constraint), "{sql}: {message}");
}

#[tokio::test]
async fn emails_must_be_stored_lower_cased() {
    let (db, _dir) = current_db().await;
    assert_refused(
        &db,
        "INSERT INTO users (tenant_id, email, display_name, password_hash, role, created_at)
         VALUES (1, 'Bob@acme.test', 'Bob', 'x', 'user', 0)",
        "users_email_lower_case",
    )
    .await;
    assert_refused(&db, "UPDATE users SET email = 'ADA@acme.test' WHERE id = 1", "users_email_lower_case").await;
    assert_refused(
        &db,
        "INSERT INTO invitations (tenant_id, email, role, token_hash, created_at, expires_at)
         VALUES (1, 'Bob@Acme.test', 'user', 'h', 0, 1)",
        "invitations_email_lower_case",
    )
    .await;
    // The lower-cased forms go in.
    sqlx::query(
        "INSERT INTO invitations (tenant_id, email, role, token_hash, created_at, expires_at)
         VALUES (1, 'bob@acme.test', 'user', 'h', 0, 1)",
    )
    .execute(&db)
    .await
    .unwrap();
}

/// An INSERT of a profile named `name` with these column values (the rest valid).
fn profile(name: &str, columns: &str, values: &str) -> String {
    format!(
        "INSERT INTO smtp_profiles (tenant_id, name, from_address, from_name, created_at, updated_at, {columns})
         VALUES (1, '{name}', 'a@acme.test', 'Acme', 0, 0, {values})"
    )
}

#[tokio::test]
async fn smtp_profiles_need_the_columns_of_their_kind() {
    let (db, _dir) = current_db().await;
    let generic = "kind, host, port, security, auth_required, username";
    let graph = "kind, username, graph_tenant_id, graph_client_id";
    for (values, constraint) in [
        ("'generic', NULL, 587, 'starttls', 0, NULL", "smtp_profiles_generic_needs_server"),
        ("'generic', 'smtp.acme.test', NULL, 'starttls', 0, NULL", "smtp_profiles_generic_needs_server"),
        ("'generic', 'smtp.acme.test', 587, NULL, 0, NULL", "smtp_profiles_generic_needs_server"),
        ("'generic', 'smtp.acme.test', 587, 'starttls', 1, NULL", "smtp_profiles_generic_auth_needs_username"),
        ("'pigeon', 'smtp.acme.test', 587, 'starttls', 0, NULL", "kind IN"),
    ] {
        assert_refused(&db, &profile("P", generic, values), constraint).await;
    }
    for values in ["'graph', NULL, 't', 'c'", "'graph', 'u@acme.test', NULL, 'c'", "'graph', 'u@acme.test', 't', NULL"]
    {
        assert_refused(&db, &profile("P", graph, values), "smtp_profiles_graph_needs_app").await;
    }
    // What the app writes for each kind goes in.
    for (name, columns, values) in [
        ("Office", generic, "'generic', 'smtp.acme.test', 587, 'starttls', 1, 'mailer'"),
        ("Relay", generic, "'generic', 'relay.acme.test', 25, 'none', 0, NULL"),
        ("Cloud", graph, "'graph', 'u@acme.test', 't', 'c'"),
    ] {
        sqlx::query(&profile(name, columns, values)).execute(&db).await.unwrap();
    }
}

/// Rows written before 0005 are all there after it, with the links that pointed at the
/// rebuilt tables (which a plain DROP TABLE would have cascaded away or set to NULL).
#[tokio::test]
async fn rebuilding_the_tables_keeps_every_row_and_link() {
    let (db, _dir) = empty_db().await;
    migrator_up_to(4).run(&db).await.unwrap();
    for sql in [
        "INSERT INTO tenants (id, slug, name, email_enabled, created_at) VALUES (1, 'acme', 'Acme', 1, 10)",
        "INSERT INTO users (id, tenant_id, email, display_name, password_hash, role, is_operator, session_epoch,
                            created_at)
         VALUES (7, 1, 'ada@acme.test', 'Ada', 'hash-a', 'admin', 1, 3, 11),
                (8, 1, 'bob@acme.test', 'Bob', 'hash-b', 'user', 0, 0, 12)",
        "INSERT INTO audit_log (id, tenant_id, actor_id, actor, action, detail, created_at)
         VALUES (1, 1, 7, 'ada@acme.test', 'tenant.created', 'first-run setup', 13),
                (2, 1, NULL, 'command line', 'user.created', 'bob@acme.test as user', 14)",
        "INSERT INTO invitations (id, tenant_id, email, role, token_hash, invited_by, created_at, expires_at)
         VALUES (5, 1, 'cy@acme.test', 'organizer', 'inv-hash', 7, 15, 999)",
        "INSERT INTO password_resets (id, tenant_id, user_id, token_hash, created_at, expires_at)
         VALUES (9, 1, 8, 'reset-hash', 16, 999)",
        "INSERT INTO outbox (id, tenant_id, kind, recipient, subject, body_sealed, message_id, next_attempt_at,
                             created_at, invitation_id, reset_id)
         VALUES (1, 1, 'invitation', 'cy@acme.test', 'Invited', 'sealed-1', 'm1', 17, 17, 5, NULL),
                (2, 1, 'password_reset', 'bob@acme.test', 'Reset', 'sealed-2', 'm2', 18, 18, NULL, 9)",
        "INSERT INTO outbox_attempts (outbox_id, attempt, at, ok, profile) VALUES (1, 1, 19, 1, 'Main')",
        "INSERT INTO smtp_profiles (id, tenant_id, name, kind, is_default, from_address, from_name, host, port,
                                    security, auth_required, username, password_sealed, last_test_ok, created_at,
                                    updated_at)
         VALUES (3, 1, 'Main', 'generic', 1, 'it@acme.test', 'Acme IT', 'smtp.acme.test', 587, 'starttls', 1,
                 'mailer', 'sealed-pw', 1, 20, 21)",
        "INSERT INTO smtp_profiles (id, tenant_id, name, kind, is_default, from_address, from_name, username,
                                    graph_tenant_id, graph_client_id, graph_secret_sealed, created_at, updated_at)
         VALUES (4, 1, 'Cloud', 'graph', 0, 'it@acme.test', 'Acme IT', 'it@acme.test', 'tid', 'cid', 'sealed-s',
                 22, 23)",
    ] {
        sqlx::query(sql).execute(&db).await.unwrap();
    }
    let tables = ["users", "audit_log", "invitations", "password_resets", "outbox", "outbox_attempts", "smtp_profiles"];
    let before = dump(&db, &tables).await;

    // Up to 0005, the rebuild (later migrations may add columns to these tables).
    migrator_up_to(5).run(&db).await.unwrap();

    assert_eq!(dump(&db, &tables).await, before);
    // Later migrations keep the rows too: they add columns (with their defaults) and move
    // a message's content to a table of its own (0018), so the columns there were at 0005
    // still read the same.
    let columns_then = columns_of(&db, &tables).await;
    migrator().run(&db).await.unwrap();
    let without_new_columns = dump_columns(&db, &columns_then).await;
    assert_eq!(without_new_columns, before);
    // The rebuilt tables still enforce what they did: one default, unique names, cascades.
    let err = sqlx::query("UPDATE smtp_profiles SET is_default = 1 WHERE id = 4").execute(&db).await.unwrap_err();
    assert!(matches!(&err, sqlx::Error::Database(e) if e.is_unique_violation()), "{err}");
    let err =
        sqlx::query(&profile("MAIN", "kind, username, graph_tenant_id, graph_client_id", "'graph', 'u', 't', 'c'"))
            .execute(&db)
            .await
            .unwrap_err();
    assert!(matches!(&err, sqlx::Error::Database(e) if e.is_unique_violation()), "{err}");
    let (fk_problems,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM pragma_foreign_key_check").fetch_one(&db).await.unwrap();
    assert_eq!(fk_problems, 0);
    sqlx::query("DELETE FROM users WHERE id = 8").execute(&db).await.unwrap();
    let (resets,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM password_resets").fetch_one(&db).await.unwrap();
    assert_eq!(resets, 0, "deleting a user still deletes their resets");
    let indexes: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let indexes: Vec<_> = indexes.into_iter().map(|(n,)| n).collect();
    for name in [
        "invitations_by_tenant",
        "outbox_attempts_by_outbox",
        "password_resets_by_user",
        "smtp_profiles_name",
        "smtp_profiles_one_default",
    ] {
        assert!(indexes.iter().any(|i| i == name), "{name} missing from {indexes:?}");
    }
}

/// Every row of the tables, as text, in id order.
/// Rows written before 0008 are all there after it: every tenant in UTC, no attempt with a
/// reply, and a message that failed before its 8th attempt marked as failed for good (so it
/// is not offered a retry), one that used up its attempts not.
#[tokio::test]
async fn the_email_log_and_time_zone_migration_keeps_every_row() {
    let (db, _dir) = empty_db().await;
    migrator_up_to(5).run(&db).await.unwrap();
    for sql in [
        "INSERT INTO tenants (id, slug, name, created_at) VALUES (1, 'acme', 'Acme', 10), (2, 'globex', 'Globex', 11)",
        "INSERT INTO outbox (id, tenant_id, kind, recipient, subject, body_sealed, message_id, status, attempts,
                             next_attempt_at, created_at, last_error)
         VALUES (1, 1, 'invitation', 'a@x.test', 'S', 'b', 'm1', 'failed', 1, 17, 17, '550 refused'),
                (2, 1, 'invitation', 'b@x.test', 'S', 'b', 'm2', 'failed', 8, 18, 18, '451 busy'),
                (3, 1, 'invitation', 'c@x.test', 'S', 'b', 'm3', 'pending', 2, 19, 19, '451 busy'),
                (4, 2, 'invitation', 'd@x.test', 'S', 'b', 'm4', 'sent', 1, 20, 20, NULL)",
        "INSERT INTO outbox_attempts (outbox_id, attempt, at, ok, profile, error) VALUES (4, 1, 21, 1, 'Main', NULL)",
    ] {
        sqlx::query(sql).execute(&db).await.unwrap();
    }
    let tables = ["tenants", "outbox", "outbox_attempts"];
    let before = dump(&db, &tables).await;
    let columns_then = columns_of(&db, &tables).await;

    migrator().run(&db).await.unwrap();

    let zones: Vec<(String, String)> =
        sqlx::query_as("SELECT slug, time_zone FROM tenants ORDER BY id").fetch_all(&db).await.unwrap();
    assert_eq!(zones, [("acme".into(), "UTC".into()), ("globex".into(), "UTC".into())]);
    let permanent: Vec<(i64, bool)> =
        sqlx::query_as("SELECT id, permanent FROM outbox ORDER BY id").fetch_all(&db).await.unwrap();
    assert_eq!(permanent, [(1, true), (2, false), (3, false), (4, false)]);
    let reply: Option<String> = sqlx::query_scalar("SELECT reply FROM outbox_attempts").fetch_one(&db).await.unwrap();
    assert_eq!(reply, None);
    // Every row and value from before, the new columns aside.
    // The columns there were before (a message's content read where 0018 moved it).
    let after = dump_columns(&db, &columns_then).await;
    assert_eq!(after.len(), before.len());
    for (old, new) in before.iter().zip(&after) {
        assert!(new.starts_with(old.as_str()), "{old} -> {new}");
    }
    let (tests,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM test_emails").fetch_one(&db).await.unwrap();
    assert_eq!(tests, 0);
}

/// Each table with its columns, in order.
async fn columns_of(db: &SqlitePool, tables: &[&str]) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for table in tables {
        let columns: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"))
                .fetch_all(db)
                .await
                .unwrap();
        out.push((table.to_string(), columns));
    }
    out
}

async fn dump(db: &SqlitePool, tables: &[&str]) -> Vec<String> {
    dump_columns(db, &columns_of(db, tables).await).await
}

/// Every row of each table, as text, reading only the given columns. A message's content,
/// moved out of the outbox by 0018, is read from `outbox_bodies` once it is there.
async fn dump_columns(db: &SqlitePool, tables: &[(String, Vec<String>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (table, columns) in tables {
        let present = &columns_of(db, &[table.as_str()]).await[0].1;
        let column = |c: &String| match (table.as_str(), c.as_str()) {
            ("outbox", "body_sealed") if !present.contains(c) => {
                "(SELECT b.body_sealed FROM outbox_bodies b WHERE b.outbox_id = outbox.id)".to_owned()
            }
            _ => c.clone(),
        };
        let row = columns.iter().map(|c| format!("quote({})", column(c))).collect::<Vec<_>>().join(" || ',' || ");
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT {row} FROM {table} ORDER BY id")).fetch_all(db).await.unwrap();
        assert!(!rows.is_empty(), "{table} was seeded");
        out.extend(rows.into_iter().map(|(r,)| format!("{table}: {r}")));
    }
    out
}

/// Migration 0014 rebuilds the outbox to let it carry guests' passcodes: every message,
/// attempt, link and test email from before is there after it, as it was, sent by email.
#[tokio::test]
async fn the_guest_migration_keeps_every_message_and_attempt() {
    let (db, _dir) = empty_db().await;
    migrator_up_to(13).run(&db).await.unwrap();
    for sql in [
        "INSERT INTO tenants (id, slug, name, created_at) VALUES (1, 'acme', 'Acme', 10)",
        "INSERT INTO users (id, tenant_id, email, display_name, password_hash, role, created_at)
         VALUES (1, 1, 'a@x.test', 'A', 'h', 'admin', 10)",
        "INSERT INTO invitations (id, tenant_id, email, role, token_hash, created_at, expires_at)
         VALUES (1, 1, 'b@x.test', 'user', 't1', 11, 99)",
        "INSERT INTO outbox (id, tenant_id, kind, recipient, subject, body_sealed, message_id, status, attempts,
                             next_attempt_at, created_at, last_error, invitation_id, permanent)
         VALUES (1, 1, 'invitation', 'b@x.test', 'S', 'b', 'm1', 'failed', 1, 17, 17, '550 refused', 1, 1),
                (2, 1, 'password_reset', 'a@x.test', 'S', 'b', 'm2', 'sent', 1, 18, 18, NULL, NULL, 0)",
        "INSERT INTO outbox_attempts (outbox_id, attempt, at, ok, profile, error, reply)
         VALUES (1, 1, 20, 0, 'Main', '550 refused', NULL), (2, 1, 21, 1, 'Main', NULL, '250 ok')",
        "INSERT INTO test_emails (id, tenant_id, profile, recipient, subject, ok, reply, sent_by, created_at)
         VALUES (1, 1, 'Main', 'c@x.test', 'T', 1, '250 ok', 'a@x.test', 22)",
    ] {
        sqlx::query(sql).execute(&db).await.unwrap();
    }
    let tables = ["tenants", "outbox", "outbox_attempts", "test_emails"];
    let before = dump(&db, &tables).await;
    let columns_then = columns_of(&db, &tables).await;

    migrator().run(&db).await.unwrap();

    // The columns there were before (a message's content read where 0018 moved it).
    let after = dump_columns(&db, &columns_then).await;
    assert_eq!(after.len(), before.len());
    for (old, new) in before.iter().zip(&after) {
        assert!(new.starts_with(old.as_str()), "{old} -> {new}");
    }
    let via: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT via, guest_id FROM outbox ORDER BY id").fetch_all(&db).await.unwrap();
    assert_eq!(via, [("email".into(), None), ("email".into(), None)]);
    let cap: i64 = sqlx::query_scalar("SELECT guest_daily_cap FROM tenants").fetch_one(&db).await.unwrap();
    assert_eq!(cap, 500);
    let kind: String = sqlx::query_scalar("SELECT kind FROM test_emails").fetch_one(&db).await.unwrap();
    assert_eq!(kind, "test");
}
