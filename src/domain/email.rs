//! The email address format of SPEC §2.1.
//!
//! §2.1 is deliberately narrower than RFC 5322 (no quoted local parts, no IP
//! literals, no single-label domains) and a little wider than seed 002 (dots and
//! hyphens in the local part), so neither a general-purpose validator nor the
//! RFC grammar can decide it alone.

use std::fmt;

/// Longest accepted address, in characters (§2.1).
pub const MAX_LEN: usize = 100;
/// Longest accepted local part, in characters (§2.1, RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_LEN: usize = 64;
/// Longest accepted domain label, in characters (§2.1, RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// An address in the format of SPEC §2.1.
///
/// Holding one proves the text passed §2.1, so senders, templates and the
/// store never re-check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Trims surrounding spaces, then checks §2.1. None when it does not pass.
    ///
    /// Only the space character is trimmed: a tab or line break is a control
    /// character, which §2 rejects rather than tidies away (header injection).
    /// Letters are ASCII letters: an internationalised domain must be given in
    /// its `xn--` form, which is what goes on the wire anyway.
    pub fn parse(input: &str) -> Option<EmailAddress> {
        let address = input.trim_matches(' ');
        // Everything §2.1 allows is ASCII, so after this check byte lengths
        // equal character lengths and slicing cannot split a character.
        if address.is_empty() || address.len() > MAX_LEN || !address.is_ascii() {
            return None;
        }
        // §2.1 is strictly narrower than `validator`'s check (a property test below
        // holds every accepted address to it), so that regex need not run here: it
        // would cost more than everything else every time a stored address is read.
        // The last `@` splits, as in RFC 5322; an `@` in the local part then
        // fails the atom check below.
        let (local, domain) = address.rsplit_once('@')?;
        if is_local_part(local) && is_domain(domain) {
            Some(EmailAddress(address.to_owned()))
        } else {
            None
        }
    }

    /// The address as it was entered, without the trimmed spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Characters of an atom besides ASCII letters and digits (seed 002's list plus
/// `-` and `*` from RFC 5322 `atext`).
const ATOM_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

fn is_atom_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ATOM_SPECIALS.contains(c)
}

/// Dot-atom: `split('.')` yields an empty atom exactly where a dot leads,
/// trails or doubles, so one emptiness check covers all three.
fn is_local_part(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(is_atom_char))
}

fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    // Two labels at least rules out `localhost`; an empty label catches the
    // trailing dot of a fully qualified name.
    if labels.len() < 2 || !labels.iter().all(|label| is_label(label)) {
        return false;
    }
    // An all-digit top-level label would let `a@127.0.0.1` in as a "domain",
    // an IP literal without the brackets (RFC 3696 §2: TLDs are not numeric).
    labels.last().is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

/// An RFC 1123 label: letters, digits and hyphens, no hyphen at either end.
fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use validator::ValidateEmail;

    fn local_of(n: usize) -> String {
        "a".repeat(n)
    }

    fn label_of(n: usize) -> String {
        "b".repeat(n)
    }

    /// `x@` + a domain of `c` labels and `.io`, exactly `n` characters long.
    fn address_of_len(n: usize) -> String {
        let mut remaining = n - "x@".len() - ".io".len();
        let mut labels = Vec::new();
        while remaining > 0 {
            if remaining <= MAX_LABEL_LEN {
                labels.push("c".repeat(remaining));
                remaining = 0;
            } else {
                // 62 characters and a dot, so the next label is never empty.
                labels.push("c".repeat(62));
                remaining -= 63;
            }
        }
        let address = format!("x@{}.io", labels.join("."));
        assert_eq!(address.chars().count(), n, "helper built {address}");
        address
    }

    #[test]
    fn accepts_addresses_of_section_2_1() {
        let cases: &[&str] = &[
            "user@example.com",
            "first.last@example.com",
            "no-reply@example.co.uk",
            "a@x.io",
            "A@X.IO",
            "o'brien@example.ie",
            "user+tag@example.com",
            "!#$%&'*+-/=?^_`{|}~@example.com",
            "a.b.c.d@sub.sub.example.com",
            "user@xn--bcher-kva.example",
            "user@123.example",
            "user@a-b.c-d.io",
            "u@1a.io",
        ];
        for input in cases {
            let parsed = EmailAddress::parse(input);
            assert_eq!(parsed.as_ref().map(EmailAddress::as_str), Some(*input), "{input:?} should pass");
        }
    }

    #[test]
    fn rejects_addresses_outside_section_2_1() {
        let cases: &[&str] = &[
            "",
            " ",
            "user",
            "@example.com",
            "user@",
            "user@localhost",
            "a@garbage[127.0.0.1]",
            "user@[127.0.0.1]",
            "user@[IPv6:::1]",
            "user@127.0.0.1",
            "\"quoted\"@example.com",
            "\"a b\"@example.com",
            "a..b@x.io",
            ".a@x.io",
            "a.@x.io",
            "a@-x.io",
            "a@x-.io",
            "a@x.-io",
            "a@x.io.",
            "a@.x.io",
            "a@x..io",
            "a b@x.io",
            "a@x .io",
            "a@b@x.io",
            "a@x_y.io",
            "a(comment)@x.io",
            "a,b@x.io",
            "a;b@x.io",
            "a\\b@x.io",
            "a\"b@x.io",
            "<a@x.io>",
            "Name <a@x.io>",
            "a@x.io\r\nBcc: b@y.io",
            "a@x.io\n",
            "\ta@x.io",
            "a\u{0}@x.io",
            "a\u{7f}@x.io",
            "jörg@example.com",
            "user@bücher.example",
            "user@exämple.com",
            // The Kelvin sign case-folds to `k` in a Unicode-aware regex.
            "\u{212A}@x.io",
            "user@example.c\u{301}om",
        ];
        for input in cases {
            assert_eq!(EmailAddress::parse(input), None, "{input:?} should fail");
        }
    }

    #[test]
    fn trims_spaces_only() {
        let parsed = EmailAddress::parse("  user@example.com  ").map(|e| e.to_string());
        assert_eq!(parsed.as_deref(), Some("user@example.com"));
        assert_eq!(EmailAddress::parse("\tuser@example.com"), None);
        assert_eq!(EmailAddress::parse("user@example.com\u{a0}"), None);
    }

    #[test]
    fn length_boundaries() {
        let cases: Vec<(String, bool)> = vec![
            (format!("{}@x.io", local_of(1)), true),
            (format!("{}@x.io", local_of(63)), true),
            (format!("{}@x.io", local_of(64)), true),
            (format!("{}@x.io", local_of(65)), false),
            (format!("u@{}.io", label_of(1)), true),
            (format!("u@{}.io", label_of(62)), true),
            (format!("u@{}.io", label_of(63)), true),
            (format!("u@{}.io", label_of(64)), false),
            (format!("u@x.{}", label_of(63)), true),
            (format!("u@x.{}", label_of(64)), false),
            (address_of_len(99), true),
            (address_of_len(100), true),
            (address_of_len(101), false),
            (address_of_len(150), false),
            // 64-char local part and a domain that brings it to 100 exactly.
            (format!("{}@{}.io", local_of(64), label_of(32)), true),
            (format!("{}@{}.io", local_of(64), label_of(33)), false),
        ];
        for (input, ok) in &cases {
            assert_eq!(
                EmailAddress::parse(input).is_some(),
                *ok,
                "{input:?} ({} chars) should {}",
                input.chars().count(),
                if *ok { "pass" } else { "fail" }
            );
        }
    }

    #[test]
    fn trimmed_spaces_do_not_count_towards_the_length() {
        let padded = format!("   {}   ", address_of_len(100));
        assert!(EmailAddress::parse(&padded).is_some());
    }

    #[test]
    fn display_and_as_str_show_the_trimmed_address() {
        let e = EmailAddress::parse(" first.last@example.com ");
        let e = e.as_ref();
        assert_eq!(e.map(|e| e.as_str()), Some("first.last@example.com"));
        assert_eq!(e.map(|e| e.to_string()).as_deref(), Some("first.last@example.com"));
    }

    /// An address assembled from the §2.1 grammar, to check the parser
    /// accepts what the grammar describes.
    fn grammar_address() -> impl Strategy<Value = String> {
        let atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,8}";
        let label = "[A-Za-z0-9]([A-Za-z0-9-]{0,6}[A-Za-z0-9])?";
        let tld = "[A-Za-z][A-Za-z0-9]{0,5}";
        (prop::collection::vec(atom, 1..4), prop::collection::vec(label, 1..3), tld)
            .prop_map(|(atoms, labels, tld)| format!("{}@{}.{}", atoms.join("."), labels.join("."), tld))
    }

    proptest! {
        #[test]
        fn never_panics(input in any::<String>()) {
            let _ = EmailAddress::parse(&input);
        }

        #[test]
        fn never_panics_on_near_addresses(input in "[ a-z.@\\[\\]\"0-9é\u{212A}\r\n-]{0,120}") {
            let _ = EmailAddress::parse(&input);
        }

        #[test]
        fn accepts_the_grammar(address in grammar_address()) {
            prop_assert!(address.len() > MAX_LEN || EmailAddress::parse(&address).is_some());
        }

        #[test]
        fn accepted_addresses_hold_every_property(input in "[ a-zA-Z0-9.@+_-]{0,110}") {
            if let Some(e) = EmailAddress::parse(&input) {
                let s = e.as_str();
                prop_assert!(s.validate_email());
                prop_assert!(s.chars().count() <= MAX_LEN);
                prop_assert!(!s.contains(' '));
                prop_assert!(!s.contains(".."));
                prop_assert_eq!(s.matches('@').count(), 1);
                let at = s.find('@').unwrap_or_default();
                let (local, domain) = (&s[..at], &s[at + 1..]);
                prop_assert!(local.len() <= MAX_LOCAL_LEN);
                prop_assert!(!local.starts_with('.') && !local.ends_with('.'));
                prop_assert!(domain.contains('.'));
                prop_assert!(!domain.ends_with('.'));
                for label in domain.split('.') {
                    prop_assert!(!label.is_empty() && label.len() <= MAX_LABEL_LEN);
                    prop_assert!(!label.starts_with('-') && !label.ends_with('-'));
                }
            }
        }
    }
}
