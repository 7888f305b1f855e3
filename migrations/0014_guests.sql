-- Guests (SPEC §9.3): people who registered on an organization's public guest page, the
-- passcodes sent to them, and what the abuse limits count. Passcodes themselves are never
-- stored: only a keyed hash.
--
-- The outbox learns a third kind of mail, `guest_passcode`, which goes either by email
-- (through the default profile, like the rest) or by SMS (through an enabled SMS channel).
-- SQLite cannot change a CHECK, so the outbox is rebuilt: its rows are copied aside,
-- the table dropped and made anew, the rows copied back with their ids. Dropping it
-- deletes its attempts (ON DELETE CASCADE), so those are kept aside too and put back;
-- the guards at the end roll the whole migration back if anything did not survive.

-- guests ------------------------------------------------------------------------------------
CREATE TABLE guests (
    id                  INTEGER PRIMARY KEY,
    tenant_id           INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    -- An email address (lower-cased) or a mobile number in E.164; how the guest signs in.
    login               TEXT    NOT NULL,
    -- How the passcode goes: by email to `login`, or by SMS to it.
    via                 TEXT    NOT NULL CHECK (via IN ('email', 'sms')),
    -- HMAC-SHA256 of the passcode under the instance's key (src/store/guests.rs); NULL
    -- once revoked or spent by too many wrong tries.
    passcode_hash       TEXT,
    -- Until when the passcode signs the guest in.
    passcode_expires_at INTEGER,
    -- Wrong passcodes since the last one was sent.
    failed_attempts     INTEGER NOT NULL DEFAULT 0,
    -- Set at the first sign-in with the current passcode.
    connected_until     INTEGER,
    revoked_at          INTEGER,
    created_at          INTEGER NOT NULL,
    -- When the last passcode was asked for.
    sent_at             INTEGER NOT NULL,
    UNIQUE (tenant_id, login)
);
CREATE INDEX guests_by_tenant ON guests (tenant_id, sent_at DESC, id DESC);

-- Every passcode sent, for the abuse limits: per login and per client an hour, per
-- organization a day. Kept by the database so a restart does not reset the counts.
CREATE TABLE guest_sends (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    login      TEXT    NOT NULL,
    -- The client's address; NULL for a resend by an organizer.
    client     TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX guest_sends_by_login ON guest_sends (tenant_id, login, created_at);
CREATE INDEX guest_sends_by_client ON guest_sends (tenant_id, client, created_at);
CREATE INDEX guest_sends_by_tenant ON guest_sends (tenant_id, created_at);

-- The most passcodes an organization may send in 24 hours, set by the operator.
ALTER TABLE tenants ADD COLUMN guest_daily_cap INTEGER NOT NULL DEFAULT 500
    CHECK (guest_daily_cap BETWEEN 0 AND 100000);

-- outbox --------------------------------------------------------------------------------
CREATE TEMP TABLE copy_outbox AS SELECT * FROM outbox;
CREATE TEMP TABLE copy_outbox_attempts AS SELECT * FROM outbox_attempts;
DROP TABLE outbox;
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL CHECK (kind IN ('invitation', 'password_reset', 'guest_passcode')),
    -- An email address; for `via = 'sms'`, the mobile number in E.164.
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    -- Sealed by the secret box: JSON {text, html} for email; {name, passcode} for SMS.
    body_sealed     TEXT    NOT NULL,
    message_id      TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    invitation_id   INTEGER REFERENCES invitations (id) ON DELETE SET NULL,
    reset_id        INTEGER REFERENCES password_resets (id) ON DELETE SET NULL,
    permanent       INTEGER NOT NULL DEFAULT 0 CHECK (permanent IN (0, 1)),
    -- email: through the default SMTP profile; sms: through the organization's first
    -- enabled SMS channel, at send time.
    via             TEXT    NOT NULL DEFAULT 'email' CHECK (via IN ('email', 'sms')),
    -- The guest a passcode message is for.
    guest_id        INTEGER REFERENCES guests (id) ON DELETE SET NULL
);
INSERT INTO outbox (id, tenant_id, kind, recipient, subject, body_sealed, message_id, status, attempts,
                    next_attempt_at, lease_until, last_error, created_at, sent_at, invitation_id, reset_id, permanent)
    SELECT id, tenant_id, kind, recipient, subject, body_sealed, message_id, status, attempts, next_attempt_at,
           lease_until, last_error, created_at, sent_at, invitation_id, reset_id, permanent
    FROM copy_outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_tenant ON outbox (tenant_id, id DESC);
CREATE INDEX outbox_by_tenant_created ON outbox (tenant_id, created_at DESC, id DESC);
CREATE INDEX outbox_by_guest ON outbox (guest_id);
INSERT INTO outbox_attempts SELECT * FROM copy_outbox_attempts WHERE id NOT IN (SELECT id FROM outbox_attempts);

CREATE TEMP TABLE migration_guard (what TEXT NOT NULL, missing INTEGER NOT NULL CHECK (missing = 0));
INSERT INTO migration_guard
    SELECT 'outbox', (SELECT COUNT(*) FROM copy_outbox) - (SELECT COUNT(*) FROM outbox)
    UNION ALL SELECT 'outbox_attempts', (SELECT COUNT(*) FROM copy_outbox_attempts)
                                        - (SELECT COUNT(*) FROM outbox_attempts)
    UNION ALL SELECT 'foreign keys', (SELECT COUNT(*) FROM pragma_foreign_key_check);
DROP TABLE migration_guard;
DROP TABLE copy_outbox;
DROP TABLE copy_outbox_attempts;

-- The email log's test messages: a profile's test email, or an SMS channel's test passcode.
ALTER TABLE test_emails ADD COLUMN kind TEXT NOT NULL DEFAULT 'test' CHECK (kind IN ('test', 'sms_test'));
