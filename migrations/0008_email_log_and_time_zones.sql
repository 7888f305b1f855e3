-- The email log and a time zone per organization. Only adds: no table is rebuilt, so it
-- keeps every row and does not depend on the migrations numbered before it beyond 0005.
--
-- tenants.time_zone: the IANA name the console shows this organization's times in. Times
-- stay unix seconds (UTC) in every table.
ALTER TABLE tenants ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';

-- The server's final reply to a delivered attempt (`250 2.0.0 Ok: queued as …`); a failed
-- attempt keeps its reason in `error`, as before.
ALTER TABLE outbox_attempts ADD COLUMN reply TEXT;

-- A message that failed for good because of a permanent failure (a 5xx, a replaced link),
-- as opposed to one that used up its attempts: only the latter may be retried by hand.
ALTER TABLE outbox ADD COLUMN permanent INTEGER NOT NULL DEFAULT 0 CHECK (permanent IN (0, 1));
-- Messages failed before this column: one that failed before its 8th attempt failed for good.
UPDATE outbox SET permanent = 1 WHERE status = 'failed' AND attempts < 8;

-- Test emails sent from a profile, with their outcome, shown in the email log beside the
-- outbox's mail. The profile is named as it was (kept when it is renamed or deleted).
CREATE TABLE test_emails (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    profile    TEXT    NOT NULL,
    recipient  TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    ok         INTEGER NOT NULL CHECK (ok IN (0, 1)),
    -- The server's final reply when sent; why not, when it failed.
    reply      TEXT    NOT NULL,
    -- Who sent it, as shown then.
    sent_by    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX test_emails_by_tenant ON test_emails (tenant_id, created_at DESC, id DESC);

-- The email log pages through a tenant's mail, newest first, and filters it by status.
CREATE INDEX outbox_by_tenant_created ON outbox (tenant_id, created_at DESC, id DESC);
