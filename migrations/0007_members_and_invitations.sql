-- Deactivated members and withdrawn invitations. Columns added, so every existing row is
-- kept as it was: NULL means active, and not withdrawn.

-- When an administrator deactivated the member: they cannot sign in until reactivated.
ALTER TABLE users ADD COLUMN deactivated_at INTEGER;

-- When an administrator or organizer withdrew the invitation (voided_at is set too, so
-- everything that reads "open" invitations leaves it out; this says why it was voided).
ALTER TABLE invitations ADD COLUMN withdrawn_at INTEGER;

-- The audit log filtered by action, newest first.
CREATE INDEX audit_log_by_tenant_action ON audit_log (tenant_id, action, id DESC);
