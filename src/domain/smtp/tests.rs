//! Table and property tests of every field rule and of the whole form.

use super::*;
use crate::domain::email::EmailAddress;
use base64::Engine as _;
use proptest::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::IpAddr;

/// Runs a single-value parser over `(input, expected)` rows, where the
/// expectation is the stored text or the exact message.
fn table<T>(
    what: &str,
    parse: impl Fn(&str) -> Result<T, &'static str>,
    show: impl Fn(&T) -> String,
    rows: &[(&str, Result<&str, &str>)],
) {
    for (input, expected) in rows {
        let got = parse(input);
        let got = got.as_ref().map(&show).map_err(|m| *m);
        let expected = expected.map(str::to_owned);
        assert_eq!(got, expected, "{what}: {input:?}");
    }
}

fn n(c: char, count: usize) -> String {
    std::iter::repeat_n(c, count).collect()
}

const GUID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

#[test]
fn messages_are_word_for_word() {
    let expected = [
        (MSG_NAME, "Please enter a name of up to 50 letters, digits or underscores."),
        (MSG_NAME_TAKEN, "An SMTP profile with this name already exists."),
        (MSG_KIND, "Please choose a type."),
        (MSG_FROM_ADDRESS, "Please enter a from address in email format."),
        (MSG_FROM_NAME, "Please enter a sender name."),
        (MSG_REPLY_TO, "Please enter a reply-to address in email format."),
        (MSG_SIGNATURE, "Please enter a signature within 250 characters."),
        (MSG_DESCRIPTION, "Please enter a description within 1000 characters."),
        (MSG_HOST_LEN, "Please enter an SMTP host within 100 characters."),
        (MSG_HOST_FORMAT, "Please enter a valid SMTP host name or IP address."),
        (MSG_PORT, "Please enter an SMTP port between 1 and 49151."),
        (MSG_SECURITY, "Please choose a security mode."),
        (MSG_CA_PEM, "Please paste a PEM certificate."),
        (MSG_SMTP_USERNAME, "Please enter an SMTP account address in email format."),
        (MSG_SMTP_PASSWORD, "The SMTP account password does not meet the rules."),
        (MSG_PROVIDER_USERNAME, "Please enter an SMTP account name within 100 characters."),
        (MSG_PROVIDER_PASSWORD, "Please enter the SMTP account password."),
        (MSG_GRAPH_USERNAME, "Please enter a user name in email format."),
        (MSG_GRAPH_PASSWORD, "Please enter a password."),
        (MSG_GRAPH_TENANT_ID, "Please enter a tenant ID (a GUID or a domain name)."),
        (MSG_GRAPH_CLIENT_ID, "Please enter a client ID in GUID format."),
        (MSG_GRAPH_CLIENT_SECRET, "Please enter a client secret."),
        (MSG_TEST_TO, "Please enter a valid email address."),
    ];
    for (got, want) in expected {
        assert_eq!(got, want);
    }
    assert_eq!(msg_copied("smtp_copied"), "Copied as smtp_copied.");
    let to = EmailAddress::parse("a@x.io");
    assert_eq!(to.map(|t| msg_test_sent(&t)).as_deref(), Some("Test email sent to a@x.io."));
}

const EMPTY: &str = "The SMTP account password does not meet the rules. Please enter one of 10 to 20 characters.";
const SHORT: &str = "The SMTP account password does not meet the rules. It is shorter than 10 characters.";
const OUTSIDE: &str = "The SMTP account password does not meet the rules. It may only use A-Z, a-z, 0-9 and \
                       $ ! @ % * # ? & (no spaces or other symbols).";
const NO_UPPER: &str =
    "The SMTP account password does not meet the rules. It needs at least one uppercase letter (A-Z).";

/// The seed's sentence stays first; the rule that failed follows, in words matching the
/// limits of `smtp_password`.
#[test]
fn password_messages_name_the_rule() {
    use crate::domain::smtp_password::{DocumentedFailure::*, *};
    let want = [
        (Empty, EMPTY.to_owned()),
        (TooShort, format!("{MSG_SMTP_PASSWORD} It is shorter than {DOCUMENTED_MIN_LEN} characters.")),
        (TooLong, format!("{MSG_SMTP_PASSWORD} It is longer than {DOCUMENTED_MAX_LEN} characters.")),
        (OutsideSet, OUTSIDE.to_owned()),
        (NoUpper, NO_UPPER.to_owned()),
        (NoLower, format!("{MSG_SMTP_PASSWORD} It needs at least one lowercase letter (a-z).")),
        (NoDigit, format!("{MSG_SMTP_PASSWORD} It needs at least one digit (0-9).")),
        (NoSpecial, format!("{MSG_SMTP_PASSWORD} It needs at least one of $ ! @ % * # ? &.")),
        (Repeat, format!("{MSG_SMTP_PASSWORD} It has the same character three times in a row.")),
        (
            Run,
            format!(
                "{MSG_SMTP_PASSWORD} It has three keyboard or alphabet neighbours in a row, such as abc, 321 or qwe."
            ),
        ),
    ];
    for (failure, message) in want {
        assert_eq!(msg_smtp_password(failure), message, "{failure:?}");
    }
    let specials: Vec<String> = SPECIALS.chars().map(String::from).collect();
    assert!(OUTSIDE.contains(&specials.join(" ")));
    assert!(EMPTY.contains(&format!("{DOCUMENTED_MIN_LEN} to {DOCUMENTED_MAX_LEN}")));
}

/// A blank secret whose saved one is not kept says which setting it depended on changed.
#[test]
fn a_cleared_secret_says_what_changed() {
    let stored_form = generic_form();
    let stored = stored_form.parse(CredentialPolicy::Documented, FormMode::Create).unwrap();
    let stored = stored
        .with_secrets(CredentialPolicy::Documented, None::<&ProfileSettings<String>>, |_| "sealed".to_owned())
        .unwrap();
    let cases: &[(ProfileForm, &str)] = &[
        (
            ProfileForm { host: "other.example.com".into(), ..generic_form() },
            "The password was cleared because the host changed; enter it again.",
        ),
        (
            ProfileForm { port: "2525".into(), ..generic_form() },
            "The password was cleared because the port changed; enter it again.",
        ),
        (
            ProfileForm { security: "ssl".into(), ..generic_form() },
            "The password was cleared because the security mode changed; enter it again.",
        ),
        (
            ProfileForm { tls_verify: None, ..generic_form() },
            "The password was cleared because the certificate settings changed; enter it again.",
        ),
        (
            ProfileForm { username: "other@acme.test".into(), ..generic_form() },
            "The password was cleared because the SMTP account changed; enter it again.",
        ),
    ];
    for (form, message) in cases {
        let form = ProfileForm { password: "".into(), ..form.clone() };
        let input = form.parse(CredentialPolicy::Documented, FormMode::Edit).unwrap();
        let errors =
            input.with_secrets(CredentialPolicy::Documented, Some(&stored), |_| "sealed".to_owned()).unwrap_err();
        assert_eq!(errors.iter().collect::<Vec<_>>(), [("password", *message)], "{form:?}");
    }
    // Unchanged: kept. Host in another case: kept (DNS ignores case).
    let same = ProfileForm { password: "".into(), host: generic_form().host.to_uppercase(), ..generic_form() };
    let input = same.parse(CredentialPolicy::Documented, FormMode::Edit).unwrap();
    assert!(input.with_secrets(CredentialPolicy::Documented, Some(&stored), |_| "sealed".to_owned()).is_ok());
    // No saved password (Auth required was off): the field's own message.
    let no_auth = ProfileForm { auth_required: None, ..generic_form() };
    let no_auth = no_auth.parse(CredentialPolicy::Documented, FormMode::Create).unwrap();
    let no_auth = no_auth
        .with_secrets(CredentialPolicy::Documented, None::<&ProfileSettings<String>>, |_| "s".to_owned())
        .unwrap();
    let input = ProfileForm { password: "".into(), ..generic_form() }
        .parse(CredentialPolicy::Documented, FormMode::Edit)
        .unwrap();
    let errors = input.with_secrets(CredentialPolicy::Documented, Some(&no_auth), |_| "s".to_owned()).unwrap_err();
    assert_eq!(errors.iter().collect::<Vec<_>>(), [("password", EMPTY)]);
}

/// The audit names changed fields, by form name, never comparing secrets.
#[test]
fn changed_fields_name_what_differs() {
    let before = generic_form().parse(CredentialPolicy::Documented, FormMode::Create).unwrap();
    let after = ProfileForm {
        host: "other.example.com".into(),
        port: "2525".into(),
        from_name: "Other".into(),
        password: "Zz9$Yy8!Xw".into(),
        ..generic_form()
    };
    let after = after.parse(CredentialPolicy::Documented, FormMode::Edit).unwrap();
    assert_eq!(changed_fields(&before, &after), ["from_name", "host", "port"]);
    assert_eq!(after.typed_secret_fields(), ["password"]);
    let blank = ProfileForm { password: "".into(), ..generic_form() }
        .parse(CredentialPolicy::Documented, FormMode::Edit)
        .unwrap();
    assert!(changed_fields(&before, &blank).is_empty());
    assert!(blank.typed_secret_fields().is_empty());
}

/// A held (tried) secret fills only a blank field.
#[test]
fn held_secrets_fill_only_blank_fields() {
    let blank = ProfileForm { password: "".into(), ..generic_form() }
        .parse(CredentialPolicy::Documented, FormMode::Edit)
        .unwrap();
    let filled = blank.clone().fill_blank_secrets(vec![Some(SecretString::from("Tried$Pass9"))]);
    let typed: Vec<Option<String>> =
        filled.typed_secrets().iter().map(|s| s.as_ref().map(|s| s.expose_secret().to_owned())).collect();
    assert_eq!(typed, [Some("Tried$Pass9".to_owned())]);
    let typed_form = generic_form().parse(CredentialPolicy::Documented, FormMode::Edit).unwrap();
    let kept = typed_form.clone().fill_blank_secrets(vec![Some(SecretString::from("Tried$Pass9"))]);
    assert_eq!(
        kept.typed_secrets().iter().map(|s| s.as_ref().map(|s| s.expose_secret().to_owned())).collect::<Vec<_>>(),
        typed_form.typed_secrets().iter().map(|s| s.as_ref().map(|s| s.expose_secret().to_owned())).collect::<Vec<_>>()
    );
    // Equal scopes give equal fingerprints; another host another.
    let other = ProfileForm { host: "x.example.com".into(), ..generic_form() }
        .parse(CredentialPolicy::Documented, FormMode::Edit)
        .unwrap();
    assert_eq!(blank.transport.scope().fingerprint(), typed_form.transport.scope().fingerprint());
    assert_ne!(blank.transport.scope().fingerprint(), other.transport.scope().fingerprint());
}

/// One wording of the reuse rule: the form's hints use `reuse_rule`, and the guide says
/// the same sentences.
#[test]
fn the_reuse_rule_has_one_wording() {
    let guide = include_str!("../../../docs/smtp-profiles.md");
    for kind in ProfileKind::ALL {
        let rule = reuse_rule(kind);
        assert!(guide.contains(&rule), "docs/smtp-profiles.md says {rule:?}");
    }
}

#[test]
fn choices_round_trip() {
    for kind in ProfileKind::ALL {
        assert_eq!(ProfileKind::parse(kind.as_str()), Some(kind));
    }
    for sec in Security::ALL {
        assert_eq!(Security::parse(sec.as_str()), Some(sec));
    }
    for policy in CredentialPolicy::ALL {
        assert_eq!(CredentialPolicy::parse(policy.as_str()), Some(policy));
    }
    let kinds: &[(&str, Option<ProfileKind>)] = &[
        ("generic", Some(ProfileKind::Generic)),
        (" graph ", Some(ProfileKind::Graph)),
        ("Graph", None),
        ("", None),
        ("smtp", None),
        ("graph\n", None),
    ];
    for (input, want) in kinds {
        assert_eq!(ProfileKind::parse(input), *want, "{input:?}");
    }
    let modes: &[(&str, Option<Security>)] = &[
        ("ssl", Some(Security::Ssl)),
        ("starttls", Some(Security::Starttls)),
        ("none", Some(Security::None)),
        ("tls", None),
        ("SSL", None),
        ("", None),
    ];
    for (input, want) in modes {
        assert_eq!(Security::parse(input), *want, "{input:?}");
    }
    let policies: &[(&str, Option<CredentialPolicy>)] = &[
        ("documented", Some(CredentialPolicy::Documented)),
        ("provider", Some(CredentialPolicy::Provider)),
        ("Provider", None),
        ("", None),
    ];
    for (input, want) in policies {
        assert_eq!(CredentialPolicy::parse(input), *want, "{input:?}");
    }
    assert_eq!(ProfileKind::default(), ProfileKind::Generic);
    assert_eq!(Security::default(), Security::Ssl);
    assert_eq!(CredentialPolicy::default(), CredentialPolicy::Documented);
    assert_eq!(ProfileKind::Generic.label(), "Generic SMTP");
    assert_eq!(ProfileKind::Graph.label(), "MS Graph API");
    let ports: Vec<u16> = Security::ALL.iter().map(|s| s.default_port()).collect();
    assert_eq!(ports, [465, 587, 25]);
}

#[test]
fn profile_name() {
    let max = n('a', 50);
    let over = n('a', 51);
    let padded_max = format!("  {max}  ");
    table(
        "name",
        ProfileName::parse,
        |v| v.to_string(),
        &[
            ("a", Ok("a")),
            ("Main_SMTP_2", Ok("Main_SMTP_2")),
            ("_", Ok("_")),
            ("  office365  ", Ok("office365")),
            (&max, Ok(&max)),
            (&padded_max, Ok(&max)),
            (&over, Err(MSG_NAME)),
            ("", Err(MSG_NAME)),
            ("   ", Err(MSG_NAME)),
            ("main smtp", Err(MSG_NAME)),
            ("main-smtp", Err(MSG_NAME)),
            ("main.smtp", Err(MSG_NAME)),
            ("café", Err(MSG_NAME)),
            ("名前", Err(MSG_NAME)),
            ("main\n", Err(MSG_NAME)),
            ("\tmain", Err(MSG_NAME)),
            ("main\u{0}", Err(MSG_NAME)),
        ],
    );
}

#[test]
fn from_address_and_reply_to() {
    table(
        "from_address",
        FromAddress::parse,
        |v| v.to_string(),
        &[
            ("no-reply@example.co.uk", Ok("no-reply@example.co.uk")),
            (" first.last@example.com ", Ok("first.last@example.com")),
            ("", Err(MSG_FROM_ADDRESS)),
            ("user@localhost", Err(MSG_FROM_ADDRESS)),
            ("a..b@x.io", Err(MSG_FROM_ADDRESS)),
            ("a@x.io\r\nBcc: b@y.io", Err(MSG_FROM_ADDRESS)),
        ],
    );
    table(
        "reply_to",
        ReplyTo::parse,
        |v| format!("{:?}", v.as_ref().map(ReplyTo::as_str)),
        &[
            ("", Ok("None")),
            ("   ", Ok("None")),
            ("help@example.com", Ok("Some(\"help@example.com\")")),
            ("a@garbage[127.0.0.1]", Err(MSG_REPLY_TO)),
            ("help", Err(MSG_REPLY_TO)),
            ("\n", Err(MSG_REPLY_TO)),
        ],
    );
}

#[test]
fn sender_name() {
    let max = n('é', 100);
    let over = n('é', 101);
    table(
        "from_name",
        SenderName::parse,
        |v| v.to_string(),
        &[
            ("A", Ok("A")),
            ("  ACME Support  ", Ok("ACME Support")),
            ("Zoë's \"Desk\" <x>", Ok("Zoë's \"Desk\" <x>")),
            (&max, Ok(&max)),
            (&over, Err(MSG_FROM_NAME)),
            ("", Err(MSG_FROM_NAME)),
            ("    ", Err(MSG_FROM_NAME)),
            ("ACME\r\nBcc: x@y.io", Err(MSG_FROM_NAME)),
            ("ACME\n", Err(MSG_FROM_NAME)),
            ("AC\tME", Err(MSG_FROM_NAME)),
            ("ACME\u{7f}", Err(MSG_FROM_NAME)),
            ("ACME\u{85}", Err(MSG_FROM_NAME)),
        ],
    );
}

#[test]
fn signature_and_description() {
    let sig_max = n('s', 250);
    let sig_over = n('s', 251);
    table(
        "signature",
        Signature::parse,
        |v| format!("{:?}", v.as_ref().map(Signature::as_str)),
        &[
            ("", Ok("None")),
            ("   ", Ok("None")),
            ("s", Ok("Some(\"s\")")),
            ("  Regards, ACME  ", Ok("Some(\"Regards, ACME\")")),
            (&sig_max, Ok(&format!("Some({sig_max:?})"))),
            (&sig_over, Err(MSG_SIGNATURE)),
            // SPEC §2: CR and LF are refused in every text field.
            ("-- \r\nACME", Err(MSG_SIGNATURE)),
            ("Regards,\nACME", Err(MSG_SIGNATURE)),
            ("  \r\n  ", Err(MSG_SIGNATURE)),
            ("a\rb", Err(MSG_SIGNATURE)),
            ("a\tb", Err(MSG_SIGNATURE)),
            ("a\u{0}b", Err(MSG_SIGNATURE)),
            ("a\u{1b}[31mb", Err(MSG_SIGNATURE)),
        ],
    );
    let desc_max = n('d', 1000);
    let desc_over = n('d', 1001);
    let desc_multibyte = n('ü', 1000);
    table(
        "description",
        Description::parse,
        |v| format!("{}", v.as_ref().map_or(0, |d| d.as_str().chars().count())),
        &[
            ("", Ok("0")),
            ("d", Ok("1")),
            ("line one\nline two", Err(MSG_DESCRIPTION)),
            ("line one\r\nline two", Err(MSG_DESCRIPTION)),
            (&desc_max, Ok("1000")),
            (&desc_multibyte, Ok("1000")),
            (&desc_over, Err(MSG_DESCRIPTION)),
            ("a\u{c}b", Err(MSG_DESCRIPTION)),
        ],
    );
}

#[test]
fn smtp_host() {
    let label63 = n('h', 63);
    let max = format!("{}.{}", n('h', 63), n('h', 36));
    let over = format!("{}.{}", n('h', 63), n('h', 37));
    table(
        "host",
        SmtpHost::parse,
        |v| v.to_string(),
        &[
            ("smtp.example.com", Ok("smtp.example.com")),
            ("  smtp.example.com  ", Ok("smtp.example.com")),
            ("SMTP.Example.COM", Ok("SMTP.Example.COM")),
            ("localhost", Ok("localhost")),
            ("mailpit", Ok("mailpit")),
            ("a", Ok("a")),
            ("1smtp.example.com", Ok("1smtp.example.com")),
            ("smtp-1.example.com", Ok("smtp-1.example.com")),
            (&label63, Ok(&label63)),
            (&max, Ok(&max)),
            ("192.0.2.1", Ok("192.0.2.1")),
            ("2001:db8::1", Ok("2001:db8::1")),
            ("[2001:db8::1]", Ok("2001:db8::1")),
            ("::1", Ok("::1")),
            ("[::]", Ok("::")),
            ("::ffff:192.0.2.1", Ok("::ffff:192.0.2.1")),
            ("", Err(MSG_HOST_LEN)),
            ("   ", Err(MSG_HOST_LEN)),
            (&over, Err(MSG_HOST_LEN)),
            ("smtp://smtp.example.com", Err(MSG_HOST_FORMAT)),
            ("smtp.example.com:587", Err(MSG_HOST_FORMAT)),
            ("192.0.2.1:25", Err(MSG_HOST_FORMAT)),
            ("[2001:db8::1]:25", Err(MSG_HOST_FORMAT)),
            ("[192.0.2.1]", Err(MSG_HOST_FORMAT)),
            ("[smtp.example.com]", Err(MSG_HOST_FORMAT)),
            ("[2001:db8::1", Err(MSG_HOST_FORMAT)),
            ("fe80::1%eth0", Err(MSG_HOST_FORMAT)),
            ("smtp example.com", Err(MSG_HOST_FORMAT)),
            ("smtp_relay.example.com", Err(MSG_HOST_FORMAT)),
            ("-smtp.example.com", Err(MSG_HOST_FORMAT)),
            ("smtp-.example.com", Err(MSG_HOST_FORMAT)),
            ("smtp..example.com", Err(MSG_HOST_FORMAT)),
            (".example.com", Err(MSG_HOST_FORMAT)),
            ("smtp.example.com.", Err(MSG_HOST_FORMAT)),
            (&format!("{}.io", n('h', 64)), Err(MSG_HOST_FORMAT)),
            ("256.1.1.1", Err(MSG_HOST_FORMAT)),
            ("010.0.0.1", Err(MSG_HOST_FORMAT)),
            ("192.0.2", Err(MSG_HOST_FORMAT)),
            ("2130706433", Err(MSG_HOST_FORMAT)),
            ("smtp.exämple.com", Err(MSG_HOST_FORMAT)),
            ("smtp.example.com\n", Err(MSG_HOST_FORMAT)),
            ("smtp\t.example.com", Err(MSG_HOST_FORMAT)),
            ("user@smtp.example.com", Err(MSG_HOST_FORMAT)),
            ("smtp.example.com/", Err(MSG_HOST_FORMAT)),
        ],
    );
    assert_eq!(SmtpHost::parse("[::1]").ok().and_then(|h| h.ip()), Some(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)));
    assert_eq!(SmtpHost::parse("smtp.example.com").ok().and_then(|h| h.ip()), None);
}

#[test]
fn smtp_host_length_counts_characters() {
    // 101 bytes but 100 characters would be length-fine yet not a host
    // name; it must get the format message, not the length one.
    let s = format!("{}é", n('h', 99));
    assert_eq!(SmtpHost::parse(&s), Err(MSG_HOST_FORMAT));
    let s = format!("{}é", n('h', 100));
    assert_eq!(SmtpHost::parse(&s), Err(MSG_HOST_LEN));
}

#[test]
fn smtp_port() {
    table(
        "port",
        SmtpPort::parse,
        |v| v.to_string(),
        &[
            ("1", Ok("1")),
            ("25", Ok("25")),
            (" 25 ", Ok("25")),
            ("465", Ok("465")),
            ("0465", Ok("465")),
            ("000000000000000587", Ok("587")),
            ("49151", Ok("49151")),
            ("0", Err(MSG_PORT)),
            ("00", Err(MSG_PORT)),
            ("49152", Err(MSG_PORT)),
            ("65535", Err(MSG_PORT)),
            ("65536", Err(MSG_PORT)),
            ("99999999999999999999", Err(MSG_PORT)),
            ("", Err(MSG_PORT)),
            ("  ", Err(MSG_PORT)),
            ("+25", Err(MSG_PORT)),
            ("-1", Err(MSG_PORT)),
            ("25.0", Err(MSG_PORT)),
            ("2 5", Err(MSG_PORT)),
            ("25\n", Err(MSG_PORT)),
            ("0x19", Err(MSG_PORT)),
            ("２５", Err(MSG_PORT)),
            ("٢٥", Err(MSG_PORT)),
        ],
    );
}

/// A real self-signed CA certificate's DER, base64, made by rcgen.
fn cert_b64() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    base64::engine::general_purpose::STANDARD.encode(cert.der())
}

fn pem(body: &str) -> String {
    format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----")
}

#[test]
fn ca_pem() {
    let one = pem(&cert_b64());
    let two = format!("{one}\n\n{}\n", pem(&cert_b64()));
    let not_x509 = pem("AAEC");
    let crlf = one.replace('\n', "\r\n");
    let explanatory = format!("Certificate:\n    Data: ...\n{one}");
    let trailing = format!("{one}\ngarbage");
    let key = "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----";
    let unterminated = format!("-----BEGIN CERTIFICATE-----\n{}\n", cert_b64());
    let bad_b64 = pem("not*base64");
    let bad_padding = pem("AAE");
    let empty_body = pem("");
    let control = pem("AA\u{0}EC");
    let big = pem(&n('A', CaPem::MAX_BYTES));
    let rows: &[(&str, Result<usize, &str>)] = &[
        ("", Ok(0)),
        ("  \r\n\t ", Ok(0)),
        (&one, Ok(1)),
        (&two, Ok(2)),
        (&crlf, Ok(1)),
        (&not_x509, Err(MSG_CA_PEM)),
        (&explanatory, Err(MSG_CA_PEM)),
        (&trailing, Err(MSG_CA_PEM)),
        (key, Err(MSG_CA_PEM)),
        (&unterminated, Err(MSG_CA_PEM)),
        (&bad_b64, Err(MSG_CA_PEM)),
        (&bad_padding, Err(MSG_CA_PEM)),
        (&empty_body, Err(MSG_CA_PEM)),
        (&control, Err(MSG_CA_PEM)),
        (&big, Err(MSG_CA_PEM)),
        ("MIIBdzCCAR2gAwIBAgIU", Err(MSG_CA_PEM)),
    ];
    for (input, want) in rows {
        let got = CaPem::parse(input).map(|c| c.map_or(0, |c| c.certificates_der().len()));
        assert_eq!(got, *want, "{input:?}");
    }
    let parsed = CaPem::parse(&crlf).ok().flatten();
    assert_eq!(parsed.as_ref().map(CaPem::as_str), Some(one.as_str()));
    // Re-emitted blocks parse back to the same certificates.
    let parsed = CaPem::parse(&two).ok().flatten();
    let blocks = parsed.as_ref().map(CaPem::pem_blocks).unwrap_or_default();
    assert_eq!(blocks.len(), 2);
    let reparsed = CaPem::parse(&blocks.concat()).ok().flatten();
    assert_eq!(reparsed.as_ref().map(CaPem::certificates_der), parsed.as_ref().map(CaPem::certificates_der));
}

#[test]
fn smtp_username_by_policy() {
    let max = n('u', 100);
    let over = n('u', 101);
    let documented = |s: &str| SmtpUsername::parse(s, CredentialPolicy::Documented);
    let provider = |s: &str| SmtpUsername::parse(s, CredentialPolicy::Provider);
    table(
        "username (documented)",
        documented,
        |v| v.as_str().to_owned(),
        &[
            ("mailer@example.com", Ok("mailer@example.com")),
            (" mailer@example.com ", Ok("mailer@example.com")),
            ("apikey", Err(MSG_SMTP_USERNAME)),
            ("", Err(MSG_SMTP_USERNAME)),
            ("user@localhost", Err(MSG_SMTP_USERNAME)),
        ],
    );
    table(
        "username (provider)",
        provider,
        |v| v.as_str().to_owned(),
        &[
            ("apikey", Ok("apikey")),
            ("  apikey  ", Ok("apikey")),
            ("AKIA EXAMPLE", Ok("AKIA EXAMPLE")),
            ("u", Ok("u")),
            (&max, Ok(&max)),
            (&over, Err(MSG_PROVIDER_USERNAME)),
            ("", Err(MSG_PROVIDER_USERNAME)),
            ("  ", Err(MSG_PROVIDER_USERNAME)),
            ("api\nkey", Err(MSG_PROVIDER_USERNAME)),
        ],
    );
}

#[test]
fn smtp_password_by_policy() {
    let rows: &[(CredentialPolicy, &str, Result<(), &str>)] = &[
        (CredentialPolicy::Documented, "Aa1!Bb2@Cc", Ok(())),
        (CredentialPolicy::Documented, "abcdefghijklmnop", Err(NO_UPPER)),
        (CredentialPolicy::Documented, "", Err(EMPTY)),
        (CredentialPolicy::Documented, " Aa1!Bb2@Cc", Err(OUTSIDE)),
        (CredentialPolicy::Provider, "abcd efgh ijkl mnop", Ok(())),
        (CredentialPolicy::Provider, " ", Ok(())),
        (CredentialPolicy::Provider, "", Err(MSG_PROVIDER_PASSWORD)),
        (CredentialPolicy::Provider, "pw\r\n", Err(MSG_PROVIDER_PASSWORD)),
    ];
    for (policy, pw, want) in rows {
        let got = SmtpPassword::parse(pw, *policy).map(|p| assert_eq!(p.expose_secret(), *pw));
        assert_eq!(got, *want, "{policy:?} {pw:?}");
    }
    let p = SmtpPassword::parse("Aa1!Bb2@Cc", CredentialPolicy::Documented);
    assert!(!format!("{p:?}").contains("Aa1!"));
}

#[test]
fn graph_fields() {
    let max = n('p', 256);
    let over = n('p', 257);
    let max_multibyte = n('ß', 256);
    table(
        "graph username",
        GraphUserName::parse,
        |v| v.as_str().to_owned(),
        &[
            ("mailer@contoso.onmicrosoft.com", Ok("mailer@contoso.onmicrosoft.com")),
            ("mailer", Err(MSG_GRAPH_USERNAME)),
            ("", Err(MSG_GRAPH_USERNAME)),
        ],
    );
    for (parse, msg) in [
        (
            (|s: &str| GraphPassword::parse(s).map(|p| p.expose_secret().to_owned()))
                as fn(&str) -> Result<String, &'static str>,
            MSG_GRAPH_PASSWORD,
        ),
        (|s: &str| GraphClientSecret::parse(s).map(|p| p.expose_secret().to_owned()), MSG_GRAPH_CLIENT_SECRET),
    ] {
        table(
            "graph secret",
            parse,
            String::clone,
            &[
                ("p", Ok("p")),
                (" spaced secret ", Ok(" spaced secret ")),
                ("Q~x8Q~abc.def_ghi-jkl", Ok("Q~x8Q~abc.def_ghi-jkl")),
                (&max, Ok(&max)),
                (&max_multibyte, Ok(&max_multibyte)),
                (&over, Err(msg)),
                ("", Err(msg)),
                ("sec\nret", Err(msg)),
                ("sec\u{0}ret", Err(msg)),
            ],
        );
    }
    let upper = GUID.to_ascii_uppercase();
    table(
        "tenant id",
        GraphTenantId::parse,
        |v| v.as_str().to_owned(),
        &[
            (GUID, Ok(GUID)),
            (&upper, Ok(&upper)),
            ("contoso.onmicrosoft.com", Ok("contoso.onmicrosoft.com")),
            (" contoso.com ", Ok("contoso.com")),
            ("common", Err(MSG_GRAPH_TENANT_ID)),
            ("contoso", Err(MSG_GRAPH_TENANT_ID)),
            ("contoso.com.", Err(MSG_GRAPH_TENANT_ID)),
            ("https://login.microsoftonline.com/contoso.com", Err(MSG_GRAPH_TENANT_ID)),
            ("contoso.com/x", Err(MSG_GRAPH_TENANT_ID)),
            ("", Err(MSG_GRAPH_TENANT_ID)),
            ("contoso.com\n", Err(MSG_GRAPH_TENANT_ID)),
        ],
    );
    table(
        "client id",
        GraphClientId::parse,
        |v| v.as_str().to_owned(),
        &[
            (GUID, Ok(GUID)),
            (&upper, Ok(&upper)),
            (&format!(" {GUID} "), Ok(GUID)),
            (&format!("{{{GUID}}}"), Err(MSG_GRAPH_CLIENT_ID)),
            ("0f8fad5bd9cb469fa16570867728950e", Err(MSG_GRAPH_CLIENT_ID)),
            ("0f8fad5b-d9cb-469f-a165-70867728950", Err(MSG_GRAPH_CLIENT_ID)),
            ("0f8fad5b-d9cb-469f-a165-70867728950e0", Err(MSG_GRAPH_CLIENT_ID)),
            ("0f8fad5g-d9cb-469f-a165-70867728950e", Err(MSG_GRAPH_CLIENT_ID)),
            ("0f8fad5b-d9cb-469f-a16570867728950e-", Err(MSG_GRAPH_CLIENT_ID)),
            ("0f8fad5b-d9cb-469f-a165-70867728950é", Err(MSG_GRAPH_CLIENT_ID)),
            ("contoso.com", Err(MSG_GRAPH_CLIENT_ID)),
            ("", Err(MSG_GRAPH_CLIENT_ID)),
        ],
    );
}

#[test]
fn test_to() {
    assert!(parse_test_to(" admin@example.com ").is_ok());
    assert_eq!(parse_test_to("admin"), Err(MSG_TEST_TO));
    assert_eq!(parse_test_to(""), Err(MSG_TEST_TO));
    assert_eq!(parse_test_to("user@localhost"), Err(MSG_TEST_TO));
}

// ---- The whole form ----

fn generic_form() -> ProfileForm {
    ProfileForm {
        name: "main".into(),
        kind: "generic".into(),
        is_default: Some("on".into()),
        from_address: "no-reply@example.com".into(),
        from_name: "ACME".into(),
        host: "smtp.example.com".into(),
        port: "587".into(),
        security: "starttls".into(),
        tls_verify: Some("on".into()),
        auth_required: Some("on".into()),
        username: "mailer@example.com".into(),
        password: "Aa1!Bb2@Cc".into(),
        ..ProfileForm::default()
    }
}

fn graph_form() -> ProfileForm {
    ProfileForm {
        name: "graph".into(),
        kind: "graph".into(),
        from_address: "no-reply@contoso.com".into(),
        from_name: "Contoso".into(),
        username: "mailer@contoso.com".into(),
        password: "any password".into(),
        graph_tenant_id: "contoso.onmicrosoft.com".into(),
        graph_client_id: GUID.into(),
        graph_client_secret: "Q~secret".into(),
        ..ProfileForm::default()
    }
}

/// The form's errors, sorted by field (the tables list them that way; the form's own
/// order is checked in `errors_come_in_form_order`).
fn errors_of(form: &ProfileForm, policy: CredentialPolicy, mode: FormMode) -> Vec<(&'static str, &'static str)> {
    match form.parse(policy, mode) {
        Ok(_) => Vec::new(),
        Err(errors) => {
            let mut list: Vec<_> = errors.iter().collect();
            list.sort();
            list
        }
    }
}

/// The transport with its typed secrets readable, to compare with expectations.
fn plain(transport: Transport<Option<SecretString>>) -> Transport<Option<String>> {
    transport.map_secrets(|s| s.map(|s| s.expose_secret().to_owned()))
}

#[test]
fn a_login_over_security_none_must_be_accepted() {
    let plain = ProfileForm { security: "none".into(), port: "25".into(), ..generic_form() };
    assert_eq!(errors_of(&plain, CredentialPolicy::Documented, FormMode::Create), [("plain_login", MSG_PLAIN_LOGIN)]);
    let accepted = ProfileForm { plain_login: Some("on".into()), ..plain.clone() };
    assert_eq!(errors_of(&accepted, CredentialPolicy::Documented, FormMode::Create), []);
    let no_login = ProfileForm { auth_required: None, ..plain };
    assert_eq!(errors_of(&no_login, CredentialPolicy::Documented, FormMode::Create), []);
}

#[test]
fn errors_come_in_form_order() {
    let form = ProfileForm { name: "bad name".into(), port: "0".into(), password: "x".into(), ..generic_form() };
    let fields: Vec<&str> = match form.parse(CredentialPolicy::Documented, FormMode::Create) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(|(field, _)| field).collect(),
    };
    assert_eq!(fields, ["name", "port", "password"]);
}

#[test]
fn a_valid_generic_form() {
    let input = generic_form().parse(CredentialPolicy::Documented, FormMode::Create);
    let Ok(input) = input else {
        panic!("should pass: {input:?}");
    };
    assert_eq!(input.name.as_str(), "main");
    assert!(input.is_default);
    assert_eq!(input.kind(), ProfileKind::Generic);
    assert_eq!(input.reply_to, None);
    assert_eq!(input.signature, None);
    assert_eq!(input.description, None);
    let Transport::Generic(GenericSmtp { host, port, security, tls_verify, ca_pem, auth }) = plain(input.transport)
    else {
        panic!("generic expected");
    };
    assert_eq!(host.as_str(), "smtp.example.com");
    assert_eq!(port.get(), 587);
    assert_eq!(security, Security::Starttls);
    assert!(tls_verify);
    assert_eq!(ca_pem, None);
    let username = SmtpUsername::parse("mailer@example.com", CredentialPolicy::Documented).unwrap();
    assert_eq!(auth, Some(SmtpAuth { username, password: Some("Aa1!Bb2@Cc".to_owned()), oauth: None }));
}

#[test]
fn a_valid_graph_form_ignores_generic_fields() {
    let form = ProfileForm {
        host: "not a host".into(),
        port: "0".into(),
        security: "bogus".into(),
        ca_pem: "junk".into(),
        auth_required: Some("on".into()),
        ..graph_form()
    };
    let input = form.parse(CredentialPolicy::Documented, FormMode::Create);
    let Ok(input) = input else {
        panic!("should pass: {input:?}");
    };
    assert!(!input.is_default);
    assert_eq!(
        plain(input.transport),
        Transport::Graph(GraphApi {
            username: GraphUserName::parse("mailer@contoso.com").unwrap(),
            password: Some("any password".to_owned()),
            tenant_id: GraphTenantId::parse("contoso.onmicrosoft.com").unwrap(),
            client_id: GraphClientId::parse(GUID).unwrap(),
            client_secret: Some("Q~secret".to_owned()),
        })
    );
}

#[test]
fn a_generic_form_ignores_graph_fields() {
    let form = ProfileForm {
        graph_tenant_id: "???".into(),
        graph_client_id: "nope".into(),
        graph_client_secret: "x\n".into(),
        ..generic_form()
    };
    assert_eq!(errors_of(&form, CredentialPolicy::Documented, FormMode::Create), []);
}

#[test]
fn every_error_is_collected() {
    let form = ProfileForm {
        name: "bad name".into(),
        from_address: "nope".into(),
        from_name: "".into(),
        reply_to: "nope".into(),
        signature: n('s', 251),
        description: n('d', 1001),
        host: "".into(),
        port: "0".into(),
        security: "tls".into(),
        ca_pem: "junk".into(),
        username: "nope".into(),
        password: "short".into(),
        ..generic_form()
    };
    assert_eq!(
        errors_of(&form, CredentialPolicy::Documented, FormMode::Create),
        [
            ("ca_pem", MSG_CA_PEM),
            ("description", MSG_DESCRIPTION),
            ("from_address", MSG_FROM_ADDRESS),
            ("from_name", MSG_FROM_NAME),
            ("host", MSG_HOST_LEN),
            ("name", MSG_NAME),
            ("password", SHORT),
            ("port", MSG_PORT),
            ("reply_to", MSG_REPLY_TO),
            ("security", MSG_SECURITY),
            ("signature", MSG_SIGNATURE),
            ("username", MSG_SMTP_USERNAME),
        ]
    );
    let graph = ProfileForm {
        username: "nope".into(),
        password: "".into(),
        graph_tenant_id: "".into(),
        graph_client_id: "".into(),
        graph_client_secret: "".into(),
        ..graph_form()
    };
    assert_eq!(
        errors_of(&graph, CredentialPolicy::Documented, FormMode::Create),
        [
            ("graph_client_id", MSG_GRAPH_CLIENT_ID),
            ("graph_client_secret", MSG_GRAPH_CLIENT_SECRET),
            ("graph_tenant_id", MSG_GRAPH_TENANT_ID),
            ("password", MSG_GRAPH_PASSWORD),
            ("username", MSG_GRAPH_USERNAME),
        ]
    );
}

#[test]
fn kind_rules() {
    let empty_kind = ProfileForm { kind: "".into(), ..generic_form() };
    let parsed = empty_kind.parse(CredentialPolicy::Documented, FormMode::Create);
    assert_eq!(parsed.map(|p| p.kind()), Ok(ProfileKind::Generic));

    let unknown = ProfileForm { kind: "sendgrid".into(), name: "".into(), ..generic_form() };
    assert_eq!(
        errors_of(&unknown, CredentialPolicy::Documented, FormMode::Create),
        [("kind", MSG_KIND), ("name", MSG_NAME)]
    );
}

#[test]
fn auth_off_skips_credentials() {
    let form =
        ProfileForm { auth_required: None, username: "not an email".into(), password: "".into(), ..generic_form() };
    let parsed = form.parse(CredentialPolicy::Documented, FormMode::Create);
    let auth = parsed.map(|p| match plain(p.transport) {
        Transport::Generic(GenericSmtp { auth, .. }) => auth,
        Transport::Graph(_) => panic!("generic expected"),
    });
    assert_eq!(auth, Ok(None));
}

#[test]
fn checkboxes_are_on_when_present() {
    let off = ProfileForm { tls_verify: None, is_default: None, ..generic_form() };
    let parsed = off.parse(CredentialPolicy::Documented, FormMode::Create);
    let flags = parsed.map(|p| match p.transport {
        Transport::Generic(GenericSmtp { tls_verify, .. }) => (p.is_default, tls_verify),
        Transport::Graph(_) => panic!("generic expected"),
    });
    assert_eq!(flags, Ok((false, false)));
    let odd = ProfileForm { tls_verify: Some("".into()), is_default: Some("yes".into()), ..generic_form() };
    let parsed = odd.parse(CredentialPolicy::Documented, FormMode::Create);
    let flags = parsed.map(|p| match p.transport {
        Transport::Generic(GenericSmtp { tls_verify, .. }) => (p.is_default, tls_verify),
        Transport::Graph(_) => panic!("generic expected"),
    });
    assert_eq!(flags, Ok((true, true)));
}

#[test]
fn empty_security_means_ssl() {
    let form = ProfileForm { security: "".into(), port: "465".into(), ..generic_form() };
    let parsed = form.parse(CredentialPolicy::Documented, FormMode::Create);
    let security = parsed.map(|p| match p.transport {
        Transport::Generic(GenericSmtp { security, .. }) => security,
        Transport::Graph(_) => panic!("generic expected"),
    });
    assert_eq!(security, Ok(Security::Ssl));
}

#[test]
fn blank_secrets_by_mode() {
    // (form, policy, mode, expected errors)
    let generic_blank = ProfileForm { password: "".into(), ..generic_form() };
    let graph_blank = ProfileForm { password: "".into(), graph_client_secret: "".into(), ..graph_form() };
    type Row<'a> = (&'a ProfileForm, CredentialPolicy, FormMode, Vec<(&'a str, &'a str)>);
    let rows: Vec<Row> = vec![
        (&generic_blank, CredentialPolicy::Documented, FormMode::Create, vec![("password", EMPTY)]),
        (&generic_blank, CredentialPolicy::Provider, FormMode::Create, vec![("password", MSG_PROVIDER_PASSWORD)]),
        (&generic_blank, CredentialPolicy::Documented, FormMode::Edit, vec![]),
        (&generic_blank, CredentialPolicy::Provider, FormMode::Edit, vec![]),
        (
            &graph_blank,
            CredentialPolicy::Documented,
            FormMode::Create,
            vec![("graph_client_secret", MSG_GRAPH_CLIENT_SECRET), ("password", MSG_GRAPH_PASSWORD)],
        ),
        (&graph_blank, CredentialPolicy::Documented, FormMode::Edit, vec![]),
    ];
    for (form, policy, mode, want) in rows {
        assert_eq!(errors_of(form, policy, mode), want, "{policy:?} {mode:?}");
    }
    let edit = generic_blank.parse(CredentialPolicy::Documented, FormMode::Edit);
    let password = edit.map(|p| match plain(p.transport) {
        Transport::Generic(GenericSmtp { auth, .. }) => auth.map(|a| a.password),
        Transport::Graph(_) => panic!("generic expected"),
    });
    assert_eq!(password, Ok(Some(None)));
    let edit = graph_blank.parse(CredentialPolicy::Documented, FormMode::Edit);
    let secrets = edit.map(|p| match plain(p.transport) {
        Transport::Graph(GraphApi { password, client_secret, .. }) => (password, client_secret),
        Transport::Generic(_) => panic!("graph expected"),
    });
    assert_eq!(secrets, Ok((None, None)));
    // A typed password is still checked on edit.
    let weak = ProfileForm { password: "weak".into(), ..generic_form() };
    assert_eq!(errors_of(&weak, CredentialPolicy::Documented, FormMode::Edit), [("password", SHORT)]);
}

#[test]
fn provider_policy_in_the_form() {
    let form = ProfileForm { username: "apikey".into(), password: "SG.abc-DEF_123.xyz".into(), ..generic_form() };
    assert_eq!(
        errors_of(&form, CredentialPolicy::Documented, FormMode::Create),
        [("password", OUTSIDE), ("username", MSG_SMTP_USERNAME)]
    );
    assert_eq!(errors_of(&form, CredentialPolicy::Provider, FormMode::Create), []);
    let long = ProfileForm { username: n('u', 101), ..form };
    assert_eq!(errors_of(&long, CredentialPolicy::Provider, FormMode::Create), [("username", MSG_PROVIDER_USERNAME)]);
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let form =
        ProfileForm { password: "Aa1!Bb2@Cc".into(), graph_client_secret: "Q~topsecret".into(), ..generic_form() };
    let shown = format!("{form:?}");
    assert!(!shown.contains("Aa1!Bb2@Cc") && !shown.contains("topsecret"), "{shown}");
    let input = form.parse(CredentialPolicy::Documented, FormMode::Create);
    let shown = format!("{input:?}");
    assert!(!shown.contains("Aa1!Bb2@Cc"), "{shown}");
    assert!(shown.contains("REDACTED"), "{shown}");
    let graph = graph_form().parse(CredentialPolicy::Documented, FormMode::Create);
    let shown = format!("{graph:?}");
    assert!(!shown.contains("any password") && !shown.contains("Q~secret"), "{shown}");
}

#[test]
fn missing_fields_deserialize_as_empty() {
    use serde::de::value::{Error, MapDeserializer};
    let fields = vec![("name", "main"), ("host", "smtp.example.com")];
    let form = ProfileForm::deserialize(MapDeserializer::<_, Error>::new(fields.into_iter()));
    let form = form.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(form.name, "main");
    assert_eq!(form.host, "smtp.example.com");
    assert_eq!(form.port, "");
    assert_eq!(form.tls_verify, None);
    assert_eq!(form.auth_required, None);
}

#[test]
fn a_store_message_replaces_a_parse_message() {
    let mut errors = FieldErrors::default();
    assert!(errors.is_empty());
    errors.insert("name", MSG_NAME);
    errors.insert("name", MSG_NAME_TAKEN);
    assert_eq!(errors.get("name"), Some(MSG_NAME_TAKEN));
    assert_eq!(errors.get("host"), None);
    assert_eq!(errors.iter().count(), 1);
}

// ---- Duplicate (§4) ----

#[test]
fn copied_names() {
    let none = |_: &str| false;
    let name40 = n('a', 40);
    let name50 = n('b', 50);
    let rows: Vec<(&str, Vec<String>, String)> = vec![
        ("main", vec![], "main_copied".into()),
        ("main", vec!["main_copied".into()], "main_copied_2".into()),
        ("main", vec!["main_copied".into(), "main_copied_2".into()], "main_copied_3".into()),
        // Only exact candidates count: a gap is reused.
        ("main", vec!["main_copied".into(), "main_copied_3".into()], "main_copied_2".into()),
        (&name40, vec![], format!("{}_copied", n('a', 40))),
        (&name50, vec![], format!("{}_copied", n('b', 43))),
        (&name50, vec![format!("{}_copied", n('b', 43))], format!("{}_copied_2", n('b', 41))),
        ("main_copied", vec![], "main_copied_copied".into()),
    ];
    for (source, taken, want) in rows {
        let got = copied_name(source, |c| taken.iter().any(|t| t == c));
        assert_eq!(got, want, "{source:?} with {taken:?} taken");
        assert!(got.chars().count() <= ProfileName::MAX_LEN);
    }
    // Nine taken: the suffix grows to two digits and the source shrinks.
    let taken: Vec<String> = (1..=9)
        .map(|i| {
            let suffix = if i == 1 { "_copied".to_owned() } else { format!("_copied_{i}") };
            format!("{}{suffix}", n('b', 50 - suffix.len()))
        })
        .collect();
    let got = copied_name(&name50, |c| taken.iter().any(|t| t == c));
    assert_eq!(got, format!("{}_copied_10", n('b', 40)));
    assert_eq!(copied_name("main", none), "main_copied");
    // Multi-byte input (not a valid name, but must not panic or overflow).
    let wide = n('é', 60);
    let got = copied_name(&wide, none);
    assert_eq!(got.chars().count(), 50);
}

#[test]
fn duplicate_password_rules() {
    let rows: &[(ProfileKind, CredentialPolicy, &str, Result<(), &str>)] = &[
        (ProfileKind::Generic, CredentialPolicy::Documented, "Aa1!Bb2@Cc", Ok(())),
        (ProfileKind::Generic, CredentialPolicy::Documented, "abcd efgh ijkl mnop", Err(OUTSIDE)),
        (ProfileKind::Generic, CredentialPolicy::Documented, "", Err(EMPTY)),
        (ProfileKind::Generic, CredentialPolicy::Provider, "abcd efgh ijkl mnop", Ok(())),
        (ProfileKind::Generic, CredentialPolicy::Provider, "", Err(MSG_PROVIDER_PASSWORD)),
        (ProfileKind::Graph, CredentialPolicy::Documented, "weak", Ok(())),
        (ProfileKind::Graph, CredentialPolicy::Provider, "", Err(MSG_GRAPH_PASSWORD)),
        (ProfileKind::Graph, CredentialPolicy::Documented, "a\nb", Err(MSG_GRAPH_PASSWORD)),
    ];
    for (kind, policy, pw, want) in rows {
        assert_eq!(check_duplicate_password(*kind, *policy, pw), *want, "{kind:?} {policy:?} {pw:?}");
    }
}

// ---- Send rate ----

#[test]
fn send_rate_is_empty_or_a_whole_number_from_1_to_10000() {
    for (input, expected) in [("", None), ("  ", None), ("1", Some(1)), (" 30 ", Some(30)), ("010000", Some(10_000))] {
        assert_eq!(SendRate::parse(input).unwrap().map(SendRate::get), expected, "{input:?}");
    }
    for bad in ["0", "10001", "-5", "2.5", "30/min", "1e3", "99999999999999999999", "３０", "3\n0"] {
        assert_eq!(SendRate::parse(bad), Err(MSG_MAX_PER_MINUTE), "{bad:?}");
    }
    assert_eq!(SendRate::MAX.to_string().len(), SendRate::MAX_DIGITS);
    assert_eq!(
        MSG_MAX_PER_MINUTE,
        "Please enter the messages per minute as a whole number from 1 to 10000, or leave it empty for no limit."
    );
}

// ---- Properties ----

fn any_form() -> impl Strategy<Value = ProfileForm> {
    let text = || prop_oneof![any::<String>(), "[a-z0-9@._ \r\n:\\[\\]-]{0,30}", Just(String::new())];
    let flag = || prop::option::of(any::<String>());
    (
        (text(), prop_oneof![Just("generic".to_owned()), Just("graph".to_owned()), text()], flag()),
        (text(), text(), text(), text(), text()),
        (text(), text(), text(), flag(), text(), flag()),
        (text(), text(), text(), text(), text()),
        (flag(), prop_oneof![text(), "[0-9]{0,6}"]),
    )
        .prop_map(|(a, b, c, d, (plain_login, max_per_minute))| ProfileForm {
            name: a.0,
            kind: a.1,
            is_default: a.2,
            from_address: b.0,
            from_name: b.1,
            reply_to: b.2,
            signature: b.3,
            description: b.4,
            max_per_minute,
            host: c.0,
            port: c.1,
            security: c.2,
            tls_verify: c.3,
            ca_pem: c.4,
            auth_required: c.5,
            plain_login,
            username: d.0,
            password: d.1.into(),
            graph_tenant_id: d.2,
            graph_client_id: d.3,
            graph_client_secret: d.4.into(),
            policy: String::new(),
            ..ProfileForm::default()
        })
}

fn copy_suffix_ok(name: &str) -> bool {
    if name.ends_with("_copied") {
        return true;
    }
    match name.rsplit_once("_copied_") {
        Some((_, digits)) => {
            !digits.is_empty()
                && !digits.starts_with('0')
                && digits.bytes().all(|b| b.is_ascii_digit())
                && digits != "1"
        }
        None => false,
    }
}

proptest! {
    #[test]
    fn field_parsers_never_panic(s in any::<String>()) {
        let _ = ProfileName::parse(&s);
        let _ = FromAddress::parse(&s);
        let _ = SenderName::parse(&s);
        let _ = ReplyTo::parse(&s);
        let _ = Signature::parse(&s);
        let _ = Description::parse(&s);
        let _ = SmtpHost::parse(&s);
        let _ = SmtpPort::parse(&s);
        let _ = CaPem::parse(&s);
        let _ = SmtpUsername::parse(&s, CredentialPolicy::Documented);
        let _ = SmtpUsername::parse(&s, CredentialPolicy::Provider);
        let _ = SmtpPassword::parse(&s, CredentialPolicy::Documented);
        let _ = SmtpPassword::parse(&s, CredentialPolicy::Provider);
        let _ = GraphUserName::parse(&s);
        let _ = GraphPassword::parse(&s);
        let _ = GraphTenantId::parse(&s);
        let _ = GraphClientId::parse(&s);
        let _ = GraphClientSecret::parse(&s);
        let _ = ProfileKind::parse(&s);
        let _ = Security::parse(&s);
        let _ = CredentialPolicy::parse(&s);
        let _ = parse_test_to(&s);
        let _ = check_duplicate_password(ProfileKind::Generic, CredentialPolicy::Documented, &s);
        let _ = check_duplicate_password(ProfileKind::Graph, CredentialPolicy::Provider, &s);
    }

    #[test]
    fn parsers_never_panic_near_their_formats(
        s in "[\\[\\]:.0-9a-fA-F é\u{1F600}\r\n\t_-]{0,120}",
        pem_body in "[A-Za-z0-9+/= \r\né-]{0,200}",
    ) {
        let _ = SmtpHost::parse(&s);
        let _ = SmtpPort::parse(&s);
        let _ = GraphTenantId::parse(&s);
        let _ = GraphClientId::parse(&s);
        let _ = Signature::parse(&s);
        let _ = CaPem::parse(&pem(&pem_body));
        let _ = CaPem::parse(&format!("{}{}", pem(&pem_body), pem_body));
    }

    #[test]
    fn form_parse_never_panics(form in any_form()) {
        for policy in CredentialPolicy::ALL {
            for mode in [FormMode::Create, FormMode::Edit] {
                let _ = form.parse(policy, mode);
            }
        }
    }

    #[test]
    fn accepted_single_line_fields_hold_no_control_characters(s in any::<String>()) {
        let fields = [
            ProfileName::parse(&s).map(|v| v.as_str().to_owned()),
            SenderName::parse(&s).map(|v| v.as_str().to_owned()),
            SmtpHost::parse(&s).map(|v| v.as_str().to_owned()),
            SmtpUsername::parse(&s, CredentialPolicy::Provider).map(|v| v.into_string()),
            GraphTenantId::parse(&s).map(|v| v.as_str().to_owned()),
        ];
        for value in fields.into_iter().flatten() {
            prop_assert!(!value.chars().any(char::is_control));
            prop_assert!(!value.starts_with(' ') && !value.ends_with(' '));
        }
    }

    #[test]
    fn ports_in_range_parse_and_others_do_not(p in 0u32..200_000, zeros in 0usize..4) {
        let text = format!("{}{p}", "0".repeat(zeros));
        let parsed = SmtpPort::parse(&text);
        if (1..=49151).contains(&p) {
            prop_assert_eq!(parsed.map(|v| u32::from(v.get())), Ok(p));
        } else {
            prop_assert_eq!(parsed, Err(MSG_PORT));
        }
    }

    #[test]
    fn copied_name_properties(
        source in prop_oneof!["[A-Za-z0-9_]{1,50}", any::<String>()],
        forced in 0usize..12,
        others in prop::collection::vec("[A-Za-z0-9_]{1,50}", 0..5),
    ) {
        // The first `forced` candidates are taken, plus some unrelated names.
        let mut taken = others;
        let mut probe = Vec::new();
        for _ in 0..forced {
            let next = copied_name(&source, |c| probe.iter().any(|t: &String| t == c));
            probe.push(next);
        }
        taken.extend(probe.iter().cloned());
        let got = copied_name(&source, |c| taken.iter().any(|t| t == c));
        prop_assert!(got.chars().count() <= ProfileName::MAX_LEN, "{}", got);
        prop_assert!(copy_suffix_ok(&got), "{}", got);
        prop_assert!(!taken.contains(&got), "{}", got);
        if forced > 0 {
            prop_assert!(got.ends_with(&format!("_copied_{}", forced + 1)), "{}", got);
        }
        if ProfileName::parse(&source).is_ok() {
            prop_assert_eq!(ProfileName::parse(&got).map(|n| n.as_str().to_owned()), Ok(got.clone()));
        }
    }
}

/// The `sqlx::Type` derives store exactly `as_str`, the values the table's CHECKs allow.
#[tokio::test]
async fn kinds_and_security_modes_are_stored_as_their_form_values() {
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
    for kind in ProfileKind::ALL {
        let (text, back): (String, ProfileKind) =
            sqlx::query_as("SELECT ?1, ?1").bind(kind).fetch_one(&mut conn).await.unwrap();
        assert_eq!((text.as_str(), back), (kind.as_str(), kind));
    }
    for security in Security::ALL {
        let (text, back): (String, Security) =
            sqlx::query_as("SELECT ?1, ?1").bind(security).fetch_one(&mut conn).await.unwrap();
        assert_eq!((text.as_str(), back), (security.as_str(), security));
    }
}

// ---- OAuth 2.0 sign-in ----

fn microsoft_form() -> ProfileForm {
    ProfileForm {
        host: "smtp.office365.com".into(),
        sign_in: "oauth".into(),
        oauth_provider: "microsoft".into(),
        oauth_directory: "contoso.onmicrosoft.com".into(),
        oauth_client_id: GUID.into(),
        oauth_client_secret: "Q~app-secret".into(),
        password: SecretString::default(),
        ..generic_form()
    }
}

#[test]
fn oauth_messages_are_word_for_word() {
    assert_eq!(MSG_SIGN_IN, "Please choose how to sign in.");
    assert_eq!(MSG_OAUTH_PROVIDER, "Please choose an OAuth provider.");
    assert_eq!(MSG_OAUTH_CLIENT_ID, "Please enter the client ID your provider gave you.");
    assert_eq!(MSG_OAUTH_CLIENT_SECRET, "Please enter the client secret.");
    assert_eq!(MSG_OAUTH_TOKEN_URL, "Please enter the token URL, an https:// address.");
    assert_eq!(MSG_OAUTH_SCOPE, "Please enter the scopes separated by spaces, within 500 characters.");
}

#[test]
fn token_urls() {
    table(
        "oauth_token_url",
        TokenUrl::parse,
        |u| u.as_str().to_owned(),
        &[
            (" https://auth.example.com/oauth2/token ", Ok("https://auth.example.com/oauth2/token")),
            ("https://auth.example.com:8443/t?tenant=1", Ok("https://auth.example.com:8443/t?tenant=1")),
            ("http://127.0.0.1:9000/token", Ok("http://127.0.0.1:9000/token")),
            ("http://localhost/token", Ok("http://localhost/token")),
            ("http://auth.example.com/token", Err(MSG_OAUTH_TOKEN_URL)),
            ("https://user:pw@auth.example.com/token", Err(MSG_OAUTH_TOKEN_URL)),
            ("https://auth.example.com/token#x", Err(MSG_OAUTH_TOKEN_URL)),
            ("ftp://auth.example.com/token", Err(MSG_OAUTH_TOKEN_URL)),
            ("auth.example.com/token", Err(MSG_OAUTH_TOKEN_URL)),
            ("https://auth.example.com/\ntoken", Err(MSG_OAUTH_TOKEN_URL)),
            ("", Err(MSG_OAUTH_TOKEN_URL)),
        ],
    );
}

#[test]
fn oauth_client_ids_and_scopes() {
    let google = "123-abc.apps.googleusercontent.com";
    assert_eq!(OAuthClientId::parse(google, OAuthProviderKind::Google).unwrap().as_str(), google);
    assert_eq!(OAuthClientId::parse(google, OAuthProviderKind::Microsoft), Err(MSG_GRAPH_CLIENT_ID));
    assert_eq!(OAuthClientId::parse(GUID, OAuthProviderKind::Microsoft).unwrap().as_str(), GUID);
    assert_eq!(OAuthClientId::parse("two words", OAuthProviderKind::Other), Err(MSG_OAUTH_CLIENT_ID));
    assert_eq!(OAuthClientId::parse("", OAuthProviderKind::Other), Err(MSG_OAUTH_CLIENT_ID));
    assert_eq!(OAuthScope::parse("  a   b ").unwrap().unwrap().as_str(), "a b");
    assert_eq!(OAuthScope::parse(""), Ok(None));
    assert_eq!(OAuthScope::parse("a\tb"), Err(MSG_OAUTH_SCOPE));
    assert!(OAuthClientSecret::parse("s\u{7}").is_err());
}

#[test]
fn an_oauth_form_needs_its_provider_fields() {
    let policy = CredentialPolicy::Documented;
    assert_eq!(errors_of(&microsoft_form(), policy, FormMode::Create), vec![]);
    let missing = ProfileForm {
        oauth_directory: String::new(),
        oauth_client_id: "not-a-guid".into(),
        oauth_client_secret: SecretString::default(),
        ..microsoft_form()
    };
    assert_eq!(
        errors_of(&missing, policy, FormMode::Create),
        vec![
            ("oauth_client_id", MSG_GRAPH_CLIENT_ID),
            ("oauth_client_secret", MSG_OAUTH_CLIENT_SECRET),
            ("oauth_directory", MSG_GRAPH_TENANT_ID),
        ]
    );
    let other = ProfileForm {
        oauth_provider: "other".into(),
        oauth_token_url: "http://a.example/t".into(),
        ..microsoft_form()
    };
    assert_eq!(errors_of(&other, policy, FormMode::Create), vec![("oauth_token_url", MSG_OAUTH_TOKEN_URL)]);
    let unknown = ProfileForm { sign_in: "kerberos".into(), ..microsoft_form() };
    assert_eq!(errors_of(&unknown, policy, FormMode::Create), vec![("sign_in", MSG_SIGN_IN)]);
    let provider = ProfileForm { oauth_provider: "yahoo".into(), ..microsoft_form() };
    assert_eq!(errors_of(&provider, policy, FormMode::Create), vec![("oauth_provider", MSG_OAUTH_PROVIDER)]);
    // No password is asked with OAuth; the client secret is the login's secret.
    let input = microsoft_form().parse(policy, FormMode::Create).unwrap();
    assert_eq!(input.typed_secret_fields(), vec!["oauth_client_secret"]);
    assert!(!input.transport.has_password());
    let app = input.transport.oauth().unwrap();
    assert_eq!(app.provider.kind(), OAuthProviderKind::Microsoft);
    // The form a stored profile fills round-trips.
    let again = ProfileForm::from_settings(&input);
    assert_eq!((again.sign_in.as_str(), again.oauth_provider.as_str()), ("oauth", "microsoft"));
    assert_eq!(again.oauth_directory, "contoso.onmicrosoft.com");
}

#[test]
fn a_saved_client_secret_is_not_reused_once_the_app_changes() {
    let policy = CredentialPolicy::Documented;
    let stored = microsoft_form()
        .parse(policy, FormMode::Create)
        .unwrap()
        .with_secrets(policy, None::<&ProfileSettings<String>>, |s| s.expose_secret().to_owned())
        .unwrap();
    let blank = |form: ProfileForm| ProfileForm { oauth_client_secret: SecretString::default(), ..form };
    let decide = |form: ProfileForm| {
        form.parse(policy, FormMode::Edit)
            .unwrap()
            .with_secrets(policy, Some(&stored), |s| s.expose_secret().to_owned())
    };
    // Unchanged: kept.
    assert!(decide(blank(microsoft_form())).is_ok());
    let cases = [
        (
            ProfileForm { oauth_client_id: "1f8fad5b-d9cb-469f-a165-70867728950e".into(), ..microsoft_form() },
            "The client secret was cleared because the provider, client ID, directory, token URL or scope changed; enter it again.",
        ),
        (
            ProfileForm { oauth_directory: "fabrikam.onmicrosoft.com".into(), ..microsoft_form() },
            "The client secret was cleared because the provider, client ID, directory, token URL or scope changed; enter it again.",
        ),
        (
            ProfileForm {
                oauth_provider: "google".into(),
                oauth_client_id: "x.apps.googleusercontent.com".into(),
                ..microsoft_form()
            },
            "The client secret was cleared because the provider, client ID, directory, token URL or scope changed; enter it again.",
        ),
        (
            ProfileForm { username: "other@example.com".into(), ..microsoft_form() },
            "The client secret was cleared because the SMTP account changed; enter it again.",
        ),
        (
            ProfileForm { host: "smtp.example.net".into(), ..microsoft_form() },
            "The client secret was cleared because the host changed; enter it again.",
        ),
    ];
    for (form, message) in cases {
        let errors = decide(blank(form)).unwrap_err();
        assert_eq!(errors.get("oauth_client_secret"), Some(message));
    }
    // Back to a password: the client secret is never taken for a password, which must be typed.
    let password = ProfileForm { sign_in: "password".into(), password: SecretString::default(), ..microsoft_form() };
    let errors = decide(password).unwrap_err();
    assert_eq!(
        errors.get("password"),
        Some("The SMTP account password does not meet the rules. Please enter one of 10 to 20 characters.")
    );
}
