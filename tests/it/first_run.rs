//! The README's run command on an empty folder: the logged setup link leads to a
//! signed-in console; SIGTERM stops it cleanly; a second start logs no link.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{csrf_in, location, new_client};
use crate::smtp_server::{Script, TestSmtp, TlsMode};

struct Server {
    child: Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    log: Vec<String>,
}

impl Server {
    fn start(dir: &std::path::Path) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_relaydesk"));
        for (key, _) in std::env::vars() {
            if key.starts_with("RELAYDESK_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .current_dir(dir)
            .env("RELAYDESK_LISTEN", "127.0.0.1:0")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = tx.send(line);
            }
        });
        Server { child, lines, log: Vec::new() }
    }

    /// Waits for a log line containing `needle` and returns it.
    async fn wait_for(&mut self, needle: &str) -> String {
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

    async fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await.expect("stops").unwrap();
        assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
        while let Some(line) = self.lines.recv().await {
            self.log.push(line);
        }
        self.log
    }
}

fn word_after<'a>(line: &'a str, marker: &str) -> &'a str {
    let start = line.find(marker).unwrap_or_else(|| panic!("{marker} in {line}")) + marker.len();
    line[start..].split_whitespace().next().unwrap()
}

#[tokio::test]
async fn the_logged_setup_link_creates_the_first_tenant_and_signs_its_admin_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let link = word_after(&server.wait_for("First run: open").await, "First run: open ").to_owned();
    let address = word_after(&server.wait_for("relaydesk is listening").await, "address=").to_owned();
    assert!(link.starts_with(&format!("http://{address}/setup/")), "{link}");
    assert!(dir.path().join("data/relaydesk.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("data/secret.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(dir.path().join("data/relaydesk.db")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the database holds session ids: owner only");
    }

    let (client, _) = new_client();
    let base = format!("http://{address}");
    let home = client.get(&base).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("relaydesk is not set up yet."));
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let form = client.get(&link).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let token = csrf_in(&form.text().await.unwrap());
    let bad =
        client.post(&link).form(&[("slug", "x"), ("name", "First Org"), ("csrf_token", &token)]).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = client
        .post(&link)
        .form(&[
            ("slug", "first"),
            ("name", "First Org"),
            ("admin_name", "Grace Hopper"),
            ("admin_email", "grace@first.test"),
            ("admin_password", "grace's long password"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/first/");

    let dashboard = client.get(format!("{base}/t/first/")).send().await.unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
    let html = dashboard.text().await.unwrap();
    assert!(html.contains("Grace Hopper"));
    assert!(html.contains("Your organization is ready"));
    assert_eq!(client.get(format!("{base}/admin")).send().await.unwrap().status(), StatusCode::OK, "an operator");
    assert_eq!(client.get(&link).send().await.unwrap().status(), StatusCode::GONE, "the link works once");

    // Sign out, and in again.
    let token = csrf_in(&html);
    let res = client.post(format!("{base}/t/first/logout")).form(&[("csrf_token", &token)]).send().await.unwrap();
    assert_eq!(location(&res), "/t/first/login");
    assert_eq!(client.get(format!("{base}/t/first/")).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let token = csrf_in(&client.get(format!("{base}/t/first/login")).send().await.unwrap().text().await.unwrap());
    let res = client
        .post(format!("{base}/t/first/login"))
        .form(&[("email", "grace@first.test"), ("password", "grace's long password"), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/t/first/");

    // The binary's outbox worker delivers an invitation through a real SMTP server.
    let smtp = TestSmtp::start(TlsMode::Plain, Script::default()).await;
    let html = client.get(format!("{base}/t/first/smtp/new")).send().await.unwrap().text().await.unwrap();
    let token = csrf_in(&html);
    let port = smtp.port.to_string();
    let res = client
        .post(format!("{base}/t/first/smtp"))
        .form(&[
            ("name", "Relay"),
            ("kind", "generic"),
            ("from_address", "no-reply@first.test"),
            ("from_name", "First Org"),
            ("host", "127.0.0.1"),
            ("port", port.as_str()),
            ("security", "none"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    for (path, fields) in [
        ("/t/first/settings/email", vec![("enabled", "on")]),
        ("/t/first/invitations", vec![("email", "colleague@first.test"), ("role", "user")]),
    ] {
        let mut fields = fields;
        fields.push(("csrf_token", token.as_str()));
        let res = client.post(format!("{base}{path}")).form(&fields).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
    }
    let mail = smtp.wait_for(1, 15).await.remove(0);
    assert_eq!(mail.to, ["colleague@first.test"]);
    assert!(mail.text_body().contains(&format!("{base}/invite/")));

    let log = server.stop().await;
    assert!(log.iter().any(|l| l.contains("relaydesk stopped")), "{}", log.join("\n"));
    assert!(!log.iter().any(|l| l.contains("grace's long password")), "no password in the log");

    // A second start: a tenant exists, so no setup link.
    let mut again = Server::start(dir.path());
    again.wait_for("relaydesk is listening").await;
    let log = again.stop().await;
    assert!(!log.iter().any(|l| l.contains("First run")), "{}", log.join("\n"));
}
