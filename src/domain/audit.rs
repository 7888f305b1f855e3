//! What the audit log records (one code per kind of change), and the filter its page and
//! its CSV export read from the address.

use super::time_zone::Zone;
use super::FieldErrors;

/// An audit log action. Stored as its code (`as_str`), the text the log has always held,
/// so entries written before this enum read the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
pub enum AuditAction {
    #[sqlx(rename = "tenant.created")]
    TenantCreated,
    #[sqlx(rename = "tenant.renamed")]
    TenantRenamed,
    #[sqlx(rename = "tenant.suspended")]
    TenantSuspended,
    #[sqlx(rename = "tenant.restored")]
    TenantRestored,
    /// The operator allowed or refused the organization's SMTP profiles loopback, private
    /// and shared addresses (the egress policy).
    #[sqlx(rename = "tenant.private_networks")]
    TenantPrivateNetworks,
    #[sqlx(rename = "user.created")]
    UserCreated,
    #[sqlx(rename = "user.signed_in")]
    UserSignedIn,
    #[sqlx(rename = "user.signed_out")]
    UserSignedOut,
    #[sqlx(rename = "user.password_changed")]
    UserPasswordChanged,
    #[sqlx(rename = "user.sign_in_failed")]
    UserSignInFailed,
    /// An account's sign-ins from one client started being slowed down. (The code is from
    /// when failures locked the account; it is kept so old entries and filters still read.)
    #[sqlx(rename = "user.locked_out")]
    UserLockedOut,
    #[sqlx(rename = "member.role_changed")]
    MemberRoleChanged,
    #[sqlx(rename = "member.deactivated")]
    MemberDeactivated,
    #[sqlx(rename = "member.reactivated")]
    MemberReactivated,
    #[sqlx(rename = "member.removed")]
    MemberRemoved,
    /// An administrator cleared a member's failed sign-ins (code kept, as above).
    #[sqlx(rename = "member.unlocked")]
    MemberUnlocked,
    #[sqlx(rename = "profile.created")]
    ProfileCreated,
    #[sqlx(rename = "profile.updated")]
    ProfileUpdated,
    #[sqlx(rename = "profile.duplicated")]
    ProfileDuplicated,
    #[sqlx(rename = "profile.default")]
    ProfileDefault,
    #[sqlx(rename = "profile.tested")]
    ProfileTested,
    #[sqlx(rename = "profile.deleted")]
    ProfileDeleted,
    #[sqlx(rename = "email.enabled")]
    EmailEnabled,
    #[sqlx(rename = "email.disabled")]
    EmailDisabled,
    #[sqlx(rename = "email.retried")]
    EmailRetried,
    #[sqlx(rename = "policy.changed")]
    PolicyChanged,
    #[sqlx(rename = "invitation.created")]
    InvitationCreated,
    #[sqlx(rename = "invitation.regenerated")]
    InvitationRegenerated,
    #[sqlx(rename = "invitation.accepted")]
    InvitationAccepted,
    #[sqlx(rename = "invitation.withdrawn")]
    InvitationWithdrawn,
    #[sqlx(rename = "reset.requested")]
    ResetRequested,
    #[sqlx(rename = "reset.link_made")]
    ResetLinkMade,
    #[sqlx(rename = "reset.used")]
    ResetUsed,
    #[sqlx(rename = "reset.not_emailed")]
    ResetNotEmailed,
    #[sqlx(rename = "settings.time_zone")]
    TimeZoneChanged,
    #[sqlx(rename = "alias.saved")]
    AliasSaved,
    #[sqlx(rename = "alias.deleted")]
    AliasDeleted,
    #[sqlx(rename = "sms.created")]
    SmsChannelCreated,
    #[sqlx(rename = "sms.updated")]
    SmsChannelUpdated,
    #[sqlx(rename = "sms.tested")]
    SmsChannelTested,
    #[sqlx(rename = "sms.deleted")]
    SmsChannelDeleted,
    #[sqlx(rename = "guests.settings")]
    GuestSettingsChanged,
    /// An organizer sent a guest a new passcode.
    #[sqlx(rename = "guest.resent")]
    GuestResent,
    #[sqlx(rename = "guest.revoked")]
    GuestRevoked,
    /// The operator set how many passcodes the organization may send a day.
    #[sqlx(rename = "tenant.guest_cap")]
    TenantGuestCap,
}

impl AuditAction {
    /// Every action, in the order the audit page's descriptions were written.
    pub const ALL: [AuditAction; 45] = [
        AuditAction::TenantCreated,
        AuditAction::TenantRenamed,
        AuditAction::TenantSuspended,
        AuditAction::TenantRestored,
        AuditAction::TenantPrivateNetworks,
        AuditAction::UserCreated,
        AuditAction::UserSignedIn,
        AuditAction::UserSignedOut,
        AuditAction::UserPasswordChanged,
        AuditAction::UserSignInFailed,
        AuditAction::UserLockedOut,
        AuditAction::MemberRoleChanged,
        AuditAction::MemberDeactivated,
        AuditAction::MemberReactivated,
        AuditAction::MemberRemoved,
        AuditAction::MemberUnlocked,
        AuditAction::ProfileCreated,
        AuditAction::ProfileUpdated,
        AuditAction::ProfileDuplicated,
        AuditAction::ProfileDefault,
        AuditAction::ProfileTested,
        AuditAction::ProfileDeleted,
        AuditAction::EmailEnabled,
        AuditAction::EmailDisabled,
        AuditAction::EmailRetried,
        AuditAction::PolicyChanged,
        AuditAction::InvitationCreated,
        AuditAction::InvitationRegenerated,
        AuditAction::InvitationAccepted,
        AuditAction::InvitationWithdrawn,
        AuditAction::ResetRequested,
        AuditAction::ResetLinkMade,
        AuditAction::ResetUsed,
        AuditAction::ResetNotEmailed,
        AuditAction::TimeZoneChanged,
        AuditAction::AliasSaved,
        AuditAction::AliasDeleted,
        AuditAction::SmsChannelCreated,
        AuditAction::SmsChannelUpdated,
        AuditAction::SmsChannelTested,
        AuditAction::SmsChannelDeleted,
        AuditAction::GuestSettingsChanged,
        AuditAction::GuestResent,
        AuditAction::GuestRevoked,
        AuditAction::TenantGuestCap,
    ];

    /// The stable code stored in `audit_log.action` (and shown for people who search or
    /// script).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TenantCreated => "tenant.created",
            AuditAction::TenantRenamed => "tenant.renamed",
            AuditAction::TenantSuspended => "tenant.suspended",
            AuditAction::TenantRestored => "tenant.restored",
            AuditAction::TenantPrivateNetworks => "tenant.private_networks",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserSignedIn => "user.signed_in",
            AuditAction::UserSignedOut => "user.signed_out",
            AuditAction::UserPasswordChanged => "user.password_changed",
            AuditAction::UserSignInFailed => "user.sign_in_failed",
            AuditAction::UserLockedOut => "user.locked_out",
            AuditAction::MemberRoleChanged => "member.role_changed",
            AuditAction::MemberDeactivated => "member.deactivated",
            AuditAction::MemberReactivated => "member.reactivated",
            AuditAction::MemberRemoved => "member.removed",
            AuditAction::MemberUnlocked => "member.unlocked",
            AuditAction::ProfileCreated => "profile.created",
            AuditAction::ProfileUpdated => "profile.updated",
            AuditAction::ProfileDuplicated => "profile.duplicated",
            AuditAction::ProfileDefault => "profile.default",
            AuditAction::ProfileTested => "profile.tested",
            AuditAction::ProfileDeleted => "profile.deleted",
            AuditAction::EmailEnabled => "email.enabled",
            AuditAction::EmailDisabled => "email.disabled",
            AuditAction::EmailRetried => "email.retried",
            AuditAction::PolicyChanged => "policy.changed",
            AuditAction::InvitationCreated => "invitation.created",
            AuditAction::InvitationRegenerated => "invitation.regenerated",
            AuditAction::InvitationAccepted => "invitation.accepted",
            AuditAction::InvitationWithdrawn => "invitation.withdrawn",
            AuditAction::ResetRequested => "reset.requested",
            AuditAction::ResetLinkMade => "reset.link_made",
            AuditAction::ResetUsed => "reset.used",
            AuditAction::ResetNotEmailed => "reset.not_emailed",
            AuditAction::TimeZoneChanged => "settings.time_zone",
            AuditAction::AliasSaved => "alias.saved",
            AuditAction::AliasDeleted => "alias.deleted",
            AuditAction::SmsChannelCreated => "sms.created",
            AuditAction::SmsChannelUpdated => "sms.updated",
            AuditAction::SmsChannelTested => "sms.tested",
            AuditAction::SmsChannelDeleted => "sms.deleted",
            AuditAction::GuestSettingsChanged => "guests.settings",
            AuditAction::GuestResent => "guest.resent",
            AuditAction::GuestRevoked => "guest.revoked",
            AuditAction::TenantGuestCap => "tenant.guest_cap",
        }
    }

    /// The action with this code, if it is one of ours.
    pub fn parse(code: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == code)
    }

    /// What happened, in words (the audit page).
    pub fn label(self) -> &'static str {
        match self {
            AuditAction::TenantCreated => "Created the organization",
            AuditAction::TenantRenamed => "Renamed the organization",
            AuditAction::TenantSuspended => "Suspended the organization",
            AuditAction::TenantRestored => "Restored the organization",
            AuditAction::TenantPrivateNetworks => "Changed whether SMTP profiles may reach private networks",
            AuditAction::UserCreated => "Created an account",
            AuditAction::UserSignedIn => "Signed in",
            AuditAction::UserSignedOut => "Signed out",
            AuditAction::UserPasswordChanged => "Changed their password",
            AuditAction::UserSignInFailed => "Failed to sign in",
            AuditAction::UserLockedOut => "Sign-in slowed after failed attempts",
            AuditAction::MemberRoleChanged => "Changed a member's role",
            AuditAction::MemberDeactivated => "Deactivated a member",
            AuditAction::MemberReactivated => "Reactivated a member",
            AuditAction::MemberRemoved => "Removed a member",
            AuditAction::MemberUnlocked => "Cleared the failed sign-ins of a member",
            AuditAction::ProfileCreated => "Created an SMTP profile",
            AuditAction::ProfileUpdated => "Edited an SMTP profile",
            AuditAction::ProfileDuplicated => "Duplicated an SMTP profile",
            AuditAction::ProfileDefault => "Made an SMTP profile the default",
            AuditAction::ProfileTested => "Sent a test email",
            AuditAction::ProfileDeleted => "Deleted an SMTP profile",
            AuditAction::EmailEnabled => "Turned email on",
            AuditAction::EmailDisabled => "Turned email off",
            AuditAction::EmailRetried => "Retried an email",
            AuditAction::PolicyChanged => "Changed the SMTP account rules",
            AuditAction::InvitationCreated => "Invited someone",
            AuditAction::InvitationRegenerated => "Made a new invitation link",
            AuditAction::InvitationAccepted => "Accepted an invitation",
            AuditAction::InvitationWithdrawn => "Withdrew an invitation",
            AuditAction::ResetRequested => "Asked for a password reset",
            AuditAction::ResetLinkMade => "Made a password-reset link",
            AuditAction::ResetUsed => "Reset their password",
            AuditAction::ResetNotEmailed => "Asked for a password reset while email was off (no link was sent)",
            AuditAction::TimeZoneChanged => "Changed the time zone",
            AuditAction::AliasSaved => "Saved a host alias",
            AuditAction::AliasDeleted => "Deleted a host alias",
            AuditAction::SmsChannelCreated => "Created an SMS channel",
            AuditAction::SmsChannelUpdated => "Edited an SMS channel",
            AuditAction::SmsChannelTested => "Sent a test passcode",
            AuditAction::SmsChannelDeleted => "Deleted an SMS channel",
            AuditAction::GuestSettingsChanged => "Changed the guest access settings",
            AuditAction::GuestResent => "Sent a guest a new passcode",
            AuditAction::GuestRevoked => "Revoked a guest's access",
            AuditAction::TenantGuestCap => "Set the daily cap on guest passcodes",
        }
    }
}

macro_rules! person_max_len {
    () => {
        100
    };
}

pub const MSG_FILTER_ACTION: &str = "Please choose an action from the list.";
pub const MSG_FILTER_PERSON: &str =
    concat!("Please enter up to ", person_max_len!(), " characters of a name or email address, on one line.");
pub const MSG_FILTER_FROM: &str = "Please enter the From date as YYYY-MM-DD, for example 2025-03-31.";
pub const MSG_FILTER_TO: &str = "Please enter the To date as YYYY-MM-DD, for example 2025-03-31.";
pub const MSG_FILTER_RANGE: &str = "The To date must not be before the From date.";
pub const MSG_FILTER_PAGE: &str = "This page of the audit log does not exist. Start again from the first page.";

/// The audit page's filter as it comes in the address (`?action=…&person=…&from=…&to=…`),
/// plus where the reader is (`page`, and `upto`, the newest entry when they started).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct AuditFilterForm {
    pub action: String,
    pub person: String,
    pub from: String,
    pub to: String,
    pub page: String,
    pub upto: String,
}

/// A parsed [`AuditFilterForm`]. Dates are whole days in the organization's time zone, the
/// time the log shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    pub action: Option<AuditAction>,
    /// Lower-cased; entries whose Who contains it.
    pub person: Option<String>,
    /// Unix seconds: the start of the From day.
    pub since: Option<i64>,
    /// Unix seconds: the start of the day after the To day (exclusive).
    pub before: Option<i64>,
    /// 1 for the newest page.
    pub page: u32,
    /// Only entries up to this id: later ones do not push the pages along while someone
    /// reads them.
    pub upto: Option<i64>,
}

impl AuditFilter {
    /// The longest text the person filter takes.
    pub const PERSON_MAX_LEN: usize = person_max_len!();
    /// The furthest page the address may name (far beyond any real log).
    pub const MAX_PAGE: u32 = 1_000_000;
}

fn day(input: &str, message: &'static str) -> Result<Option<time::Date>, &'static str> {
    let text = input.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).map(Some).map_err(|_| message)
}

/// The first second of `day` in `zone` (where a clock change skips midnight, the first
/// time the day has).
fn start_of(day: time::Date, zone: &Zone) -> i64 {
    let civil = jiff::civil::Date::new(day.year() as i16, u8::from(day.month()) as i8, day.day() as i8);
    match civil.and_then(|d| d.to_zoned(zone.tz().clone())) {
        Ok(start) => start.timestamp().as_second(),
        // Outside jiff's calendar (years beyond ±9999): the same day in UTC.
        Err(_) => day.midnight().assume_utc().unix_timestamp(),
    }
}

impl AuditFilterForm {
    /// Every field's rule, all messages at once; the days are read in `zone`.
    pub fn parse(&self, zone: &Zone) -> Result<AuditFilter, FieldErrors> {
        let mut errors = FieldErrors::default();
        let action = match self.action.trim() {
            "" => None,
            code => errors.check("action", AuditAction::parse(code).map(Some).ok_or(MSG_FILTER_ACTION)).flatten(),
        };
        let person = self.person.trim();
        let person = if person.chars().count() > AuditFilter::PERSON_MAX_LEN || person.chars().any(char::is_control) {
            errors.insert("person", MSG_FILTER_PERSON);
            None
        } else {
            Some(person.to_lowercase()).filter(|p| !p.is_empty())
        };
        let from = errors.check("from", day(&self.from, MSG_FILTER_FROM)).flatten();
        let to = errors.check("to", day(&self.to, MSG_FILTER_TO)).flatten();
        if let (Some(from), Some(to)) = (from, to) {
            if to < from {
                errors.insert("to", MSG_FILTER_RANGE);
            }
        }
        let page = match self.page.trim() {
            "" => Some(1),
            text => text.parse::<u32>().ok().filter(|n| (1..=AuditFilter::MAX_PAGE).contains(n)),
        };
        let upto = match self.upto.trim() {
            "" => Some(None),
            text => text.parse::<i64>().ok().filter(|n| *n > 0).map(Some),
        };
        let (Some(page), Some(upto)) = (page, upto) else {
            errors.insert("page", MSG_FILTER_PAGE);
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(AuditFilter {
            action,
            person,
            since: from.map(|d| start_of(d, zone)),
            // The day after `to`; past the calendar's end there is no later entry anyway.
            before: to.map(|d| d.next_day().map_or(i64::MAX, |next| start_of(next, zone))),
            page,
            upto,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        let mut codes: Vec<_> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), AuditAction::ALL.len());
        assert_eq!(AuditAction::parse("tenant.deleted"), None);
    }

    fn form(pairs: &[(&str, &str)]) -> AuditFilterForm {
        let mut f = AuditFilterForm::default();
        for (k, v) in pairs {
            let v = (*v).to_owned();
            match *k {
                "action" => f.action = v,
                "person" => f.person = v,
                "from" => f.from = v,
                "to" => f.to = v,
                "page" => f.page = v,
                "upto" => f.upto = v,
                _ => unreachable!(),
            }
        }
        f
    }

    #[test]
    fn an_empty_filter_is_the_first_page_of_everything() {
        let filter = AuditFilterForm::default().parse(&Zone::utc()).unwrap();
        let all = AuditFilter { action: None, person: None, since: None, before: None, page: 1, upto: None };
        assert_eq!(filter, all);
    }

    #[test]
    fn a_full_filter_reads_whole_utc_days() {
        let f = form(&[
            ("action", "member.removed"),
            ("person", "  Ada@Acme "),
            ("from", "2025-03-30"),
            ("to", "2025-03-31"),
            ("page", "3"),
            ("upto", "42"),
        ]);
        let filter = f.parse(&Zone::utc()).unwrap();
        assert_eq!(filter.action, Some(AuditAction::MemberRemoved));
        assert_eq!(filter.person.as_deref(), Some("ada@acme"));
        assert_eq!(filter.since, Some(1_743_292_800), "2025-03-30 00:00 UTC");
        assert_eq!(filter.before, Some(1_743_465_600), "2025-04-01 00:00 UTC: the To day is included");
        assert_eq!((filter.page, filter.upto), (3, Some(42)));
        let one_day = form(&[("from", "2025-03-31"), ("to", "2025-03-31")]).parse(&Zone::utc()).unwrap();
        assert_eq!(one_day.before.unwrap() - one_day.since.unwrap(), 86_400);
    }

    #[test]
    fn days_are_read_in_the_organizations_time_zone() {
        let paris = Zone::parse("Europe/Paris").unwrap();
        let filter = form(&[("from", "2025-03-30"), ("to", "2025-03-30")]).parse(&paris).unwrap();
        assert_eq!(filter.since, Some(1_743_289_200), "2025-03-30 00:00 in Paris is 2025-03-29 23:00 UTC");
        // The day clocks go forward has 23 hours.
        assert_eq!(filter.before, Some(1_743_372_000), "2025-03-31 00:00 in Paris is 2025-03-30 22:00 UTC");
    }

    #[test]
    fn bad_filters_say_what_is_wrong_all_at_once() {
        let errors = form(&[
            ("action", "user.hacked"),
            ("person", &"x".repeat(101)),
            ("from", "31/03/2025"),
            ("to", "2025-02-30"),
        ])
        .parse(&Zone::utc())
        .unwrap_err();
        assert_eq!(errors.get("action"), Some(MSG_FILTER_ACTION));
        assert_eq!(errors.get("person"), Some(MSG_FILTER_PERSON));
        assert_eq!(errors.get("from"), Some(MSG_FILTER_FROM));
        assert_eq!(errors.get("to"), Some(MSG_FILTER_TO));
        let errors = form(&[("from", "2025-04-01"), ("to", "2025-03-31")]).parse(&Zone::utc()).unwrap_err();
        assert_eq!(errors.get("to"), Some(MSG_FILTER_RANGE));
        assert_eq!(form(&[("person", "a\nb")]).parse(&Zone::utc()).unwrap_err().get("person"), Some(MSG_FILTER_PERSON));
        for (k, v) in
            [("page", "0"), ("page", "x"), ("page", "-1"), ("page", "99999999999"), ("upto", "0"), ("upto", "z")]
        {
            assert_eq!(form(&[(k, v)]).parse(&Zone::utc()).unwrap_err().get("page"), Some(MSG_FILTER_PAGE), "{k}={v}");
        }
        assert!(form(&[("person", &"é".repeat(100))]).parse(&Zone::utc()).is_ok(), "100 characters, not bytes");
        assert_eq!(MSG_FILTER_PERSON, "Please enter up to 100 characters of a name or email address, on one line.");
    }

    #[test]
    fn codes_are_the_stored_strings() {
        assert_eq!(AuditAction::ProfileCreated.as_str(), "profile.created");
        assert_eq!(AuditAction::ResetLinkMade.as_str(), "reset.link_made");
        assert_eq!(AuditAction::ProfileDefault.label(), "Made an SMTP profile the default");
    }

    /// The `sqlx::Type` derive stores exactly `as_str`, and reads it back.
    #[tokio::test]
    async fn stored_as_their_codes() {
        use sqlx::Connection as _;
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        for a in AuditAction::ALL {
            let (text, back): (String, AuditAction) =
                sqlx::query_as("SELECT ?1, ?1").bind(a).fetch_one(&mut conn).await.unwrap();
            assert_eq!((text.as_str(), back), (a.as_str(), a));
        }
    }
}
