//! What the audit log records: one code per kind of change.

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
    #[sqlx(rename = "user.created")]
    UserCreated,
    #[sqlx(rename = "user.signed_in")]
    UserSignedIn,
    #[sqlx(rename = "user.signed_out")]
    UserSignedOut,
    #[sqlx(rename = "user.password_changed")]
    UserPasswordChanged,
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
}

impl AuditAction {
    /// Every action, in the order the audit page's descriptions were written.
    pub const ALL: [AuditAction; 26] = [
        AuditAction::TenantCreated,
        AuditAction::TenantRenamed,
        AuditAction::TenantSuspended,
        AuditAction::TenantRestored,
        AuditAction::UserCreated,
        AuditAction::UserSignedIn,
        AuditAction::UserSignedOut,
        AuditAction::UserPasswordChanged,
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
        AuditAction::ResetRequested,
        AuditAction::ResetLinkMade,
        AuditAction::ResetUsed,
        AuditAction::ResetNotEmailed,
        AuditAction::TimeZoneChanged,
    ];

    /// The stable code stored in `audit_log.action` (and shown for people who search or
    /// script).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TenantCreated => "tenant.created",
            AuditAction::TenantRenamed => "tenant.renamed",
            AuditAction::TenantSuspended => "tenant.suspended",
            AuditAction::TenantRestored => "tenant.restored",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserSignedIn => "user.signed_in",
            AuditAction::UserSignedOut => "user.signed_out",
            AuditAction::UserPasswordChanged => "user.password_changed",
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
            AuditAction::ResetRequested => "reset.requested",
            AuditAction::ResetLinkMade => "reset.link_made",
            AuditAction::ResetUsed => "reset.used",
            AuditAction::ResetNotEmailed => "reset.not_emailed",
            AuditAction::TimeZoneChanged => "settings.time_zone",
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
            AuditAction::UserCreated => "Created an account",
            AuditAction::UserSignedIn => "Signed in",
            AuditAction::UserSignedOut => "Signed out",
            AuditAction::UserPasswordChanged => "Changed their password",
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
            AuditAction::ResetRequested => "Asked for a password reset",
            AuditAction::ResetLinkMade => "Made a password-reset link",
            AuditAction::ResetUsed => "Reset their password",
            AuditAction::ResetNotEmailed => "Asked for a password reset while email was off (no link was sent)",
            AuditAction::TimeZoneChanged => "Changed the time zone",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AuditAction;

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
