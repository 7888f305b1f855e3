//! The choices of the profile form: type, security mode, and the tenant's credential policy.

use crate::domain::text::trim_spaces;

/// The type of a profile (`kind`): how its mail leaves.
/// Stored as its form value (`as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum ProfileKind {
    /// Plain SMTP, through lettre.
    #[default]
    Generic,
    /// Microsoft Graph `sendMail` with client-credentials OAuth.
    Graph,
}

impl ProfileKind {
    /// In the order a `<select>` lists them.
    pub const ALL: [ProfileKind; 2] = [ProfileKind::Generic, ProfileKind::Graph];

    /// The form value (`generic` / `graph`), surrounding spaces ignored.
    /// An empty value is not a kind here; the form treats it as the default.
    pub fn parse(input: &str) -> Option<Self> {
        match trim_spaces(input) {
            "generic" => Some(Self::Generic),
            "graph" => Some(Self::Graph),
            _ => None,
        }
    }

    /// The form and database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Graph => "graph",
        }
    }

    /// What a person sees (SPEC §2).
    pub fn label(self) -> &'static str {
        match self {
            Self::Generic => "Generic SMTP",
            Self::Graph => "MS Graph API",
        }
    }
}

/// Transport security of a generic profile (seed 000).
/// Stored as its form value (`as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (implicit TLS, "SMTPS").
    #[default]
    Ssl,
    /// STARTTLS, required: a server that does not offer it fails the send
    /// rather than falling back to plain text.
    Starttls,
    /// No encryption at all.
    None,
}

impl Security {
    /// In the order a `<select>` lists them.
    pub const ALL: [Security; 3] = [Security::Ssl, Security::Starttls, Security::None];

    /// The form value (`ssl` / `starttls` / `none`), surrounding spaces ignored.
    pub fn parse(input: &str) -> Option<Self> {
        match trim_spaces(input) {
            "ssl" => Some(Self::Ssl),
            "starttls" => Some(Self::Starttls),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// The form and database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ssl => "ssl",
            Self::Starttls => "starttls",
            Self::None => "none",
        }
    }

    /// What a person sees, in the form and in a test email's summary.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ssl => "SSL/TLS (implicit)",
            Self::Starttls => "STARTTLS (required)",
            Self::None => "None (unencrypted)",
        }
    }

    /// The port the form prefills for this mode (SPEC §2: 465 / 587 / 25).
    pub fn default_port(self) -> u16 {
        match self {
            Self::Ssl => 465,
            Self::Starttls => 587,
            Self::None => 25,
        }
    }
}

/// The tenant's rules for generic SMTP credentials (SPEC §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CredentialPolicy {
    /// Seed 002's rules: an email-format account and a strict password.
    #[default]
    Documented,
    /// Any printable account name and password, for provider-issued app
    /// passwords and API keys that cannot meet seed 002's rules.
    Provider,
}

impl CredentialPolicy {
    /// In the order a `<select>` lists them.
    pub const ALL: [CredentialPolicy; 2] = [CredentialPolicy::Documented, CredentialPolicy::Provider];

    /// The form value (`documented` / `provider`), surrounding spaces ignored.
    pub fn parse(input: &str) -> Option<Self> {
        match trim_spaces(input) {
            "documented" => Some(Self::Documented),
            "provider" => Some(Self::Provider),
            _ => None,
        }
    }

    /// The form and database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Documented => "documented",
            Self::Provider => "provider",
        }
    }

    /// What a person sees on the settings page.
    pub fn label(self) -> &'static str {
        match self {
            Self::Documented => "Documented password rules",
            Self::Provider => "Provider-issued credentials",
        }
    }
}
