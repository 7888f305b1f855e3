//! The messages of SPEC §2, §2.2 and §4, word for word.

use crate::domain::email::EmailAddress;
use crate::domain::smtp_password::DocumentedFailure;

/// `name` fails its rule.
pub const MSG_NAME: &str = "Please enter a name of up to 50 letters, digits or underscores.";
/// `name` is already used in the tenant (checked by the store, case-insensitively).
pub const MSG_NAME_TAKEN: &str = "An SMTP profile with this name already exists.";
/// `kind` is neither `generic` nor `graph`.
pub const MSG_KIND: &str = "Please choose a type.";
/// `from_address` fails §2.1.
pub const MSG_FROM_ADDRESS: &str = "Please enter a from address in email format.";
/// `from_name` is empty, too long or holds control characters (seed 002).
pub const MSG_FROM_NAME: &str = "Please enter a sender name.";
/// `reply_to` is given but fails §2.1.
pub const MSG_REPLY_TO: &str = "Please enter a reply-to address in email format.";
/// `signature` is too long or holds control characters.
pub const MSG_SIGNATURE: &str = "Please enter a signature within 250 characters.";
/// `description` is too long or holds control characters.
pub const MSG_DESCRIPTION: &str = "Please enter a description within 1000 characters.";
/// `host` is empty or longer than 100 characters (seed 002).
pub const MSG_HOST_LEN: &str = "Please enter an SMTP host within 100 characters.";
/// `host` is not a host name or IP address.
pub const MSG_HOST_FORMAT: &str = "Please enter a valid SMTP host name or IP address.";
/// `port` is not digits within 1–49151 (seed 002).
pub const MSG_PORT: &str = "Please enter an SMTP port between 1 and 49151.";
/// A login over Security None, not confirmed with `plain_login` (relaydesk's own rule:
/// the password would cross the network in the clear).
pub const MSG_PLAIN_LOGIN: &str = "With Security None the password is sent unencrypted. Choose SSL/TLS or \
                                   STARTTLS, or tick the box to accept sending it in the clear.";
/// `max_per_minute` is given but is not a whole number from 1 to 10000.
pub const MSG_MAX_PER_MINUTE: &str =
    "Please enter the messages per minute as a whole number from 1 to 10000, or leave it empty for no limit.";
/// `security` is not `ssl`, `starttls` or `none`.
pub const MSG_SECURITY: &str = "Please choose a security mode.";
/// `ca_pem` is given but is not PEM certificates.
pub const MSG_CA_PEM: &str = "Please paste a PEM certificate.";
/// `username` of a generic profile under the `documented` policy (seed 002).
pub const MSG_SMTP_USERNAME: &str = "Please enter an SMTP account address in email format.";
/// `password` of a generic profile under the `documented` policy (seed 002).
pub const MSG_SMTP_PASSWORD: &str = "The SMTP account password does not meet the rules.";
/// The `password` message under the `documented` policy: the seed's sentence
/// ([`MSG_SMTP_PASSWORD`]) followed by the rule that failed. Never the password itself.
pub fn msg_smtp_password(failure: DocumentedFailure) -> &'static str {
    use DocumentedFailure::*;
    // Written out so each stays a `&'static str`; `messages_name_the_rule` checks the
    // numbers and characters against `smtp_password`.
    match failure {
        Empty => "The SMTP account password does not meet the rules. Please enter one of 10 to 20 characters.",
        TooShort => "The SMTP account password does not meet the rules. It is shorter than 10 characters.",
        TooLong => "The SMTP account password does not meet the rules. It is longer than 20 characters.",
        OutsideSet => {
            "The SMTP account password does not meet the rules. It may only use A-Z, a-z, 0-9 and $ ! @ % * # ? & \
             (no spaces or other symbols)."
        }
        NoUpper => "The SMTP account password does not meet the rules. It needs at least one uppercase letter (A-Z).",
        NoLower => "The SMTP account password does not meet the rules. It needs at least one lowercase letter (a-z).",
        NoDigit => "The SMTP account password does not meet the rules. It needs at least one digit (0-9).",
        NoSpecial => "The SMTP account password does not meet the rules. It needs at least one of $ ! @ % * # ? &.",
        Repeat => "The SMTP account password does not meet the rules. It has the same character three times in a row.",
        Run => {
            "The SMTP account password does not meet the rules. It has three keyboard or alphabet neighbours in a \
             row, such as abc, 321 or qwe."
        }
    }
}
/// After a failed submit, a password that was typed is not sent back: the field says so.
pub const MSG_PASSWORD_AGAIN: &str = "Please enter the password again.";
/// The same for a Graph client secret.
pub const MSG_CLIENT_SECRET_AGAIN: &str = "Please enter the client secret again.";
/// `username` of a generic profile under the `provider` policy.
pub const MSG_PROVIDER_USERNAME: &str = "Please enter an SMTP account name within 100 characters.";
/// `password` of a generic profile under the `provider` policy.
pub const MSG_PROVIDER_PASSWORD: &str = "Please enter the SMTP account password.";
/// `username` of a Graph profile.
pub const MSG_GRAPH_USERNAME: &str = "Please enter a user name in email format.";
/// `password` of a Graph profile.
pub const MSG_GRAPH_PASSWORD: &str = "Please enter a password.";
/// `graph_tenant_id` is neither a GUID nor a domain name.
pub const MSG_GRAPH_TENANT_ID: &str = "Please enter a tenant ID (a GUID or a domain name).";
/// `graph_client_id` is not a GUID.
pub const MSG_GRAPH_CLIENT_ID: &str = "Please enter a client ID in GUID format.";
/// `graph_client_secret` is missing, too long or holds control characters.
pub const MSG_GRAPH_CLIENT_SECRET: &str = "Please enter a client secret.";
/// The `to` of a test email fails §2.1 (§4).
pub const MSG_TEST_TO: &str = "Please enter a valid email address.";

/// The flash after a duplicate (§4): `Copied as {new name}.`
pub fn msg_copied(new_name: &str) -> String {
    format!("Copied as {new_name}.")
}

/// The flash after a successful test email (§4): `Test email sent to {to}.`
pub fn msg_test_sent(to: &EmailAddress) -> String {
    format!("Test email sent to {to}.")
}
