//! Browser tests: the real app driven through headless Chromium (WebDriver, via
//! `chromedriver`). They need Debian's `chromium` and `chromium-driver` packages; a failing
//! test leaves a screenshot in `target/screenshots/`.

mod harness;

mod first_run;
mod sign_in;
