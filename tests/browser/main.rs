//! Browser tests: the real app driven through headless Chromium (WebDriver, via
//! `chromedriver`). They need Debian's `chromium` and `chromium-driver` packages; a failing
//! test leaves a screenshot in `target/screenshots/`.
//!
//! This binary has its own `main` (`harness = false`, with `libtest-mimic`), so that a
//! machine without Chromium reports every browser test as ignored, with the reason and the
//! command that installs it, instead of a panic per test. Where the browser is required
//! (`CI` or `RELAYDESK_REQUIRE_BROWSER=1` set), its absence fails every test instead.
//! Filters and flags work as with `cargo test`: `cargo test --test browser profiles`,
//! `-- --ignored`, `-- --list`, `-- --test-threads=1`.

use std::future::Future;
use std::process::ExitCode;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

#[path = "../support/app.rs"]
mod app;
mod harness;
#[path = "../support/oauth_server.rs"]
mod oauth_server;
#[path = "../support/seed.rs"]
mod seed;
#[path = "../support/smtp_server.rs"]
mod smtp_server;
mod steps;
#[path = "../support/wait.rs"]
mod wait;

mod access;
mod email_log;
mod email_switch;
mod first_run;
mod guests;
mod invitations;
mod look;
mod members;
mod oauth;
mod operator;
mod password_reset;
mod profiles;
mod sign_in;
mod test_email;
mod tour;

/// A trial named `module::function`, as libtest names a `#[test]`.
macro_rules! trial {
    ($module:ident :: $test:ident) => {
        Trial::ignorable_test(concat!(stringify!($module), "::", stringify!($test)), || {
            run_trial(concat!(stringify!($module), "::", stringify!($test)), $module::$test)
        })
    };
}

/// Every browser test. A test function missing here is never called, so the compiler's
/// dead-code warning (an error under `clippy -D warnings`) points at it.
fn trials() -> Vec<Trial> {
    vec![
        trial!(access::the_new_profile_form_works_on_a_360px_screen),
        trial!(access::the_profile_list_and_edit_form_fit_a_360px_screen),
        trial!(access::tab_reaches_the_sign_in_fields_and_enter_signs_in),
        trial!(access::the_actions_menu_of_a_single_profile_is_not_clipped_by_the_table),
        trial!(email_log::retry_now_updates_the_row_without_reloading_the_page),
        trial!(email_switch::email_can_be_turned_on_only_once_there_is_a_default_profile),
        trial!(first_run::first_run_setup_creates_the_organization_and_signs_in),
        trial!(first_run::setup_shows_each_error_beside_its_field),
        trial!(guests::a_guest_registers_on_a_phone_and_signs_in_with_the_passcode_from_the_sms),
        trial!(guests::a_burst_of_registrations_stops_at_the_limit),
        trial!(guests::an_admin_on_a_phone_sees_the_guest_list_resends_and_revokes),
        trial!(invitations::an_invited_person_accepts_from_the_email_and_is_signed_in),
        trial!(invitations::with_email_off_the_invitation_link_is_shown_once_to_share),
        trial!(look::every_list_is_a_stack_of_cards_on_a_360px_screen_and_the_header_one_row),
        trial!(look::opening_an_actions_menu_moves_no_row),
        trial!(members::an_admin_changes_deactivates_and_removes_a_member_confirming_in_dialogs),
        trial!(members::the_last_admin_is_told_why_they_cannot_leave),
        trial!(members::an_invitation_is_withdrawn_after_confirming_and_its_link_says_so),
        trial!(oauth::a_google_account_is_connected_and_the_test_email_signs_in_with_it),
        trial!(operator::suspending_an_organization_asks_for_confirmation),
        trial!(operator::allowing_private_networks_for_an_organization),
        trial!(password_reset::a_forgotten_password_is_reset_from_the_emailed_link),
        trial!(profiles::a_new_profile_shows_its_errors_and_once_fixed_is_the_default),
        trial!(profiles::choosing_ms_graph_shows_its_fields_and_switching_back_restores_smtp),
        trial!(profiles::the_password_of_a_new_smtp_profile_is_not_marked_optional),
        trial!(profiles::duplicating_asks_for_the_password_in_a_dialog),
        trial!(profiles::making_another_profile_the_default_moves_the_mark),
        trial!(profiles::deleting_the_default_lets_the_admin_choose_the_next_one),
        trial!(profiles::save_after_a_successful_try_saves_the_password_tried),
        trial!(profiles::the_microsoft_365_preset_fills_its_send_rate),
        trial!(sign_in::an_admin_signs_in_and_out),
        trial!(sign_in::a_wrong_password_shows_the_one_message),
        trial!(test_email::a_test_email_from_the_list_arrives_at_the_smtp_server),
        // Writes docs/screenshots/*.png for the README; run by hand with
        // `cargo test --test browser readme_screenshots -- --ignored`.
        trial!(tour::readme_screenshots).with_ignored_flag(true),
        trial!(tour::readme_screenshots_of_the_guest_page).with_ignored_flag(true),
    ]
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let trials = trials();
    // Said once, before the run, and only when some browser test is about to run.
    let will_run = trials.iter().any(|t| !args.is_filtered_out(t) && !args.is_ignored(t));
    if !args.list && will_run {
        if let Some(missing) = harness::missing_browser() {
            println!("\n{}", harness::browser_notice(&missing));
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// Runs one test as `#[tokio::test]` would: on a current-thread tokio runtime of its own,
/// on a thread named after the test (the harness names screenshots after it, and a panic
/// message names it). Without the browser it is not run: ignored, or failed where the
/// browser is required.
fn run_trial<F: Future<Output = ()> + 'static>(name: &str, test: fn() -> F) -> Result<Completion, Failed> {
    if let Some(missing) = harness::missing_browser() {
        return if harness::browser_required() {
            Err(format!(
                "NOT RUN and required: {missing}; install with `{}` (see the note above the tests)",
                harness::INSTALL
            )
            .into())
        } else {
            Ok(Completion::ignored_with(format!("NOT RUN: {missing}")))
        };
    }
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
            runtime.block_on(test());
        })
        .map_err(|e| format!("cannot start the test's thread: {e}"))?;
    match thread.join() {
        Ok(()) => Ok(Completion::Completed),
        // The panic's message and place are already printed (by the panic hook), as with
        // libtest; the summary repeats the message.
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            Err(format!("test panicked: {message}").into())
        }
    }
}
