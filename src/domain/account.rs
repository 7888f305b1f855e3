//! Tenants and console accounts: slugs, names, roles and sign-in passwords.

use super::email::EmailAddress;

// Each length is written once, in a macro, so that both the constant the parser checks
// and the message that states it (`concat!` needs a literal) come from it.
macro_rules! slug_min_len {
    () => {
        2
    };
}
macro_rules! slug_max_len {
    () => {
        40
    };
}
macro_rules! name_max_len {
    () => {
        100
    };
}
macro_rules! console_password_min_len {
    () => {
        12
    };
}
macro_rules! console_password_max_len {
    () => {
        128
    };
}

pub const MSG_SLUG: &str = concat!(
    "Please enter a short name of ",
    slug_min_len!(),
    " to ",
    slug_max_len!(),
    " lowercase letters, digits or hyphens."
);
pub const MSG_SLUG_TAKEN: &str = "An organization with this short name already exists.";
pub const MSG_TENANT_NAME: &str =
    concat!("Please enter the name of the organization, up to ", name_max_len!(), " characters.");
pub const MSG_DISPLAY_NAME: &str = concat!("Please enter a name of up to ", name_max_len!(), " characters.");
pub const MSG_EMAIL: &str = "Please enter a valid email address.";
pub const MSG_EMAIL_TAKEN: &str = "An account with this email address already exists.";
/// A console password shorter than [`ConsolePassword::MIN_LEN`].
pub const MSG_CONSOLE_PASSWORD: &str =
    concat!("Please choose a password of at least ", console_password_min_len!(), " characters.");
/// A console password longer than [`ConsolePassword::MAX_LEN`].
pub const MSG_CONSOLE_PASSWORD_LONG: &str =
    concat!("Please choose a password of at most ", console_password_max_len!(), " characters.");
/// A console password that is the account's email address.
pub const MSG_CONSOLE_PASSWORD_EMAIL: &str = "Please choose a password other than the email address.";
pub const MSG_ROLE: &str = "Please choose a role.";
/// The last-admin rule: the last active administrator cannot be demoted, deactivated or
/// removed.
pub const MSG_LAST_ADMIN: &str =
    "The organization must keep at least one active administrator. Make another member an administrator first.";
/// The operator's own account is not deactivated or removed from a members page.
pub const MSG_OPERATOR_ACCOUNT: &str =
    "This is the account of the person who runs relaydesk (the operator): it cannot be deactivated or removed.";
/// Signing in to a deactivated account (said only after the right password).
pub const MSG_DEACTIVATED: &str =
    "This account is deactivated. Ask an administrator of your organization to reactivate it.";

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A tenant's short name in URLs: `[a-z0-9-]`, [`Self::MIN_LEN`] to [`Self::MAX_LEN`]
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub const MIN_LEN: usize = slug_min_len!();
    pub const MAX_LEN: usize = slug_max_len!();

    /// The rule as the hint beside the field says it.
    pub fn hint() -> String {
        format!(
            "Used in links: {} to {} lowercase letters, digits or hyphens, for example acme.",
            Self::MIN_LEN,
            Self::MAX_LEN
        )
    }

    pub fn parse(input: &str) -> Result<TenantSlug, &'static str> {
        let s = input.trim();
        let ok = (Self::MIN_LEN..=Self::MAX_LEN).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(TenantSlug(s.to_owned()))
        } else {
            Err(MSG_SLUG)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant's display name: 1 to [`Self::MAX_LEN`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    pub const MAX_LEN: usize = name_max_len!();

    pub fn parse(input: &str) -> Result<TenantName, &'static str> {
        let s = input.trim();
        if (1..=Self::MAX_LEN).contains(&s.chars().count()) && !has_control(s) {
            Ok(TenantName(s.to_owned()))
        } else {
            Err(MSG_TENANT_NAME)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's name as shown in the console: 1 to [`Self::MAX_LEN`] characters, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_LEN: usize = name_max_len!();

    pub fn parse(input: &str) -> Result<DisplayName, &'static str> {
        let s = input.trim();
        if (1..=Self::MAX_LEN).contains(&s.chars().count()) && !has_control(s) {
            Ok(DisplayName(s.to_owned()))
        } else {
            Err(MSG_DISPLAY_NAME)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The sign-in email of a console account, lower-cased so that uniqueness and sign-in
/// are case-insensitive (SPEC §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEmail(String);

impl AccountEmail {
    pub fn parse(input: &str) -> Result<AccountEmail, &'static str> {
        match EmailAddress::parse(input) {
            Some(email) => Ok(AccountEmail(email.as_str().to_lowercase())),
            None => Err(MSG_EMAIL),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A console sign-in password (SPEC §5): [`Self::MIN_LEN`] to [`Self::MAX_LEN`]
/// characters, not the account's email. Not trimmed: spaces are part of a password.
pub struct ConsolePassword(String);

impl ConsolePassword {
    pub const MIN_LEN: usize = console_password_min_len!();
    pub const MAX_LEN: usize = console_password_max_len!();

    /// The rule as the hint beside a password field says it; `email` names the address the
    /// password must differ from (`your email address`, `the email address`). No input
    /// carries the maximum as a `maxlength`: a browser would cut a longer password without
    /// a word, and the server's message is the one that helps.
    pub fn hint(email: &str) -> String {
        format!("At least {} characters, and not {email}.", Self::MIN_LEN)
    }

    pub fn parse(input: &str, email: &str) -> Result<ConsolePassword, &'static str> {
        let len = input.chars().take(Self::MAX_LEN + 1).count();
        if len < Self::MIN_LEN {
            Err(MSG_CONSOLE_PASSWORD)
        } else if len > Self::MAX_LEN {
            Err(MSG_CONSOLE_PASSWORD_LONG)
        } else if input.trim().eq_ignore_ascii_case(email.trim()) {
            Err(MSG_CONSOLE_PASSWORD_EMAIL)
        } else {
            Ok(ConsolePassword(input.to_owned()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What a member of a tenant may do (SPEC §1). Stored as `as_str` (`users.role`,
/// `invitations.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, sqlx::Type)]
#[sqlx(rename_all = "lowercase")]
pub enum Role {
    User,
    Organizer,
    Admin,
}

impl Role {
    pub fn parse(input: &str) -> Result<Role, &'static str> {
        match input.trim() {
            "admin" => Ok(Role::Admin),
            "organizer" => Ok(Role::Organizer),
            "user" => Ok(Role::User),
            _ => Err(MSG_ROLE),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Organizer => "organizer",
            Role::User => "user",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Organizer => "Organizer",
            Role::User => "User",
        }
    }
}

/// What an administrator does to a member on the members page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    Role(Role),
    Deactivate,
    Reactivate,
    Remove,
}

/// What the rules need to know of the member a change is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberFacts {
    pub role: Role,
    pub active: bool,
    pub is_operator: bool,
}

impl MemberChange {
    /// Whether the change may be made. `other_active_admins` counts the organization's
    /// active administrators besides this member, read in the transaction that makes the
    /// change. An administrator acting on themselves is held to the same rules.
    pub fn allowed(self, member: MemberFacts, other_active_admins: i64) -> Result<(), &'static str> {
        if member.is_operator && matches!(self, MemberChange::Deactivate | MemberChange::Remove) {
            return Err(MSG_OPERATOR_ACCOUNT);
        }
        let active_admin_now = member.role == Role::Admin && member.active;
        let active_admin_after = match self {
            MemberChange::Role(role) => role == Role::Admin && member.active,
            MemberChange::Deactivate | MemberChange::Remove => false,
            MemberChange::Reactivate => member.role == Role::Admin,
        };
        if active_admin_now && !active_admin_after && other_active_admins < 1 {
            return Err(MSG_LAST_ADMIN);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for good in ["ab", "acme", "acme-2", "a1", &"a".repeat(40)] {
            assert!(TenantSlug::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a", "Acme", "ac me", "acme_2", "ácme", "a/b", &"a".repeat(41), "ac\nme"] {
            assert_eq!(TenantSlug::parse(bad), Err(MSG_SLUG), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert!(TenantName::parse(" Acme Ltd ").is_ok_and(|n| n.as_str() == "Acme Ltd"));
        assert!(TenantName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(TenantName::parse(&"é".repeat(101)), Err(MSG_TENANT_NAME));
        assert_eq!(TenantName::parse("   "), Err(MSG_TENANT_NAME));
        assert_eq!(TenantName::parse("a\r\nb"), Err(MSG_TENANT_NAME));
        assert_eq!(DisplayName::parse(""), Err(MSG_DISPLAY_NAME));
        assert!(DisplayName::parse("Ada Lovelace").is_ok());
    }

    #[test]
    fn account_emails_are_lower_cased() {
        assert_eq!(AccountEmail::parse(" Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        assert_eq!(AccountEmail::parse("ada@localhost"), Err(MSG_EMAIL));
        assert_eq!(AccountEmail::parse(""), Err(MSG_EMAIL));
    }

    #[test]
    fn console_passwords() {
        let email = "ada@example.com";
        assert!(ConsolePassword::parse(&"x".repeat(12), email).is_ok());
        assert!(ConsolePassword::parse(&"x".repeat(128), email).is_ok());
        assert!(ConsolePassword::parse("correct horse battery", email).is_ok());
        for bad in ["x".repeat(11), String::new()] {
            assert_eq!(ConsolePassword::parse(&bad, email).err(), Some(MSG_CONSOLE_PASSWORD), "{bad:?}");
        }
        assert_eq!(ConsolePassword::parse(&"x".repeat(129), email).err(), Some(MSG_CONSOLE_PASSWORD_LONG));
        let own = "ADA@example.com  ";
        assert_eq!(ConsolePassword::parse(own, email).err(), Some(MSG_CONSOLE_PASSWORD_EMAIL));
        let own = "a@b.io";
        assert_eq!(ConsolePassword::parse(own, own).err(), Some(MSG_CONSOLE_PASSWORD), "too short first");
    }

    /// The messages and hints state the lengths the parsers check.
    #[test]
    fn messages_say_the_limits() {
        assert_eq!(MSG_SLUG, "Please enter a short name of 2 to 40 lowercase letters, digits or hyphens.");
        assert!(MSG_SLUG.contains(&format!("{} to {}", TenantSlug::MIN_LEN, TenantSlug::MAX_LEN)));
        assert!(MSG_TENANT_NAME.contains(&format!("up to {} characters", TenantName::MAX_LEN)));
        assert!(MSG_DISPLAY_NAME.contains(&format!("up to {} characters", DisplayName::MAX_LEN)));
        assert_eq!(MSG_CONSOLE_PASSWORD, "Please choose a password of at least 12 characters.");
        assert!(MSG_CONSOLE_PASSWORD_LONG.contains(&format!("at most {} characters", ConsolePassword::MAX_LEN)));
        assert_eq!(ConsolePassword::hint("your email address"), "At least 12 characters, and not your email address.");
        assert!(TenantSlug::hint().contains("2 to 40"));
    }

    #[test]
    fn new_tenant_form_reports_every_field() {
        let errors = NewTenantForm::default().parse().err().unwrap();
        assert_eq!(errors.get("slug"), Some(MSG_SLUG));
        assert_eq!(errors.get("name"), Some(MSG_TENANT_NAME));
        assert_eq!(errors.get("admin_name"), Some(MSG_DISPLAY_NAME));
        assert_eq!(errors.get("admin_email"), Some(MSG_EMAIL));
        assert_eq!(errors.get("admin_password"), Some(MSG_CONSOLE_PASSWORD));
        let ok = NewTenantForm {
            slug: "acme".into(),
            name: "Acme".into(),
            admin_name: "Ada".into(),
            admin_email: "Ada@Acme.test".into(),
            admin_password: "a long enough password".into(),
        };
        let parsed = ok.parse().ok().unwrap();
        assert_eq!(parsed.admin_email.as_str(), "ada@acme.test");
        assert!(ok.without_password().admin_password.is_empty());
    }

    #[test]
    fn the_last_active_admin_stays_an_active_admin() {
        let admin = MemberFacts { role: Role::Admin, active: true, is_operator: false };
        let changes = [
            MemberChange::Role(Role::Organizer),
            MemberChange::Role(Role::User),
            MemberChange::Deactivate,
            MemberChange::Remove,
        ];
        for change in changes {
            assert_eq!(change.allowed(admin, 0), Err(MSG_LAST_ADMIN), "{change:?}");
            assert_eq!(change.allowed(admin, 1), Ok(()), "{change:?} with another admin");
        }
        assert_eq!(MemberChange::Role(Role::Admin).allowed(admin, 0), Ok(()), "no change");
        assert_eq!(MemberChange::Reactivate.allowed(admin, 0), Ok(()));
        // A deactivated admin is not the one keeping the organization running.
        let inactive = MemberFacts { active: false, ..admin };
        for change in changes {
            assert_eq!(change.allowed(inactive, 0), Ok(()), "{change:?} of a deactivated admin");
        }
        let user = MemberFacts { role: Role::User, active: true, is_operator: false };
        for change in changes {
            assert_eq!(change.allowed(user, 0), Ok(()), "{change:?} of a user");
        }
    }

    #[test]
    fn the_operator_is_not_deactivated_or_removed() {
        let operator = MemberFacts { role: Role::Admin, active: true, is_operator: true };
        assert_eq!(MemberChange::Deactivate.allowed(operator, 3), Err(MSG_OPERATOR_ACCOUNT));
        assert_eq!(MemberChange::Remove.allowed(operator, 3), Err(MSG_OPERATOR_ACCOUNT));
        assert_eq!(MemberChange::Role(Role::User).allowed(operator, 3), Ok(()));
        assert_eq!(MemberChange::Role(Role::User).allowed(operator, 0), Err(MSG_LAST_ADMIN));
    }

    #[test]
    fn roles() {
        assert_eq!(Role::parse("admin"), Ok(Role::Admin));
        assert_eq!(Role::parse("organizer"), Ok(Role::Organizer));
        assert_eq!(Role::parse("user"), Ok(Role::User));
        assert_eq!(Role::parse("root"), Err(MSG_ROLE));
        assert!(Role::Admin > Role::Organizer && Role::Organizer > Role::User);
    }

    /// The `sqlx::Type` derive stores exactly `as_str`, the values `users.role` allows.
    #[tokio::test]
    async fn roles_are_stored_as_their_names() {
        use sqlx::Connection as _;
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        for role in [Role::Admin, Role::Organizer, Role::User] {
            let (text, back): (String, Role) =
                sqlx::query_as("SELECT ?1, ?1").bind(role).fetch_one(&mut conn).await.unwrap();
            assert_eq!((text.as_str(), back), (role.as_str(), role));
        }
    }
}

/// The form that creates a tenant and its first administrator (first-run setup, `/admin`).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct NewTenantForm {
    pub slug: String,
    pub name: String,
    pub admin_name: String,
    pub admin_email: String,
    pub admin_password: String,
}

/// A parsed [`NewTenantForm`].
pub struct NewTenant {
    pub slug: TenantSlug,
    pub name: TenantName,
    pub admin_name: DisplayName,
    pub admin_email: AccountEmail,
    pub admin_password: ConsolePassword,
}

impl NewTenantForm {
    /// Every field's rule, all messages at once.
    pub fn parse(&self) -> Result<NewTenant, super::FieldErrors> {
        let mut errors = super::FieldErrors::default();
        let slug = errors.check("slug", TenantSlug::parse(&self.slug));
        let name = errors.check("name", TenantName::parse(&self.name));
        let admin_name = errors.check("admin_name", DisplayName::parse(&self.admin_name));
        let admin_email = errors.check("admin_email", AccountEmail::parse(&self.admin_email));
        let admin_password =
            errors.check("admin_password", ConsolePassword::parse(&self.admin_password, self.admin_email.trim()));
        match (slug, name, admin_name, admin_email, admin_password) {
            (Some(slug), Some(name), Some(admin_name), Some(admin_email), Some(admin_password)) => {
                Ok(NewTenant { slug, name, admin_name, admin_email, admin_password })
            }
            _ => Err(errors),
        }
    }

    /// The same form with the password left out, for re-rendering.
    pub fn without_password(&self) -> NewTenantForm {
        NewTenantForm { admin_password: String::new(), ..self.clone() }
    }
}
