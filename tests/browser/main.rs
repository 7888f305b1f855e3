//! Browser tests: the real app driven through headless Chromium (WebDriver, via
//! `chromedriver`). They need Debian's `chromium` and `chromium-driver` packages; a failing
//! test leaves a screenshot in `target/screenshots/`.

mod harness;
#[path = "../support/seed.rs"]
mod seed;
#[path = "../support/smtp_server.rs"]
mod smtp_server;
mod steps;

mod access;
mod email_switch;
mod first_run;
mod invitations;
mod password_reset;
mod profiles;
mod sign_in;
mod test_email;
mod tour;
