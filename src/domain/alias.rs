//! Host aliases: a name like `$relay` that a tenant defines once and uses as the host of
//! SMTP profiles and SMS channels. The name is looked up when a message is sent, so
//! changing the alias moves every profile and channel that uses it.

use std::fmt;
use std::net::Ipv4Addr;

use crate::domain::text::*;

/// The name field's message (the alias rule of seed 000: `$` and 1–32 letters, digits or
/// underscores).
pub const MSG_ALIAS_NAME: &str = "Please enter an alias name: $ followed by up to 32 letters, digits or underscores.";
/// The value field's message.
pub const MSG_ALIAS_VALUE: &str = "Please enter a host name or an IPv4 address.";

/// `There is no alias named {alias}.`
pub fn msg_no_such_alias(alias: &str) -> String {
    format!("There is no alias named {alias}.")
}

/// `This alias is used by {n} profiles or channels.`
pub fn msg_alias_in_use(n: i64) -> String {
    format!("This alias is used by {n} profiles or channels.")
}

/// An alias name, with its `$`. Unique in a tenant regardless of case (ASCII only, which
/// SQLite's `NOCASE` folds).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AliasName(String);

impl AliasName {
    /// Longest name after the `$`.
    pub const MAX_LEN: usize = 32;

    /// Trims spaces, then checks the rule; the error is [`MSG_ALIAS_NAME`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let text = trim_spaces(input);
        match text.strip_prefix('$') {
            Some(rest) if is_alias_body(rest) => Ok(Self(text.to_owned())),
            _ => Err(MSG_ALIAS_NAME),
        }
    }

    /// The name with its `$`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_alias_body(rest: &str) -> bool {
    (1..=AliasName::MAX_LEN).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether a host as typed or stored names an alias (`$relay`) rather than a server.
pub fn is_alias(host: &str) -> bool {
    host.strip_prefix('$').is_some_and(is_alias_body)
}

/// A host name (RFC 1123, one label or more) or an IPv4 address: what an alias stands
/// for, and what an SMS channel's host may be besides an alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostValue(String);

impl HostValue {
    /// Longest value, in characters.
    pub const MAX_LEN: usize = 100;

    /// Trims spaces; the error is `message`.
    pub fn parse_or(input: &str, message: &'static str) -> Result<Self, &'static str> {
        let host = trim_spaces(input);
        let ok = char_len_within(host, 1, Self::MAX_LEN) && (host.parse::<Ipv4Addr>().is_ok() || is_host_name(host, 1));
        if ok {
            Ok(Self(host.to_owned()))
        } else {
            Err(message)
        }
    }

    /// An alias's value; the error is [`MSG_ALIAS_VALUE`].
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        Self::parse_or(input, MSG_ALIAS_VALUE)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An alias and the host it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub name: AliasName,
    pub value: HostValue,
}

/// A tenant's aliases, for resolving hosts when a message is sent.
#[derive(Debug, Clone, Default)]
pub struct Aliases(Vec<Alias>);

impl Aliases {
    pub fn new(list: Vec<Alias>) -> Aliases {
        Aliases(list)
    }

    /// The host to connect to: `host` itself when it is not an alias, the alias's value
    /// when it is one (names compare regardless of case), or
    /// `There is no alias named {host}.`
    pub fn resolve(&self, host: &str) -> Result<String, String> {
        if !is_alias(host) {
            return Ok(host.to_owned());
        }
        self.0
            .iter()
            .find(|a| a.name.as_str().eq_ignore_ascii_case(host))
            .map(|a| a.value.as_str().to_owned())
            .ok_or_else(|| msg_no_such_alias(host))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Alias> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names() {
        for good in ["$a", "$relay", "$Relay_2", " $x ", &format!("${}", "a".repeat(32))] {
            assert!(AliasName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "$", "relay", "$$a", "$a-b", "$a.b", "$ a", "$é", &format!("${}", "a".repeat(33)), "$a\n"] {
            assert_eq!(AliasName::parse(bad), Err(MSG_ALIAS_NAME), "{bad:?}");
        }
    }

    #[test]
    fn alias_values() {
        for good in ["mail.example.com", "localhost", "127.0.0.1", " smtp.gw.test "] {
            assert!(HostValue::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "::1", "[::1]", "$relay", "a b", "smtp:25", "256.1.1.1", "a_b.test", &"a.".repeat(60)] {
            assert_eq!(HostValue::parse(bad), Err(MSG_ALIAS_VALUE), "{bad:?}");
        }
    }

    #[test]
    fn resolving() {
        let aliases = Aliases::new(vec![Alias {
            name: AliasName::parse("$relay").unwrap(),
            value: HostValue::parse("smtp.example.com").unwrap(),
        }]);
        assert_eq!(aliases.resolve("$relay"), Ok("smtp.example.com".into()));
        assert_eq!(aliases.resolve("$RELAY"), Ok("smtp.example.com".into()));
        assert_eq!(aliases.resolve("mx.test"), Ok("mx.test".into()));
        assert_eq!(aliases.resolve("$other"), Err("There is no alias named $other.".into()));
        assert_eq!(msg_alias_in_use(2), "This alias is used by 2 profiles or channels.");
    }
}
