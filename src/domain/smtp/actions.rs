//! Duplicate and test (SPEC §4): the copy's name, the password a copy asks for, the test's To.

use super::*;
use crate::domain::email::EmailAddress;
use crate::domain::text::trim_spaces;

/// The name of a duplicate (§4): `{source}_copied`, else `{source}_copied_2`,
/// `_copied_3`, … — the first that `is_taken` refuses, the source cut (by
/// characters) so the whole fits [`ProfileName::MAX_LEN`].
///
/// Whether a name is taken, case-insensitively, is the caller's business; the
/// loop ends as soon as it finds a free name, which it always does while
/// finitely many names are taken.
pub fn copied_name(source: &str, is_taken: impl Fn(&str) -> bool) -> String {
    let source = trim_spaces(source);
    let mut n: u64 = 1;
    loop {
        let suffix = if n == 1 { "_copied".to_owned() } else { format!("_copied_{n}") };
        let room = ProfileName::MAX_LEN.saturating_sub(suffix.chars().count());
        let candidate: String = source.chars().take(room).chain(suffix.chars()).collect();
        if !is_taken(&candidate) {
            return candidate;
        }
        n = n.saturating_add(1);
    }
}

/// The password a duplicate asks for (§4): generic profiles by the tenant's
/// policy (§2.2), Graph profiles by the Graph password rule. Not trimmed.
pub fn check_duplicate_password(kind: ProfileKind, policy: CredentialPolicy, pw: &str) -> Result<(), &'static str> {
    match kind {
        ProfileKind::Generic => SmtpPassword::parse(pw, policy).map(drop),
        ProfileKind::Graph => GraphPassword::parse(pw).map(drop),
    }
}

/// The `to` of a test email (§4); the error is [`MSG_TEST_TO`].
pub fn parse_test_to(input: &str) -> Result<EmailAddress, &'static str> {
    EmailAddress::parse(input).ok_or(MSG_TEST_TO)
}
